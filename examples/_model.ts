// What every training example shares, in Deno and in the browser page: the
// model and the timer of the time training waited for batches. No Deno API here: the page bundles this module.

import * as tf from "@tensorflow/tfjs";

/**
 * A small dense classifier of `size × size × 3` images. Its initial weights
 * are seeded, so that two runs on the same batches give the same accuracy.
 */
export function classifier(size: number, classes: number): tf.Sequential {
  const seeded = (seed: number) => tf.initializers.glorotUniform({ seed });
  const net = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [size, size, 3] }),
      tf.layers.dense({ units: 128, activation: "relu", kernelInitializer: seeded(1) }),
      tf.layers.dense({ units: classes, activation: "softmax", kernelInitializer: seeded(2) }),
    ],
  });
  net.compile({
    optimizer: tf.train.adam(0.003),
    loss: "sparseCategoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return net;
}

/** Time the model spent waiting for batches: the loader's share of training. */
export interface Waits {
  ms: number;
}

/**
 * Wraps a source of epoch streams, timing each read: a stream with a
 * highWaterMark of 0 is pulled only when the model asks for a batch, so the
 * time a pull takes is the time the model waited.
 */
export function timed<B>(
  open: (options: { signal: AbortSignal }) => ReadableStream<B> | Promise<ReadableStream<B>>,
  waits: Waits,
): (options: { signal: AbortSignal }) => Promise<ReadableStream<B>> {
  return async (options) => {
    const started = performance.now();
    const reader = (await open(options)).getReader();
    waits.ms += performance.now() - started;
    return new ReadableStream<B>({
      async pull(controller) {
        const started = performance.now();
        const { done, value } = await reader.read();
        waits.ms += performance.now() - started;
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
  };
}
