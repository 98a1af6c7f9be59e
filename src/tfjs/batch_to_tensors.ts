/**
 * Turning a batch into the `{ xs, ys }` element that TensorFlow.js's
 * `model.fitDataset` trains on.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { isFloat16Array, isNDArray, isTypedArray, shapeProblem } from "../_arrays.ts";
import { show } from "../_describe.ts";
import type { NDArray, TypedArray } from "../array_types.ts";

/** One input or output of a model: a tensor, or a value that becomes one. */
export type TensorSource = tf.Tensor | NDArray | TypedArray;

/**
 * The inputs (or outputs) of a model: one, an array in the model's input
 * order, or a record keyed by the model's input names.
 */
export type BatchPart<T = TensorSource> = T | T[] | Record<string, T>;

/** What `model.fitDataset` trains on: inputs `xs` and targets `ys`. */
export interface TfElement {
  /** The model's inputs. */
  xs: BatchPart<tf.Tensor>;
  /** The model's targets. */
  ys: BatchPart<tf.Tensor>;
  /** Lets it stand in a `tf.data.Dataset` (a `TensorContainer`). */
  [key: string]: BatchPart<tf.Tensor>;
}

/** Options for {@linkcode batchToTensors}. */
export interface BatchToTensorsOptions {
  /**
   * The dtype of tensors made from `Uint8Array` and `Uint8ClampedArray`
   * data, such as image bytes.
   *
   * @default {"int32"}
   */
  uint8?: "int32" | "float32";
  /**
   * The dtype of tensors made from integer typed arrays in `ys`: the
   * default `"float32"` is what TensorFlow.js's losses and metrics take
   * (its sparse categorical losses fail on int32 labels), so `Int32Array`
   * class labels just work; `"keep"` converts `ys` as `xs`. Integers beyond
   * ±2²⁴, which float32 cannot hold exactly, are a `RangeError`.
   *
   * @default {"float32"}
   */
  labels?: "float32" | "keep";
}

/**
 * Converts a batch into fresh tensors `{ xs, ys }`.
 *
 * The batch is `[x, y]` or `{ xs, ys }`, where `x` and `y` are each an
 * {@linkcode NDArray}, a typed array (a 1-D array of its length), a tensor
 * (used as it is), or an array or a record of those for models with several
 * inputs or outputs. Dtypes: `Float32Array` → float32, `Float64Array` and
 * `Float16Array` → float32 (tfjs has neither), `Int32Array`, `Int16Array`, `Int8Array`,
 * `Uint16Array` → int32, `Uint8Array` and `Uint8ClampedArray` → int32 (or
 * float32 with `uint8: "float32"`), `Uint32Array` → int32 when every value
 * fits, else a `RangeError`. In `ys`, every integer array → float32 (unless
 * `labels: "keep"`), as TensorFlow.js's losses take float32 labels.
 *
 * Everything is checked before any tensor is made, so a bad batch leaks
 * nothing.
 *
 * @param batch What `getItem` returned.
 * @param options Dtype choices.
 * @returns Fresh tensors, which `fitDataset` disposes after its step.
 * @throws {TypeError} A batch in another layout, a part that is not an array
 * of values, data that does not fill its shape, or parts that disagree on
 * the batch size; the message names the part.
 * @throws {RangeError} A `Uint32Array` value above int32's range, or an
 * integer label beyond float32's exact range (±2²⁴).
 *
 * @example Convert an `[x, y]` batch
 * ```ts
 * import { ndarray } from "@pydataset/pydataset";
 * import { batchToTensors } from "@pydataset/pydataset/tfjs";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 *
 * const { xs, ys } = batchToTensors([
 *   ndarray(new Float32Array(6), [2, 3]),
 *   Int32Array.of(0, 1),
 * ]);
 * assert.deepEqual((xs as tf.Tensor).shape, [2, 3]);
 * assert.equal((ys as tf.Tensor).dtype, "float32"); // labels, as tfjs's losses take them
 * tf.dispose([xs as tf.Tensor, ys as tf.Tensor]);
 * ```
 */
export function batchToTensors(batch: unknown, options: BatchToTensorsOptions = {}): TfElement {
  const made: tf.Tensor[] = [];
  try {
    const { xs, ys } = layout(batch);
    const leaves: Leaf[] = [];
    const plan = { xs: planPart(xs, "xs", leaves), ys: planPart(ys, "ys", leaves) };
    checkBatchSizes(leaves);
    const build = (part: PartPlan, labels: boolean): BatchPart<tf.Tensor> => {
      const make = (leaf: Leaf) => makeTensor(leaf, options, labels, made);
      if (part.kind === "leaf") return make(part.leaf);
      if (part.kind === "array") return part.items.map(make);
      return Object.fromEntries(Object.entries(part.items).map(([key, leaf]) => [key, make(leaf)]));
    };
    return { xs: build(plan.xs, false), ys: build(plan.ys, true) };
  } catch (error) {
    // Tensors in a rejected batch were made for it, and nobody else will
    // dispose them: neither ours nor those handed in.
    tf.dispose([...made, ...tensorsIn(batch)]);
    throw error;
  }
}

/** The tensors anywhere in a batch's parts (two levels down, as layouts go). */
function tensorsIn(batch: unknown): tf.Tensor[] {
  const found: tf.Tensor[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (value instanceof tf.Tensor) found.push(value);
    else if (depth < 3 && typeof value === "object" && value !== null && !isTypedArray(value)) {
      for (const item of Object.values(value)) visit(item, depth + 1);
    }
  };
  visit(batch, 0);
  return found;
}

interface Leaf {
  /** Where it is in the batch, e.g. `xs`, `xs[1]`, `ys.label`. */
  name: string;
  value: tf.Tensor | NDArray;
}

