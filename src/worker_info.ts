/**
 * {@linkcode WorkerInfo} and {@linkcode BatchInfo}: which fetcher runs a
 * `getItem` call, its seed, and the batch's own seed and buffers.
 *
 * @module
 */

import type { TypedArray, TypedArrayConstructor } from "./array_types.ts";

/**
 * Which fetcher runs a `getItem` call, given to `getItem` as its second
 * argument and to the `onWorkerStart` hook: a worker with
 * `useMultiprocessing`, otherwise one of the `workers` concurrent slots on
 * the main thread.
 *
 * `seed` derives from the epoch's seed, its number, the shard and `id`:
 * the same for the same `seed` and `epoch` in every run, and different
 * between fetchers and between epochs (Keras's workers all repeat the
 * same random numbers). In an ordered epoch, fetcher `id` fetches
 * positions `id`, `id + count`, ... in order, so a generator seeded in
 * `onWorkerStart` gives every batch the same random numbers in every run
 * with the same number of workers, until a batch is retried (the retry
 * runs on the same fetcher after the batches it ran meanwhile). Seed
 * augmentations from {@linkcode BatchInfo.batchSeed} instead to get the
 * same numbers with any number of workers.
 *
 * @example Random numbers that repeat with the seed and differ per epoch
 * ```ts
 * import { PyDataset, type WorkerInfo } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Noisy extends PyDataset<number> {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(index: number, info: WorkerInfo): number {
 *     // A tiny hash of the fetcher's seed and the index; use a real generator.
 *     return Math.imul(info.seed ^ index, 0x9e3779b1) >>> 0;
 *   }
 * }
 *
 * const read = async (seed: number, epoch: number) => {
 *   const values: number[] = [];
 *   for await (const value of new Noisy({ workers: 2 }).epoch({ seed, epoch })) {
 *     values.push(value);
 *   }
 *   return values;
 * };
 * assert.deepEqual(await read(1, 0), await read(1, 0));
 * assert.notDeepEqual(await read(1, 0), await read(1, 1));
 * ```
 */
export interface WorkerInfo {
  /** The fetcher, from 0 to `count - 1`. */
  readonly id: number;
  /** How many fetchers the epoch has: the dataset's `workers`. */
  readonly count: number;
  /** This fetcher's seed for this epoch: an unsigned 32-bit integer. */
  readonly seed: number;
  /** The epoch's number. */
  readonly epoch: number;
  /**
   * The epoch's own seed (`epoch({ seed })`, or the one drawn for the
   * dataset), the same for every fetcher: what a sample-level shuffle
   * shared by all batches derives from, with `epoch`.
   */
  readonly epochSeed: number;
}

/**
 * What `getItem` gets as its second argument: the {@linkcode WorkerInfo} of
 * the fetcher that runs the call, and this batch's own facts.
 *
 * Seed augmentations from `batchSeed`: it depends only on the epoch's
 * seed, the epoch number and the batch index, so a batch gets the same
 * random numbers with 1, 2 or 8 workers, on the main thread or in workers,
 * in any shard, after a resume, on a retry. `seed` (per fetcher) suits
 * state a fetcher keeps across its batches, such as a generator made in
 * `onWorkerStart`; its numbers then depend on which batches that fetcher ran.
 *
 * @example Augment from the batch's seed
 * ```ts
 * import { type BatchInfo, PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Noise extends PyDataset<number> {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(_index: number, info: BatchInfo): number {
 *     return info.batchSeed; // seed a generator with it in real code
 *   }
 * }
 *
 * const read = async (workers: number) => {
 *   const seeds: number[] = [];
 *   for await (const seed of new Noise({ workers }).epoch({ seed: 5 })) seeds.push(seed);
 *   return seeds;
 * };
 * assert.deepEqual(await read(1), await read(3));
 * ```
 */
export interface BatchInfo extends WorkerInfo {
  /**
   * This batch's seed: an unsigned 32-bit integer that depends only on the
   * epoch's seed, the epoch number and the batch index.
   */
  readonly batchSeed: number;
  /** Which attempt at this batch the call is: 0 for the first, 1 for the first retry, … */
  readonly attempt: number;
  /**
   * Returns a `type` array of `length` elements for this batch's output:
   * made from a buffer that {@linkcode PyDataset.prototype.release} handed
   * back, when one of the right byte size is free, else new. A recycled
   * array holds what it held before (it is not zeroed): fill all of it.
   *
   * Arrays from `allocate` belong to the batch: put them in what `getItem`
   * returns, not in the dataset's fields, since releasing the batch
   * detaches them. Without `release` they are plain new arrays.
   *
   * @example Output arrays that are recycled
   * ```ts
   * import { type BatchInfo, PyDataset } from "@pydataset/pydataset";
   * import assert from "node:assert/strict";
   *
   * class Frames extends PyDataset<Float32Array> {
   *   get length(): number {
   *     return 20;
   *   }
   *   getItem(index: number, info: BatchInfo): Float32Array {
   *     return info.allocate(Float32Array, 1024).fill(index);
   *   }
   * }
   *
   * await using frames = new Frames();
   * for await (const frame of frames.epoch()) {
   *   assert.equal(frame[0], frame[1023]); // use the batch, then:
   *   frames.release(frame);
   * }
   * assert.ok(frames.stats!.recycled > 0);
   * ```
   */
  allocate<T extends TypedArray>(type: TypedArrayConstructor<T>, length: number): T;
}
