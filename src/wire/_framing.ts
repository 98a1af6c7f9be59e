// Safetensors document framing: an 8-byte little-endian header length, the
// JSON header (tensor entries and `__metadata__`), then the data the entries'
// offsets cover; written for the encoder, read and checked for the decoder.
// Wire code imports only src/wire/, ../array_types.ts, ../_arrays.ts,
// ../_describe.ts and ../batch_error.ts, and no Deno API: it runs in browsers.

import type { WireArray } from "../_arrays.ts";
import { type Dtype, DTYPE_BY_NAME, viewAs } from "./_dtypes.ts";
import { LITTLE_ENDIAN, swapBytes } from "./_format.ts";

/** A tensor's entry in a header: where its data lies, and how to read it. */
export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/** A document's header, checked: its tensors cover `dataLength` bytes exactly. */
export interface Header {
  tensors: TensorEntry[];
  metadata: Record<string, string>;
  dataLength: number;
}

/** A document's tensors by name, each an NDArray of any {@linkcode WireArray}. */
export type Tensors = Map<string, { data: WireArray; shape: number[] }>;

/** The length, then the JSON header padded so that data starts 8-byte aligned. */
export function headerBytes(header: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = json.length + ((8 - ((8 + json.length) % 8)) % 8);
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return head;
}

/**
 * The decoder's header limit.
 *
 * @throws {RangeError} `maxHeaderBytes` is not a positive integer.
 */
export function maxHeaderBytesOf({ maxHeaderBytes = 100_000_000 }: {
  maxHeaderBytes?: number;
}): number {
  if (!(Number.isSafeInteger(maxHeaderBytes) && maxHeaderBytes > 0)) {
    throw new RangeError(
      `Cannot decode batches as maxHeaderBytes must be a positive integer: current value is ${maxHeaderBytes}`,
    );
  }
  return maxHeaderBytes;
}

/**
 * The header length a document announces, as a number.
 *
 * @throws {RangeError} It is over `maxHeaderBytes`.
 */
export function headerLength(announced: bigint, maxHeaderBytes: number, document: number): number {
  if (announced > BigInt(maxHeaderBytes)) {
    throw new RangeError(
      `Cannot decode batch ${document} as its header is ${announced} bytes long, over the limit of ${maxHeaderBytes}`,
    );
  }
  return Number(announced);
}

/**
 * The error of a stream that ended within document `document`, `left` bytes
 * into the part due: the data of `header`, or (undefined) a header.
 */
export function endedWithin(document: number, left: number, header: Header | undefined): TypeError {
  const expected = header ? `${header.dataLength} bytes of data were` : "a header was";
  return new TypeError(
    `Cannot decode batch ${document} as the stream ended within it: ${left} bytes left where ${expected} due`,
  );
}

/**
 * A document's header, read from its bytes and checked.
 *
 * @throws {TypeError} It is not JSON, or not an object, its `__metadata__` is
 * not a map of strings, an entry is bad, or the offsets leave holes or overlap.
 */
export function parseHeader(bytes: Uint8Array, document: number): Header {
  const where = `batch ${document}`;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new TypeError(
      `Cannot decode ${where} as its header is not JSON: ${(error as Error).message}`,
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`Cannot decode ${where} as its header is not a JSON object`);
  }
  const { __metadata__: metadata = {}, ...entries } = json as Record<string, unknown>;
  if (
    typeof metadata !== "object" || metadata === null || Array.isArray(metadata) ||
    Object.values(metadata).some((value) => typeof value !== "string")
  ) {
    throw new TypeError(`Cannot decode ${where} as its __metadata__ is not a map of strings`);
  }
  const tensors = Object.entries(entries).map(([name, entry]) => tensorEntry(name, entry, where));
  // The data section is exactly covered by the tensors: no holes, no overlaps.
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const tensor of sorted) {
    if (tensor.begin !== covered) {
      throw new TypeError(
        `Cannot decode ${where} as the offsets of ${tensor.name} start at ${tensor.begin}, where the data so far ends at ${covered} (offsets must cover the data without holes or overlaps)`,
      );
    }
    covered = tensor.end;
  }
  return { tensors, metadata: metadata as Record<string, string>, dataLength: covered };
}

/** One tensor's entry, checked: a known dtype, a shape, and offsets that fit both. */
function tensorEntry(name: string, entry: unknown, where: string): TensorEntry {
  const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
  const info = typeof dtype === "string" ? DTYPE_BY_NAME.get(dtype) : undefined;
  if (!info) {
    throw new TypeError(
      `Cannot decode ${where} as ${name} has an unknown dtype: current value is ${
        JSON.stringify(dtype)
      } (known: ${[...DTYPE_BY_NAME.keys()].join(", ")})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new TypeError(
      `Cannot decode ${where} as the shape of ${name} is not a list of sizes: current value is ${
        JSON.stringify(shape)
      }`,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((n) => Number.isSafeInteger(n) && n >= 0) || offsets[0] > offsets[1]
  ) {
    throw new TypeError(
      `Cannot decode ${where} as the data_offsets of ${name} are not [begin, end]: current value is ${
        JSON.stringify(offsets)
      }`,
    );
  }
  const [begin, end] = offsets as [number, number];
  const size = (shape as number[]).reduce((a, b) => a * b, 1) * info.size;
  if (end - begin !== size) {
    throw new TypeError(
      `Cannot decode ${where} as the data_offsets of ${name} span ${
        end - begin
      } bytes, but ${info.name} of shape [${shape.join(", ")}] needs ${size}`,
    );
  }
  return { name, dtype: info, shape: shape as number[], begin, end };
}

/**
 * The tensors of a document whose header is `header` and data `data`: views
 * of `data` where aligned for their type, else copies.
 *
 * @throws {TypeError} F16 data where the runtime has no Float16Array.
 */
export function tensorsOf(header: Header, data: Uint8Array): Tensors {
  const tensors: Tensors = new Map();
  for (const { name, dtype, shape, begin, end } of header.tensors) {
    const count = shape.reduce((a, b) => a * b, 1);
    const offset = data.byteOffset + begin;
    let array;
    if (offset % dtype.size === 0 && LITTLE_ENDIAN) {
      array = viewAs(dtype, data.buffer, offset, count);
    } else {
      // Misaligned for its type (or big-endian): copy into a buffer of its own.
      const copy = data.slice(begin, end);
      if (!LITTLE_ENDIAN) swapBytes(copy, dtype.size);
      array = viewAs(dtype, copy.buffer, 0, count);
    }
    tensors.set(name, { data: array, shape });
  }
  return tensors;
}
