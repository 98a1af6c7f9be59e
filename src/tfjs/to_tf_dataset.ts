/**
 * {@linkcode toTfDataset}: a `PyDataset`, or any stream of batches, as a
 * TensorFlow.js `tf.data.Dataset` for `model.fitDataset`.
 *
 * The files of `src/tfjs` may import only `@tensorflow/tfjs`, the public
 * types, `src/_describe.ts`, `src/_arrays.ts`, `src/_buffers_in.ts` and
 * `src/_hold_workers.ts`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { HOLD_WORKERS } from "../_hold_workers.ts";
import { show } from "../_describe.ts";
import type { Shard } from "../options.ts";
import type { PyDataset } from "../py_dataset.ts";
import { BatchRecycling } from "./_batch_recycling.ts";
import { batchToTensors, type BatchToTensorsOptions, type TfElement } from "./batch_to_tensors.ts";

/**
 * Where batches come from: a {@linkcode PyDataset} (one epoch per pass), or
 * a function that opens a stream of batches for one pass, such as one that
 * decodes the body of a `fetch` response. The function gets a signal that
 * aborts when the pass ends early (pass it on to `fetch`) and the pass's
 * number, counted from 0 by the returned dataset: with `fitDataset`, the
 * epoch being trained.
 */
export type BatchSource<B> =
  | PyDataset<B>
  | ((options: BatchSourceOptions) => ReadableStream<B> | Promise<ReadableStream<B>>);

/** What the function source of {@linkcode toTfDataset} gets for each pass. */
export interface BatchSourceOptions {
  /** Aborts when the pass ends early (`fitDataset` abandoned it, or the dataset was disposed). */
  signal: AbortSignal;
  /** The pass's number: 0 for the first one this dataset opens, then 1, 2, … */
  epoch: number;
}

/** Options for {@linkcode toTfDataset}. */
export interface ToTfDatasetOptions<B> extends BatchToTensorsOptions {
  /**
   * Shuffle the batch order of each epoch (a `PyDataset` source only).
   *
   * @default {false}
   */
  shuffle?: boolean;
  /**
   * Seed of the shuffle: the same seed gives the same orders, epoch after
   * epoch, in every run (a `PyDataset` source only).
   *
   * @default {undefined}
   */
  seed?: number;
  /**
   * The slice of each epoch's order this trainer reads, as
   * `epoch({ shard })` takes it (a `PyDataset` source only): trainer
   * `index` of `count` reads every `count`-th batch from the `index`-th.
   *
   * @default {undefined}
   */
  shard?: Shard;
  /**
   * Aborting it stops the pass that runs and fails the next ones.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Turns a batch of another layout into `{ xs, ys }` of NDArrays, typed
   * arrays or fresh tensors; the default accepts `[x, y]` and `{ xs, ys }`
   * (see {@linkcode batchToTensors}).
   *
   * @default {undefined}
   */
  toTensors?: (batch: B) => { xs: unknown; ys: unknown };
}

/**
 * A real, chainable `tf.data.Dataset` of `{ xs, ys }` elements over a
 * {@linkcode PyDataset} or a stream of batches, for `model.fitDataset`.
 *
 * It meets `fitDataset`'s contract (tfjs 4.22): every batch becomes fresh
 * tensors, which `fitDataset` disposes after its step. `fitDataset` asks for
 * one more iterator than it trains epochs; the stream behind an iterator
 * opens only on its first `next()`, so exactly one `PyDataset` epoch runs per
 * trained epoch. An iterator that `fitDataset` abandons (`batchesPerEpoch`,
 * `model.stopTraining`) is never closed by tfjs: its stream is cancelled
 * when the next pass over the same source opens, through this dataset or
 * another `toTfDataset` of it (so `onEpochEnd` runs), or when the returned
 * dataset is disposed (`await using`) or the `PyDataset` closed. A failed
 * batch fails `fitDataset` with its {@linkcode BatchError}.
 *
 * With `batchesPerEpoch`, `fitDataset` reads one iterator across its
 * epochs: chain `.repeat()`, and the `PyDataset`'s hooks then run at the end
 * of each of its own epochs (every `length` batches), not between trained
 * epochs. A batch is never served across a hook (each pass's batches are
 * fetched between its `onEpochBegin` and `onEpochEnd`); for a hook per
 * trained epoch, as Keras runs them, leave `batchesPerEpoch` unset.
 *
 * A pass is in progress from its first `next()` until its stream ends (read
 * to the end, cancelled or errored). The `idleTimeout` of a `PyDataset`
 * read by a pass counts only while no pass of any `toTfDataset` is in
 * progress: the validation pass that `fitDataset` runs between two epochs
 * keeps the training dataset's workers for the next epoch, and the
 * training pass keeps the validation dataset's.
 *
 * Chaining `.prefetch()` or `.shuffle()` on the result buffers tensors that
 * leak if the pass is abandoned: the `PyDataset` already prefetches.
 *
 * It recycles by itself: a `PyDataset`'s batch is released (see
 * `PyDataset.prototype.release`) once the backend no longer holds its
 * memory, so `info.allocate` in `getItem` reuses it. On a backend that
 * copies the values into tensors (wasm) that is as soon as the tensors are
 * made; on one that keeps the typed arrays (cpu) once every tensor of the
 * batch, and every tensor sharing their data (a reshape, a clone, a
 * same-dtype cast), is disposed, which `fitDataset` does after each step;
 * never if a view of its values was taken (a slice, a split).
 * A `toTensors` must therefore not keep the batch, or tensors made from it
 * outside the element it returns.
 *
 * @typeParam B The type of one batch.
 * @param source A `PyDataset`, or a function that opens a stream of batches.
 * @param options Shuffle, seed, signal, dtype choice and a layout mapping.
 * @returns A dataset of `{ xs, ys }` elements.
 *
 * @example Train a model on a PyDataset
 * ```ts
 * import { ndarray, PyDataset } from "@pydataset/pydataset";
 * import { toTfDataset } from "@pydataset/pydataset/tfjs";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 *
 * class Lines extends PyDataset {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(index: number) {
 *     const x = Float32Array.from({ length: 8 }, (_, i) => index * 8 + i);
 *     return [ndarray(x, [8, 1]), ndarray(x.map((v) => 2 * v + 1), [8, 1])];
 *   }
 * }
 *
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 1 })] });
 * model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
 * await using lines = new Lines();
 * const history = await model.fitDataset(toTfDataset(lines, { shuffle: true }), {
 *   epochs: 2,
 *   verbose: 0,
 * });
 * assert.equal(history.history.loss?.length, 2);
 * model.dispose();
 * ```
 */
