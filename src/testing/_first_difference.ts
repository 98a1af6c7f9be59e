// Where two batches first differ: the determinism and worker checks compare
// a batch fetched twice, value by value.

import { show } from "../_describe.ts";
import { isWireNDArray, shapeProblem } from "../_arrays.ts";
import { aDtype, partName, partsOf } from "./_batch_parts.ts";

/**
 * Where two batches first differ, naming the place as {@linkcode partName}
 * does (`part 0 at [1,0] is 3, then 4`), or undefined when they are equal.
 * `keys` is where `a` and `b` are in their batches.
 */
export function firstDifference(
  a: unknown,
  b: unknown,
  keys: readonly string[] = [],
): string | undefined {
  if (Object.is(a, b)) return undefined;
  const name = partName(keys);
  if (isWireNDArray(a) && isWireNDArray(b)) {
    const [before, after] = [JSON.stringify(a.shape), JSON.stringify(b.shape)];
    if (before !== after) return `${name} has shape ${before}, then ${after}`;
    return arrayDifference(a.data, b.data, a.shape, name);
  }
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    return arrayDifference(a, b, undefined, name);
  }
  if (!isContainer(a) || !isContainer(b)) return `${name} is ${describe(a)}, then ${describe(b)}`;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const difference = firstDifference(a[key], b[key], [...keys, key]);
    if (difference) return difference;
  }
  return undefined;
}

/** An array or record that holds parts: an object, but not a typed array or an NDArray. */
function isContainer(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !ArrayBuffer.isView(value) &&
    !isWireNDArray(value);
}

/**
 * Where two typed arrays, the part `name`, first differ: their dtypes, their
 * lengths, or a value, at its index in `shape` when the values fill it.
 */
function arrayDifference(
  a: ArrayBufferView,
  b: ArrayBufferView,
  shape: readonly number[] | undefined,
  name: string,
): string | undefined {
  if (a.constructor !== b.constructor) {
    return `${name} is ${aDtype(a.constructor.name)}, then ${aDtype(b.constructor.name)}`;
  }
  const x = a as unknown as ArrayLike<unknown>;
  const y = b as unknown as ArrayLike<unknown>;
  if (x.length !== y.length) return `${name} has ${x.length} values, then ${y.length}`;
  const dims = shape && shapeProblem(x.length, shape) === undefined ? shape : [x.length];
  for (let i = 0; i < x.length; i++) {
    if (!Object.is(x[i], y[i])) {
      const at = dims.length === 0 ? "" : ` at ${JSON.stringify(indexIn(dims, i))}`;
      return `${name}${at} is ${show(x[i])}, then ${show(y[i])}`;
    }
  }
  return undefined;
}

/** The index in an array of shape `dims` of its `flat`th value, in row-major order. */
function indexIn(dims: readonly number[], flat: number): number[] {
  const index = new Array<number>(dims.length);
  for (let d = dims.length - 1; d >= 0; d--) {
    index[d] = flat % dims[d]!;
    flat = Math.floor(flat / dims[d]!);
  }
  return index;
}

/** A value in a message: plain values as written, others by their structure. */
function describe(value: unknown): string {
  return typeof value === "object" && value !== null ? partsOf(value).structure : show(value);
}
