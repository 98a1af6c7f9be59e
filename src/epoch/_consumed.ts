// What a merged cursor records as consumed, in layers (see ConsumedLayer),
// and the order of what is left, computed lazily: the r-th position left is
// found by a search over positions with a count of the consumed ones up to
// a position, O(shards + skips) per count, never by listing the epoch.
//
// Every function here works on the epoch extended past its end (positions
// 0, 1, 2, … for ever), so that a cursor merges without the dataset's
// length: a position at or past the length does not exist, and a padded
// shard's repeats, which map past the end of their layer, consume nothing.

import type { ConsumedLayer } from "../options.ts";
import type { EpochOrder } from "./_order.ts";

/** The largest position a search looks at: past every epoch's end. */
const LAST = Number.MAX_SAFE_INTEGER;

/** How many positions from 0 to `x` of its order `layer` consumed. */
function consumedUpTo({ count, starts, skip = [] }: ConsumedLayer, x: number): number {
  if (x < 0) return 0;
  let consumed = 0;
  for (let shard = 0; shard < count && shard <= x; shard++) {
    consumed += Math.min(starts[shard]!, Math.floor((x - shard) / count) + 1);
  }
  return consumed + upperBound(skip, x);
}

/** Whether `layer` consumed position `x` of its order. */
function isConsumed(layer: ConsumedLayer, x: number): boolean {
  const { count, starts, skip = [] } = layer;
  if (Math.floor(x / count) < starts[x % count]!) return true;
  const at = upperBound(skip, x);
  return at > 0 && skip[at - 1] === x;
}

/** How many of `sorted` are at most `x`. */
function upperBound(sorted: readonly number[], x: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= x) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The position of its order of the `rank`-th (from 0) position `layer` left. */
function nthLeft(layer: ConsumedLayer, rank: number): number {
  const left = (x: number) => x + 1 - consumedUpTo(layer, x);
  let high = rank;
  while (high < LAST && left(high) <= rank) high = Math.min(LAST, high * 2 + 1);
  let low = rank;
  while (low < high) {
    const middle = low + Math.floor((high - low) / 2);
    if (left(middle) > rank) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** The whole-epoch position of the `rank`-th position `layers` left. */
export function wholeOf(layers: readonly ConsumedLayer[], rank: number): number {
  let position = rank;
  for (let t = layers.length - 1; t >= 0; t--) position = nthLeft(layers[t]!, position);
  return position;
}

/** How many of the positions `layers` left lie before whole position `whole`. */
export function leftBefore(layers: readonly ConsumedLayer[], whole: number): number {
  let before = whole;
  for (const layer of layers) before -= consumedUpTo(layer, before - 1);
  return before;
}

/** The rank among the positions `layers` left of whole position `whole`; -1 if consumed. */
export function rankOf(layers: readonly ConsumedLayer[], whole: number): number {
  let rank = whole;
  for (const layer of layers) {
    if (isConsumed(layer, rank)) return -1;
    rank -= consumedUpTo(layer, rank);
  }
  return rank;
}

/** Whether `layer` consumed nothing. */
function isEmpty({ starts, skip = [] }: ConsumedLayer): boolean {
  return skip.length === 0 && starts.every((start) => start === 0);
}

/** Plain copies of `layers`, without those that consumed nothing. */
export function compactLayers(layers: readonly ConsumedLayer[]): ConsumedLayer[] {
  return layers.filter((layer) => !isEmpty(layer)).map(({ count, starts, skip = [] }) => ({
    count,
    starts: [...starts],
    ...(skip.length > 0 ? { skip: [...skip] } : {}),
  }));
}

/**
 * The layers of a cursor of `scope: "epoch"`: its `consumed`, then one
 * layer that consumes what its `start` and `skip` (whole positions) add.
 */
export function epochScopeLayers(
  consumed: readonly ConsumedLayer[],
  start: number,
  skip: readonly number[],
): ConsumedLayer[] {
  const before = leftBefore(consumed, start);
  const ranks = skip.map((whole) => rankOf(consumed, whole)).filter((rank) => rank >= before);
  return compactLayers([...consumed, { count: 1, starts: [before], skip: ranks }]);
}

/** What a base of consumed positions leaves of an epoch's order. */
export interface LeftOrder extends EpochOrder {
  /** The whole-epoch position of this order's `position`. */
  origin(position: number): number;
}

/** The positions of `order` (the whole epoch's) that `layers` left, in order. */
export function leftOrder(order: EpochOrder, layers: readonly ConsumedLayer[]): LeftOrder {
  const length = order.length === Infinity ? Infinity : leftBefore(layers, order.length);
  const origin = (position: number) => wholeOf(layers, position);
  return { length, at: (position) => order.at(origin(position)), origin };
}
