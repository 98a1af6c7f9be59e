// The ArrayBuffers a batch holds, found through the containers a batch is
// made of: shared by `release` (which hands back those `allocate` made),
// the policy (which refuses detached ones) and a worker (which asks which
// of them its dataset still holds).

/**
 * Calls `test` with each ArrayBuffer of the views (and the bare
 * ArrayBuffers) in `batch`, once each, through arrays, plain objects,
 * `Map`s and `Set`s: a batch's containers, never another class's insides.
 * Shared memory is left out. Stops at the first for which `test` returns
 * true; whether there was one. A lone array, the commonest batch, is seen
 * without allocating (this runs a few times per batch).
 */
export function someBuffer(batch: unknown, test: (buffer: ArrayBuffer) => boolean): boolean {
  if (ArrayBuffer.isView(batch)) return batch.buffer instanceof ArrayBuffer && test(batch.buffer);
  const buffers = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const stack = [batch];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== "object" || value === null || seen.has(value)) continue;
    seen.add(value);
    const buffer = ArrayBuffer.isView(value) ? value.buffer : value;
    if (buffer instanceof ArrayBuffer) {
      if (buffers.has(buffer)) continue;
      buffers.add(buffer);
      if (test(buffer)) return true;
    } else if (Array.isArray(value) || value instanceof Set) {
      for (const item of value) if (typeof item === "object") stack.push(item);
    } else if (value instanceof Map) {
      for (const [key, item] of value) stack.push(key, item);
    } else if (isPlain(value)) {
      for (const item of Object.values(value)) stack.push(item);
    }
  }
  return false;
}

/** The ArrayBuffers {@linkcode someBuffer} finds in `batch`. */
export function buffersIn(batch: unknown): Set<ArrayBuffer> {
  const buffers = new Set<ArrayBuffer>();
  someBuffer(batch, (buffer) => (buffers.add(buffer), false));
  return buffers;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
