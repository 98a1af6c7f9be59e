// The dataset instances of a host, made on demand by its `make`: one that
// serves every /batch request, and a pool of others, one per open /epoch,
// which go back idle when their epoch ends and are reused, so that their
// workers persist.

import { show } from "../_describe.ts";
import { PyDataset } from "../py_dataset.ts";
import type { Batch } from "../wire/types.ts";

/** The instances of one host. */
export class DatasetPool {
  #make: () => PyDataset<Batch>;
  #made: PyDataset<Batch>[] = [];
  #idle: PyDataset<Batch>[] = [];
  #single: PyDataset<Batch> | undefined;
  #closing: Promise<void> | undefined;

  constructor(make: () => PyDataset<Batch>) {
    this.#make = make;
  }

  /** How many instances were made. */
  get size(): number {
    return this.#made.length;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Any instance, to read the dataset's name and length: one made already, else the /batch one. */
  any(): PyDataset<Batch> {
    return this.#made[0] ?? this.single();
  }

  /** The instance of /batch, made on first use. */
  single(): PyDataset<Batch> {
    return this.#single ??= this.#new();
  }

  /** An idle instance for an epoch, or a new one. */
  take(): PyDataset<Batch> {
    return this.#idle.pop() ?? this.#new();
  }

  /** Hands back an instance whose epoch has ended; once closed, it stays closed. */
  give(dataset: PyDataset<Batch>): void {
    if (!this.closed) this.#idle.push(dataset);
  }

  /** Closes every instance made, with their workers. */
  close(): Promise<void> {
    this.#idle = [];
    return this.#closing ??= Promise.all(this.#made.map((dataset) => dataset.close())).then(
      () => {},
    );
  }

  #new(): PyDataset<Batch> {
    if (this.closed) throw new Error("Cannot make a dataset as the host was closed");
    const dataset: unknown = this.#make();
    if (!(dataset instanceof PyDataset)) {
      throw new TypeError(
        `Cannot serve the dataset as make must return a PyDataset: current value is ${
          show(dataset)
        }`,
      );
    }
    // One instance shared by two epochs, or by an epoch and /batch, fails each of them.
    if (this.#made.includes(dataset)) {
      throw new TypeError(
        `Cannot serve the dataset as make must build a new instance on each call: it returned the same ${dataset.constructor.name} again`,
      );
    }
    this.#made.push(dataset);
    return dataset;
  }
}
