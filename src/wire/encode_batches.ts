/**
 * {@linkcode encodeBatches}: batches → a stream of safetensors documents.
 *
 * @module
 */

import { isNDArray, isTypedArray, shapeProblem } from "../_ndarray.ts";
import type { NDArray, TypedArray } from "../ndarray.ts";
import { dtypeOf, LITTLE_ENDIAN, type Node, STRUCTURE_KEY, swapBytes } from "./_format.ts";

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
  | Batch[]
  | { [key: string]: Batch };

/**
 * A `TransformStream` that writes each batch as one safetensors document:
 * an 8-byte little-endian header length, the UTF-8 JSON header, then the
 * tensors' bytes. Documents follow each other with nothing between them.
 *
 * Tensors are named by their place in the batch: array positions `"0"`,
 * `"1"`, record keys by name, nested places joined with `.` (`"0.image"`);
 * a batch that is one tensor is named `"batch"`. Other values go into the
 * header's `__metadata__` under their place's name, as JSON text, and the
 * whole structure under `"pydataset.structure"`, so {@linkcode decodeBatches}
 * rebuilds the batch exactly while any safetensors reader can read it.
 *
 * The header is padded with spaces so that the data starts 8-byte aligned,
 * and tensors are laid out widest dtype first, so each starts aligned to
 * its element size within its document. Tensor bytes are written as they
 * are, not copied: do not change a batch's arrays after handing it over.
 *
 * @returns A stream from batches to bytes.
 * @throws {TypeError} (in the stream) A batch that holds a value this format
 * cannot carry (a function, a class instance), an NDArray whose data does
 * not fill its shape, or two places with the same name.
 *
 * @example Encode and decode a batch
 * ```ts
 * import { ndarray } from "@pydataset/pydataset";
 * import { decodeBatches, encodeBatches } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const batch = [ndarray(Float32Array.of(1, 2, 3, 4), [2, 2]), Int32Array.of(0, 1)];
 * const decoded = await Array.fromAsync(
 *   ReadableStream.from([batch]).pipeThrough(encodeBatches()).pipeThrough(decodeBatches()),
 * );
 * assert.deepEqual(decoded, [batch]);
 * ```
 */
export function encodeBatches(): TransformStream<Batch, Uint8Array> {
  return new TransformStream<Batch, Uint8Array>({
    transform(batch, controller) {
      for (const chunk of encodeBatch(batch)) controller.enqueue(chunk);
    },
  });
}

interface Tensor {
  name: string;
  data: TypedArray | BigArray;
  shape: number[];
}

/** One batch as chunks: the length and header, then each tensor's bytes. */
export function encodeBatch(batch: Batch): Uint8Array[] {
  const tensors: Tensor[] = [];
  const metadata: Record<string, string> = {};
  const names = new Set<string>();
  const structure = describe(batch, [], { tensors, metadata, names });
  metadata[STRUCTURE_KEY] = JSON.stringify(structure);

  // Widest elements first: each tensor starts aligned to its element size.
  tensors.sort((a, b) => dtypeOf(b.data).size - dtypeOf(a.data).size);
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const { name, data, shape } of tensors) {
    header[name] = {
      dtype: dtypeOf(data).name,
      shape,
      data_offsets: [offset, offset + data.byteLength],
    };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so that the data starts at a multiple of 8 bytes.
  const padded = json.length + ((8 - ((8 + json.length) % 8)) % 8);
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return [head, ...tensors.map(({ data }) => bytesOf(data))];
}

function bytesOf(data: TypedArray | BigArray): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, dtypeOf(data).size);
  return copy;
}

interface Collect {
  tensors: Tensor[];
  metadata: Record<string, string>;
  names: Set<string>;
}

function describe(value: Batch, path: string[], collect: Collect): Node {
  const name = path.length === 0 ? "batch" : path.join(".");
  if (isTypedArray(value) || value instanceof BigInt64Array || value instanceof BigUint64Array) {
    claim(name, collect);
    collect.tensors.push({ name, data: value, shape: [value.length] });
    return ["t", name, flags(value, true)];
  }
  if (isNDArray(value)) {
    const problem = shapeProblem(value.data.length, value.shape);
    if (problem) throw new TypeError(`Cannot encode ${name} as its ${problem}`);
    claim(name, collect);
    collect.tensors.push({ name, data: value.data, shape: [...value.shape] });
    return ["t", name, flags(value.data, false)];
  }
  if (Array.isArray(value)) {
    return ["a", value.map((item, i) => describe(item, [...path, String(i)], collect))];
  }
  if (typeof value === "object" && value !== null) {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(
        `Cannot encode ${name} as it is a ${
          value.constructor?.name ?? "class instance"
        }: a batch holds NDArrays, typed arrays, arrays, plain objects and plain values`,
      );
    }
    const record: Record<string, Node> = {};
    for (const [key, item] of Object.entries(value)) {
      record[key] = describe(item, [...path, key], collect);
    }
    return ["o", record];
  }
  return plainValue(value, name, collect);
}

function plainValue(value: Batch, name: string, collect: Collect): Node {
  let node: Node;
  if (typeof value === "number" && !Number.isFinite(value)) {
    node = ["n", String(value) as "NaN" | "Infinity" | "-Infinity"];
  } else if (typeof value === "bigint") {
    node = ["b", String(value)];
  } else if (value === undefined) {
    node = ["u"];
  } else if (
    value === null || typeof value === "string" || typeof value === "number" ||
    typeof value === "boolean"
  ) {
    node = ["v", value];
  } else {
    throw new TypeError(
      `Cannot encode ${name} as it is a ${typeof value}: a batch holds NDArrays, typed arrays, arrays, plain objects and plain values`,
    );
  }
  claim(name, collect);
  collect.metadata[name] = node[0] === "v" ? JSON.stringify(node[1]) : String(node[1] ?? "");
  return node;
}

function claim(name: string, { names }: Collect): void {
  if (name === "__metadata__" || name === STRUCTURE_KEY || names.has(name)) {
    throw new TypeError(
      `Cannot encode the batch as two of its places are named ${
        JSON.stringify(name)
      }: keys with "." can collide with nested places`,
    );
  }
  names.add(name);
}

function flags(array: TypedArray | BigArray, flat: boolean): { flat?: true; clamped?: true } {
  const result: { flat?: true; clamped?: true } = {};
  if (flat) result.flat = true;
  if (array instanceof Uint8ClampedArray) result.clamped = true;
  return result;
}
