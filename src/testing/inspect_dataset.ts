/**
 * {@linkcode inspectDataset} and {@linkcode assertValidDataset}: checks that
 * a dataset is well formed, for users' own `deno test` suites.
 *
 * @module
 */

import { AssertionError } from "node:assert";
import { describeError } from "../_describe.ts";
import { isTypedArray } from "../_arrays.ts";
import { checkLength } from "../_validate.ts";
import type { PyDataset } from "../py_dataset.ts";
import { workerInfo } from "../epoch/_seeds.ts";
import type { WorkerInfo } from "../worker_info.ts";

/** Options for {@linkcode inspectDataset} and {@linkcode assertValidDataset}. */
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

/** One problem with a dataset, and the batch it was found in, if any. */
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
  /** What is wrong, naming the batch and the part. */
  message: string;
}

/** One array in a batch: where it is, its dtype and per-sample shape. */
export interface BatchPartInfo {
  /** Where it is in the batch: `0`, `xs.image`, ... (`batch` for the whole batch). */
  path: string;
  /** The typed array's name, e.g. `Float32Array`. */
  dtype: string;
  /** The shape without the batch dimension. */
  sampleShape: number[];
}

/** What {@linkcode inspectDataset} found. */
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
  /** Milliseconds each checked batch took to fetch, by index. */
  fetchMs: Record<number, number>;
  /** Every problem found; empty for a well-formed dataset. */
  problems: DatasetProblem[];
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
 */
export async function inspectDataset<B>(
  dataset: PyDataset<B>,
  options: InspectDatasetOptions<B> = {},
): Promise<DatasetReport> {
  const { maxBatches = 64, sample = 8, sampleIds, sampleCount } = options;
  const name = dataset.constructor.name;
  const problems: DatasetProblem[] = [];
  const report: DatasetReport = {
    name,
    length: NaN,
    checked: [],
    structure: "",
    parts: [],
    batchSize: undefined,
    bytesPerBatch: 0,
    fetchMs: {},
    problems,
  };
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

  const batches = new Map<number, B>();
  for (const index of indices) {
    const started = performance.now();
    try {
      const batch = await dataset.getItem(index, infoFor(dataset, index));
      report.fetchMs[index] = performance.now() - started;
      if (batch === undefined || batch === null) {
        problems.push({
          index,
          kind: "empty",
          message: `batch ${index}: getItem returned ${batch}`,
        });
      } else {
        batches.set(index, batch);
      }
    } catch (error) {
      problems.push({
        index,
        kind: "throws",
        message: `batch ${index}: getItem threw ${describe(error)}`,
      });
    }
  }

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

/** The first `maxBatches` indices, and the last one. */
function checkedIndices(length: number, maxBatches: number): number[] {
  const first = Array.from({ length: Math.min(length, maxBatches) }, (_, i) => i);
  if (length !== Infinity && length > maxBatches) first.push(length - 1);
  return first;
}

/** `count` items spread over `items`, first and last included. */
function spread<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from(
    { length: count },
    (_, i) => items[Math.round((i * (items.length - 1)) / Math.max(1, count - 1))]!,
  );
}

interface Part {
  path: string;
  data: ArrayLike<unknown> & { constructor: { name: string } };
  shape: number[];
}

/** The arrays of a batch, and its structure as text. */
function partsOf(batch: unknown): { parts: Part[]; structure: string } {
  const parts: Part[] = [];
  const describeNode = (value: unknown, path: string[]): string => {
    const name = path.length === 0 ? "batch" : path.join(".");
    if (isTypedArray(value) || value instanceof BigInt64Array || value instanceof BigUint64Array) {
      parts.push({ path: name, data: value, shape: [value.length] });
      return value.constructor.name;
    }
    if (isArrayPart(value)) {
      parts.push({ path: name, data: value.data, shape: value.shape });
      return "NDArray";
    }
    if (Array.isArray(value)) {
      return `[${value.map((item, i) => describeNode(item, [...path, String(i)])).join(", ")}]`;
    }
    if (typeof value === "object" && value !== null) {
      return `{ ${
        Object.entries(value).map(([key, item]) => `${key}: ${describeNode(item, [...path, key])}`)
          .join(", ")
      } }`;
    }
    return value === null ? "null" : typeof value;
  };
  return { structure: describeNode(batch, []), parts };
}

