// Which batches the checks fetch: the first ones and the last, and a spread
// of them to fetch again.

/** The first `maxBatches` indices, and the last one. */
export function checkedIndices(length: number, maxBatches: number): number[] {
  const first = Array.from({ length: Math.min(length, maxBatches) }, (_, i) => i);
  if (length !== Infinity && length > maxBatches) first.push(length - 1);
  return first;
}

/** `count` items spread over `items`, first and last included. */
export function spread<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from(
    { length: count },
    (_, i) => items[Math.round((i * (items.length - 1)) / Math.max(1, count - 1))]!,
  );
}
