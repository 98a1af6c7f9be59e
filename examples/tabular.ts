// A tabular example: a CSV file parsed with csv-parse, its features
// standardised, batches from an ArrayDataset, a classifier trained with
// toTfDataset, its accuracy measured on held-out rows.
//
//   deno run --allow-read examples/tabular.ts
//
// examples/data/synthetic_penguins.csv holds 260 synthetic rows drawn around
// the per-species means and spreads of the Palmer penguins measurements
// (bill length and depth, flipper length, body mass; 3 species).

import * as tf from "@tensorflow/tfjs";
import { parse } from "csv-parse/sync";
import { ArrayDataset, type NDArray, ndarray } from "../mod.ts";
import { toTfDataset } from "../tfjs.ts";

const FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"];
const LABEL = "species";

/** A table's features (one row per sample) and class labels. */
export interface Table {
  x: NDArray<Float32Array>;
  y: Int32Array;
  classes: string[];
}

/** Parses `csv` (a header row, then one sample per row) into features and class indices. */
export function parseTable(csv: string): Table {
  const rows: Record<string, unknown>[] = parse(csv, { columns: true, cast: true, trim: true });
  const classes = [...new Set(rows.map((row) => String(row[LABEL])))].sort();
  const x = new Float32Array(rows.length * FEATURES.length);
  rows.forEach((row, i) =>
    FEATURES.forEach((name, j) => {
      const value = row[name];
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new TypeError(`Row ${i + 2}'s ${name} is not a number: current value is ${value}`);
      }
      x[i * FEATURES.length + j] = value;
    })
  );
  const y = Int32Array.from(rows, (row) => classes.indexOf(String(row[LABEL])));
  return { x: ndarray(x, [rows.length, FEATURES.length]), y, classes };
}

/** Rows `from` to `to` (exclusive) of `table`. */
function rows({ x, y, classes }: Table, from: number, to: number): Table {
  const width = x.shape[1]!;
  return {
    x: ndarray(x.data.slice(from * width, to * width), [to - from, width]),
    y: y.slice(from, to),
    classes,
  };
}

/**
 * Standardises every feature column of `tables` to mean 0 and standard
 * deviation 1, with the statistics of the first (the training rows).
 */
function standardise(...tables: Table[]): void {
  const { data, shape: [count, width] } = tables[0]!.x;
  for (let j = 0; j < width!; j++) {
    let sum = 0, squares = 0;
    for (let i = 0; i < count!; i++) sum += data[i * width! + j]!;
    const mean = sum / count!;
    for (let i = 0; i < count!; i++) squares += (data[i * width! + j]! - mean) ** 2;
    const deviation = Math.sqrt(squares / count!) || 1;
    for (const { x } of tables) {
      for (let k = j; k < x.data.length; k += width!) x.data[k] = (x.data[k]! - mean) / deviation;
    }
  }
}

/** Options for {@linkcode trainTabular}. */
export interface TrainTabularOptions {
  /** Epochs to train. */
  epochs?: number;
  /** Rows held out for the accuracy, taken from the end. */
  heldOut?: number;
}

/** Trains a classifier on the CSV at `path`; its accuracy on the held-out rows. */
export async function trainTabular(
  path: string | URL,
  { epochs = 30, heldOut = 60 }: TrainTabularOptions = {},
): Promise<{ accuracy: number; classes: string[] }> {
  const table = parseTable(await Deno.readTextFile(path));
  const count = table.y.length;
  const train = rows(table, 0, count - heldOut);
  const test = rows(table, count - heldOut, count);
  standardise(train, test);
  await using data = new ArrayDataset([train.x, train.y], { batchSize: 32, shuffleSamples: true });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [FEATURES.length],
        units: 16,
        activation: "relu",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: table.classes.length,
        activation: "softmax",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  // Int32Array labels: toTfDataset hands them over as float32, as the loss takes them.
  model.compile({ optimizer: tf.train.adam(0.01), loss: "sparseCategoricalCrossentropy" });
  await model.fitDataset(toTfDataset(data, { seed: 1 }), { epochs, verbose: 0 });
  const predicted = tf.tidy(() =>
    (model.predict(tf.tensor(test.x.data, test.x.shape)) as tf.Tensor).argMax(1).dataSync()
  );
  model.dispose();
  const right = test.y.filter((label, i) => label === predicted[i]).length;
  return { accuracy: right / heldOut, classes: table.classes };
}

if (import.meta.main) {
  tf.env().set("PROD", true); // no banner about tfjs-node, which Deno cannot load
  await tf.setBackend("cpu");
  const file = new URL("data/synthetic_penguins.csv", import.meta.url);
  const { accuracy, classes } = await trainTabular(file);
  console.log(`${classes.join(", ")}: held-out accuracy ${(accuracy * 100).toFixed(1)}%`);
}
