/**
 * {@linkcode EpochCursor}: where a reader stopped in an epoch, to resume
 * there after a restart.
 *
 * @module
 */

import type { EpochProgress } from "./epoch_stream.ts";
import type { ResumedOrder, Shard } from "./order.ts";

/**
 * Where the reader of an epoch stopped, from
 * {@linkcode PyDataset.prototype.cursor}: small, plain and serialisable
 * (`JSON.stringify` it with a checkpoint). It is a valid
 * {@linkcode EpochOptions}: `dataset.epoch(cursor)` reads the same order
 * from where the reader stopped, in any process, as long as the dataset's
 * `length` is the same.
 *
 * @example Resume an epoch in a new process
 * ```ts
 * import { type EpochCursor, PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Indices extends PyDataset<number> {
 *   get length(): number {
 *     return 6;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 * }
 *
 * const dataset = new Indices();
 * const first: number[] = [];
 * for await (const index of dataset.epoch({ shuffle: true })) {
 *   first.push(index);
 *   if (first.length === 2) break; // the run stops here
 * }
 * const saved = JSON.stringify(dataset.cursor);
 *
 * const cursor: EpochCursor = JSON.parse(saved); // later, elsewhere
 * const rest: number[] = [];
 * for await (const index of new Indices().epoch(cursor)) rest.push(index);
 * assert.deepEqual([...first, ...rest].sort(), [0, 1, 2, 3, 4, 5]);
 * ```
 */
export interface EpochCursor {
  /** The epoch's number. */
  epoch: number;
  /** The seed its order (and the fetchers' seeds) came from. */
  seed: number;
  /** Whether its order is shuffled. */
  shuffle: boolean;
  /** The shard read, if any. */
  shard?: Shard;
  /** The first position of the order the reader has not taken. */
  start: number;
  /**
   * Positions after `start` already taken: only after an unordered epoch,
   * which may deliver later batches before earlier ones.
   */
  skip?: number[];
}

/** What one epoch was asked to read, and how far its reader got. */
export interface EpochRecord {
  epoch: number;
  seed: number;
  shuffle: boolean;
  shard: Shard | undefined;
  start: number;
  skip: number[];
  ordered: boolean;
  progress: EpochProgress;
  /** Set once the epoch's order is known. */
  order?: ResumedOrder;
  /** The length of the whole (sharded) order. */
  length?: number;
}

/**
 * The cursor after `record`: the same epoch from the first position not
 * taken, or the next epoch from its start when every batch was taken.
 */
export function cursorAfter(record: EpochRecord): EpochCursor {
  const { epoch, seed, shuffle, shard, order, length, progress } = record;
  const at = (start: number, skip: number[]): EpochCursor => ({
    epoch,
    seed,
    shuffle,
    ...(shard ? { shard: { ...shard } } : {}),
    start,
    ...(skip.length > 0 ? { skip } : {}),
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
    start = record.start;
    while (done.has(start)) start++;
  }
  if (start >= length) return { ...at(0, []), epoch: epoch + 1 };
  return at(start, [...done].filter((position) => position > start).sort((a, b) => a - b));
}
