// Merging the cursors of the shards of one epoch into one cursor of the
// whole epoch: a new layer of consumed positions on the base the shards
// split (see _consumed.ts).

import { show } from "../_describe.ts";
import { resolveEpochOptions } from "../_validate.ts";
import type { EpochCursor } from "../epoch_cursor.ts";
import type { ConsumedLayer } from "../options.ts";
import { compactLayers, epochScopeLayers, wholeOf } from "./_consumed.ts";

const PREFIX = "Cannot merge cursors as";

/** One cursor, read as what it consumed of one shard of a base. */
interface ShardProgress {
  base: ConsumedLayer[];
  index: number;
  count: number;
  start: number;
  skip: number[];
  /** Read to its end: the cursor points at the next epoch. */
  ended: boolean;
}

/** See {@linkcode mergeCursors} in merge_cursors.ts. */
export function mergeShardCursors(cursors: readonly EpochCursor[]): EpochCursor {
  if (!Array.isArray(cursors) || cursors.length === 0) {
    throw new TypeError(
      `${PREFIX} cursors must be a non-empty array of cursors: current value is ${show(cursors)}`,
    );
  }
  cursors.forEach((cursor, i) => {
    resolveEpochOptions(cursor, `cursor ${i}`, `${PREFIX} cursor ${i}'s`);
    for (const field of ["epoch", "seed"] as const) {
      if (cursor[field] === undefined) {
        throw new TypeError(
          `${PREFIX} cursor ${i} must have its ${field}: current value is undefined`,
        );
      }
    }
  });
  const epoch = checkSame(cursors);
  checkShards(cursors);
  const { seed, shuffle, orderVersion } = cursors[0]!;
  const head = { epoch, seed, shuffle, ...(orderVersion === undefined ? {} : { orderVersion }) };
  const progress = cursors.map((cursor) => shardProgress(cursor, cursor.epoch > epoch));
  if (progress.every(({ ended }) => ended)) {
    return { scope: "epoch", ...head, epoch: epoch + 1, start: 0 };
  }
  const consumed = [...checkBase(progress), newLayer(progress)];
  const layers = compactLayers(consumed);
  return {
    scope: "epoch",
    ...head,
    start: wholeOf(layers, 0),
    ...(layers.length > 0 ? { consumed: layers } : {}),
  };
}

/**
 * Checks that the cursors are of one epoch (or its next, for a shard read
 * to its end), seed, shuffle and order version; returns the epoch.
 */
function checkSame(cursors: readonly EpochCursor[]): number {
  const epoch = Math.min(...cursors.map((cursor) => cursor.epoch));
  const earliest = cursors.findIndex((cursor) => cursor.epoch === epoch);
  const first = cursors[0]!;
  cursors.forEach((cursor, i) => {
    for (const field of ["seed", "shuffle", "orderVersion"] as const) {
      if (cursor[field] !== first[field]) {
        throw new TypeError(
          `${PREFIX} they must share one ${field}: current value is ${
            show(cursor[field])
          } in cursor ${i} and ${show(first[field])} in cursor 0`,
        );
      }
    }
    if (cursor.epoch !== epoch && !(cursor.epoch === epoch + 1 && isNextEpoch(cursor))) {
      throw new TypeError(
        `${PREFIX} they must share one epoch (or point at the next, from its start, for a shard read to its end): current value is epoch ${cursor.epoch} (start ${cursor.start}) in cursor ${i} and epoch ${epoch} in cursor ${earliest}`,
      );
    }
  });
  return epoch;
}

/**
 * Checks that no shard comes twice, and that cursors which all point at an
 * epoch's start name every shard: such a cursor is also what a shard of
 * the epoch before points at once read to its end, so with shards missing
 * it cannot be told whether their positions of that epoch were read.
 */
function checkShards(cursors: readonly EpochCursor[]): void {
  const indices = cursors.map((cursor) => cursor.shard?.index ?? 0);
  const twice = indices.findIndex((index, i) => indices.indexOf(index) !== i);
  if (twice >= 0) {
    throw new TypeError(
      `${PREFIX} each shard may come once: current value is shard ${indices[twice]} in cursor ${
        indices.indexOf(indices[twice]!)
      } and in cursor ${twice}`,
    );
  }
  const count = cursors[0]!.shard?.count ?? 1;
  if (!cursors.every(isNextEpoch) || cursors.length >= count) return;
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !indices.includes(i));
  throw new TypeError(
    `${PREFIX} every cursor points at the start of epoch ${
      cursors[0]!.epoch
    }, which a shard of the epoch before also points at once read to its end: give the cursors of every shard to tell them apart (missing: shards ${
      missing.join(", ")
    })`,
  );
}

function isNextEpoch({ start, skip = [], consumed = [], scope }: EpochCursor): boolean {
  return start === 0 && skip.length === 0 && consumed.length === 0 && scope !== "epoch";
}

function shardProgress(cursor: EpochCursor, ended: boolean): ShardProgress {
  const { index = 0, count = 1 } = cursor.shard ?? {};
  const { start, skip = [], consumed = [] } = cursor;
  if (ended) return { base: [], index, count, start: 0, skip: [], ended };
  if (cursor.scope === "epoch") {
    // Nothing of its shards is consumed yet: its start and skip join its base.
    return {
      base: epochScopeLayers(consumed, start, skip),
      index,
      count,
      start: 0,
      skip: [],
      ended,
    };
  }
  return { base: compactLayers(consumed), index, count, start, skip, ended };
}

/** The base the shards split: the same in every cursor not read to its end. */
function checkBase(progress: readonly ShardProgress[]): ConsumedLayer[] {
  const count = progress[0]!.count;
  const uneven = progress.findIndex((shard) => shard.count !== count);
  if (uneven >= 0) {
    throw new TypeError(
      `${PREFIX} they must be shards of one split: current value of shard.count is ${
        progress[uneven]!.count
      } in cursor ${uneven} and ${count} in cursor 0`,
    );
  }
  const first = progress.findIndex(({ ended }) => !ended);
  const base = JSON.stringify(progress[first]!.base);
  const other = progress.findIndex((shard) => !shard.ended && JSON.stringify(shard.base) !== base);
  if (other >= 0) {
    throw new TypeError(
      `${PREFIX} they must split the same consumed base: current value is ${
        JSON.stringify(progress[other]!.base)
      } in cursor ${other} and ${base} in cursor ${first}`,
    );
  }
  return progress[first]!.base;
}

/** The layer the shards consumed: each one's prefix, and its later positions in its order. */
function newLayer(progress: readonly ShardProgress[]): ConsumedLayer {
  const count = progress[0]!.count;
  const starts = Array.from({ length: count }, () => 0);
  const taken = Array.from({ length: count }, () => new Set<number>());
  for (const { index, start, skip, ended } of progress) {
    // A shard read to its end consumed all its positions: a prefix past every end.
    const end = ended ? Math.floor((Number.MAX_SAFE_INTEGER - index) / count) : start;
    starts[index] = Math.max(starts[index]!, end);
    for (const position of skip) taken[index]!.add(position);
  }
  const skip: number[] = [];
  taken.forEach((positions, index) => {
    for (const position of positions) {
      const whole = position * count + index; // past the layer's end for a padded repeat
      if (position >= starts[index]! && whole <= Number.MAX_SAFE_INTEGER) skip.push(whole);
    }
  });
  skip.sort((a, b) => a - b);
  return { count, starts, ...(skip.length > 0 ? { skip } : {}) };
}
