// The safetensors stream format's own parts: the `__metadata__` keys of the
// structure and of an error, the nesting limit, the structure's nodes, and
// byte order. (Dtypes are in _dtypes.ts, framing in _framing.ts.)
// Wire code imports only src/wire/, ../array_types.ts, ../_arrays.ts,
// ../_describe.ts and ../batch_error.ts, and no Deno API: it runs in browsers.

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
