/**
 * {@linkcode DatasetReport}, {@linkcode DatasetProblem} and
 * {@linkcode BatchPartInfo}: what {@linkcode inspectDataset} finds.
 *
 * @module
 */

/**
 * One problem with a dataset, and the batch it was found in, if any.
 *
 * @example A batch whose getItem throws
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import { type DatasetProblem, inspectDataset } from "@pydataset/pydataset/testing";
 * import assert from "node:assert/strict";
 *
 * class Records extends PyDataset<Int32Array> {
 *   get length(): number {
 *     return 3;
 *   }
 *   getItem(index: number): Int32Array {
 *     if (index === 1) throw new RangeError("record 1 is corrupt");
 *     return Int32Array.of(index);
 *   }
 * }
 *
 * const { problems } = await inspectDataset(new Records());
 * const expected: DatasetProblem = {
 *   index: 1,
 *   kind: "throws",
 *   message: "batch 1: getItem threw RangeError: record 1 is corrupt",
 * };
 * assert.deepEqual(problems, [expected]);
 * ```
 */
export interface DatasetProblem {
  /** The batch index; undefined for problems of the dataset as a whole. */
  index?: number;
  /** What kind of problem: a short, stable word for asserting on. */
  kind:
    | "length"
    | "throws"
    | "empty"
    | "structure"
    | "batch-size"
    | "short-batch"
    | "nondeterministic"
    | "workers-differ"
    | "duplicate-sample"
    | "sample-ids"
    | "sample-count";
  /**
   * What is wrong, naming the batch (`batch 3: ...`) and the part, by its
   * place in the batch: `part 0`, `part 1`, `part xs.image` (`the batch`
   * when the batch is one array), with a value's index in it
   * (`part 0 at [1,0]`).
   */
  message: string;
}

/**
 * One array in a batch: where it is, its dtype and per-sample shape.
 *
 * @example The parts of a `{ image, label }` batch
 * ```ts
 * import { ndarray, PyDataset } from "@pydataset/pydataset";
 * import { type BatchPartInfo, inspectDataset } from "@pydataset/pydataset/testing";
 * import assert from "node:assert/strict";
 *
 * class Digits extends PyDataset {
 *   get length(): number {
 *     return 2;
 *   }
 *   getItem() {
 *     return { image: ndarray(new Uint8Array(3 * 16), [3, 4, 4]), label: new Int32Array(3) };
 *   }
 * }
 *
 * const { parts } = await inspectDataset(new Digits());
 * const expected: BatchPartInfo[] = [
 *   { path: "image", dtype: "Uint8Array", sampleShape: [4, 4] },
 *   { path: "label", dtype: "Int32Array", sampleShape: [] },
 * ];
 * assert.deepEqual(parts, expected);
 * ```
 */
export interface BatchPartInfo {
  /** Where it is in the batch: `0`, `xs.image`, ... (`batch` for the whole batch). */
  path: string;
  /** The typed array's name, e.g. `Float32Array`. */
  dtype: string;
  /** The shape without the batch dimension. */
  sampleShape: number[];
}

/**
 * What {@linkcode inspectDataset} found.
 *
 * @example The report on a dataset of labels
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import { type DatasetReport, inspectDataset } from "@pydataset/pydataset/testing";
 * import assert from "node:assert/strict";
 *
 * class Labels extends PyDataset<Int32Array> {
 *   get length(): number {
 *     return 3;
 *   }
 *   getItem(index: number): Int32Array {
 *     return Int32Array.of(index, index);
 *   }
 * }
 *
 * const report: DatasetReport = await inspectDataset(new Labels());
 * assert.equal(report.name, "Labels");
 * assert.deepEqual(report.checked, [0, 1, 2]);
 * assert.equal(report.structure, "Int32Array");
 * assert.equal(report.batchSize, 2);
 * assert.equal(report.bytesPerBatch, 8);
 * assert.deepEqual(Object.keys(report.fetchMs), ["0", "1", "2"]);
 * assert.deepEqual(report.problems, []);
 * ```
 */
export interface DatasetReport {
  /** The dataset's class name. */
  name: string;
  /** Its `length`, as read. */
  length: number;
  /** The batch indices fetched and checked. */
  checked: number[];
  /** The structure of batch 0, e.g. `[NDArray, Int32Array]`. */
  structure: string;
  /** The arrays of batch 0. */
  parts: BatchPartInfo[];
  /** The size of batch 0 (its first dimension). */
  batchSize: number | undefined;
  /** The bytes of the arrays in batch 0. */
  bytesPerBatch: number;
  /**
   * Milliseconds each checked batch took to fetch on the main thread, by
   * index, rounded: to 0.01 ms below 10 ms (`4.67`), to whole milliseconds
   * from 10 ms (`34`).
   */
  fetchMs: Record<number, number>;
  /** Every problem found; empty for a well-formed dataset. */
  problems: DatasetProblem[];
}
