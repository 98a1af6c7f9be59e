/**
 * The main job: the Keras `PyDataset` reference example made real. A folder
 * of image files and labels becomes a `PyDataset` whose workers (which may
 * read only that folder) decode and resize each batch, while TensorFlow.js
 * trains a small model on the main thread with `model.fitDataset`.
 *
 * ```sh
 * deno task demo                 # makes 6,000 PNG files in .cache/shapes first
 * deno task demo --data DIR      # any DIR/<class>/<image> folder of PNG or JPEG files
 * deno task demo --help
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { parseArgs } from "node:util";
import { ndarray } from "../mod.ts";
import { toTfDataset } from "../tfjs.ts";
import { type ImageBatch, ImageFiles } from "./image_dataset.ts";
import { listImages, makeShapes } from "./shapes.ts";

const HELP = `Trains a small TensorFlow.js model on a folder of images, read as Keras-style
batches by a PyDataset.

Usage: deno task demo [options]

  --data DIR            PNG or JPEG images in DIR/<class>/<image> (default: make .cache/shapes)
  --workers N           batches fetched at once (default 2)
  --multiprocessing     fetch in Web Workers; --no-multiprocessing: main thread (default on)
  --max-queue-size N    batches that may wait for the model (default 10)
  --epochs N            epochs to train (default 8)
  --batch-size N        images per batch (default 32)
  --size N              images are resized to N×N (default 16)
  --backend NAME        TensorFlow.js backend: wasm or cpu (default wasm)
  --help                this text`;

interface Settings {
  data: string | undefined;
  workers: number;
  multiprocessing: boolean;
  maxQueueSize: number;
  epochs: number;
  batchSize: number;
  size: number;
  backend: "wasm" | "cpu";
}

function settings(args: string[]): Settings | undefined {
  const { values } = parseArgs({
    args,
    allowNegative: true,
    options: {
      data: { type: "string" },
      workers: { type: "string" },
      multiprocessing: { type: "boolean", default: true },
      "max-queue-size": { type: "string" },
      epochs: { type: "string" },
      "batch-size": { type: "string" },
      size: { type: "string" },
      backend: { type: "string", default: "wasm" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return undefined;
  if (values.backend !== "wasm" && values.backend !== "cpu") {
    throw new RangeError(`--backend must be wasm or cpu: current value is ${values.backend}`);
  }
  return {
    data: values.data,
    workers: integer(values.workers, "workers", 2),
    multiprocessing: values.multiprocessing,
    maxQueueSize: integer(values["max-queue-size"], "max-queue-size", 10),
    epochs: integer(values.epochs, "epochs", 8),
    batchSize: integer(values["batch-size"], "batch-size", 32),
    size: integer(values.size, "size", 16),
    backend: values.backend,
  };
}

function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new RangeError(`--${name} must be a positive integer: current value is ${value}`);
  }
  return number;
}

/** Time the model spent waiting for batches: the loader's share of training. */
interface Waits {
  ms: number;
}

/**
 * Opens `dataset`'s epochs for `toTfDataset`, timing each read: a stream
 * with a highWaterMark of 0 is pulled only when the model asks for a batch,
 * so the time a pull takes is the time the model waited.
 */
