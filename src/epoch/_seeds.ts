// Seeds: every random choice of an epoch (its order, each fetcher's seed)
// derives from the epoch's seed and number, so it is the same in every run
// and every process.

import type { WorkerInfo } from "../worker_info.ts";

/** The info of fetcher `id` of `count` in an epoch. */
export function workerInfo(
  id: number,
  count: number,
  { seed, epoch, shard }: { seed: number; epoch: number; shard: number },
): WorkerInfo {
  return Object.freeze({
    id,
    count,
    seed: mixSeed(seed, epoch, shard, id),
    epoch,
    epochSeed: seed,
  });
}

/** Sets batch seeds apart from fetchers' seeds, which mix four parts too. */
const BATCH = 0x62617463;

/**
 * The seed of batch `index` in an epoch: the same whatever fetcher, mode,
 * shard, resume point or attempt fetches it.
 */
export function batchSeed(seed: number, epoch: number, index: number): number {
  // mixSeed(seed, epoch, index, BATCH), without its array: this runs for every batch.
  return mixIn(mixIn(mixIn(mixIn(MIX_START, seed), epoch), index), BATCH);
}

/** What {@linkcode mixSeed} starts from. */
const MIX_START = 0x9e3779b9;

/**
 * Mixes integers (any safe integers, such as a user's seed and an epoch
 * number) into one 32-bit seed, so that nearby inputs give unrelated seeds.
 */
export function mixSeed(...parts: number[]): number {
  let hash = MIX_START;
  for (const part of parts) hash = mixIn(hash, part);
  return hash;
}

/** `hash` with one more part mixed in. */
function mixIn(hash: number, part: number): number {
  const low = part >>> 0;
  const high = Math.floor(part / 0x1_0000_0000) >>> 0;
  hash = avalanche(hash ^ avalanche(low + 0x85ebca6b));
  return avalanche(hash ^ avalanche(high + 0xc2b2ae35));
}

function avalanche(value: number): number {
  let x = value >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A small seeded generator of numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}
