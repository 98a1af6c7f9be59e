/**
 * {@linkcode decodeBatches}: a stream of safetensors documents → batches.
 *
 * @module
 */

import type { NDArray } from "../ndarray.ts";
import {
  DTYPE_BY_NAME,
  type DtypeInfo,
  LITTLE_ENDIAN,
  type Node,
  STRUCTURE_KEY,
  swapBytes,
} from "./_format.ts";
import type { Batch, BigArray } from "./encode_batches.ts";

/** Options for {@linkcode decodeBatches}. */
export interface DecodeBatchesOptions {
  /**
   * The longest header accepted, in bytes: a longer one errors the stream
   * rather than allocating it.
   *
   * @default {100_000_000}
   */
  maxHeaderBytes?: number;
}

/**
 * A `TransformStream` that reads safetensors documents, back to back, from
 * bytes in chunks of any size, and rebuilds each batch: the structure that
 * {@linkcode encodeBatches} recorded, or, for documents from elsewhere,
 * records keyed by the tensor names with `NDArray` values (and the
 * `__metadata__` values). Typed arrays are views of the received bytes when
 * those are aligned for their type, and copies only when not.
 *
 * A truncated stream, a header over `maxHeaderBytes`, bad JSON, an unknown
 * dtype, or offsets outside the document (or with holes or overlaps)
 * error the stream with a `TypeError` that says what and where.
 *
 * @param options The header limit.
 * @returns A stream from bytes to batches.
 *
 * @example Read a document written elsewhere
 * ```ts
 * import { decodeBatches } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const header = new TextEncoder().encode(
 *   JSON.stringify({ x: { dtype: "U8", shape: [2], data_offsets: [0, 2] } }),
 * );
 * const document = new Uint8Array(8 + header.length + 2);
 * new DataView(document.buffer).setBigUint64(0, BigInt(header.length), true);
 * document.set(header, 8);
 * document.set([7, 9], 8 + header.length);
 * const [batch] = await Array.fromAsync(ReadableStream.from([document]).pipeThrough(decodeBatches()));
 * assert.deepEqual(batch, { x: { data: Uint8Array.of(7, 9), shape: [2] } });
 * ```
 */
export function decodeBatches(
  options: DecodeBatchesOptions = {},
): TransformStream<Uint8Array, Batch> {
  const { maxHeaderBytes = 100_000_000 } = options;
  if (!(Number.isSafeInteger(maxHeaderBytes) && maxHeaderBytes > 0)) {
    throw new RangeError(
      `Cannot decode batches as maxHeaderBytes must be a positive integer: current value is ${maxHeaderBytes}`,
    );
  }
  const input = new Bytes();
  let documents = 0;
  let header: Header | undefined;
  return new TransformStream<Uint8Array, Batch>({
    transform(chunk, controller) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(
          `Cannot decode batches from a chunk that is not a Uint8Array: current value is ${typeof chunk}`,
        );
      }
      input.push(chunk);
      while (true) {
        if (!header) {
          if (input.length < 8) return;
          const length = input.peekLength();
          if (length > maxHeaderBytes) {
            throw new TypeError(
              `Cannot decode batch ${documents} as its header is ${length} bytes long, over the limit of ${maxHeaderBytes}`,
            );
          }
          if (input.length < 8 + length) return;
          input.take(8);
          header = parseHeader(input.take(length).bytes, documents);
        }
        if (input.length < header.dataLength) return;
        const data = input.take(header.dataLength);
        controller.enqueue(buildBatch(header, data, documents));
        header = undefined;
        documents++;
      }
    },
    flush() {
      if (header || input.length > 0) {
        const expected = header ? `${header.dataLength} bytes of data` : "a header";
        throw new TypeError(
          `Cannot decode batch ${documents} as the stream ended within it: ${input.length} bytes left where ${expected} ${
            header ? "were" : "was"
          } due`,
        );
      }
    },
  });
}

interface TensorEntry {
  name: string;
  dtype: DtypeInfo;
  shape: number[];
  begin: number;
  end: number;
}

interface Header {
  tensors: TensorEntry[];
  metadata: Record<string, string>;
  dataLength: number;
}

