/**
 * The batch order of an epoch: identity, or a seeded permutation.
 *
 * @module
 */

/** Maps positions in an epoch (0, 1, 2, ...) to batch indices. */
export interface EpochOrder {
  /** How many batches the epoch has; `Infinity` for an infinite dataset. */
  readonly length: number;
  /** The batch index at `position`. */
  at(position: number): number;
}

/**
 * The order of one epoch: `0 .. length - 1`, or, when `shuffle` is set and
 * the dataset is finite, a permutation drawn from `seed`.
 */
export function epochOrder(
  length: number,
  shuffle: boolean,
  seed: number,
): EpochOrder {
  if (!shuffle || length === Infinity) {
    return { length, at: (position) => position };
  }
  const indices = permutation(length, seed);
  return { length, at: (position) => indices[position]! };
}

/** A Fisher-Yates shuffle of `0 .. length - 1` driven by `seed`. */
export function permutation(length: number, seed: number): Uint32Array {
  const indices = new Uint32Array(length);
  for (let i = 0; i < length; i++) indices[i] = i;
  const random = mulberry32(seed);
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const held = indices[i]!;
    indices[i] = indices[j]!;
    indices[j] = held;
  }
  return indices;
}

/**
 * Mixes integers (any safe integers, such as a user's seed and an epoch
 * number) into one 32-bit seed, so that nearby inputs give unrelated seeds.
 */
export function mixSeed(...parts: number[]): number {
  let hash = 0x9e3779b9;
  for (const part of parts) {
    const low = part >>> 0;
    const high = Math.floor(part / 0x1_0000_0000) >>> 0;
    hash = avalanche(hash ^ avalanche(low + 0x85ebca6b));
    hash = avalanche(hash ^ avalanche(high + 0xc2b2ae35));
  }
  return hash;
}

function avalanche(value: number): number {
  let x = value >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}
