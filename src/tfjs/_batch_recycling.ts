// Handing a PyDataset's batches back (`release`) once the tensors made
// from them no longer hold their memory, so that `info.allocate` in its
// getItem recycles while training.
//
// Backends differ: some copy the values when a tensor is made (wasm),
// others keep the very typed array (cpu; webgl until it uploads), and
// tensors made from one another (reshape, clone, same-dtype casts) share
// that data. A tensor's `isDisposed` is therefore not the test. A
// backend's kind is probed once, by changing an array after making a
// tensor of it; a batch on a backend that copies is released at once, and
// any other batch once the backend holds none of its tensors' data
// (`refCount` 0 for each), whichever tensors shared it.

import * as tf from "@tensorflow/tfjs";
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

/** Whether each backend seen copies what a tensor is made from. */
const copying = new WeakMap<object, boolean>();

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

  /** Releases `batch` now, or once the tensors of `element`, made of it, let go of its data. */
  made(batch: unknown, element: TfElement): void {
    const backend = tf.engine().backend as unknown as Backend;
    if (copies(backend)) {
      this.#release(batch);
      return;
    }
    const dataIds = tensorsOf(element).map((tensor) => tensor.dataId);
    this.#waiting.push({ batch, backend, dataIds });
  }

  /** Releases the waiting batches whose tensors' data the backend no longer holds. */
  sweep(): void {
    this.#waiting = this.#waiting.filter(({ batch, backend, dataIds }) => {
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
