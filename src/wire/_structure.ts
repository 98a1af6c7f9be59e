// Batches rebuilt from a document's tensors and `__metadata__`: from the
// structure encodeBatches recorded, from the names of a document written
// elsewhere, or the writer's error from a document that ends the stream.
// Wire code imports only src/wire/, ../array_types.ts, ../_arrays.ts,
// ../_describe.ts and ../batch_error.ts, and no Deno API: it runs in browsers.

import { BatchError } from "../batch_error.ts";
import { ERROR_KEY, excerpt, MAX_DEPTH, STRUCTURE_KEY } from "./_format.ts";
import type { Tensors } from "./_framing.ts";
import type { Batch } from "./types.ts";

/**
 * The batch of a document: rebuilt from its structure when it records one,
 * else from its names.
 *
 * @throws {BatchError} The document carries the writer's error for a batch.
 * @throws {Error} The document carries another error of the writer.
 * @throws {TypeError} The structure is not JSON, is malformed, or leaves out
 * tensors; names collide or nest too deep.
 */
export function rebuildBatch(
  tensors: Tensors,
  metadata: Record<string, string>,
  document: number,
): Batch {
  const where = `batch ${document}`;
  const failure = metadata[ERROR_KEY];
  if (failure !== undefined) throw remoteError(failure, where);
  const structure = metadata[STRUCTURE_KEY];
  if (structure === undefined) return fromNames(tensors, metadata, where);
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
  tensors: Tensors,
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
function fromNames(tensors: Tensors, metadata: Record<string, string>, where: string): Batch {
  const root: Tree = new Map();
  for (const [name, tensor] of tensors) place(root, name, tensor as Batch, "tensor name", where);
  for (const [name, text] of Object.entries(metadata)) {
    place(root, name, parseValue(text), "__metadata__ key", where);
  }
  return fromTree(root);
}

type Tree = Map<string, Batch | Tree>;

/** Puts `leaf` into `root` at the place `name` names (`kind` says what `name` is). */
function place(root: Tree, name: string, leaf: Batch, kind: string, where: string): void {
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
}

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
