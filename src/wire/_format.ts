// The safetensors stream format: dtypes, and how a batch's structure is
// kept. Web-standard code only: it also runs in browsers.

import { isFloat16Array } from "../_arrays.ts";
import type { TypedArray } from "../array_types.ts";

/** A safetensors dtype and the typed array that holds it. */
export interface DtypeInfo {
  name: string;
  size: number;
  create(buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray | BigArray;
}

import type { BigArray } from "./types.ts";

const DTYPES: DtypeInfo[] = [
  { name: "F64", size: 8, create: (b, o, n) => new Float64Array(b, o, n) },
  { name: "I64", size: 8, create: (b, o, n) => new BigInt64Array(b, o, n) },
  { name: "U64", size: 8, create: (b, o, n) => new BigUint64Array(b, o, n) },
  { name: "F32", size: 4, create: (b, o, n) => new Float32Array(b, o, n) },
  { name: "I32", size: 4, create: (b, o, n) => new Int32Array(b, o, n) },
  { name: "U32", size: 4, create: (b, o, n) => new Uint32Array(b, o, n) },
  { name: "F16", size: 2, create: (b, o, n) => new (float16Array())(b, o, n) },
  { name: "I16", size: 2, create: (b, o, n) => new Int16Array(b, o, n) },
  { name: "U16", size: 2, create: (b, o, n) => new Uint16Array(b, o, n) },
  { name: "I8", size: 1, create: (b, o, n) => new Int8Array(b, o, n) },
  { name: "U8", size: 1, create: (b, o, n) => new Uint8Array(b, o, n) },
  { name: "BOOL", size: 1, create: (b, o, n) => new Uint8Array(b, o, n) },
];

/** The dtypes this format reads, by safetensors name. */
export const DTYPE_BY_NAME: ReadonlyMap<string, DtypeInfo> = new Map(
  DTYPES.map((dtype) => [dtype.name, dtype]),
);

/**
 * `Float16Array`, which older browsers lack (Chrome before 135, Safari
 * before 18.2): F16 data cannot be decoded there.
 */
function float16Array(): typeof Float16Array {
  if (typeof Float16Array === "undefined") {
    throw new TypeError("Cannot decode F16 data as this runtime has no Float16Array");
  }
  return Float16Array;
}

/** The safetensors dtype of a typed array. */
export function dtypeOf(array: TypedArray | BigArray): DtypeInfo {
  const name = array instanceof Float64Array
    ? "F64"
    : array instanceof BigInt64Array
    ? "I64"
    : array instanceof BigUint64Array
    ? "U64"
    : array instanceof Float32Array
    ? "F32"
    : array instanceof Int32Array
    ? "I32"
    : array instanceof Uint32Array
    ? "U32"
    : isFloat16Array(array)
    ? "F16"
    : array instanceof Int16Array
    ? "I16"
    : array instanceof Uint16Array
    ? "U16"
    : array instanceof Int8Array
    ? "I8"
    : "U8"; // Uint8Array, Uint8ClampedArray
  return DTYPE_BY_NAME.get(name)!;
}

/**
 * The key in `__metadata__` that holds the batch's structure, so that a
 * decoder rebuilds it exactly (arrays, records, NDArray or plain typed
 * array, values that are not arrays of numbers).
 */
export const STRUCTURE_KEY = "pydataset.structure";

/**
 * The key in `__metadata__` of a document that ends a stream with an error
 * (JSON: name, message, and the batch index when known) instead of a batch.
 */
export const ERROR_KEY = "pydataset.error";

/**
 * How deep a batch may nest, in its structure and in its names (`"0.0.0"` is
 * 3 deep): deeper is an error, not a stack overflow, in the encoder and the
 * decoder alike.
 */
export const MAX_DEPTH = 256;

/** A name quoted for an error message, cut short: a name can be as long as a header. */
export function excerpt(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

/**
 * A node of the structure: a tensor (by name; `flat` for a plain typed
 * array, `clamped` for a Uint8ClampedArray), an array, a record, a JSON
 * value, a number JSON cannot hold, a bigint, or undefined.
 */
export type Node =
  | ["t", string, { flat?: true; clamped?: true }?]
  | ["a", Node[]]
  | ["o", Record<string, Node>]
  | ["v", string | number | boolean | null]
  | ["n", "NaN" | "Infinity" | "-Infinity"]
  | ["b", string]
  | ["u"];

/** Whether this machine stores numbers little-endian, as safetensors does. */
export const LITTLE_ENDIAN: boolean = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Reverses the bytes of each `size`-byte element in place (big-endian machines). */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}
