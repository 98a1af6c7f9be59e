/**
 * {@linkcode EpochStats}: what an epoch did, for seeing whether training
 * waits on the loader.
 *
 * @module
 */

import type { BatchError } from "./batch_error.ts";

/**
 * What one epoch has done so far, from {@linkcode PyDataset.prototype.stats}:
 * live while the epoch runs, final once it ended.
 *
 * `waitMs` against the epoch's length tells whether the reader (training)
 * waits on the loader; `meanQueueDepth` near 0 means the loader cannot keep
 * up, near `maxQueueSize` that the reader is the slower side.
 *
 * @example Log how long training waited for batches
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Slow extends PyDataset<number> {
 *   get length(): number {
 *     return 3;
 *   }
 *   async getItem(index: number): Promise<number> {
 *     await new Promise((resolve) => setTimeout(resolve, 5));
 *     return index;
 *   }
 * }
 *
 * const slow = new Slow();
 * for await (const _ of slow.epoch());
 * const { batches, getItemMs, waitMs } = slow.stats!;
 * assert.equal(batches, 3);
 * assert.ok(getItemMs >= 10 && waitMs >= 10);
 * ```
 */
export interface EpochStats {
  /** The epoch's number. */
  epoch: number;
  /** Batches handed to the stream so far. */
  batches: number;
  /**
   * The batches the epoch delivers, once `onEpochBegin` has run and its
   * order is decided: its shard of the dataset's `length`, from its `start`,
   * less its `skip` list (`Infinity` for an infinite dataset; batches that
   * `onError: "skip"` leaves out still count). Undefined before.
   */
  total?: number;
  /**
   * Milliseconds spent fetching batches, summed over batches: `getItem` on
   * the main thread, or the round trip to a worker from when the worker is
   * handed the batch. With several fetches at once it can exceed the
   * epoch's length.
   */
  getItemMs: number;
  /** Milliseconds the reader spent waiting for a batch it asked for. */
  waitMs: number;
  /** Batches waiting in the stream's queue when the reader asked, on average. */
  meanQueueDepth: number;
  /** The most batches that waited in the stream's queue at once. */
  maxQueueDepth: number;
  /** Milliseconds from the epoch's start to its end, or to now while it runs. */
  elapsedMs: number;
  /** Whether the epoch has ended. */
  ended: boolean;
  /** Attempts beyond a batch's first, summed over batches (see `retries`). */
  retries: number;
  /**
   * The batches left out with `onError: "skip"`, by position (the place in
   * the whole epoch's order, before sharding).
   */
  skipped: SkippedBatch[];
  /** Calls of `info.allocate` by this epoch's `getItem` calls. */
  allocations: number;
  /**
   * How many of those a released buffer served (see
   * `PyDataset.prototype.release`), rather than a new one.
   */
  recycled: number;
}

/**
 * A batch left out of an epoch with `onError: "skip"`, in
 * {@linkcode EpochStats.skipped}.
 *
 * @example Report what an epoch left out
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Corrupt extends PyDataset<number> {
 *   get length(): number {
 *     return 20;
 *   }
 *   getItem(index: number): number {
 *     if (index === 7) throw new Error("bad record");
 *     return index;
 *   }
 * }
 *
 * const dataset = new Corrupt({ onError: "skip" });
 * const warn = console.warn;
 * console.warn = () => {}; // the skip is also said there
 * try {
 *   for await (const _ of dataset.epoch());
 * } finally {
 *   console.warn = warn;
 * }
 * const [skipped] = dataset.stats!.skipped;
 * assert.equal(skipped!.index, 7);
 * assert.match(skipped!.error.message, /bad record/);
 * ```
 */
export interface SkippedBatch {
  /** The batch index. */
  index: number;
  /** Its place in the whole epoch's order, before sharding. */
  position: number;
  /** Why: the batch's last failure. */
  error: BatchError;
}
