// A batch taken apart: the arrays the wire carries (plain or as NDArrays),
// each with its path, and the batch's structure as text.

import { isWireArray, isWireNDArray, type WireArray } from "../_arrays.ts";

/** One array of a batch, with its full shape (batch dimension first). */
export interface Part {
  /** Where it is in the batch: `0`, `xs.image`, ... (`batch` for the whole batch). */
  path: string;
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

/** The size of a batch: the first dimension of its first array. */
export function batchSizeOf(parts: Part[]): number | undefined {
  return parts[0]?.shape[0];
}

/**
 * The structure of `value`, found at `path` in a batch, as text (e.g.
 * `[NDArray, Int32Array]`), collecting its arrays into `parts`.
 */
function structureOf(value: unknown, path: string[], parts: Part[]): string {
  const name = path.length === 0 ? "batch" : path.join(".");
  if (isWireArray(value)) {
    parts.push({ path: name, data: value, shape: [value.length] });
    return value.constructor.name;
  }
  if (isWireNDArray(value)) {
    parts.push({ path: name, data: value.data, shape: value.shape });
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
