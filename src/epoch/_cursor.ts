// What an epoch was asked to read and how far its reader got, and the
// cursor that resumes it.

import type { EpochCursor } from "../epoch_cursor.ts";
import type { ConsumedLayer, Shard } from "../options.ts";
import type { EpochProgress } from "./_epoch_stream.ts";
import type { ResumedOrder } from "./_order.ts";

/** What one epoch was asked to read, and how far its reader got. */
export interface EpochRecord {
  epoch: number;
  seed: number;
  shuffle: boolean;
  /** The version of the order: the option's, else the current one. */
  orderVersion: number;
  shard: Shard | undefined;
  /** The positions consumed before the epoch was sharded (see _consumed.ts); often none. */
  layers: ConsumedLayer[];
  start: number;
  skip: number[];
  ordered: boolean;
  progress: EpochProgress;
  /** Set once the epoch's order is known. */
  order?: ResumedOrder;
  /** The length of the whole (sharded) order. */
  length?: number;
  /** The length of the epoch's order before sharding. */
  fullLength?: number;
  /** The length of what `layers` left of it, which the shards split. */
  leftLength?: number;
}

/**
 * The cursor after `record`: the same epoch from the first position not
 * taken, or the next epoch from its start when every batch was taken.
 */
export function cursorAfter(record: EpochRecord): EpochCursor {
  const { epoch, seed, shuffle, orderVersion, shard, order, length, progress, layers } = record;
  const at = (start: number, skip: number[]): EpochCursor => ({
    epoch,
    seed,
    shuffle,
    orderVersion,
    ...(shard ? { shard: { ...shard } } : {}),
    start,
    ...(skip.length > 0 ? { skip } : {}),
    ...(layers.length > 0 ? { scope: "shard", consumed: structuredClone(layers) } : {}),
  });
  if (!order || length === undefined) return at(record.start, record.skip);
  let start: number;
  let done: Set<number>;
  if (record.ordered) {
    start = progress.taken < order.length ? order.origin(progress.taken) : length;
    done = new Set(record.skip);
  } else {
    done = new Set(record.skip);
    for (const position of progress.delivered.slice(0, progress.taken)) {
      done.add(order.origin(position));
    }
    for (const position of progress.skipped) done.add(order.origin(position));
    start = record.start;
    while (done.has(start)) start++;
  }
  if (start >= length) {
    const { scope: _scope, consumed: _consumed, ...next } = at(0, []);
    return { ...next, epoch: epoch + 1 };
  }
  return at(start, [...done].filter((position) => position > start).sort((a, b) => a - b));
}
