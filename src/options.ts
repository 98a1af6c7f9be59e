/**
 * Options of {@linkcode PyDataset} and of one epoch, and their validation.
 *
 * @module
 */

/**
 * The Deno permissions that a dataset's workers run with: `"none"`,
 * `"inherit"` (everything the main process has), or one entry per permission
 * as in Deno's `Worker` option `deno.permissions` (e.g.
 * `{ read: ["./data"], net: ["example.com"] }`).
 *
 * Paths resolve against the current working directory, as on the command
 * line. A worker can never get more than the main process has.
 */
export type WorkerPermissions = "none" | "inherit" | Deno.PermissionOptionsObject;

/** Options for constructing a {@linkcode PyDataset}. */
export interface PyDatasetOptions {
  /**
   * How many batches are fetched at once: concurrent `getItem` calls on the
   * main thread, or the number of Web Workers when `useMultiprocessing` is
   * set. A positive integer.
   *
   * @default {1}
   */
  workers?: number;
  /**
   * Run `getItem` in module Web Workers (one per `workers`) that hold only
   * the `permissions` below. Pick it for CPU-bound batches; it needs
   * `module`.
   *
   * @default {false}
   */
  useMultiprocessing?: boolean;
  /**
   * The `highWaterMark` of each epoch's stream: how many fetched batches may
   * wait for the reader. At most `maxQueueSize + workers` batches are ever
   * fetched ahead of the reader. A positive integer.
   *
   * @default {10}
   */
  maxQueueSize?: number;
  /**
   * The Deno permissions of the workers. Anything other than `"inherit"`
   * needs Deno's `--unstable-worker-options` (or `"unstable":
   * ["worker-options"]` in deno.json).
   *
   * @default {"none"}
   */
  permissions?: WorkerPermissions;
  /**
   * URL of the module that exports the dataset class under its own name,
   * usually `import.meta.url` of that module. Workers import it to rebuild
   * the dataset; required with `useMultiprocessing`.
   */
  module?: string | URL;
  /**
   * Milliseconds one batch may take before it fails with a `TimeoutError`.
   * A worker that overruns it is terminated and replaced. A positive number;
   * unset means no limit.
   */
  timeout?: number;
}

/** Options for one epoch, given to {@linkcode PyDataset.prototype.epoch}. */
export interface EpochOptions {
  /**
   * Permute the batch order of this epoch with a seeded generator. Infinite
   * datasets are never shuffled.
   *
   * @default {false}
   */
  shuffle?: boolean;
  /**
   * Seed of the shuffle. The same seed gives the same order for the same
   * epoch number of a dataset, in every run and every mode; consecutive
   * epochs still get different orders. An integer; unset means a random seed
   * drawn once per dataset.
   */
  seed?: number;
  /** Aborting it stops fetching and errors the stream with its reason. */
  signal?: AbortSignal;
}
