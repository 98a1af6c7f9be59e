/**
 * Keras's `PyDataset` for Deno, with a web-standard API.
 *
 * Subclass {@linkcode PyDataset}, implement `length` and `getItem(index)`
 * (one whole batch), and read each epoch as a `ReadableStream` whose
 * `highWaterMark` is `maxQueueSize`. Batches are fetched in parallel —
 * concurrently on the main thread for I/O, or in module Web Workers that hold
 * only the Deno permissions the dataset declares — and always come out in
 * order.
 *
 * @example Read an epoch
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Squares extends PyDataset<[Float32Array, Int32Array]> {
 *   constructor(public n: number) {
 *     super({ workers: 2, maxQueueSize: 4 });
 *   }
 *   get length(): number {
 *     return this.n;
 *   }
 *   getItem(index: number): [Float32Array, Int32Array] {
 *     return [Float32Array.of(index), Int32Array.of(index * index)];
 *   }
 * }
 *
 * const labels: number[] = [];
 * for await (const [, y] of new Squares(4).epoch()) labels.push(y[0]!);
 * assert.deepEqual(labels, [0, 1, 4, 9]);
 * ```
 *
 * @module
 */

export * from "./src/array_dataset.ts";
export * from "./src/array_types.ts";
export * from "./src/batch_error.ts";
export * from "./src/epoch_cursor.ts";
export * from "./src/epoch_stats.ts";
export * from "./src/merge_cursors.ts";
export * from "./src/ndarray.ts";
export * from "./src/options.ts";
export * from "./src/py_dataset.ts";
export * from "./src/py_dataset_hooks.ts";
export * from "./src/worker_info.ts";
