/**
 * {@linkcode assertValidDataset}: {@linkcode inspectDataset}'s findings as
 * one `AssertionError`, for `deno test` suites.
 *
 * @module
 */

import { AssertionError } from "node:assert";
import type { PyDataset } from "../py_dataset.ts";
import { inspectDataset, type InspectDatasetOptions } from "./inspect_dataset.ts";

/**
 * Checks `dataset` as {@linkcode inspectDataset} does, and throws an
 * `AssertionError` that lists every problem found (each naming its batch),
 * not just the first. For a `deno test` suite.
 *
 * @typeParam B The type of one batch.
 * @param dataset The dataset to check.
 * @param options Bounds on the work, and sample ids.
 * @throws {AssertionError} The dataset has problems.
 *
 * @example In a test
 * ```ts
 * import { type NDArray, ndarray, PyDataset } from "@pydataset/pydataset";
 * import { assertValidDataset } from "@pydataset/pydataset/testing";
 *
 * class Points extends PyDataset<[NDArray, Int32Array]> {
 *   get length(): number {
 *     return 5;
 *   }
 *   getItem(index: number): [NDArray, Int32Array] {
 *     const ids = Int32Array.from({ length: 4 }, (_, i) => index * 4 + i);
 *     return [ndarray(new Float32Array(8), [4, 2]), ids];
 *   }
 * }
 *
 * Deno.test("Points is a well-formed dataset", async () => {
 *   await assertValidDataset(new Points(), {
 *     sampleIds: ([, ids]) => ids,
 *     sampleCount: 20,
 *   });
 * });
 * ```
 */
export async function assertValidDataset<B>(
  dataset: PyDataset<B>,
  options: InspectDatasetOptions<B> = {},
): Promise<void> {
  const { name, problems, checked } = await inspectDataset(dataset, options);
  if (problems.length === 0) return;
  throw new AssertionError({
    message: `${name} has ${problems.length} problem${
      problems.length === 1 ? "" : "s"
    } in ${checked.length} checked batches:\n${
      problems.map((problem) => `- ${problem.message}`).join("\n")
    }`,
  });
}
