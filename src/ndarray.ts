/**
 * {@linkcode ndarray}: makes an {@linkcode NDArray}, checking its shape.
 *
 * @module
 */

import { isTypedArray, shapeProblem } from "./_arrays.ts";
import { show } from "./_describe.ts";
import type { NDArray, TypedArray } from "./array_types.ts";

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
