// The ArrayBuffers a batch holds, found through the containers a batch is
// made of: shared by `release` (which hands back those `allocate` made) and
// a worker (which asks which of them its dataset still holds).

/**
 * The ArrayBuffers of the views (and the bare ArrayBuffers) in `batch`,
 * through arrays, plain objects, `Map`s and `Set`s: a batch's containers,
 * never another class's insides. Shared memory is left out.
 */
export function buffersIn(batch: unknown): Set<ArrayBuffer> {
  const buffers = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const stack = [batch];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== "object" || value === null || seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value)) {
      if (value.buffer instanceof ArrayBuffer) buffers.add(value.buffer);
    } else if (value instanceof ArrayBuffer) buffers.add(value);
    else if (Array.isArray(value) || value instanceof Set) {
      for (const item of value) if (typeof item === "object") stack.push(item);
    } else if (value instanceof Map) {
      for (const [key, item] of value) stack.push(key, item);
    } else if (isPlain(value)) {
      for (const item of Object.values(value)) stack.push(item);
    }
  }
  return buffers;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
