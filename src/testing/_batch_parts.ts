// A batch taken apart: the arrays the wire carries (plain or as NDArrays),
// each with its path, and the batch's structure as text. Also how the
// checks' messages name a place in a batch, and a dtype.

import { isWireArray, isWireNDArray, type WireArray } from "../_arrays.ts";

/** One array of a batch, with its full shape (batch dimension first). */
export interface Part {
  /** Where it is in the batch: `0`, `xs.image`, ... (`batch` for the whole batch). */
  path: string;
  /** Its name in messages, from {@linkcode partName}: `part 0`, `part xs.image`, `the batch`. */
  name: string;
  /** Its values. */
  data: WireArray;
  /** Its shape: `[length]` for a plain typed array. */
  shape: number[];
}

/** A batch taken apart by {@linkcode partsOf}. */
export interface BatchParts {
  /** Its arrays, in the order {@linkcode BatchParts.structure} names them. */
  parts: Part[];
  /** Its structure as text, e.g. `[NDArray, Int32Array]` or `{ xs: NDArray, ys: Int32Array }`. */
  structure: string;
}

/** The arrays of a batch, and its structure as text. */
export function partsOf(batch: unknown): BatchParts {
  const parts: Part[] = [];
  return { structure: structureOf(batch, [], parts), parts };
}

/**
 * The name in messages of the place at `keys` in a batch (array indices
 * and record keys, outermost first): `part 0`, `part 1`, `part xs.image`;
 * `the batch` for the batch itself. Every check names places this way.
 */
export function partName(keys: readonly string[]): string {
  return keys.length === 0 ? "the batch" : `part ${keys.join(".")}`;
}

/** A dtype with its article, for messages: `a Float32Array`, `an Int32Array`. */
export function aDtype(dtype: string): string {
  return `${/^I/.test(dtype) ? "an" : "a"} ${dtype}`;
}

/** The size of a batch: the first dimension of its first array. */
export function batchSizeOf(parts: Part[]): number | undefined {
  return parts[0]?.shape[0];
}

/**
 * The structure of `value`, found at `path` in a batch, as text (e.g.
 * `[NDArray, Int32Array]`), collecting its arrays into `parts`.
 */
function structureOf(value: unknown, path: string[], parts: Part[]): string {
  const place = { path: path.length === 0 ? "batch" : path.join("."), name: partName(path) };
  if (isWireArray(value)) {
    parts.push({ ...place, data: value, shape: [value.length] });
    return value.constructor.name;
  }
  if (isWireNDArray(value)) {
    parts.push({ ...place, data: value.data, shape: value.shape });
    return "NDArray";
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => structureOf(item, [...path, String(i)], parts)).join(", ")}]`;
  }
  if (typeof value === "object" && value !== null) {
    return `{ ${
      Object.entries(value).map(([key, item]) =>
        `${key}: ${structureOf(item, [...path, key], parts)}`
      ).join(", ")
    } }`;
  }
  return value === null ? "null" : typeof value;
}
