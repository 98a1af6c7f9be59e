/**
 * {@linkcode WorkerInfo}: which fetcher runs a `getItem` call, and its seed.
 *
 * @module
 */

/**
 * Which fetcher runs a `getItem` call, given to `getItem` as its second
 * argument and to the `onWorkerStart` hook: a worker with
 * `useMultiprocessing`, otherwise one of the `workers` concurrent slots on
 * the main thread.
 *
 * `seed` derives from the epoch's seed, its number, the shard and `id`:
 * the same for the same `seed` and `epoch` in every run, and different
 * between fetchers and between epochs. Seed random augmentations with it
 * (Keras's workers all repeat the same random numbers). In an ordered
 * epoch, fetcher `id` fetches positions `id`, `id + count`, ... in order,
 * so a generator seeded in `onWorkerStart` gives every batch the same
 * random numbers in every run.
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
}
