// The epoch the checks read batches as: unshuffled, with a fixed seed, so
// that the main thread's getItem calls and the workers' get the same infos.

import { BatchAllocator } from "../_allocator.ts";
import { batchSeed, workerInfo } from "../epoch/_seeds.ts";
import type { PyDataset } from "../py_dataset.ts";
import type { BatchInfo } from "../worker_info.ts";

/**
 * The seed and number of the epoch that worker batches are read in: the
 * main thread's calls get the same fetcher infos, so a `getItem` that uses
 * `info.seed` gives the same batches in both.
 */
export const CHECK_EPOCH = { seed: 0, epoch: 0 };

/** The info batch `index` gets, first attempt, in the unshuffled check epoch. */
export function infoFor(dataset: PyDataset<unknown>, index: number): BatchInfo {
  const { workers } = dataset;
  const { seed, epoch } = CHECK_EPOCH;
  return Object.freeze({
    ...workerInfo(index % workers, workers, { ...CHECK_EPOCH, shard: 0 }),
    batchSeed: batchSeed(seed, epoch, index),
    attempt: 0,
    // Fresh arrays: the checks never release what they read.
    allocate: new BatchAllocator(new Map()).allocate,
  });
}