export function toTfDataset<B>(
  source: BatchSource<B>,
  options: ToTfDatasetOptions<B> = {},
): TfDataset {
  const { toTensors, uint8, labels } = checkOptions(source, options);
  const conversion: BatchToTensorsOptions = { uint8, labels };
  const openPass = passOpener(source, options);

  /** Batch `value`, the pass's `position`th, as tensors; a failure names it. */
  function toElement(value: B, position: number): TfElement {
    try {
      const parts = toTensors ? toTensors(value) : value;
      return batchToTensors(recycling ? recycling.prepare(parts) : parts, conversion);
    } catch (error) {
      throw withBatch(error, position, source);
    }
  }

  // Across passes: a pass's last batches are released in the next one.
  const recycling = isDataset(source) && typeof source.release === "function"
    ? new BatchRecycling((batch) => source.release(batch))
    : undefined;
  const dataset = tf.data.generator(async function* () {
    // A generator's body runs on the first next(): the stream opens lazily.
    const pass = await openPass();
    try {
      for (let position = 0;; position++) {
        // fitDataset disposed the last step's tensors before asking for more.
        recycling?.sweep();
        const { done, value } = await pass.reader.read();
        if (done) return;
        const element = toElement(value, position);
        recycling?.made(value, element);
        yield element;
      }
    } finally {
      recycling?.sweep();
      // A pass that ends (done, an error, or return()) leaves nothing open.
      if (openPasses.get(source) === pass) openPasses.delete(source);
      await pass.reader.cancel().catch(() => {});
    }
  });
  return Object.assign(dataset, {
    [Symbol.asyncDispose]: () => endPass(source),
  });
}

/**
 * Opens the passes of one `toTfDataset` over `source`, numbering them: each
 * ends the previous pass over the same source first.
 */
function passOpener<B>(
  source: BatchSource<B>,
  { shuffle, seed, shard, signal }: ToTfDatasetOptions<B>,
): () => Promise<Pass<B>> {
  let passes = 0;
  return async () => {
    // Counted from here, so that ending the previous pass over the source
    // does not leave a moment with no pass in progress.
    const finish = beginPass(source);
    try {
      await endPass(source);
      signal?.throwIfAborted();
      if (isDataset(source)) checkNotEmpty(source);
      const abort = new AbortController();
      const passSignal = signal ? AbortSignal.any([signal, abort.signal]) : abort.signal;
      const stream = isDataset(source)
        ? source.epoch({ shuffle, seed, shard, signal: passSignal })
        : await source({ signal: passSignal, epoch: passes++ });
      const pass = { reader: stream.getReader(), abort };
      openPasses.set(source, pass as Pass<unknown>);
      // Over once its stream is, however that ends: read, cancelled, errored.
      pass.reader.closed.then(finish, finish);
      return pass;
    } catch (error) {
      finish();
      throw error;
    }
  };
}

/**
 * The `tf.data.Dataset` of `{ xs, ys }` that {@linkcode toTfDataset}
 * returns. Disposing it (`await using`) ends a pass that `fitDataset` left
 * open.
 */
export type TfDataset = tf.data.Dataset<TfElement> & AsyncDisposable;

interface Pass<B> {
  reader: ReadableStreamDefaultReader<B>;
  abort: AbortController;
}

/**
 * The pass each source is read by now, whichever `toTfDataset` opened it:
 * tfjs never closes an iterator it abandons, so the next pass over the same
 * source (or disposing the dataset) ends it.
 */
