/**
 * {@linkcode EpochCursor}: where a reader stopped in an epoch, to resume
 * there after a restart.
 *
 * @module
 */

import type { ConsumedLayer, Shard } from "./options.ts";

/**
 * Where the reader of an epoch stopped, from
 * {@linkcode PyDataset.prototype.cursor}: small, plain and serialisable
 * (`JSON.stringify` it with a checkpoint). It is a valid
 * {@linkcode EpochOptions}: `dataset.epoch(cursor)` reads the same order
 * from where the reader stopped, in any process, as long as the dataset's
 * `length` is the same.
 *
 * Every cursor records the version of its order in `orderVersion`, so that
 * a build whose shuffle differs can never resume it in another order.
 * Version 2, the current one, computes a shuffled epoch's order lazily, a
 * keyed bijection evaluated per position, as TensorFlow's `index_shuffle`
 * does: any `length` up to `Number.MAX_SAFE_INTEGER`, in constant memory.
 * Version 1 is the Fisher–Yates order of builds before it (fewer than 2³²
 * batches), whose cursors have no `orderVersion`: give them
 * `orderVersion: 1` to resume them exactly. A build refuses a version it
 * does not read, and a shuffled resume without a version, with an error
 * that names the versions; unshuffled orders are the same in every
 * version.
 *
 * @example Resume an epoch in a new process
 * ```ts
 * import { type EpochCursor, PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Indices extends PyDataset<number> {
 *   get length(): number {
 *     return 6;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 * }
 *
 * const dataset = new Indices();
 * const first: number[] = [];
 * for await (const index of dataset.epoch({ shuffle: true })) {
 *   first.push(index);
 *   if (first.length === 2) break; // the run stops here
 * }
 * const saved = JSON.stringify(dataset.cursor);
 *
 * const cursor: EpochCursor = JSON.parse(saved); // later, elsewhere
 * assert.equal(cursor.orderVersion, 2);
 * const rest: number[] = [];
 * for await (const index of new Indices().epoch(cursor)) rest.push(index);
 * assert.deepEqual([...first, ...rest].sort(), [0, 1, 2, 3, 4, 5]);
 * ```
 *
 * @example Resume a cursor saved before orderVersion
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Indices extends PyDataset<number> {
 *   get length(): number {
 *     return 10;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 * }
 *
 * // Saved by a build of version 1, which read 3, 5, 7, 9 of epoch 2 first.
 * const old = { epoch: 2, seed: 3, shuffle: true, start: 4 };
 * assert.throws(() => new Indices().epoch(old), /needs its orderVersion, 1 or 2/);
 * const rest: number[] = [];
 * for await (const index of new Indices().epoch({ ...old, orderVersion: 1 })) rest.push(index);
 * assert.deepEqual(rest, [1, 4, 8, 0, 6, 2]); // the rest of version 1's order
 * ```
 */
export interface EpochCursor {
  /** The epoch's number. */
  epoch: number;
  /** The seed its order (and the fetchers' seeds) came from. */
  seed: number;
  /** Whether its order is shuffled. */
  shuffle: boolean;
  /**
   * The version of its order: 2 for an epoch read by this build, 1 for one
   * resumed with `orderVersion: 1`; always set by
   * {@linkcode PyDataset.prototype.cursor}, missing in cursors of earlier
   * builds. See {@linkcode EpochOptions.orderVersion}.
   */
  orderVersion?: number;
  /** The shard read, if any. */
  shard?: Shard;
  /**
   * The first position of the order the reader has not taken: of the
   * shard's order, or with `scope: "epoch"` of the whole epoch.
   */
  start: number;
  /**
   * Positions after `start` already taken: only after an unordered epoch,
   * which may deliver later batches before earlier ones, or one that
   * skipped a batch.
   */
  skip?: number[];
  /**
   * What `start` and `skip` count: unset or `"shard"`, positions of the
   * shard's own order (after sharding; a `consumed` base shards what it
   * leaves); `"epoch"`, positions of the whole epoch, in a cursor from
   * {@linkcode mergeCursors}.
   */
  scope?: "shard" | "epoch";
  /**
   * The positions consumed before this epoch was split into its shards, in
   * layers (see {@linkcode ConsumedLayer}): set by {@linkcode mergeCursors},
   * and kept by the cursors of the shards that read the rest.
   */
  consumed?: ConsumedLayer[];
}
