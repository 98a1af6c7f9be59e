/**
 * {@linkcode PyDatasetHooks}: the optional epoch hooks a dataset may define.
 *
 * @module
 */

import type { WorkerInfo } from "./worker_info.ts";

/**
 * Optional epoch hooks of a {@linkcode PyDataset}. They are looked up by name
 * when an epoch runs, so a subclass defines them as plain methods, without
 * `override`; add `implements PyDatasetHooks` to have their signatures
 * checked.
 *
 * @example Check hook signatures
 * ```ts
 * import { PyDataset, type PyDatasetHooks } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Counted extends PyDataset<number> implements PyDatasetHooks {
 *   epochs = 0;
 *   get length(): number {
 *     return 2;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 *   onEpochEnd(): void {
 *     this.epochs++;
 *   }
 * }
 *
 * const dataset = new Counted();
 * for await (const _ of dataset.epoch());
 * assert.equal(dataset.epochs, 1);
 * ```
 */
export interface PyDatasetHooks {
  /**
   * Runs on the main thread when an epoch opens, before its first
   * `getItem`. Changes it makes to the dataset's fields reach the workers in
   * this epoch. `info` names the epoch and its seed, from which state such
   * as a per-epoch shuffle of the samples can be derived, so that a resumed
   * epoch derives the same.
   */
  onEpochBegin?(info: EpochInfo): void | Promise<void>;
  /**
   * Runs on the main thread exactly once per epoch: once the reader has
   * taken the last batch and no `getItem` runs (then the stream closes), or
   * when the epoch ends early by a cancel, an abort or a failed batch.
   * Changes it makes (e.g. shuffling `this.indices`) reach the workers next
   * epoch. `info` names the epoch that ended and its seed.
   */
  onEpochEnd?(info: EpochInfo): void | Promise<void>;
  /**
   * Runs in each worker (with `useMultiprocessing`) at each epoch, on that
   * epoch's copy of the dataset, before the worker's first batch: seed a
   * random generator from `info.seed` here, or open what `getItem` needs.
   * If it throws, the worker's batches fail with its error. It does not run
   * on the main thread, whose `workers` slots share one dataset.
   */
  onWorkerStart?(info: WorkerInfo): void | Promise<void>;
}

/**
 * Which epoch a hook runs for: `onEpochBegin` and `onEpochEnd` get it.
 *
 * @example Derive per-epoch state from the epoch, not from a counter
 * ```ts
 * import { type EpochInfo, PyDataset, type PyDatasetHooks } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Seen extends PyDataset<number> implements PyDatasetHooks {
 *   began: EpochInfo[] = [];
 *   get length(): number {
 *     return 2;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 *   onEpochBegin(info: EpochInfo): void {
 *     this.began.push(info);
 *   }
 * }
 *
 * const dataset = new Seen();
 * for await (const _ of dataset.epoch({ epoch: 3, seed: 7 }));
 * assert.deepEqual(dataset.began, [{ epoch: 3, seed: 7 }]);
 * ```
 */
export interface EpochInfo {
  /** The epoch's number. */
  readonly epoch: number;
  /** The epoch's seed: given to `epoch()`, or the dataset's own. */
  readonly seed: number;
}
