// Handing a PyDataset's batches back (`release`) once the tensors made
// from them no longer hold their memory, so that `info.allocate` in its
// getItem recycles while training.
//
// Backends differ: some copy the values when a tensor is made (wasm),
// others keep the very typed array (cpu; webgl until it uploads), and
// tensors made from one another share that data: under the same data id
// (reshape, clone, same-dtype casts), or as a view of its values under a
// new one (cpu's slice, and so split and unstack). A tensor's `isDisposed`
// is therefore not the test. A backend's kind is probed once, by changing
// an array after making a tensor of it; a batch on a backend that copies is
// released at once. On any other, tensors are made from watched views of
// the batch's arrays, which note when a view of them is taken (`subarray`,
// as a slice does): such a batch is never released (the collector takes
// it); any other once the backend holds none of its tensors' data
// (`refCount` 0 for each).

import * as tf from "@tensorflow/tfjs";
import { someBuffer } from "../_buffers_in.ts";
import type { TfElement } from "./batch_to_tensors.ts";

/** What is read of a backend: how many tensors hold a data id. */
interface Backend {
  refCount(dataId: object): number;
}

/** A batch waiting for its tensors' data to be freed. */
interface Waiting {
  batch: unknown;
  backend: Backend;
  dataIds: object[];
}

/**
 * The most batches that wait: past it the oldest is left to the collector
 * (never released), so tensors a caller never disposes hold no list.
 */
const MAX_WAITING = 64;

/** Whether each backend seen copies what a tensor is made from. */
const copying = new WeakMap<object, boolean>();

/** The buffers of watched arrays that something took a view of. */
const viewed = new WeakSet<ArrayBufferLike>();

/** A Float32Array over a batch's memory that notes a view taken of it. */
class WatchedFloat32Array extends Float32Array {
  override subarray(begin?: number, end?: number): Float32Array<ArrayBuffer> {
    viewed.add(this.buffer);
    return super.subarray(begin, end) as Float32Array<ArrayBuffer>;
  }
}

/** An Int32Array over a batch's memory that notes a view taken of it. */
class WatchedInt32Array extends Int32Array {
  override subarray(begin?: number, end?: number): Int32Array<ArrayBuffer> {
    viewed.add(this.buffer);
    return super.subarray(begin, end) as Int32Array<ArrayBuffer>;
  }
}

/**
 * `value` with each Float32Array and Int32Array (the arrays a tensor keeps
 * as they are) replaced by a watched view of the same memory, through
 * arrays and plain objects (NDArrays); tensors and the rest stay as they are.
 */
function watched(value: unknown): unknown {
  if (value instanceof Float32Array) {
    return new WatchedFloat32Array(value.buffer as ArrayBuffer, value.byteOffset, value.length);
  }
  if (value instanceof Int32Array) {
    return new WatchedInt32Array(value.buffer as ArrayBuffer, value.byteOffset, value.length);
  }
  if (Array.isArray(value)) return value.map(watched);
  if (
    typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, watched(item)]));
  }
  return value;
}

/** Whether `backend` copies a typed array when a tensor is made of it. */
function copies(backend: object): boolean {
  let known = copying.get(backend);
  if (known === undefined) {
    const values = Float32Array.of(1);
    const probe = tf.tensor1d(values);
    values[0] = 2;
    known = probe.dataSync()[0] === 1;
    probe.dispose();
    copying.set(backend, known);
  }
  return known;
}

/** The tensors of an element's parts. */
function tensorsOf({ xs, ys }: TfElement): tf.Tensor[] {
  return [xs, ys].flatMap((part) =>
    part instanceof tf.Tensor ? [part] : Object.values(part) as tf.Tensor[]
  );
}

/** Releases the batches of one source as their tensors let go of them. */
export class BatchRecycling {
  #release: (batch: unknown) => number;
  #waiting: Waiting[] = [];

  /** @param release The source's `release`. */
  constructor(release: (batch: unknown) => number) {
    this.#release = release;
  }

  /**
   * What to make the tensors from: `value` itself on a backend that
   * copies, else `value` with watched views of its arrays.
   */
  prepare(value: unknown): unknown {
    return copies(tf.engine().backend) ? value : watched(value);
  }

  /** Releases `batch` now, or once the tensors of `element`, made of it, let go of its data. */
  made(batch: unknown, element: TfElement): void {
    const backend = tf.engine().backend as unknown as Backend;
    if (copies(backend)) {
      this.#release(batch);
      return;
    }
    const dataIds = tensorsOf(element).map((tensor) => tensor.dataId);
    this.#waiting.push({ batch, backend, dataIds });
    if (this.#waiting.length > MAX_WAITING) this.#waiting.shift();
  }

  /**
   * Releases the waiting batches whose tensors' data the backend no longer
   * holds; one a view was taken of is let go without.
   */
  sweep(): void {
    this.#waiting = this.#waiting.filter(({ batch, backend, dataIds }) => {
      if (someBuffer(batch, (buffer) => viewed.has(buffer))) return false;
      if (!dataIds.every((dataId) => freed(backend, dataId))) return true;
      this.#release(batch);
      return false;
    });
  }
}

/** Whether `backend` holds `dataId` no longer (a backend that cannot tell, never). */
function freed(backend: Backend, dataId: object): boolean {
  try {
    return backend.refCount(dataId) === 0;
  } catch {
    return false;
  }
}
