/**
 * TensorFlow.js adapter: {@linkcode toTfDataset} turns a `PyDataset` (or a
 * stream of batches, such as one read from a `fetch` response) into a
 * `tf.data.Dataset` of `{ xs, ys }` for `model.fitDataset`. A separate entry
 * point, so that the core never loads TensorFlow.js.
 *
 * @example Fit a model
 * ```ts
 * import { ndarray, PyDataset } from "@pydataset/pydataset";
 * import { toTfDataset } from "@pydataset/pydataset/tfjs";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 *
 * class Ones extends PyDataset {
 *   get length(): number {
 *     return 2;
 *   }
 *   getItem() {
 *     return [ndarray(new Float32Array(8).fill(1), [4, 2]), ndarray(new Float32Array(4), [4, 1])];
 *   }
 * }
 *
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
 * model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
 * await using ones = new Ones();
 * const history = await model.fitDataset(toTfDataset(ones), { epochs: 1, verbose: 0 });
 * assert.equal(history.history.loss?.length, 1);
 * model.dispose();
 * ```
 *
 * @module
 */

export * from "./src/tfjs/batch_to_tensors.ts";
export * from "./src/tfjs/progress_bar.ts";
export * from "./src/tfjs/to_tf_dataset.ts";
export * from "./src/tfjs/use_backend.ts";
