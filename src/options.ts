/**
 * Options of {@linkcode PyDataset} and of one epoch.
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
 * line. A worker can never get more than the main process has. Anything but
 * `"inherit"` needs Deno's unstable `worker-options` feature
 * (`"unstable": ["worker-options"]` in deno.json).
 *
 * @example Let workers read one folder and nothing else
 * ```ts
 * import type { WorkerPermissions } from "@pydataset/pydataset";
 *
 * const permissions: WorkerPermissions = { read: ["./data"] };
 * ```
 */
export type WorkerPermissions = "none" | "inherit" | Deno.PermissionOptionsObject;

/**
 * Options for constructing a {@linkcode PyDataset}: Keras's `workers`,
 * `use_multiprocessing` and `max_queue_size`, plus the workers' permissions,
 * the module they import the class from, a per-batch timeout, and how long
 * idle workers are kept.
 *
 * @example Pass options through a subclass
 * ```ts
 * import { PyDataset, type PyDatasetOptions } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Ones extends PyDataset<Float32Array> {
 *   constructor(options: PyDatasetOptions = {}) {
 *     super({ maxQueueSize: 4, ...options, module: import.meta.url });
 *   }
 *   get length(): number {
 *     return 8;
 *   }
 *   getItem(): Float32Array {
 *     return new Float32Array(16).fill(1);
 *   }
 * }
 *
 * const ones = new Ones({ workers: 2, timeout: 5_000 });
 * assert.equal(ones.workers, 2);
 * assert.equal(ones.maxQueueSize, 4);
 * ```
 */
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
   *
   * @default {undefined}
   */
  module?: string | URL;
  /**
   * Deliver batches in epoch order. With `false`, each batch is delivered
   * as soon as it is fetched, so one slow batch does not hold back the
   * rest, and batches go to whichever fetcher is free; every batch still
   * comes exactly once per epoch.
   *
   * @default {true}
   */
  ordered?: boolean;
  /**
   * Milliseconds one batch may take before it fails with a `TimeoutError`;
   * it also bounds the workers' start-up. A worker that overruns it is
   * terminated and replaced; a main-thread `getItem` that overruns it is
   * left to finish, and its result ignored. A positive number; unset means
   * no limit.
   *
   * @default {undefined}
   */
  timeout?: number;
  /**
   * Milliseconds the workers wait, once no epoch is open and no
   * `toTfDataset` pass is in progress, before they are ended, so that a
   * script that never calls `close()` still exits; the next epoch starts
   * new ones. Epochs opened back to back, as `fitDataset` opens them, keep
   * the same workers. A non-negative number; `Infinity` (or anything over
   * a timer's limit of about 24.8 days) keeps the workers until `close()`.
   *
   * @default {5000}
   */
  idleTimeout?: number;
  /**
   * How many more times a batch is tried when its `getItem` throws,
   * rejects or passes `timeout`, on the same fetcher (`info.attempt` counts
   * the attempts), before its `BatchError`. A worker's death is retried
   * once more on top. Each epoch may override it. A non-negative integer.
   *
   * @default {0}
   */
  retries?: number;
  /**
   * Milliseconds before the first retry of a batch; each further retry
   * waits twice as long as the one before, at most 10 s. Meanwhile the
   * other batches are fetched; an ordered epoch delivers the batch in its
   * place once it comes. Each epoch may override it. A non-negative number.
   *
   * @default {100}
   */
  retryDelay?: number;
  /**
   * What a batch that still fails after its retries does: `"raise"` fails
   * the epoch with its `BatchError`; `"skip"` leaves it out, records it in
   * `stats.skipped`, says so with one `console.warn` line, and counts it as
   * read for the cursor (a resume does not try it again), up to
   * `maxSkipped` batches an epoch. Each epoch may override it.
   *
   * @default {"raise"}
   */
  onError?: "raise" | "skip";
  /**
   * With `onError: "skip"`, the most batches one epoch may skip: the batch
   * that would be one more fails the epoch with a `BatchError` that says
   * the budget was exceeded. A non-negative integer; unset means a tenth of
   * the epoch's batches, rounded up, but always fewer than all of them (an
   * epoch in which every batch fails fails; 100 for an infinite epoch).
   * Each epoch may override it.
   *
   * @default {undefined}
   */
  maxSkipped?: number;
}

