/**
 * {@linkcode NDArray} and {@linkcode TypedArray}: a dense array as a typed
 * array and a shape, the part of a batch that adapters turn into tensors.
 *
 * @module
 */

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
 * The constructor of a {@linkcode TypedArray} type, such as `Float32Array`:
 * what `info.allocate` (in `getItem`) takes.
 *
 * @example Ask for a batch's array by its type
 * ```ts
 * import type { TypedArrayConstructor } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * const type: TypedArrayConstructor<Float32Array> = Float32Array;
 * assert.equal(type.BYTES_PER_ELEMENT, 4);
 * ```
 */
export interface TypedArrayConstructor<T extends TypedArray = TypedArray> {
  /** A view of `length` elements of `buffer` from `byteOffset`. */
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  /** The size of one element in bytes. */
  readonly BYTES_PER_ELEMENT: number;
}
