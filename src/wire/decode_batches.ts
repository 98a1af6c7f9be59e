/**
 * {@linkcode decodeBatches}: a stream of safetensors documents → batches.
 *
 * @module
 */

import { BatchError } from "../batch_error.ts";
import type { NDArray } from "../array_types.ts";
import {
  DTYPE_BY_NAME,
  type DtypeInfo,
  ERROR_KEY,
  excerpt,
  LITTLE_ENDIAN,
  MAX_DEPTH,
  STRUCTURE_KEY,
  swapBytes,
} from "./_format.ts";
import type { Batch, BigArray } from "./types.ts";

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
 * Streams to pipe through, as through a `TransformStream`, that read
 * safetensors documents, back to back, from bytes in chunks of any size, and
 * rebuild each batch: the structure that {@linkcode encodeBatches} recorded,
 * or, for documents from elsewhere, the structure their names describe
 * (`"0"`, `"1"` make an array, `.` nests), with `NDArray` tensors and the
 * `__metadata__` values at their names. Typed arrays are views of the
 * received bytes when those are aligned for their type, and copies only when
 * not.
 *
 * A truncated stream, bad JSON, an unknown dtype, or offsets outside the
 * document (or with holes or overlaps), or names that nest deeper than 256
 * levels error the stream with a `TypeError` that says what and where; a
 * header over `maxHeaderBytes`, with a `RangeError`. A document that carries
 * the writer's error (see `batchResponse`) errors it with that error: a
 * `BatchError` when it names its batch. Either way the reader gets the
 * batches before the error first, and the input is cancelled at once.
 *
 * @param options The header limit.
 * @returns Streams from bytes to batches.
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
): ReadableWritablePair<Batch, Uint8Array> {
  const { maxHeaderBytes = 100_000_000 } = options;
  if (!(Number.isSafeInteger(maxHeaderBytes) && maxHeaderBytes > 0)) {
    throw new RangeError(
      `Cannot decode batches as maxHeaderBytes must be a positive integer: current value is ${maxHeaderBytes}`,
    );
  }
  const input = new Bytes();
  let documents = 0;
  let header: Header | undefined;
  const decoder = new TransformStream<Uint8Array, Batch | Failure>({
    transform(chunk, controller) {
      // Terminating closes the readable side after what it holds, and cancels the input.
      if (failed(controller, () => decode(chunk, controller))) controller.terminate();
    },
    flush(controller) {
      failed(controller, finish);
    },
  });
  return { writable: decoder.writable, readable: decoder.readable.pipeThrough(raiseFailure()) };

  function decode(
    chunk: Uint8Array,
    controller: TransformStreamDefaultController<Batch | Failure>,
  ): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot decode batches from a chunk that is not a Uint8Array: current value is ${typeof chunk}`,
      );
    }
    input.push(chunk);
    while (true) {
      if (!header) {
        if (input.length < 8) return;
        const announced = input.peekLength();
        if (announced > BigInt(maxHeaderBytes)) {
          throw new RangeError(
            `Cannot decode batch ${documents} as its header is ${announced} bytes long, over the limit of ${maxHeaderBytes}`,
          );
        }
        const length = Number(announced);
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
  }

  function finish(): void {
    if (header || input.length > 0) {
      const expected = header ? `${header.dataLength} bytes of data` : "a header";
      throw new TypeError(
        `Cannot decode batch ${documents} as the stream ended within it: ${input.length} bytes left where ${expected} ${
          header ? "were" : "was"
        } due`,
      );
    }
  }
}

/** An error on its way to the reader, queued behind the batches decoded before it. */
class Failure {
  constructor(readonly error: unknown) {}
}

/**
 * Runs `step`, and whether it threw: if so, its error is queued as a
 * `Failure`, since erroring the stream here would drop the batches still
 * queued before it.
 */
function failed(
  controller: TransformStreamDefaultController<Batch | Failure>,
  step: () => void,
): boolean {
  try {
    step();
    return false;
  } catch (error) {
    controller.enqueue(new Failure(error));
    return true;
  }
}

/**
 * Passes batches on and raises a `Failure`'s error. Its readable side's
 * highWaterMark is 0, so it takes the failure only when the reader asks
 * for what follows the last batch: every batch is delivered first, and a
 * reader that stops early leaves nothing running, not even a timer.
 */
function raiseFailure(): TransformStream<Batch | Failure, Batch> {
  return new TransformStream({
    transform(item, controller) {
      if (item instanceof Failure) throw item.error;
      controller.enqueue(item);
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
  const tensors = new Map<string, NDArray | { data: BigArray; shape: number[] }>();
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
    tensors.set(name, { data: array as NDArray["data"], shape });
  }
  const where = `batch ${document}`;
  const failure = header.metadata[ERROR_KEY];
  if (failure !== undefined) throw remoteError(failure, where);
  const structure = header.metadata[STRUCTURE_KEY];
  if (structure === undefined) return fromNames(tensors, header.metadata, where);
  let node: unknown;
  try {
    node = JSON.parse(structure);
  } catch (error) {
    throw new TypeError(
      `Cannot decode ${where} as its ${STRUCTURE_KEY} is not JSON: ${(error as Error).message}`,
    );
  }
  const used = new Set<string>();
  const batch = rebuild(node, tensors, used, where, 0);
  const unused = [...tensors.keys()].filter((name) => !used.has(name));
  if (unused.length > 0) {
    throw new TypeError(
      `Cannot decode ${where} as its ${STRUCTURE_KEY} leaves out tensors ${unused.join(", ")}`,
    );
  }
  return batch;
}

/**
 * The error a writer sent in place of a batch: a `BatchError` when it names
 * its batch, else an `Error` of the same name.
 */
function remoteError(text: string, where: string): Error {
  let report: { name?: unknown; message?: unknown; index?: unknown; cause?: unknown };
  try {
    report = JSON.parse(text);
  } catch {
    report = { message: text };
  }
  const message = typeof report.message === "string" ? report.message : text;
  const { name, message: causeMessage } = (report.cause ?? {}) as Record<string, unknown>;
  const cause = typeof causeMessage === "string"
    ? Object.assign(new Error(causeMessage), { name: String(name ?? "Error") })
    : undefined;
  const options = cause ? { cause } : {};
  if (Number.isSafeInteger(report.index)) {
    return new BatchError(report.index as number, message, options);
  }
  const error = new Error(`The writer failed at ${where}: ${message}`, options);
  if (typeof report.name === "string") error.name = report.name;
  return error;
}

/** Rebuilds a batch from the structure `encodeBatches` recorded. */
function rebuild(
  node: unknown,
  tensors: Map<string, NDArray | { data: BigArray; shape: number[] }>,
  used: Set<string>,
  where: string,
  depth: number,
): Batch {
  const bad = (why: string): never => {
    throw new TypeError(`Cannot decode ${where} as its ${STRUCTURE_KEY} ${why}`);
  };
  if (depth > MAX_DEPTH) bad(`nests deeper than ${MAX_DEPTH} levels`);
  if (!Array.isArray(node)) return bad(`has a node that is not a list: ${JSON.stringify(node)}`);
  const [kind, value, flags] = node as [unknown, unknown, { flat?: boolean; clamped?: boolean }?];
  switch (kind) {
    case "t": {
      const tensor = typeof value === "string" ? tensors.get(value) : undefined;
      if (!tensor) return bad(`names a tensor the header lacks: ${JSON.stringify(value)}`);
      if (used.has(value as string)) return bad(`names tensor ${value} twice`);
      used.add(value as string);
      const data = flags?.clamped && tensor.data instanceof Uint8Array
        ? new Uint8ClampedArray(tensor.data.buffer, tensor.data.byteOffset, tensor.data.length)
        : tensor.data;
      return flags?.flat ? data : { data, shape: tensor.shape } as Batch;
    }
    case "a":
      if (!Array.isArray(value)) return bad("has an array node without items");
      return value.map((child) => rebuild(child, tensors, used, where, depth + 1));
    case "o": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return bad("has a record node without entries");
      }
      const record: Record<string, Batch> = {};
      for (const [key, child] of Object.entries(value)) {
        define(record, key, rebuild(child, tensors, used, where, depth + 1));
      }
      return record;
    }
    case "v":
      if (value !== null && !["string", "number", "boolean"].includes(typeof value)) {
        return bad(`has a value node that holds ${JSON.stringify(value)}`);
      }
      return value as Batch;
    case "n":
      if (value !== "NaN" && value !== "Infinity" && value !== "-Infinity") {
        return bad(`has a number node that holds ${JSON.stringify(value)}`);
      }
      return Number(value);
    case "b":
      if (typeof value !== "string" || !/^-?\d+$/.test(value)) {
        return bad(`has a bigint node that holds ${JSON.stringify(value)}`);
      }
      return BigInt(value);
    case "u":
      return undefined;
    default:
      return bad(`has a node of unknown kind ${JSON.stringify(kind)}`);
  }
}

/**
 * A document from another writer, rebuilt from its names as the format
 * names places: `"0"`, `"1"`, ... make an array, other keys a record, and
 * `.` nests (`"0.image"`). `__metadata__` values join at their names, read
 * as JSON where they are JSON and as strings otherwise.
 */
function fromNames(
  tensors: Map<string, NDArray | { data: BigArray; shape: number[] }>,
  metadata: Record<string, string>,
  where: string,
): Batch {
  const root: Tree = new Map();
  const place = (name: string, leaf: Batch, kind: string) => {
    const path = name.split(".");
    if (path.length > MAX_DEPTH) {
      throw new TypeError(
        `Cannot decode ${where} as the ${kind} ${
          excerpt(name)
        } nests ${path.length} levels deep, deeper than the limit of ${MAX_DEPTH}`,
      );
    }
    let tree = root;
    for (const [i, key] of path.entries()) {
      const last = i === path.length - 1;
      const existing = tree.get(key);
      if (last ? existing !== undefined : existing !== undefined && !(existing instanceof Map)) {
        throw new TypeError(
          `Cannot decode ${where} as the names ${JSON.stringify(name)} and ${
            JSON.stringify(path.slice(0, i + 1).join("."))
          } collide`,
        );
      }
      if (last) tree.set(key, leaf);
      else {
        if (existing === undefined) tree.set(key, new Map());
        tree = tree.get(key) as Tree;
      }
    }
  };
  for (const [name, tensor] of tensors) place(name, tensor as Batch, "tensor name");
  for (const [name, text] of Object.entries(metadata)) {
    place(name, parseValue(text), "__metadata__ key");
  }
  return fromTree(root);
}

type Tree = Map<string, Batch | Tree>;

function fromTree(tree: Tree): Batch {
  const keys = [...tree.keys()];
  const isArray = keys.length > 0 && keys.every((key, i) => key === String(i));
  if (isArray) return keys.map((key) => child(tree.get(key)!));
  const record: Record<string, Batch> = {};
  for (const [key, value] of tree) define(record, key, child(value));
  return record;
}

function child(value: Batch | Tree): Batch {
  return value instanceof Map ? fromTree(value) : value;
}

function parseValue(text: string): Batch {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Sets an own property, even one named like `__proto__` or `toString`. */
function define(record: Record<string, Batch>, key: string, value: Batch): void {
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** A run of bytes, and whether it lies in one received chunk. */
interface Slice {
  bytes: Uint8Array;
}

/**
 * Received chunks, consumed from the front without copying when possible.
 * Consumed chunks are dropped by moving an index, not by shifting the
 * array, so that many tiny chunks cost linear time.
 */
class Bytes {
  #chunks: Uint8Array[] = [];
  /** The first chunk not yet fully consumed. */
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The 8-byte little-endian header length at the front. */
  peekLength(): bigint {
    const first = this.#chunks[this.#head]!;
    const head = first.length >= 8 ? first : this.#copy(8, false);
    return new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  }

  /** Removes `n` bytes from the front: a view if they lie in one chunk. */
  take(n: number): Slice {
    if (n === 0) return { bytes: new Uint8Array(0) };
    const first = this.#chunks[this.#head]!;
    if (first.length >= n) {
      this.#consume(first, n);
      this.#length -= n;
      return { bytes: first.subarray(0, n) };
    }
    return { bytes: this.#copy(n, true) };
  }

  #consume(first: Uint8Array, n: number): void {
    if (first.length === n) this.#chunks[this.#head++] = EMPTY;
    else this.#chunks[this.#head] = first.subarray(n);
  }

  /** Copies `n` bytes from the front into a new buffer, removing them if asked. */
  #copy(n: number, remove: boolean): Uint8Array {
    const bytes = new Uint8Array(n);
    let filled = 0;
    for (let index = this.#head; filled < n; index++) {
      const chunk = this.#chunks[index]!;
      const part = chunk.subarray(0, Math.min(chunk.length, n - filled));
      bytes.set(part, filled);
      filled += part.length;
      if (remove) {
        if (part.length === chunk.length) this.#chunks[this.#head++] = EMPTY;
        else this.#chunks[this.#head] = chunk.subarray(part.length);
      }
    }
    if (remove) this.#length -= n;
    return bytes;
  }
}

const EMPTY = new Uint8Array(0);
