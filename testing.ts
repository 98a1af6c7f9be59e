/**
 * Dataset checks for `deno test`: {@linkcode assertValidDataset} throws an
 * `AssertionError` listing every problem of a dataset (each naming its
 * batch), and {@linkcode inspectDataset} returns the same findings as data,
 * with the batches' structure, shapes, dtypes, bytes and fetch times.
 *
 * @example Check a dataset in a test
 * ```ts
 * import { ndarray, PyDataset } from "@pydataset/pydataset";
 * import { assertValidDataset } from "@pydataset/pydataset/testing";
 *
 * class Points extends PyDataset {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(index: number) {
 *     return [ndarray(new Float32Array(6).fill(index), [3, 2]), Int32Array.of(0, 1, 2)];
 *   }
 * }
 *
 * Deno.test("Points is well formed", () => assertValidDataset(new Points()));
 * ```
 *
 * @module
 */

export * from "./src/testing/assert_valid_dataset.ts";
export * from "./src/testing/dataset_report.ts";
export * from "./src/testing/inspect_dataset.ts";