function timedEpochs(dataset: ImageFiles, waits: Waits, shuffle: boolean) {
  return ({ signal }: { signal: AbortSignal }): ReadableStream<ImageBatch> => {
    const reader = dataset.epoch({ shuffle, seed: 1, signal }).getReader();
    return new ReadableStream<ImageBatch>({
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

/** TensorFlow.js's sparse losses want float32 labels: cast them on the way. */
function toTensors([images, labels]: ImageBatch) {
  return { xs: images, ys: ndarray(Float32Array.from(labels.data), labels.shape) };
}

function model(size: number, classes: number): tf.Sequential {
  const net = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [size, size, 3] }),
      tf.layers.dense({ units: 128, activation: "relu" }),
      tf.layers.dense({ units: classes, activation: "softmax" }),
    ],
  });
  net.compile({
    optimizer: tf.train.adam(0.003),
    loss: "sparseCategoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return net;
}

/**
 * A progress bar per epoch on stderr, with the epoch's mean loss and
 * accuracy so far; one line per epoch when stderr is not a terminal.
 */
class Progress {
  #encoder = new TextEncoder();
  #live = Deno.stderr.isTerminal();
  #started = 0;
  #losses = 0;
  #accuracies = 0;

  begin(): void {
    this.#started = performance.now();
    this.#losses = 0;
    this.#accuracies = 0;
  }

  update(
    epoch: string,
    done: number,
    total: number,
    batchLoss: number,
    batchAccuracy: number,
  ): void {
    this.#losses += batchLoss;
    this.#accuracies += batchAccuracy;
    const loss = this.#losses / done;
    const accuracy = this.#accuracies / done;
    if (!this.#live && done < total) return;
    const seconds = (performance.now() - this.#started) / 1000;
    const rate = done / seconds;
    const width = 24;
    const filled = Math.round((done / total) * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const left = done < total
      ? `${((total - done) / rate).toFixed(1)} s left`
      : `${seconds.toFixed(1)} s`;
    const line = `${epoch} [${bar}] ${done}/${total} batches  loss ${loss.toFixed(3)}  acc ${
      accuracy.toFixed(3)
    }  ${rate.toFixed(0)} batches/s  ${left}`;
    Deno.stderr.writeSync(this.#encoder.encode(this.#live ? `\r${line}\x1b[K` : `${line}\n`));
    if (this.#live && done === total) Deno.stderr.writeSync(this.#encoder.encode("\n"));
  }
}

async function useBackend(backend: "wasm" | "cpu"): Promise<void> {
  if (backend === "wasm") {
    // The .wasm files ship in the npm package, next to its entry module.
    setWasmPaths(new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).href);
  }
  await tf.setBackend(backend);
  await tf.ready();
}

async function main(args: string[]): Promise<void> {
  const options = settings(args);
  if (!options) {
    console.log(HELP);
    return;
  }
  tf.env().set("PROD", true); // no banner about tfjs-node, which Deno cannot load
  await useBackend(options.backend);

  let dir = options.data;
  if (dir === undefined) {
    dir = ".cache/shapes";
    await makeShapes(dir, 1500);
  }
  const { x, y, classes, skipped } = await listImages(dir);
  if (classes.length < 2) {
    throw new Error(
      `Found ${classes.length} class folders with PNG or JPEG images in ${dir}: training needs two or more (${dir}/<class>/<image>)`,
    );
  }
  if (skipped > 0) console.log(`skipped ${skipped} files that are not PNG or JPEG images`);
  // Every fifth image is held out, so both sets hold every class.
  const heldOut = (_: unknown, i: number) => i % 5 === 0;
  const kept = (_: unknown, i: number) => i % 5 !== 0;
  const loader = {
    workers: options.workers,
    useMultiprocessing: options.multiprocessing,
    maxQueueSize: options.maxQueueSize,
    permissions: { read: [dir] }, // the workers may read the images and nothing else
  };
  await using train = new ImageFiles(
    x.filter(kept),
    y.filter(kept),
    options.batchSize,
    options.size,
    loader,
  );
  await using test = new ImageFiles(
    x.filter(heldOut),
    y.filter(heldOut),
    options.batchSize,
    options.size,
    loader,
  );
  train.shuffleSamples(); // the files come sorted by class
  const mode = train.useMultiprocessing
    ? `${options.workers} workers (read: ${dir})`
    : `the main thread, ${options.workers} at once`;
  console.log(
    `${train.x.length} training and ${test.x.length} held-out images in ${classes.length} classes (${
      classes.join(", ")
    }), ${options.size}×${options.size}×3, batches of ${options.batchSize} from ${mode}; tfjs ${tf.getBackend()}`,
  );

  const net = model(options.size, classes.length);
  const waits: Waits = { ms: 0 };
  const progress = new Progress();
  const epochSeconds: number[] = [];
  const epochWaits: number[] = [];
  let epochStarted = 0;
  let waitedBefore = 0;
  await net.fitDataset(toTfDataset(timedEpochs(train, waits, true), { toTensors }), {
    epochs: options.epochs,
    verbose: 0,
    callbacks: {
      onEpochBegin: () => {
        epochStarted = performance.now();
        waitedBefore = waits.ms;
        progress.begin();
      },
      onBatchEnd: (batch, logs) => {
        const label = `epoch ${epochSeconds.length + 1}/${options.epochs}`;
        progress.update(label, batch + 1, train.length, logs?.loss ?? NaN, logs?.acc ?? NaN);
      },
      onEpochEnd: () => {
        epochSeconds.push((performance.now() - epochStarted) / 1000);
        epochWaits.push((waits.ms - waitedBefore) / 1000);
      },
    },
  });
  const [loss, accuracy] = await net.evaluateDataset(toTfDataset(test, { toTensors }), {}) as [
    tf.Scalar,
    tf.Scalar,
  ];
  const heldOutAccuracy = (await accuracy.data())[0]!;
  const total = epochSeconds.reduce((a, b) => a + b, 0);
  const waited = epochWaits.reduce((a, b) => a + b, 0);
  console.log(
    `held-out accuracy ${(heldOutAccuracy * 100).toFixed(1)}% (chance ${
      (100 / classes.length).toFixed(1)
    }%), loss ${(await loss.data())[0]!.toFixed(3)}`,
  );
  console.log(`epoch times: ${epochSeconds.map((s) => `${s.toFixed(1)} s`).join(", ")}`);
  console.log(
    `training waited on the loader ${waited.toFixed(1)} s of ${total.toFixed(1)} s (${
      (100 * waited / total).toFixed(0)
    }%; ${epochWaits.map((s) => s.toFixed(2)).join(", ")} s per epoch)`,
  );
  tf.dispose([loss, accuracy]);
  net.dispose();
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    // Bad flags and data get a message, not a stack trace.
    console.error(`error: ${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
    Deno.exit(2);
  }
}
