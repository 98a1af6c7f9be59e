/**
 * The Keras `PyDataset` reference example, made real: a folder of image
 * files and labels → batches of decoded, resized images, fetched in
 * permission-scoped workers that may read only the image folder.
 *
 * ```sh
 * deno task demo                       # makes 1,200 PNG files in .cache/shapes first
 * deno task demo --data DIR            # any DIR/<class>/<image>.png folder
 * deno task demo --help
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ImageFiles } from "./image_dataset.ts";
import { listImages, makeShapes } from "./shapes.ts";

const HELP = `Reads a folder of PNG images as Keras-style batches.

Usage: deno task demo [options]

  --data DIR            images in DIR/<class>/<image>.png (default: make .cache/shapes)
  --workers N           batches fetched at once (default 2)
  --multiprocessing     fetch in Web Workers; --no-multiprocessing: main thread (default on)
  --max-queue-size N    batches that may wait for the reader (default 10)
  --epochs N            epochs to read (default 2)
  --batch-size N        images per batch (default 32)
  --size N              images are resized to N×N (default 32)
  --help                this text`;

function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new RangeError(`--${name} must be a positive integer: current value is ${value}`);
  }
  return number;
}

async function main(args: string[]): Promise<void> {
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
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const workers = integer(values.workers, "workers", 2);
  const epochs = integer(values.epochs, "epochs", 2);
  const batchSize = integer(values["batch-size"], "batch-size", 32);
  const maxQueueSize = integer(values["max-queue-size"], "max-queue-size", 10);
  const size = integer(values.size, "size", 32);

  let dir = values.data;
  if (dir === undefined) {
    dir = ".cache/shapes";
    await makeShapes(dir, 400);
  }
  const { x, y, classes } = await listImages(dir);
  if (x.length === 0) throw new Error(`No PNG images found in ${dir}/<class>/`);

  await using dataset = new ImageFiles(x, y, batchSize, size, {
    workers,
    useMultiprocessing: values.multiprocessing,
    maxQueueSize,
    // Workers may read the images and nothing else.
    permissions: { read: [dir] },
  });
  const mode = dataset.useMultiprocessing
    ? `${workers} workers (read: ${dir})`
    : `main thread, ${workers} at once`;
  console.log(
    `${x.length} images in ${classes.length} classes (${
      classes.join(", ")
    }) → ${dataset.length} batches of ${batchSize}, ${size}×${size}×3, ${mode}`,
  );
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const started = performance.now();
    let batches = 0;
    let images = 0;
    let shape: number[] = [];
    const perClass = new Array(classes.length).fill(0);
    for await (const [imageBatch, labels] of dataset.epoch({ shuffle: true, seed: 1 })) {
      batches++;
      images += labels.shape[0]!;
      if (batches === 1) shape = imageBatch.shape;
      for (const label of labels.data) perClass[label]++;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `epoch ${epoch}: ${batches} batches (${images} images, first ${JSON.stringify(shape)}) in ${
        seconds.toFixed(2)
      } s = ${(batches / seconds).toFixed(1)} batches/s; per class ${perClass.join("/")}`,
    );
  }
}

if (import.meta.main) await main(Deno.args);
