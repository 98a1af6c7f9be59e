/**
 * The error that ends an epoch when one batch cannot be fetched.
 *
 * @module
 */

/**
 * A batch failed: its `getItem` threw, returned nothing, timed out, or its
 * worker died twice. It names the batch `index`; the original error is its
 * `cause`: on the main thread, whatever `getItem` threw, as it was thrown;
 * in worker mode, an `Error` rebuilt with the worker's name, message and
 * stack. Its message describes the cause even when the cause resists it (a
 * Proxy, a throwing getter or `toString`) and then says so.
 *
 * An epoch's stream errors with the failure of the earliest batch in the
 * epoch's order, after every earlier batch was delivered.
 *
 * @example Catch the failing batch
 * ```ts
 * import { BatchError, PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Flaky extends PyDataset<number> {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(index: number): number {
 *     if (index === 2) throw new Error("disk on fire");
 *     return index;
 *   }
 * }
 *
 * const seen: number[] = [];
 * await assert.rejects(async () => {
 *   for await (const batch of new Flaky().epoch()) seen.push(batch);
 * }, (error) => {
 *   assert(error instanceof BatchError);
 *   assert.equal(error.index, 2);
 *   assert.equal((error.cause as Error).message, "disk on fire");
 *   return true;
 * });
 * assert.deepEqual(seen, [0, 1]);
 * ```
 */
export class BatchError extends Error {
  /** The index of the batch that failed, as given to `getItem`. */
  readonly index: number;
  /** How many attempts were made at the batch, all failed: 1 without retries. */
  readonly attempts: number;

  /**
   * Constructs a new instance.
   *
   * @param index The index of the batch that failed.
   * @param message What went wrong.
   * @param options `cause`: the last attempt's error; `attempts`: how
   * many attempts failed (1 by default).
   */
  constructor(index: number, message: string, options?: ErrorOptions & { attempts?: number }) {
    super(message, options);
    this.name = "BatchError";
    this.index = index;
    this.attempts = options?.attempts ?? 1;
  }
}
