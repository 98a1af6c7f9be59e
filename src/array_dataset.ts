/**
 * {@linkcode ArrayDataset}: batches of arrays already in memory.
 *
 * @module
 */

import { isNDArray, isTypedArray, shapeProblem } from "./_arrays.ts";
import { show } from "./_describe.ts";
import type { NDArray, TypedArray, TypedArrayConstructor } from "./array_types.ts";
import { epochOrder } from "./epoch/_order.ts";
import { mixSeed } from "./epoch/_seeds.ts";
import type { PyDatasetOptions } from "./options.ts";
import { PyDataset } from "./py_dataset.ts";
import type { BatchInfo } from "./worker_info.ts";

/** One part of an {@linkcode ArrayDataset}: samples along the first dimension. */
export type ArrayPart = NDArray | TypedArray;

/** Options for {@linkcode ArrayDataset}: its own, and every `PyDataset` option. */
export interface ArrayDatasetOptions extends PyDatasetOptions {
  /** Samples per batch: a positive integer. */
  batchSize: number;
  /**
   * Reshuffle the samples across batches at every epoch, in an order drawn
   * from the epoch's seed and number (`epoch({ seed })`): the same in every
   * run, mode and process, and after a resume. Shuffled batches are copies.
   *
   * @default {false}
   */
  shuffleSamples?: boolean;
  /**
   * Leave out the last batch when it has fewer than `batchSize` samples.
   *
   * @default {false}
   */
  dropRemainder?: boolean;
}

/** Sets the sample order's seed apart from the batch order's. */
const SAMPLES = 0x73616d70;

/**
 * Batches from arrays already in memory, as Keras's `from_tensor_slices` or
 * tfjs's `tf.data.array`: `new ArrayDataset([x, y], { batchSize })`, where
 * each part is an `NDArray` or a typed array whose first dimension is the
 * sample. Each batch is an array of `NDArray`s, one per part (a typed-array
 * part gives shape `[n]`); the last batch may be smaller (`dropRemainder`
 * leaves it out). `B` types the batch, e.g.
 * `ArrayDataset<[NDArray<Float32Array>, NDArray<Int32Array>]>`.
 *
 * On the main thread an unshuffled batch is a view of the arrays given;
 * with `shuffleSamples`, a copy (from `info.allocate`, so `release` recycles
 * it). In worker mode (`useMultiprocessing`) the parts are copied once,
 * at construction, into `SharedArrayBuffer`s that every worker shares, so
 * no epoch copies them again; parts already backed by a `SharedArrayBuffer`
 * are shared as they are.
 *
 * A subclass in another module passes its own `module: import.meta.url`.
 *
 * @typeParam B The type of one batch: one `NDArray` per part.
 *
 * @example Batches of samples, reshuffled every epoch
 * ```ts
 * import { ArrayDataset, type NDArray, ndarray } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * const x = ndarray(Float32Array.from({ length: 10 }, (_, i) => i), [5, 2]);
 * const y = Int32Array.of(0, 1, 0, 1, 1);
 * await using data = new ArrayDataset<[NDArray<Float32Array>, NDArray<Int32Array>]>([x, y], {
 *   batchSize: 2,
 *   shuffleSamples: true,
 * });
 * assert.equal(data.length, 3);
 * const labels: number[] = [];
 * for await (const [features, label] of data.epoch({ seed: 1 })) {
 *   assert.equal(features.shape[1], 2);
 *   labels.push(...label.data);
 * }
 * assert.deepEqual(labels.sort(), [0, 0, 1, 1, 1]);
 * ```
 */
export class ArrayDataset<B extends NDArray[] = NDArray[]> extends PyDataset<B> {
  /** The parts, as the batches are cut from them. */
  parts: NDArray[];
  /** How many samples each part has. */
  samples: number;
  /** Samples per batch. */
  batchSize: number;
  /** Whether the samples are reshuffled every epoch. */
  shuffleSamples: boolean;
  /** Whether a smaller last batch is left out. */
  dropRemainder: boolean;

  /**
   * Holds `parts` (in shared memory, in worker mode) to cut them into
   * batches of `batchSize` samples.
   *
   * @param parts The arrays, samples along their first dimension.
   * @param options `batchSize`, the sample shuffle, and `PyDataset`'s options.
   * @throws {TypeError} Parts that are not arrays of samples or disagree on the sample count.
   * @throws {RangeError} A `batchSize` that is not a positive integer.
   */
  constructor(parts: readonly ArrayPart[], options: ArrayDatasetOptions) {
    const { batchSize, shuffleSamples, dropRemainder, ...rest } = checkOptions(options);
    super({ ...rest, module: rest.module ?? import.meta.url });
    const held = holdParts(parts);
    this.samples = sampleCount(held);
    this.parts = this.useMultiprocessing ? held.map(shared) : held;
    this.batchSize = batchSize;
    this.shuffleSamples = shuffleSamples ?? false;
    this.dropRemainder = dropRemainder ?? false;
  }

