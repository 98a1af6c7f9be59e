// Checks on NDArrays and typed arrays, shared by ndarray(), the wire, the
// adapters and the testing checks: each kind of array is told in one place.

import type { NDArray, TypedArray } from "./array_types.ts";

/**
 * What is wrong with `shape` for `length` values, or undefined when it fits:
 * used by {@linkcode ndarray} and by adapters to name a bad part.
 */
export function shapeProblem(length: number, shape: readonly unknown[]): string | undefined {
  if (shape.some((size) => !(Number.isSafeInteger(size) && (size as number) >= 0))) {
    return `shape must hold non-negative integers: current value is [${shape.join(", ")}]`;
  }
  const size = (shape as number[]).reduce((product, dimension) => product * dimension, 1);
  if (size !== length) {
    return `shape [${shape.join(", ")}] needs ${size} values, but data has ${length}`;
  }
  return undefined;
}

/** Whether `value` is one of the {@linkcode TypedArray}s. */
export function isTypedArray(value: unknown): value is TypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) &&
    !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
}

/** Whether `value` looks like an {@linkcode NDArray}. */
export function isNDArray(value: unknown): value is NDArray {
  return typeof value === "object" && value !== null && isTypedArray((value as NDArray).data) &&
    Array.isArray((value as NDArray).shape);
}

/** Whether `value` is a Float16Array, in runtimes with or without the type. */
export function isFloat16Array(value: unknown): value is Float16Array {
  return typeof Float16Array !== "undefined" && value instanceof Float16Array;
}

/**
 * An array the wire carries: a {@linkcode TypedArray}, or a typed array of
 * 64-bit integers (which tfjs cannot use, but safetensors holds).
 */
export type WireArray = TypedArray | BigInt64Array | BigUint64Array;

/** Whether `value` is an array the wire carries ({@linkcode WireArray}). */
export function isWireArray(value: unknown): value is WireArray {
  return isTypedArray(value) || value instanceof BigInt64Array || value instanceof BigUint64Array;
}

/** Whether `value` looks like an NDArray of any {@linkcode WireArray}. */
export function isWireNDArray(value: unknown): value is { data: WireArray; shape: number[] } {
  if (typeof value !== "object" || value === null) return false;
  const { data, shape } = value as { data?: unknown; shape?: unknown };
  return isWireArray(data) && Array.isArray(shape);
}
