/**
 * {@linkcode inspectDataset}: checks that a dataset is well formed, for
 * users' own `deno test` suites, and reports what its batches look like.
 *
 * The files of `src/testing` may import only the public types, the engine's
 * public API through `PyDataset`, `src/_describe.ts`, `src/_arrays.ts`,
 * `src/_validate.ts` and `src/epoch/_seeds.ts` (and `node:assert`). The
 * checks live in its `_`-prefixed files, one concept each.
 *
 * @module
 */

import { checkLength } from "../_validate.ts";
import type { PyDataset } from "../py_dataset.ts";
import { checkDeterminism } from "./_check_determinism.ts";
import { checkSampleIds } from "./_check_sample_ids.ts";
import { checkShapes } from "./_check_shapes.ts";
import { checkWorkers } from "./_check_workers.ts";
import { checkedIndices, spread } from "./_checked_batches.ts";
import { fetchBatches } from "./_fetch_batches.ts";
import type { DatasetReport } from "./dataset_report.ts";

/**
 * Options for {@linkcode inspectDataset} and {@linkcode assertValidDataset}.
 *
 * @typeParam B The type of one batch.
 *
 * @example Bound the work on a large dataset, and check its samples
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import { inspectDataset, type InspectDatasetOptions } from "@pydataset/pydataset/testing";
 * import assert from "node:assert/strict";
 *
 * class Ids extends PyDataset<Int32Array> {
 *   get length(): number {
 *     return 1000;
 *   }
 *   getItem(index: number): Int32Array {
 *     return Int32Array.of(2 * index, 2 * index + 1);
 *   }
 * }
 *
 * const options: InspectDatasetOptions<Int32Array> = {
 *   maxBatches: 4,
 *   sample: 2,
 *   sampleIds: (ids) => ids,
 * };
 * const report = await inspectDataset(new Ids(), options);
 * assert.deepEqual(report.checked, [0, 1, 2, 3, 999], "the first four batches and the last");
 * assert.deepEqual(report.problems, []);
 * ```
 */
export interface InspectDatasetOptions<B> {
  /**
   * How many batches to fetch and check, from the first; the last batch is
   * checked too. Bounds the work for large datasets. With
   * `useMultiprocessing`, the first ones of them are also read in workers
   * and compared.
   *
   * @default {64}
   */
  maxBatches?: number;
  /**
   * How many of the checked batches to fetch a second time, spread over
   * them, to check that `getItem` is deterministic.
   *
   * @default {8}
   */
  sample?: number;
  /**
   * The ids of the samples in a batch: when given, every id must appear only
   * once across the checked batches (and, with `sampleCount`, that many in
   * all), proving that each sample appears exactly once per epoch.
   *
   * @default {undefined}
   */
  sampleIds?: (batch: B) => Iterable<unknown>;
  /**
   * How many samples an epoch holds, checked against `sampleIds` when every
   * batch is checked.
   *
   * @default {undefined}
   */
  sampleCount?: number;
}

/**
 * Fetches a bounded number of batches of `dataset` and reports what they
 * look like and every problem found: a bad `length`; a `getItem` that throws
 * or returns nothing; batches whose structure, dtypes or per-sample shapes
 * differ from batch 0; parts of one batch that disagree on the batch size;
 * a batch other than the last smaller than batch 0; a `getItem` that gives
 * different batches for the same index; worker batches that differ from the
 * main thread's (with `useMultiprocessing`; this opens an epoch, so the
 * hooks run); and, with `sampleIds`, samples that appear twice.
 *
 * Each problem's message names its batch and the part, by its place in
 * the batch: `part 0`, `part 1` for a batch `[x, y]`, `part xs.image` in
 * records, `the batch` for a batch that is one array. Fetch times are
 * rounded to 0.01 ms below 10 ms and to whole milliseconds from 10 ms.
 *
 * @typeParam B The type of one batch.
 * @param dataset The dataset to inspect.
 * @param options Bounds on the work, and sample ids.
 * @returns The findings.
 *
 * @example Assert on what a dataset's batches look like
 * ```ts
 * import { ndarray, PyDataset } from "@pydataset/pydataset";
 * import { inspectDataset } from "@pydataset/pydataset/testing";
 * import assert from "node:assert/strict";
 *
 * class Points extends PyDataset {
 *   get length(): number {
 *     return 3;
 *   }
 *   getItem(index: number) {
 *     return [ndarray(new Float32Array(8).fill(index), [4, 2]), Int32Array.of(0, 1, 0, 1)];
 *   }
 * }
 *
 * Deno.test("Points batches hold 4 samples of 2 floats and a label", async () => {
 *   const report = await inspectDataset(new Points());
 *   assert.equal(report.structure, "[NDArray, Int32Array]");
 *   assert.deepEqual(report.parts.map((part) => part.sampleShape), [[2], []]);
 *   assert.equal(report.bytesPerBatch, 48);
 *   assert.deepEqual(report.problems, []);
 * });
 * ```
 *
 * @example Find the part of a batch that changed dtype
 * ```ts
 * import { ndarray, PyDataset } from "@pydataset/pydataset";
 * import { inspectDataset } from "@pydataset/pydataset/testing";
 * import assert from "node:assert/strict";
 *
 * class Labels extends PyDataset {
 *   get length(): number {
 *     return 3;
 *   }
 *   getItem(index: number) {
 *     const labels = index === 1 ? Float64Array.of(0, 1) : Int32Array.of(0, 1);
 *     return [ndarray(new Float32Array(4), [2, 2]), ndarray(labels, [2])];
 *   }
 * }
 *
 * const { problems } = await inspectDataset(new Labels());
 * assert.deepEqual(problems.map((problem) => problem.message), [
 *   "batch 1: part 1 is a Float64Array, but an Int32Array in batch 0",
 * ]);
 * ```
 */
export async function inspectDataset<B>(
  dataset: PyDataset<B>,
  options: InspectDatasetOptions<B> = {},
): Promise<DatasetReport> {
  const { maxBatches = 64, sample = 8, sampleIds, sampleCount } = options;
  const name = dataset.constructor.name;
  const report: DatasetReport = {
    name,
    length: NaN,
    checked: [],
    structure: "",
    parts: [],
    batchSize: undefined,
    bytesPerBatch: 0,
    fetchMs: {},
    problems: [],
  };
  const { problems } = report;
  let length: number;
  try {
    length = checkLength(dataset.length, name);
  } catch (error) {
    problems.push({ kind: "length", message: (error as Error).message });
    return report;
  }
  report.length = length;
  const indices = checkedIndices(length, maxBatches);
  report.checked = indices;

  const batches = await fetchBatches(dataset, indices, report);
  checkShapes(batches, indices, length, report);
  const sampled = spread([...batches.keys()], sample);
  await checkDeterminism(dataset, batches, sampled, problems);
  if (dataset.useMultiprocessing) {
    await checkWorkers(dataset, batches, Math.min(length, maxBatches) - 1, problems);
  }
  if (sampleIds) {
    checkSampleIds(batches, sampleIds, sampleCount, indices.length === length, problems);
  }
  problems.sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
  return report;
}