const openPasses = new WeakMap<object, Pass<unknown>>();

/** Ends the open pass over `source`, if any: cancels its stream, gently. */
async function endPass(source: object): Promise<void> {
  const pass = openPasses.get(source);
  if (!pass) return;
  openPasses.delete(source);
  // Cancel, not abort: a PyDataset keeps its workers for the next pass.
  await pass.reader.cancel("The pass was abandoned").catch(() => {});
  pass.abort.abort(new Error("The pass was abandoned"));
}

/** A PyDataset, whose hold returns undefined when it has no workers to keep. */
type Holdable = { [HOLD_WORKERS]?: () => (() => void) | undefined };

/** How many passes, of any toTfDataset, are in progress. */
let passesInProgress = 0;

/**
 * The releases of the sources whose workers are kept until no pass is in
 * progress: `fitDataset` runs the validation pass over one dataset between
 * training passes over another, and neither's workers may idle out
 * meanwhile. Empty whenever no pass is in progress.
 */
const held = new Map<object, () => void>();

/**
 * The sources released when the last pass ended: the next pass, if it
 * begins before their `idleTimeout` has passed, holds their workers again.
 * Weak, so that no dataset stays in memory for a pass that never comes.
 */
const released: WeakRef<object>[] = [];

/** Keeps the workers of `source`, if it has any, until no pass is in progress. */
function hold(source: object): void {
  if (held.has(source)) return;
  const release = (source as Holdable)[HOLD_WORKERS]?.();
  if (release) held.set(source, release);
}

/** Counts a pass over `source` as in progress until `finish()` is called, once. */
function beginPass(source: object): () => void {
  if (passesInProgress++ === 0) {
    for (const ref of released.splice(0)) {
      const idle = ref.deref();
      if (idle) hold(idle);
    }
  }
  return () => {
    // The epoch has ended and its workers idle: keep them for the next pass.
    hold(source);
    if (--passesInProgress > 0) return;
    for (const [kept, release] of held) {
      release();
      released.push(new WeakRef(kept));
    }
    held.clear();
  };
}

function checkOptions<B>(source: BatchSource<B>, options: ToTfDatasetOptions<B>) {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot make a tf.data.Dataset as options must be an object: current value is ${options}`,
    );
  }
  const { shuffle, seed, shard, uint8, labels, toTensors } = options;
  if (!isDataset(source) && typeof source !== "function") {
    throw new TypeError(
      `Cannot make a tf.data.Dataset as source must be a PyDataset or a function that opens a stream: current value is ${
        show(source)
      }`,
    );
  }
  if (!isDataset(source) && (shuffle !== undefined || seed !== undefined || shard !== undefined)) {
    throw new TypeError(
      "Cannot make a tf.data.Dataset with shuffle, seed or shard from a function source: they apply to a PyDataset's epochs (shuffle or shard in the function instead)",
    );
  }
  if (uint8 !== undefined && uint8 !== "int32" && uint8 !== "float32") {
    throw new TypeError(
      `Cannot make a tf.data.Dataset as uint8 must be "int32" or "float32": current value is ${
        show(uint8)
      }`,
    );
  }
  if (labels !== undefined && labels !== "float32" && labels !== "keep") {
    throw new TypeError(
      `Cannot make a tf.data.Dataset as labels must be "float32" or "keep": current value is ${
        show(labels)
      }`,
    );
  }
  if (toTensors !== undefined && typeof toTensors !== "function") {
    throw new TypeError(
      `Cannot make a tf.data.Dataset as toTensors must be a function: current value is ${
        show(toTensors)
      }`,
    );
  }
  // shuffle, seed and signal are checked by PyDataset.epoch when a pass opens.
  return options;
}

/**
 * Fails a pass over an empty `PyDataset` (Keras: "The PyDataset has length
 * 0"), which `fitDataset` would otherwise train on nothing without a word.
 */
function checkNotEmpty(dataset: PyDataset<unknown>): void {
  const length = dataset.length;
  if (length > 0) return;
  throw new RangeError(
    `Cannot train on ${dataset.constructor.name} as its length is ${length}: a PyDataset must have at least one batch`,
  );
}

/**
 * `error`, thrown converting the batch at `position` of a pass, with its
 * message naming that batch: its index, for an unshuffled `PyDataset` read
 * from its start; its place in the pass otherwise.
 */
function withBatch(error: unknown, position: number, source: object): unknown {
  if (!(error instanceof Error)) return error;
  const cursor = isDataset(source as BatchSource<unknown>)
    ? (source as PyDataset<unknown>).cursor
    : undefined;
  const plain = cursor !== undefined && !cursor.shuffle && cursor.shard === undefined &&
    !cursor.consumed?.length && !cursor.skip?.length && cursor.start === position + 1;
  const which = plain ? `batch ${position}` : `the batch at position ${position} of the pass`;
  error.message = `${error.message} (${which})`;
  return error;
}

/** A PyDataset, from this copy of the module or another. */
function isDataset<B>(source: BatchSource<B>): source is PyDataset<B> {
  return typeof (source as PyDataset<B>).epoch === "function";
}
