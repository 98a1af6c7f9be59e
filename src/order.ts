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
  /** The shuffled indices; undefined when the order is `0 .. length - 1`. */
  readonly indices?: Uint32Array;
}

/**
 * The order of one epoch: `0 .. length - 1`, or, given `seeds`, a
 * permutation drawn from `seeds(0)`. When that equals `avoid` (the previous
 * epoch's order), it is drawn again from `seeds(1)`, `seeds(2)`, ..., so
 * that consecutive epochs always differ (from two batches on).
 */
export function epochOrder(
  length: number,
  seeds?: (attempt: number) => number,
  avoid?: Uint32Array,
): EpochOrder {
  if (!seeds) return { length, at: (position) => position };
  let indices = permutation(length, seeds(0));
  for (let attempt = 1; length > 1 && avoid && equal(indices, avoid); attempt++) {
    indices = permutation(length, seeds(attempt));
  }
  return { length, indices, at: (position) => indices[position]! };
}

function equal(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
