/**
 * Which buffers of a batch a worker may transfer (zero copy) to the main
 * thread, and which it must copy.
 *
 * The rule, for each typed array, `DataView` or `ArrayBuffer` in a batch:
 *
 * 1. A view that spans its whole `ArrayBuffer`, whose buffer is not
 *    reachable from the dataset instance's own fields (a cache such as
 *    `this.images`), is **transferred**: no copy, and the worker's copy of the
 *    buffer is detached, which is safe because nothing in the worker keeps it.
 * 2. Any other view (a `subarray`, a view of a cached buffer) is **copied**:
 *    only its own bytes go into a fresh buffer, which is transferred. A
 *    `subarray` of a 1 GiB cache therefore sends its bytes, never the
 *    gigabyte, and the cache stays intact.
 * 3. A `SharedArrayBuffer` is shared, as `postMessage` always does.
 *
 * Buffers cached outside the instance (a module-level `Map`, say) are
 * invisible to the rule: keep caches in fields of the dataset, or return
 * copies. A batch that contains a detached buffer (one already transferred
 * away) is an error rather than a silent empty array.
 *
 * @module
 */

/** A batch ready for `postMessage`: its value and its transfer list. */
export interface PreparedBatch {
  /** The batch, with views that must not be transferred replaced by copies. */
  value: unknown;
  /** The buffers to transfer. */
  transfer: ArrayBuffer[];
}

/**
 * Prepares `batch` for `postMessage` from a worker, following the rule in
 * this module's documentation. Containers (arrays, plain objects, `Map`s,
 * `Set`s) are rebuilt rather than changed, so a cached batch object is never
 * altered.
 *
 * @param batch What `getItem` returned.
 * @param retained Buffers the worker still uses (see {@linkcode reachableBuffers}).
 * @throws {TypeError} The batch holds a detached buffer.
 */
export function prepareTransfer(
  batch: unknown,
  retained: ReadonlySet<ArrayBufferLike>,
): PreparedBatch {
  const transfer = new Set<ArrayBuffer>();
  const done = new Map<object, unknown>();

  const visit = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null) return value;
    if (done.has(value)) return done.get(value);
    if (ArrayBuffer.isView(value)) {
      const prepared = prepareView(value, retained, transfer);
      done.set(value, prepared);
      return prepared;
    }
    if (value instanceof ArrayBuffer) {
      checkAttached(value);
      if (retained.has(value)) {
        const copy = value.slice(0);
        transfer.add(copy);
        done.set(value, copy);
        return copy;
      }
      transfer.add(value);
      done.set(value, value);
      return value;
    }
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      done.set(value, copy);
      for (const item of value) copy.push(visit(item));
      return copy;
    }
    if (value instanceof Map) {
      const copy = new Map();
      done.set(value, copy);
      for (const [key, item] of value) copy.set(visit(key), visit(item));
      return copy;
    }
    if (value instanceof Set) {
      const copy = new Set();
      done.set(value, copy);
      for (const item of value) copy.add(visit(item));
      return copy;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const copy: Record<string, unknown> = {};
      done.set(value, copy);
      for (const [key, item] of Object.entries(value)) copy[key] = visit(item);
      return copy;
    }
    return value;
  };

  const value = visit(batch);
  return { value, transfer: [...transfer] };
}

function prepareView(
  view: ArrayBufferView,
  retained: ReadonlySet<ArrayBufferLike>,
  transfer: Set<ArrayBuffer>,
): ArrayBufferView {
  const buffer = view.buffer;
  if (!(buffer instanceof ArrayBuffer)) return view; // shared memory stays shared
  checkAttached(buffer);
  const whole = view.byteOffset === 0 && view.byteLength === buffer.byteLength;
  if (whole && !retained.has(buffer)) {
    transfer.add(buffer);
    return view;
  }
  const bytes = buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  transfer.add(bytes);
  if (view instanceof DataView) return new DataView(bytes);
  const Constructor = view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView;
  return new Constructor(bytes);
}

function checkAttached(buffer: ArrayBuffer): void {
  if (buffer.detached) {
    throw new TypeError(
      "Cannot send a batch that holds a detached ArrayBuffer: it was transferred away earlier, so it was probably cached outside the dataset instance; keep caches in fields of the dataset or return a copy",
    );
  }
}

/**
 * The buffers of `among` (a batch's) that are reachable from `root`'s own
 * enumerable fields, through arrays, objects, `Map`s, `Set`s and views:
 * those a worker's dataset still uses and must not lose to a transfer.
 */
export function reachableBuffers(
  root: object,
  among: ReadonlySet<ArrayBufferLike>,
): Set<ArrayBufferLike> {
  const found = new Set<ArrayBufferLike>();
  if (among.size === 0) return found;
  const seen = new Set<object>();
  const stack: object[] = [root];
  // Views and buffers are looked up as they are met, never stacked: a
  // dataset often holds thousands (one per file), and this runs per batch.
  const visit = (value: unknown): void => {
    if (typeof value !== "object" || value === null) return;
    const buffer = ArrayBuffer.isView(value) ? value.buffer : value;
    if (buffer instanceof ArrayBuffer || buffer instanceof SharedArrayBuffer) {
      if (among.has(buffer)) found.add(buffer);
    } else if (!seen.has(value)) {
      seen.add(value);
      stack.push(value);
    }
  };
  while (stack.length > 0 && found.size < among.size) {
    const value = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visit(value[i]);
    } else if (value instanceof Set) {
      for (const item of value) visit(item);
    } else if (value instanceof Map) {
      for (const [key, item] of value) {
        visit(key);
        visit(item);
      }
    } else {
      for (const key of Object.keys(value)) visit((value as Record<string, unknown>)[key]);
    }
  }
  return found;
}
