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
import { parseArgs } from "node:util";
import { toTfDataset, useBackend } from "../tfjs.ts";
import { integer, run } from "./_flags.ts";
import { classifier } from "./_model.ts";
import { fit, summarize } from "./_training.ts";
import { ImageFiles } from "./image_dataset.ts";
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

async function main(args: string[]): Promise<void> {
  const options = settings(args);
  if (!options) {
    console.log(HELP);
    return;
  }
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

  const net = classifier(options.size, classes.length);
  const data = toTfDataset(train, { shuffle: true, seed: 1 });
  const report = await fit(net, data, {
    epochs: options.epochs,
    dataset: train, // the progress bar shows the batches per epoch and the loader wait
    // The loader's own account: how long the reader (fitDataset) waited.
    epochWaitMs: () => train.stats?.waitMs ?? 0,
  });
  await summarize(net, toTfDataset(test), classes.length, report);
  net.dispose();
}

if (import.meta.main) await run(main, HELP);
