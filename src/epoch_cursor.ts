/**
 * {@linkcode EpochCursor}: where a reader stopped in an epoch, to resume
 * there after a restart.
 *
 * @module
 */

import type { Shard } from "./options.ts";

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
