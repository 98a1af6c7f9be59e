// The batch order of an epoch: identity, or a seeded permutation; a
// shard of it; the rest of it after a resume.

import type { Shard } from "../options.ts";
import { mixSeed, mulberry32 } from "./_seeds.ts";

/** Maps positions in an epoch (0, 1, 2, ...) to batch indices. */
export interface EpochOrder {
  /** How many batches the epoch has; `Infinity` for an infinite dataset. */
  readonly length: number;
  /** The batch index at `position`. */
  at(position: number): number;
}

/**
 * The order of epoch `epoch`: `0 .. length - 1`, or with `shuffle` a
 * permutation that depends only on `seed`, `epoch` and `length`, so that
 * every process and every shard computes the same one.
 *
 * Consecutive epochs never share an order (from two batches on): an even
 * epoch takes its first draw; an odd epoch takes the first of its draws
 * that differs from both neighbours' (for two batches, the two orders
 * alternate).
 */
export function epochOrder(
  length: number,
  { shuffle = false, seed = 0, epoch = 0 }: { shuffle?: boolean; seed?: number; epoch?: number } =
    {},
): EpochOrder {
  if (!shuffle || length === Infinity || length < 2) return { length, at: (position) => position };
  const indices = shuffledIndices(length, seed, epoch);
  return { length, at: (position) => indices[position]! };
}

function shuffledIndices(length: number, seed: number, epoch: number): Uint32Array {
  const draw = (e: number, attempt: number) => permutation(length, mixSeed(seed, e, attempt));
  if (length === 2) {
    const first = draw(0, 0);
    return epoch % 2 === 0 ? first : first.reverse();
  }
  if (epoch % 2 === 0) return draw(epoch, 0);
  const before = draw(epoch - 1, 0);
  const after = draw(epoch + 1, 0);
  for (let attempt = 0;; attempt++) {
    const indices = draw(epoch, attempt);
    if (!equal(indices, before) && !equal(indices, after)) return indices;
  }
}

/**
 * The positions of `order` that `shard` reads: every `count`-th, from
 * `index`. With `pad`, the order is first extended to a multiple of `count`
 * by repeating its start, so every shard has the same length.
 */
export function shardOrder(order: EpochOrder, { index, count, pad = false }: Shard): EpochOrder {
  if (count === 1) return order;
  const total = order.length === Infinity || !pad || order.length === 0
    ? order.length
    : Math.ceil(order.length / count) * count;
  const length = total === Infinity ? Infinity : Math.max(0, Math.ceil((total - index) / count));
  return { length, at: (position) => order.at((position * count + index) % order.length) };
}

/**
 * The rest of `order` from position `start`, leaving out the positions in
 * `skip` (all at or after `start`, ascending): what a resumed epoch reads.
 * Its positions map back with {@linkcode ResumedOrder.origin}.
 */
export interface ResumedOrder extends EpochOrder {
  /** The position in the full order of this order's `position`. */
  origin(position: number): number;
}

/** See {@linkcode ResumedOrder}. */
export function resumeOrder(
  order: EpochOrder,
  start: number,
  skip: readonly number[] = [],
): ResumedOrder {
  const origin = (position: number) => {
    // The position-th full position from start that is not skipped.
    let full = start + position;
    for (const skipped of skip) {
      if (skipped <= full) full++;
      else break;
    }
    return full;
  };
  return {
    length: order.length - start - skip.length,
    at: (position) => order.at(origin(position)),
    origin,
  };
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