function isArrayPart(value: unknown): value is { data: Part["data"]; shape: number[] } {
  if (typeof value !== "object" || value === null) return false;
  const { data, shape } = value as { data?: unknown; shape?: unknown };
  return (isTypedArray(data) || data instanceof BigInt64Array || data instanceof BigUint64Array) &&
    Array.isArray(shape);
}

function checkShapes<B>(
  batches: Map<number, B>,
  indices: number[],
  length: number,
  report: DatasetReport,
): void {
  const { problems } = report;
  const first = batches.get(0);
  if (first === undefined) return;
  const reference = partsOf(first);
  report.structure = reference.structure;
  report.parts = reference.parts.map(({ path, data, shape }) => ({
    path,
    dtype: data.constructor.name,
    sampleShape: shape.slice(1),
  }));
  report.bytesPerBatch = reference.parts.reduce(
    (sum, { data }) => sum + ((data as unknown as ArrayBufferView).byteLength ?? 0),
    0,
  );
  const size = (parts: Part[]) => parts[0]?.shape[0];
  report.batchSize = size(reference.parts);
  const last = length === Infinity ? undefined : length - 1;

  for (const index of indices) {
    const batch = batches.get(index);
    if (batch === undefined) continue;
    const { parts, structure } = partsOf(batch);
    const where = `batch ${index}`;
    // Parts of one batch must agree on the batch size.
    const sizes = parts.map((part) => `${part.path} has ${part.shape[0]}`);
    if (new Set(parts.map((part) => part.shape[0])).size > 1) {
      problems.push({
        index,
        kind: "batch-size",
        message: `${where}: its parts disagree on the batch size: ${sizes.join(", ")}`,
      });
    }
    if (index === 0) continue;
    if (structure !== reference.structure) {
      problems.push({
        index,
        kind: "structure",
        message:
          `${where}: its structure ${structure} differs from batch 0's ${reference.structure}`,
      });
      continue;
    }
    for (const [i, part] of parts.entries()) {
      const expected = reference.parts[i]!;
      const dtype = part.data.constructor.name;
      if (dtype !== expected.data.constructor.name) {
        problems.push({
          index,
          kind: "structure",
          message:
            `${where}: ${part.path} is a ${dtype}, but a ${expected.data.constructor.name} in batch 0`,
        });
      }
      const sampleShape = JSON.stringify(part.shape.slice(1));
      if (sampleShape !== JSON.stringify(expected.shape.slice(1))) {
        problems.push({
          index,
          kind: "structure",
          message: `${where}: ${part.path} has samples of shape ${sampleShape}, but ${
            JSON.stringify(expected.shape.slice(1))
          } in batch 0`,
        });
      }
    }
    const batchSize = size(parts);
    if (
      index !== last && batchSize !== undefined && report.batchSize !== undefined &&
      batchSize < report.batchSize
    ) {
      problems.push({
        index,
        kind: "short-batch",
        message:
          `${where}: it holds ${batchSize} samples, fewer than batch 0's ${report.batchSize}, and is not the last batch`,
      });
    }
  }
}

/**
 * The seed and number of the epoch that worker batches are read in: the
 * main thread's calls get the same fetcher infos, so a `getItem` that uses
 * `info.seed` gives the same batches in both.
 */
const CHECK_EPOCH = { seed: 0, epoch: 0 };

