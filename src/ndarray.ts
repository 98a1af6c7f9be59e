/**
 * {@linkcode NDArray}: a dense array as a typed array and a shape, the part
 * of a batch that adapters turn into tensors.
 *
 * @module
 */

import { isTypedArray, shapeProblem } from "./_ndarray.ts";
import { show } from "./_validate.ts";

/** The typed arrays an {@linkcode NDArray} may hold. */
export type TypedArray =
  | Float16Array
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array;

/**
 * A dense array: `data` in row-major order and its `shape`, whose sizes
 * multiply to `data.length`. It is plain data, so it crosses worker
 * boundaries (its buffer transferred) and HTTP unchanged.
 *
 * @typeParam T The typed array that holds the values.
 *
 * @example A batch of two 2×3 images
 * ```ts
 * import type { NDArray } from "@pydataset/pydataset";
 *
 * const images: NDArray<Float32Array> = { data: new Float32Array(12), shape: [2, 2, 3] };
 * ```
 */
export interface NDArray<T extends TypedArray = TypedArray> {
  /** The values, in row-major order. */
  data: T;
  /** The size of each dimension; the first is the batch dimension in a batch. */
  shape: number[];
}

/**
 * Makes an {@linkcode NDArray}, checking that `data` fills `shape` exactly.
 *
 * @typeParam T The typed array that holds the values.
 * @param data The values, in row-major order.
 * @param shape The size of each dimension: non-negative integers.
 * @returns `{ data, shape }`, with a copy of `shape`.
 * @throws {TypeError} `data` is not a typed array, `shape` not an array of
 * non-negative integers, or a shape whose size differs from `data.length`.
 *
 * @example Make a batch of labels
 * ```ts
 * import { ndarray } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * const labels = ndarray(Int32Array.of(0, 2, 1), [3]);
 * assert.deepEqual(labels.shape, [3]);
 * assert.throws(() => ndarray(new Float32Array(5), [2, 3]), TypeError);
 * ```
 */
export function ndarray<T extends TypedArray>(data: T, shape: readonly number[]): NDArray<T> {
  if (!isTypedArray(data)) {
    throw new TypeError(
      `Cannot make an NDArray as data must be a typed array: current value is ${show(data)}`,
    );
  }
  if (!Array.isArray(shape)) {
    throw new TypeError(
      `Cannot make an NDArray as shape must be an array of sizes: current value is ${show(shape)}`,
    );
  }
  const problem = shapeProblem(data.length, shape);
  if (problem) throw new TypeError(`Cannot make an NDArray as its ${problem}`);
  return { data, shape: [...shape] };
}
