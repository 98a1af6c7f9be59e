/**
 * {@linkcode mergeCursors}: one cursor of a whole epoch from the cursors of
 * its shards, to resume it on another number of trainers (elastic resume).
 *
 * @module
 */

import type { EpochCursor } from "./epoch_cursor.ts";
import { mergeShardCursors } from "./epoch/_merge.ts";

/**
 * Merges the cursors of the shards of one epoch (one epoch number, seed,
 * shuffle and order version; any subset of its shards, each read any way
 * far) into one cursor of the whole epoch that records every position
 * consumed. `epoch({ ...merged, shard: { index, count } })`, with any new
 * `count`, then reads only the positions not yet consumed, split across the
 * new shards: together they read each remaining batch exactly once (with
 * `pad: true` in equal lengths, repeating fewer than `count` batches from the
 * start of what remains).
 *
 * The merged cursor has `scope: "epoch"`: its `start` is the first position
 * of the whole epoch not yet consumed (at or past the epoch's end when all
 * are), and its `consumed` records the rest as layers (see
 * {@linkcode ConsumedLayer}): the old shards' count, each shard's consumed
 * prefix, and the positions they consumed out of order (after an unordered
 * epoch, or skipped by `onError: "skip"`). Its size grows with the number of
 * old shards and those positions, never with the epoch's length; it is plain
 * JSON. The cursor of a shard read to its end (which points at the next
 * epoch) counts as that whole shard consumed; a padded shard's repeats
 * consume nothing. When every shard was read to its end, the result is the
 * next epoch's cursor, from its start.
 *
 * The cursors of the new shards keep the merged record in `consumed`, with
 * `scope: "shard"` (their `start` and `skip` count positions of the shard's
 * own order): they resume exactly, and merge again.
 *
 * @param cursors The shards' cursors, from {@linkcode PyDataset.prototype.cursor}.
 * @returns One cursor of the whole epoch, which `epoch()` reads with or
 * without a new `shard`.
 * @throws {TypeError} No cursors; or cursors of different epochs, seeds,
 * shuffles, order versions or shard counts, or of different merged bases:
 * the message names the difference. A shard given twice; or only cursors
 * that point at an epoch's start with shards missing (a shard read to its
 * end points there too, so what the missing ones read cannot be told).
 * @throws {RangeError} A cursor's value out of range.
 *
 * @example Resume 2 shards' epoch on 3 trainers
 * ```ts
 * import { type EpochCursor, mergeCursors, PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Indices extends PyDataset<number> {
 *   get length(): number {
 *     return 10;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 * }
 *
 * const read: number[] = [];
 * const cursors: EpochCursor[] = [];
 * for (const index of [0, 1]) {
 *   const dataset = new Indices();
 *   const options = { shuffle: true, seed: 5, epoch: 0, shard: { index, count: 2 } };
 *   for await (const batch of dataset.epoch(options)) {
 *     read.push(batch);
 *     if (read.length === 2 * index + 1) break; // shard 0 stops after 1, shard 1 after 2
 *   }
 *   cursors.push(dataset.cursor!);
 * }
 *
 * const merged = JSON.parse(JSON.stringify(mergeCursors(cursors)));
 * assert.equal(merged.scope, "epoch");
 * assert.equal(merged.start, 2); // whole positions 0, 1 and 3 were read
 * for (const index of [0, 1, 2]) {
 *   for await (const batch of new Indices().epoch({ ...merged, shard: { index, count: 3 } })) {
 *     read.push(batch);
 *   }
 * }
 * assert.deepEqual(read.toSorted((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * ```
 */
export function mergeCursors(cursors: readonly EpochCursor[]): EpochCursor {
  return mergeShardCursors(cursors);
}