/** The info of the fetcher that reads `index` in the unshuffled check epoch. */
function infoFor(dataset: PyDataset<unknown>, index: number): WorkerInfo {
  const { workers } = dataset;
  return workerInfo(index % workers, workers, { ...CHECK_EPOCH, shard: 0 });
}

async function checkDeterminism<B>(
  dataset: PyDataset<B>,
  batches: Map<number, B>,
  sampled: number[],
  problems: DatasetProblem[],
): Promise<void> {
  for (const index of sampled) {
    let again: B;
    try {
      again = await dataset.getItem(index, infoFor(dataset, index));
    } catch (error) {
      problems.push({
        index,
        kind: "throws",
        message: `batch ${index}: getItem threw on a second call ${describe(error)}`,
      });
      continue;
    }
    const difference = firstDifference(batches.get(index), again, "batch");
    if (difference) {
      problems.push({
        index,
        kind: "nondeterministic",
        message:
          `batch ${index}: getItem(${index}) gave different batches on two calls (${difference})`,
      });
    }
  }
}

/** Reads batches 0 to `last` in the workers and compares them with the main thread's. */
async function checkWorkers<B>(
  dataset: PyDataset<B>,
  batches: Map<number, B>,
  last: number,
  problems: DatasetProblem[],
): Promise<void> {
  if (last < 0) return;
  let index = 0;
  try {
    for await (const batch of dataset.epoch(CHECK_EPOCH)) {
      const expected = batches.get(index);
      if (expected !== undefined) {
        const difference = firstDifference(expected, batch, "batch");
        if (difference) {
          problems.push({
            index,
            kind: "workers-differ",
            message:
              `batch ${index}: the workers' batch differs from the main thread's (${difference}); state made outside the constructor's fields, #private fields or module-level state do not reach workers`,
          });
        }
      }
      if (++index > last) break;
    }
  } catch (error) {
    problems.push({
      index,
      kind: "throws",
      message: `batch ${index}: in the workers, ${describe(error)}`,
    });
  }
}

function checkSampleIds<B>(
  batches: Map<number, B>,
  sampleIds: (batch: B) => Iterable<unknown>,
  sampleCount: number | undefined,
  whole: boolean,
  problems: DatasetProblem[],
): void {
  const seen = new Map<unknown, number>();
  for (const [index, batch] of batches) {
    let batchIds: Iterable<unknown>;
    try {
      batchIds = [...sampleIds(batch)];
    } catch (error) {
      problems.push({
        index,
        kind: "sample-ids",
        message: `batch ${index}: sampleIds threw ${describe(error)}`,
      });
      continue;
    }
    for (const id of batchIds) {
      const key = typeof id === "bigint" ? `${id}n` : id;
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        problems.push({
          index,
          kind: "duplicate-sample",
          message: `batch ${index}: sample ${String(id)} appears again (first in batch ${earlier})`,
        });
      } else {
        seen.set(key, index);
      }
    }
  }
  if (whole && sampleCount !== undefined && seen.size !== sampleCount) {
    problems.push({
      kind: "sample-count",
      message: `the epoch holds ${seen.size} distinct samples, not ${sampleCount}`,
    });
  }
}

/** Where two batches first differ, or undefined when they are equal. */
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    if (a.constructor !== b.constructor) {
      return `${path} is a ${a.constructor.name}, then a ${b.constructor.name}`;
    }
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return `${path} has ${x.length} values, then ${y.length}`;
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) return `${path}[${i}] is ${x[i]}, then ${y[i]}`;
    }
    return undefined;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return `${path} is ${String(a)}, then ${String(b)}`;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const difference = firstDifference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      `${path}.${key}`,
    );
    if (difference) return difference;
  }
  return undefined;
}

function describe(error: unknown): string {
  let name: unknown;
  try {
    name = error instanceof Error ? error.name : undefined;
  } catch {
    // A Proxy or a getter that throws: describeError says what could be said.
  }
  return typeof name === "string" ? `${name}: ${describeError(error)}` : describeError(error);
}
