/**
 * The types of what crosses the wire: {@linkcode Batch} and
 * {@linkcode BigArray}.
 *
 * @module
 */

import type { NDArray, TypedArray } from "../array_types.ts";

/**
 * Typed arrays of 64-bit integers, which safetensors knows as `I64` and
 * `U64`: a batch may hold them, though TensorFlow.js cannot use them.
 *
 * @example Send 64-bit ids
 * ```ts
 * import type { BigArray } from "@pydataset/pydataset/wire";
 *
 * const ids: BigArray = BigInt64Array.of(9007199254740993n);
 * ```
 */
export type BigArray = BigInt64Array | BigUint64Array;

/**
 * A batch that crosses the wire: `NDArray`s and typed arrays (the tensors),
 * arrays and plain objects of batches, and plain values (numbers, strings,
 * booleans, `null`, bigints, `undefined`).
 *
 * @example Images, labels and a note in one batch
 * ```ts
 * import { ndarray } from "@pydataset/pydataset";
 * import { decodeBatches, encodeBatches } from "@pydataset/pydataset/wire";
 * import type { Batch } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const batch: Batch = {
 *   images: ndarray(new Float32Array(12), [2, 2, 3]),
 *   labels: Int32Array.of(0, 1),
 *   note: "train",
 * };
 * const [back] = await Array.fromAsync(
 *   ReadableStream.from([batch]).pipeThrough(encodeBatches()).pipeThrough(decodeBatches()),
 * );
 * assert.deepEqual(back, batch);
 * ```
 */
export type Batch =
  | NDArray
  | TypedArray
  | BigArray
  | string
  | number
  | boolean
  | bigint
  | null
  | undefined
  | { data: BigArray; shape: number[] }
  | Batch[]
  | { [key: string]: Batch };