  /** Batches per epoch. */
  get length(): number {
    const round = this.dropRemainder ? Math.floor : Math.ceil;
    return round(this.samples / this.batchSize);
  }

  /** Batch `index`: the samples it covers, of every part. */
  getItem(index: number, info: BatchInfo): B {
    const start = index * this.batchSize;
    const end = Math.min(start + this.batchSize, this.samples);
    if (!this.shuffleSamples) {
      return this.parts.map(({ data, shape }): NDArray => {
        const stride = sampleLength({ data, shape });
        return {
          data: data.subarray(start * stride, end * stride),
          shape: [end - start, ...shape.slice(1)],
        };
      }) as B;
    }
    const order = epochOrder(this.samples, {
      shuffle: true,
      seed: mixSeed(info.epochSeed, SAMPLES),
      epoch: info.epoch,
    });
    const picked = Array.from({ length: end - start }, (_, k) => order.at(start + k));
    return this.parts.map((part) => gather(part, picked, info)) as B;
  }
}

/** The samples `picked` of `part`, in that order, into an array from `allocate`. */
function gather({ data, shape }: NDArray, picked: number[], info: BatchInfo): NDArray {
  const stride = sampleLength({ data, shape });
  const type = data.constructor as TypedArrayConstructor;
  const out = info.allocate(type, picked.length * stride);
  picked.forEach((sample, k) => {
    if (stride === 1) out[k] = data[sample]!;
    else out.set(data.subarray(sample * stride, (sample + 1) * stride), k * stride);
  });
  return { data: out, shape: [picked.length, ...shape.slice(1)] };
}

/** How many values one sample of `part` holds. */
function sampleLength({ data, shape }: NDArray): number {
  return data.length / (shape[0] || 1);
}

function checkOptions(options: ArrayDatasetOptions): ArrayDatasetOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot make an ArrayDataset as options must be an object with a batchSize: current value is ${
        show(options)
      }`,
    );
  }
  const { batchSize, shuffleSamples, dropRemainder } = options;
  if (typeof batchSize !== "number") {
    throw new TypeError(
      `Cannot make an ArrayDataset as batchSize must be a number: current value is ${
        show(batchSize)
      }`,
    );
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot make an ArrayDataset as batchSize must be a positive integer: current value is ${batchSize}`,
    );
  }
  for (
    const [name, value] of [["shuffleSamples", shuffleSamples], ["dropRemainder", dropRemainder]]
  ) {
    if (value !== undefined && typeof value !== "boolean") {
      throw new TypeError(
        `Cannot make an ArrayDataset as ${name} must be a boolean: current value is ${show(value)}`,
      );
    }
  }
  return options;
}

/** Each part as values and a shape with a sample dimension, or a TypeError naming it. */
function holdParts(parts: readonly ArrayPart[]): NDArray[] {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new TypeError(
      `Cannot make an ArrayDataset as parts must be a non-empty array of NDArrays or typed arrays: current value is ${
        show(parts)
      }`,
    );
  }
  return parts.map((part, i) => {
    if (isTypedArray(part)) return { data: part, shape: [part.length] };
    if (!isNDArray(part)) {
      throw new TypeError(
        `Cannot make an ArrayDataset as part ${i} is not an NDArray or a typed array: current value is ${
          show(part)
        }`,
      );
    }
    const problem = shapeProblem(part.data.length, part.shape) ??
      (part.shape.length === 0 ? "shape [] has no sample dimension" : undefined);
    if (problem) throw new TypeError(`Cannot make an ArrayDataset as part ${i}'s ${problem}`);
    return { data: part.data, shape: [...part.shape] };
  });
}

/** The parts' common sample count, or a TypeError naming the two that disagree. */
function sampleCount(parts: NDArray[]): number {
  const first = parts[0]!.shape[0]!;
  const other = parts.findIndex(({ shape }) => shape[0] !== first);
  if (other !== -1) {
    throw new TypeError(
      `Cannot make an ArrayDataset as its parts disagree on the sample count: part 0 has ${first} samples, part ${other} has ${
        parts[other]!.shape[0]
      }`,
    );
  }
  return first;
}

/** `part` in a SharedArrayBuffer, which workers share instead of copying at every epoch. */
function shared({ data, shape }: NDArray): NDArray {
  if (data.buffer instanceof SharedArrayBuffer) return { data, shape };
  const type = data.constructor as new (buffer: SharedArrayBuffer) => TypedArray;
  const copy = new type(new SharedArrayBuffer(data.byteLength));
  copy.set(data as never);
  return { data: copy, shape };
}
