// The safetensors dtypes, written once: each with its byte size and its typed
// array, read by the encoder (array → dtype) and the decoder (dtype → array).
// Wire code imports only src/wire/, ../array_types.ts, ../_arrays.ts,
// ../_describe.ts and ../batch_error.ts, and no Deno API: it runs in browsers.

import type { WireArray } from "../_arrays.ts";

/** The constructor of a {@linkcode WireArray}, as the decoder calls it: a view of a buffer. */
export interface WireArrayConstructor {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): WireArray;
  readonly prototype: WireArray;
}

/** A row of the dtype table. */
export interface Dtype {
  /** The safetensors name, such as `"F32"`. */
  readonly name: string;
  /** The bytes of one element. */
  readonly size: number;
  /** The typed array it decodes as; undefined where the runtime lacks it (F16 without Float16Array). */
  readonly array: WireArrayConstructor | undefined;
  /** The typed arrays that encode as it, when not just `array`. */
  readonly encodedFrom?: readonly WireArrayConstructor[];
}

/**
 * `Float16Array`, which older browsers lack (Chrome before 135, Safari
 * before 18.2): the wire still loads there, and only F16 data fails.
 */
const FLOAT16_ARRAY: WireArrayConstructor | undefined = typeof Float16Array === "undefined"
  ? undefined
  : Float16Array;

/** The dtypes, widest first: "known dtypes" in an error lists them in this order. */
const DTYPES: readonly Dtype[] = [
  { name: "F64", size: 8, array: Float64Array },
  { name: "I64", size: 8, array: BigInt64Array },
  { name: "U64", size: 8, array: BigUint64Array },
  { name: "F32", size: 4, array: Float32Array },
  { name: "I32", size: 4, array: Int32Array },
  { name: "U32", size: 4, array: Uint32Array },
  { name: "F16", size: 2, array: FLOAT16_ARRAY },
  { name: "I16", size: 2, array: Int16Array },
  { name: "U16", size: 2, array: Uint16Array },
  { name: "I8", size: 1, array: Int8Array },
  { name: "U8", size: 1, array: Uint8Array, encodedFrom: [Uint8Array, Uint8ClampedArray] },
  // Booleans, a byte each: read as a Uint8Array, never written (a Uint8Array is U8).
  { name: "BOOL", size: 1, array: Uint8Array, encodedFrom: [] },
];

/** The dtypes the wire reads, by safetensors name. */
export const DTYPE_BY_NAME: ReadonlyMap<string, Dtype> = new Map(
  DTYPES.map((dtype) => [dtype.name, dtype]),
);

/** The dtype each typed array encodes as, by the array's prototype. */
const DTYPE_BY_PROTOTYPE: ReadonlyMap<object, Dtype> = new Map(
  DTYPES.flatMap((dtype) =>
    (dtype.encodedFrom ?? (dtype.array ? [dtype.array] : [])).map((array) =>
      [array.prototype, dtype] as const
    )
  ),
);

/**
 * The dtype an array encodes as: that of its class, or of the nearest class
 * it extends (a Node `Buffer` is U8).
 */
export function dtypeOf(array: WireArray): Dtype {
  for (
    let prototype = Object.getPrototypeOf(array);
    prototype !== null;
    prototype = Object.getPrototypeOf(prototype)
  ) {
    const dtype = DTYPE_BY_PROTOTYPE.get(prototype);
    if (dtype) return dtype;
  }
  // A typed array of another realm (an iframe's) matches no class here: U8, as always.
  return DTYPE_BY_NAME.get("U8")!;
}

/**
 * A view of `length` elements of `dtype` in `buffer` from `byteOffset`.
 *
 * @throws {TypeError} F16 data where the runtime has no Float16Array.
 */
export function viewAs(
  dtype: Dtype,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): WireArray {
  // Only F16 can lack its array (FLOAT16_ARRAY).
  if (!dtype.array) {
    throw new TypeError("Cannot decode F16 data as this runtime has no Float16Array");
  }
  return new dtype.array(buffer, byteOffset, length);
}
