// Where two batches first differ: the determinism and worker checks compare
// a batch fetched twice, value by value.

/** Where two batches first differ, or undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    if (a.constructor !== b.constructor) {
      return `${path} is a ${a.constructor.name}, then a ${b.constructor.name}`;
    }
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return `${path} has ${x.length} values, then ${y.length}`;
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) return `${path}[${i}] is ${x[i]}, then ${y[i]}`;
    }
    return undefined;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return `${path} is ${String(a)}, then ${String(b)}`;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const difference = firstDifference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      `${path}.${key}`,
    );
    if (difference) return difference;
  }
  return undefined;
}
