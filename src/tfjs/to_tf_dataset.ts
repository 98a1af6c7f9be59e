/**
 * {@linkcode toTfDataset}: a `PyDataset`, or any stream of batches, as a
 * TensorFlow.js `tf.data.Dataset` for `model.fitDataset`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { PyDataset } from "../py_dataset.ts";
import { batchToTensors, type BatchToTensorsOptions, type TfElement } from "./batch_to_tensors.ts";

/**
 * Where batches come from: a {@linkcode PyDataset} (one epoch per pass), or
 * a function that opens a stream of batches for one pass, e.g.
 * `() => batchesFromResponse(await fetch(url))`. The function gets a signal
 * that aborts when the pass is abandoned.
 */
export type BatchSource<B> =
  | PyDataset<B>
  | ((options: { signal: AbortSignal }) => ReadableStream<B> | Promise<ReadableStream<B>>);

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
 * before the next one opens (so `onEpochEnd` runs), and `dataset.close()`
 * ends one left over after training. A failed batch fails `fitDataset` with
 * its {@linkcode BatchError}.
 *
 * Chaining `.prefetch()` or `.shuffle()` on the result buffers tensors that
 * leak if the pass is abandoned: the `PyDataset` already prefetches.
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
): tf.data.Dataset<TfElement> {
  const { shuffle, seed, signal, toTensors, ...conversion } = options;
  /** The stream of the pass that reads now; abandoned ones are cancelled. */
  let open: { reader: ReadableStreamDefaultReader<B>; abort: AbortController } | undefined;

  async function openPass(): Promise<NonNullable<typeof open>> {
    if (open) {
      const abandoned = open;
      open = undefined;
      abandoned.abort.abort(new Error("The pass was abandoned"));
      await abandoned.reader.cancel("The pass was abandoned").catch(() => {});
    }
    signal?.throwIfAborted();
    const abort = new AbortController();
    const passSignal = signal ? AbortSignal.any([signal, abort.signal]) : abort.signal;
    const stream = isDataset(source)
      ? source.epoch({ shuffle, seed, signal: passSignal })
      : await source({ signal: passSignal });
    open = { reader: stream.getReader(), abort };
    return open;
  }

  return tf.data.generator(async function* () {
    // A generator's body runs on the first next(): the stream opens lazily.
    const pass = await openPass();
    try {
      while (true) {
        const { done, value } = await pass.reader.read();
        if (done) return;
        yield batchToTensors(toTensors ? toTensors(value) : value, conversion);
      }
    } finally {
      // A pass that ends (done, an error, or return()) leaves nothing open.
      if (open === pass) open = undefined;
      await pass.reader.cancel().catch(() => {});
    }
  });
}

/** A PyDataset, from this copy of the module or another. */
function isDataset<B>(source: BatchSource<B>): source is PyDataset<B> {
  return typeof (source as PyDataset<B>).epoch === "function";
}
