// The key of the PyDataset method that `toTfDataset` holds a dataset's
// workers with while its passes are in progress. `Symbol.for`, so that it is
// the same key in every copy of this package a program loads.

/** The key of `PyDataset`'s method that keeps its workers until released. */
export const HOLD_WORKERS: unique symbol = Symbol.for("@pydataset/pydataset.holdWorkers");
