// Rebuilds a dataset in a worker: like Keras's unpickling, the instance gets
// the class's prototype and a copy of the main thread's own enumerable
// fields, and the subclass constructor never runs (only the base class's,
// to set up its private state from the same options).

import { PyDataset } from "../../py_dataset.ts";

/** Whether `value` is a class that extends this copy of PyDataset. */
export function isDatasetClass(value: unknown): value is typeof PyDataset {
  return typeof value === "function" && value.prototype instanceof PyDataset;
}

/** A `constructor` instance holding `state`, built without its constructor. */
export function reviveDataset(
  constructor: typeof PyDataset,
  settings: Record<string, unknown>,
  state: Record<string, unknown>,
): PyDataset {
  const instance = Reflect.construct(PyDataset, [settings], constructor) as PyDataset;
  return Object.assign(instance, state);
}