function parseHeader(bytes: Uint8Array, document: number): Header {
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
    typeof metadata !== "object" || metadata === null ||
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

function buildBatch(header: Header, data: Slice, document: number): Batch {
  const arrays = new Map<string, NDArray["data"] | BigArray>();
  for (const { name, dtype, shape, begin, end } of header.tensors) {
    const count = shape.reduce((a, b) => a * b, 1);
    const offset = data.bytes.byteOffset + begin;
    let array;
    if (offset % dtype.size === 0 && LITTLE_ENDIAN) {
      array = dtype.create(data.bytes.buffer, offset, count);
    } else {
      // Misaligned for its type (or big-endian): copy into a buffer of its own.
      const copy = data.bytes.slice(begin, end);
      if (!LITTLE_ENDIAN) swapBytes(copy, dtype.size);
      array = dtype.create(copy.buffer, 0, count);
    }
    arrays.set(name, array);
  }
  const structure = header.metadata[STRUCTURE_KEY];
  if (structure === undefined) return fromNames(header, arrays);
  let node: Node;
  try {
    node = JSON.parse(structure);
  } catch (error) {
    throw new TypeError(
      `Cannot decode batch ${document} as its ${STRUCTURE_KEY} is not JSON: ${
        (error as Error).message
      }`,
    );
  }
  return rebuild(node, header, arrays, document);
}

function rebuild(
  node: Node,
  header: Header,
  arrays: Map<string, NDArray["data"] | BigArray>,
  document: number,
): Batch {
  const bad = (): never => {
    throw new TypeError(
      `Cannot decode batch ${document} as its ${STRUCTURE_KEY} is malformed near ${
        JSON.stringify(node).slice(0, 80)
      }`,
    );
  };
  if (!Array.isArray(node)) return bad();
  switch (node[0]) {
    case "t": {
      const array = arrays.get(node[1]);
      const entry = header.tensors.find((tensor) => tensor.name === node[1]);
      if (!array || !entry) return bad();
      const data = node[2]?.clamped && array instanceof Uint8Array
        ? new Uint8ClampedArray(array.buffer, array.byteOffset, array.length)
        : array;
      return node[2]?.flat ? data : { data: data as NDArray["data"], shape: entry.shape };
    }
    case "a":
      return Array.isArray(node[1])
        ? node[1].map((n) => rebuild(n, header, arrays, document))
        : bad();
    case "o": {
      if (typeof node[1] !== "object" || node[1] === null) return bad();
      const record: Record<string, Batch> = {};
      for (const [key, child] of Object.entries(node[1])) {
        record[key] = rebuild(child, header, arrays, document);
      }
      return record;
    }
    case "v":
      return node[1];
    case "n":
      return Number(node[1]);
    case "b":
      return BigInt(node[1]);
    case "u":
      return undefined;
    default:
      return bad();
  }
}

/** A document from another writer: `{ name: NDArray, ..., key: value }`. */
function fromNames(header: Header, arrays: Map<string, NDArray["data"] | BigArray>): Batch {
  const batch: Record<string, Batch> = {};
  for (const { name, shape } of header.tensors) {
    batch[name] = { data: arrays.get(name) as NDArray["data"], shape };
  }
  for (const [key, value] of Object.entries(header.metadata)) {
    if (!(key in batch)) batch[key] = value;
  }
  return batch;
}

/** A run of bytes, and whether it lies in one received chunk. */
interface Slice {
  bytes: Uint8Array;
}

/** Received chunks, consumed from the front without copying when possible. */
class Bytes {
  #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The 8-byte little-endian header length at the front. */
  peekLength(): number {
    const head = this.#chunks[0]!.length >= 8 ? this.#chunks[0]! : this.#copy(8, false);
    const view = new DataView(head.buffer, head.byteOffset, 8);
    const length = view.getBigUint64(0, true);
    return length > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(length);
  }

  /** Removes `n` bytes from the front: a view if they lie in one chunk. */
  take(n: number): Slice {
    if (n === 0) return { bytes: new Uint8Array(0) };
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      const bytes = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#length -= n;
      return { bytes };
    }
    return { bytes: this.#copy(n, true) };
  }

  /** Copies `n` bytes from the front into a new buffer, removing them if asked. */
  #copy(n: number, remove: boolean): Uint8Array {
    const bytes = new Uint8Array(n);
    let filled = 0;
    let index = 0;
    while (filled < n) {
      const chunk = this.#chunks[index]!;
      const part = chunk.subarray(0, Math.min(chunk.length, n - filled));
      bytes.set(part, filled);
      filled += part.length;
      if (remove) {
        if (part.length === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(part.length);
      } else {
        index++;
      }
    }
    if (remove) this.#length -= n;
    return bytes;
  }
}