type PartPlan =
  | { kind: "leaf"; leaf: Leaf }
  | { kind: "array"; items: Leaf[] }
  | { kind: "record"; items: Record<string, Leaf> };

function layout(batch: unknown): { xs: unknown; ys: unknown } {
  if (Array.isArray(batch) && batch.length === 2) return { xs: batch[0], ys: batch[1] };
  if (
    typeof batch === "object" && batch !== null && !Array.isArray(batch) && "xs" in batch &&
    "ys" in batch
  ) {
    return { xs: batch.xs, ys: batch.ys };
  }
  throw new TypeError(
    `Cannot convert the batch to tensors as it is neither [x, y] nor { xs, ys }: current value is ${
      outline(batch)
    } (map other layouts with the toTensors option)`,
  );
}

function planPart(part: unknown, name: string, leaves: Leaf[]): PartPlan {
  const leaf = asLeaf(part, name);
  if (leaf) {
    leaves.push(leaf);
    return { kind: "leaf", leaf };
  }
  if (Array.isArray(part)) {
    const items = part.map((item, i) => requireLeaf(item, `${name}[${i}]`));
    leaves.push(...items);
    return { kind: "array", items };
  }
  if (typeof part === "object" && part !== null) {
    const items: Record<string, Leaf> = {};
    for (const [key, item] of Object.entries(part)) {
      items[key] = requireLeaf(item, `${name}.${key}`);
      leaves.push(items[key]);
    }
    return { kind: "record", items };
  }
  return { kind: "leaf", leaf: requireLeaf(part, name) };
}

function requireLeaf(value: unknown, name: string): Leaf {
  const leaf = asLeaf(value, name);
  if (!leaf) {
    throw new TypeError(
      `Cannot convert ${name} to a tensor as it is not an NDArray, a typed array or a tensor: current value is ${
        outline(value)
      }`,
    );
  }
  return leaf;
}

function asLeaf(value: unknown, name: string): Leaf | undefined {
  if (value instanceof tf.Tensor) return { name, value };
  if (isTypedArray(value)) return { name, value: { data: value, shape: [value.length] } };
  if (isNDArray(value)) {
    const problem = shapeProblem(value.data.length, value.shape);
    if (problem) throw new TypeError(`Cannot convert ${name} to a tensor as its ${problem}`);
    return { name, value };
  }
  return undefined;
}

function checkBatchSizes(leaves: Leaf[]): void {
  const sizes = leaves.map(({ name, value }) => {
    if (value.shape.length === 0) {
      throw new TypeError(
        `Cannot convert ${name} to a tensor of a batch as it has no batch dimension: its shape is []`,
      );
    }
    return `${name} has ${value.shape[0]}`;
  });
  const first = leaves[0]?.value.shape[0];
  if (leaves.some(({ value }) => value.shape[0] !== first)) {
    throw new TypeError(
      `Cannot convert the batch to tensors as its parts disagree on the batch size: ${
        sizes.join(", ")
      }`,
    );
  }
}

function makeTensor(
  leaf: Leaf,
  options: BatchToTensorsOptions,
  labels: boolean,
  made: tf.Tensor[],
): tf.Tensor {
  if (leaf.value instanceof tf.Tensor) return leaf.value;
  const { data, shape } = leaf.value;
  const [typed, dtype] = labels && options.labels !== "keep" && isIntegerArray(data)
    ? [floatLabels(data, leaf.name), "float32" as const]
    : values(data, leaf.name, options);
  const tensor = tf.tensor(typed, shape, dtype);
  made.push(tensor);
  return tensor;
}

/** Whether `data` holds integers: what a label array of class indices is. */
function isIntegerArray(data: TypedArray): boolean {
  return !(data instanceof Float32Array || data instanceof Float64Array || isFloat16Array(data));
}

/** Integer labels as float32, which holds every integer up to ±2²⁴ exactly. */
function floatLabels(data: TypedArray, name: string): Float32Array {
  const index = data.findIndex((value) => Math.abs(Number(value)) > 2 ** 24);
  if (index !== -1) {
    throw new RangeError(
      `Cannot convert ${name} to float32 labels as its value ${
        data[index]
      } at ${index} is beyond ±16777216, which float32 cannot hold exactly (labels: "keep" converts ys as xs)`,
    );
  }
  return Float32Array.from(data as ArrayLike<number>);
}

function values(
  data: TypedArray,
  name: string,
  options: BatchToTensorsOptions,
): [Float32Array | Int32Array, "float32" | "int32"] {
  if (data instanceof Float32Array) return [data, "float32"];
  if (data instanceof Int32Array) return [data, "int32"];
  if (data instanceof Float64Array || isFloat16Array(data)) {
    return [Float32Array.from(data), "float32"];
  }
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) {
    return options.uint8 === "float32"
      ? [Float32Array.from(data), "float32"]
      : [Int32Array.from(data), "int32"];
  }
  if (data instanceof Uint32Array) {
    const index = data.findIndex((value) => value > 0x7fff_ffff);
    if (index !== -1) {
      throw new RangeError(
        `Cannot convert ${name} to an int32 tensor as its value ${
          data[index]
        } at ${index} is above 2147483647`,
      );
    }
  }
  return [Int32Array.from(data), "int32"];
}

/**
 * What kind of value a batch or a part is, for a message: an array's
 * length, a typed array's name or an object's keys, not its contents
 * (which `show` would print in full); `show(value)` for anything else.
 */
function outline(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (isTypedArray(value)) return value.constructor.name;
  if (typeof value === "object" && value !== null) {
    return `an object with keys ${JSON.stringify(Object.keys(value))}`;
  }
  return show(value);
}
