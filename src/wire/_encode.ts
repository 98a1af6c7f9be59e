// Writing one batch as a safetensors document, shared by encodeBatches and
// batchResponse: its tensors, and its structure and plain values in
// `__metadata__`.
// Wire code imports only src/wire/, ../array_types.ts, ../_arrays.ts,
// ../_describe.ts and ../batch_error.ts, and no Deno API: it runs in browsers.

import { isWireArray, isWireNDArray, shapeProblem, type WireArray } from "../_arrays.ts";
import { dtypeOf } from "./_dtypes.ts";
import {
  ERROR_KEY,
  excerpt,
  LITTLE_ENDIAN,
  MAX_DEPTH,
  type Node,
  STRUCTURE_KEY,
  swapBytes,
} from "./_format.ts";
import { headerBytes } from "./_framing.ts";
import type { Batch } from "./types.ts";

interface Tensor {
  name: string;
  data: WireArray;
  shape: number[];
}

/** One batch as chunks: the length and header, then each tensor's bytes. */
export function encodeBatch(batch: Batch): Uint8Array[] {
  const tensors: Tensor[] = [];
  const metadata: Record<string, string> = {};
  const names = new Set<string>();
  const structure = structureOf(batch, [], { tensors, metadata, names });
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
  return [headerBytes(header), ...tensors.map(({ data }) => bytesOf(data))];
}

/**
 * A document that carries an error instead of a batch: how a server tells
 * its client why the stream ends, which HTTP cannot say mid-body.
 */
export function encodeError(error: unknown): Uint8Array {
  const cause = error instanceof Error ? error.cause : undefined;
  const report = {
    name: error instanceof Error ? error.name : "Error",
    message: error instanceof Error ? error.message : String(error),
    index: (error as { index?: unknown })?.index,
    cause: cause instanceof Error ? { name: cause.name, message: cause.message } : undefined,
  };
  return headerBytes({ __metadata__: { [ERROR_KEY]: JSON.stringify(report) } });
}

/** A tensor's bytes, little-endian: a view of its data where the machine is. */
function bytesOf(data: WireArray): Uint8Array {
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

/**
 * The structure node of `value`, at `path` in the batch, collecting its
 * tensors and plain values (with their names) on the way.
 */
function structureOf(value: Batch, path: string[], collect: Collect): Node {
  const name = path.length === 0 ? "batch" : path.join(".");
  // The decoder's limit, checked here so that a batch that holds itself fails clearly too.
  if (path.length > MAX_DEPTH) {
    throw new TypeError(
      `Cannot encode ${
        excerpt(name)
      } as it nests ${path.length} levels deep, deeper than the limit of ${MAX_DEPTH}`,
    );
  }
  if (isWireArray(value)) {
    claim(name, collect);
    collect.tensors.push({ name, data: value, shape: [value.length] });
    return ["t", name, flags(value, true)];
  }
  if (isWireNDArray(value)) {
    const problem = shapeProblem(value.data.length, value.shape);
    if (problem) throw new TypeError(`Cannot encode ${name} as its ${problem}`);
    claim(name, collect);
    collect.tensors.push({ name, data: value.data, shape: [...value.shape] });
    return ["t", name, flags(value.data, false)];
  }
  if (Array.isArray(value)) {
    return ["a", value.map((item, i) => structureOf(item, [...path, String(i)], collect))];
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
      record[key] = structureOf(item, [...path, key], collect);
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
  // JSON text; NaN, ±Infinity, bigints and undefined, which JSON lacks, as plain text.
  collect.metadata[name] = node[0] === "v" ? JSON.stringify(node[1]) : String(node[1]);
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

function flags(array: WireArray, flat: boolean): { flat?: true; clamped?: true } {
  const result: { flat?: true; clamped?: true } = {};
  if (flat) result.flat = true;
  if (array instanceof Uint8ClampedArray) result.clamped = true;
  return result;
}