/**
 * Options for one epoch, given to {@linkcode PyDataset.prototype.epoch}.
 *
 * @example Shuffle with a seed, and stop after ten seconds
 * ```ts
 * import { type EpochOptions, PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Indices extends PyDataset<number> {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 * }
 *
 * const options: EpochOptions = { shuffle: true, seed: 1, signal: AbortSignal.timeout(10_000) };
 * const seen: number[] = [];
 * for await (const index of new Indices().epoch(options)) seen.push(index);
 * assert.deepEqual(seen.toSorted(), [0, 1, 2, 3]);
 * ```
 */
export interface EpochOptions {
  /**
   * Permute the batch order of this epoch with a seeded generator. Infinite
   * datasets are never shuffled.
   *
   * @default {false}
   */
  shuffle?: boolean;
  /**
   * Seed of the shuffle. The same seed and `epoch` number give the same
   * order, in every run, mode and process; consecutive epoch numbers never
   * share an order. An integer; unset means a random seed
   * drawn once per dataset.
   *
   * @default {undefined}
   */
  seed?: number;
  /**
   * The epoch's number, which seeds its shuffle: give it to reproduce an
   * epoch's order elsewhere, such as in another process. A non-negative
   * integer; unset means one more than the last epoch's (0 at first).
   *
   * @default {undefined}
   */
  epoch?: number;
  /**
   * Read only one trainer's slice of the epoch's (shuffled) order: the
   * positions `index`, `index + count`, `index + 2 × count`, ... All `count`
   * shards of one epoch number and seed together cover every batch exactly
   * once, without padding unless `pad` is set. Give `epoch` and `seed` too,
   * so that every trainer's dataset computes the same order.
   *
   * @default {undefined}
   */
  shard?: Shard;
  /**
   * Start at this position of the epoch's order (after sharding): resume
   * an epoch that stopped there. Usually from
   * {@linkcode PyDataset.prototype.cursor}. A non-negative integer, at most
   * the epoch's length.
   *
   * @default {0}
   */
  start?: number;
  /**
   * Positions after `start` to leave out because they were already read:
   * set by a cursor of an unordered epoch, which may have delivered later
   * batches before earlier ones. Ascending integers greater than `start`.
   *
   * @default {[]}
   */
  skip?: number[];
  /**
   * What `start` and `skip` count, as a cursor records it: positions of the
   * (sharded) order, or, `"epoch"`, positions of the whole epoch, as a
   * cursor from {@linkcode mergeCursors} has them. Unset means `"shard"`.
   *
   * @default {undefined}
   */
  scope?: "shard" | "epoch";
  /**
   * The positions already consumed, in layers, from {@linkcode mergeCursors}:
   * the epoch reads only the rest, sharded by `shard`. See
   * {@linkcode ConsumedLayer}.
   *
   * @default {undefined}
   */
  consumed?: ConsumedLayer[];
  /**
   * The version of the shuffled order to read, as a cursor records it in
   * {@linkcode EpochCursor.orderVersion}: 2, this build's order (computed
   * lazily, a keyed bijection per position, for any length), or 1, the
   * Fisher–Yates order of builds before version 2 (fewer than 2³² batches),
   * to resume a cursor they saved exactly. Unset means 2, except that a
   * shuffled resume (`shuffle` with `start` or `skip`) needs it: a cursor
   * without it may be of either version, so it is refused rather than read
   * in another order. Unshuffled orders are the same in every version.
   * An epoch read from its start without it is of version 2, even when
   * an earlier build's cursor points there (its next epoch): that epoch's
   * order is new, so nothing is lost or repeated, but it is not the one
   * the earlier build would have drawn, and across the switch it may
   * equal the order of the epoch before.
   *
   * @default {undefined}
   */
  orderVersion?: number;
  /**
   * This epoch's {@linkcode PyDatasetOptions.retries}.
   *
   * @default {undefined}
   */
  retries?: number;
  /**
   * This epoch's {@linkcode PyDatasetOptions.retryDelay}.
   *
   * @default {undefined}
   */
  retryDelay?: number;
  /**
   * This epoch's {@linkcode PyDatasetOptions.onError}.
   *
   * @default {undefined}
   */
  onError?: "raise" | "skip";
  /**
   * This epoch's {@linkcode PyDatasetOptions.maxSkipped}.
   *
   * @default {undefined}
   */
  maxSkipped?: number;
  /**
   * Aborting it stops fetching and errors the stream with its reason.
   * Workers busy with this epoch are terminated; running main-thread
   * `getItem` calls are waited for.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * Options for fetching one batch outside an epoch, with
 * {@linkcode PyDataset.prototype.getBatch}: the epoch number and seed that
 * `getItem`'s `info` derives from, as in an unshuffled, unsharded epoch.
 *
 * @example Fetch batch 2 as epoch 3 of seed 7 would give it
 * ```ts
 * import { type BatchOptions, PyDataset, type WorkerInfo } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Seeds extends PyDataset<number> {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(_index: number, info: WorkerInfo): number {
 *     return info.epoch;
 *   }
 * }
 *
 * const options: BatchOptions = { epoch: 3, seed: 7 };
 * assert.equal(await new Seeds().getBatch(2, options), 3);
 * ```
 */
export interface BatchOptions {
  /**
   * The epoch number `getItem` sees in `info.epoch`. A non-negative integer.
   *
   * @default {0}
   */
  epoch?: number;
  /**
   * The seed the fetchers' `info.seed` derives from, as an epoch's `seed`
   * does. An integer; unset means the dataset's random seed.
   *
   * @default {undefined}
   */
  seed?: number;
  /**
   * Aborting it rejects the call with its reason: a queued batch never
   * starts, a worker running it is replaced, a running main-thread call is
   * left to finish, its result ignored.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * Which slice of an epoch's order one trainer reads, for
 * {@linkcode EpochOptions.shard}.
 *
 * @example Read trainer 1's third of each epoch
 * ```ts
 * import { PyDataset, type Shard } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Indices extends PyDataset<number> {
 *   get length(): number {
 *     return 7;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 * }
 *
 * const shard: Shard = { index: 1, count: 3, pad: true };
 * const seen: number[] = [];
 * for await (const index of new Indices().epoch({ shard })) seen.push(index);
 * assert.deepEqual(seen, [1, 4, 0]); // padded with batch 0, as the other shards have 3
 * ```
 */
export interface Shard {
  /** This trainer's shard, from 0 to `count - 1`. */
  index: number;
  /** How many shards split the epoch. */
  count: number;
  /**
   * Give every shard the same number of batches by repeating batches from
   * the start of the order, as PyTorch's `DistributedSampler` does.
   */
  pad?: boolean;
}

/**
 * One layer of what a merged cursor ({@linkcode EpochCursor.scope}
 * `"epoch"`) records as consumed, from {@linkcode mergeCursors}: the `count`
 * shards that read an order, and what each consumed of it. The first layer's
 * order is the whole epoch's; each later layer's is what the layers before
 * it left. Its size grows with `count` and `skip`, never with the epoch's
 * length.
 */
export interface ConsumedLayer {
  /** How many shards read the layer's order (1: it was read unsharded). */
  count: number;
  /**
   * Shard `s`'s consumed prefix: positions `s`, `s + count`, … of the
   * layer's order, `starts[s]` of them. One entry per shard; a padded
   * repeat (past the order's end) consumes nothing.
   */
  starts: number[];
  /**
   * Positions of the layer's order consumed out of order (by an unordered
   * epoch, or skipped by `onError: "skip"`), ascending, none within a
   * prefix. For the first layer, positions of the whole epoch.
   */
  skip?: number[];
}
