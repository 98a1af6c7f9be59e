/**
 * The {@linkcode PyDataset} base class: Keras's `PyDataset` for Deno.
 *
 * @module
 */

import { HOLD_WORKERS } from "./_hold_workers.ts";
import { resolveOptions } from "./_validate.ts";
import { Epochs } from "./epoch/_epochs.ts";
import type { EpochCursor } from "./epoch_cursor.ts";
import type { EpochStats } from "./epoch_stats.ts";
import type { BatchOptions, EpochOptions, PyDatasetOptions } from "./options.ts";
import type { BatchInfo } from "./worker_info.ts";

/**
 * Keras's `PyDataset` for Deno. Subclass it, implement `length` (the number
 * of batches; `Infinity` for an infinite dataset) and `getItem(index)` (one
 * whole batch, sync or async), and read each epoch as a `ReadableStream`
 * with {@linkcode PyDataset.prototype.epoch}.
 *
 * Batches are fetched `workers` at a time: concurrently on the main thread
 * (for I/O such as `fetch`), or, with `useMultiprocessing`, in module Web
 * Workers that hold only the dataset's `permissions` (for CPU-bound work).
 * They always come out in epoch order.
 *
 * In a worker the dataset is a copy: an instance of the same class, imported
 * from `module`, holding a structured clone of the main thread's own
 * enumerable fields, sent anew at each epoch start. Its constructor does not
 * run there, and changes it makes stay there. Keep the top-level code of
 * `module` free of side effects (put a script's work under
 * `if (import.meta.main)`), since every worker imports it.
 *
 * @typeParam B The type of one batch.
 *
 * @example Read an epoch
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Squares extends PyDataset<Float32Array> {
 *   get length(): number {
 *     return 3;
 *   }
 *   getItem(index: number): Float32Array {
 *     return Float32Array.of(index * index);
 *   }
 * }
 *
 * const batches: number[] = [];
 * for await (const batch of new Squares().epoch()) batches.push(batch[0]!);
 * assert.deepEqual(batches, [0, 1, 4]);
 * ```
 *
 * @example Fetch in workers with scoped permissions
 * ```ts ignore
 * import { PyDataset, type PyDatasetOptions } from "@pydataset/pydataset";
 *
 * export class Images extends PyDataset<Uint8Array> {
 *   constructor(public files: string[], options?: PyDatasetOptions) {
 *     super({ ...options, module: import.meta.url });
 *   }
 *   get length(): number {
 *     return this.files.length;
 *   }
 *   getItem(index: number): Promise<Uint8Array> {
 *     return Deno.readFile(this.files[index]!);
 *   }
 * }
 *
 * if (import.meta.main) {
 *   await using images = new Images(["./data/a.png"], {
 *     workers: 2,
 *     useMultiprocessing: true,
 *     permissions: { read: ["./data"] },
 *   });
 *   for await (const bytes of images.epoch()) console.log(bytes.length);
 * }
 * ```
 */
export abstract class PyDataset<B = unknown> implements AsyncIterable<B>, AsyncDisposable {
  #epochs: Epochs<B>;

  /**
   * Constructs a new instance; only stores the options, as Keras does.
   *
   * @param options How batches are fetched.
   * @throws {TypeError} An option of the wrong type, or
   * `useMultiprocessing` without `module`.
   * @throws {RangeError} An option out of range, such as `workers: 0`.
   */
  constructor(options: PyDatasetOptions = {}) {
    this.#epochs = new Epochs<B>(this, new.target.name, resolveOptions(options, new.target.name));
  }

  /**
   * The number of batches (Keras's `__len__`): a non-negative integer, or
   * `Infinity` for an infinite dataset.
   */
  abstract get length(): number;

  /**
   * Returns batch `index` (Keras's `__getitem__`), synchronously or as a
   * promise. Any value but `undefined` or `null` is a batch; in worker mode
   * it must survive structured cloning (typed arrays, arrays, plain objects,
   * numbers, strings).
   *
   * @param index The batch index, from 0 to `length - 1`.
   * @param info Which fetcher runs the call and its seed, the batch's own
   * seed and the attempt; a subclass may leave it out of its signature.
   */
  abstract getItem(index: number, info: BatchInfo): B | Promise<B>;

  /** How many batches are fetched at once. */
  get workers(): number {
    return this.#epochs.options.workers;
  }

  /** Whether batches are fetched in Web Workers. */
  get useMultiprocessing(): boolean {
    return this.#epochs.options.useMultiprocessing;
  }

  /** The `highWaterMark` of each epoch's stream. */
  get maxQueueSize(): number {
    return this.#epochs.options.maxQueueSize;
  }

  /** The number of batches, as `length` (`Infinity` when infinite). */
  get numBatches(): number {
    return this.length;
  }

  /**
   * What the current epoch (or the last one, once it ended) has done:
   * batches, time in `getItem`, time the reader waited, queue depth.
   * Undefined before the first epoch. Keep a copy per epoch, e.g. in
   * `onEpochEnd`, to compare epochs.
   */
  get stats(): EpochStats | undefined {
    return this.#epochs.stats;
  }

  /**
   * Opens the next epoch: a stream of every batch exactly once, in index
   * order or, with `shuffle`, in a seeded permutation. `onEpochBegin` runs
   * before the first `getItem`, `onEpochEnd` exactly once at the end (also
   * after a cancel, an abort or a failure).
   *
   * Up to `workers` batches are fetched at once and at most `maxQueueSize +
   * workers` ahead of the reader; a reader that stops reading stops the
   * fetching. In worker mode one more batch per worker is lined up, handed
   * to the worker the moment its previous batch arrives. A failed batch
   * errors the stream with a {@linkcode BatchError} once every earlier batch
   * was read. Cancelling the stream (or breaking out of `for await`) stops
   * the fetching (a lined-up batch never starts) and resolves once running
   * `getItem` calls have settled and the epoch has ended. A failure or an
   * abort terminates the workers at once (fresh ones start next epoch);
   * running main-thread calls are waited for.
   *
   * @param options Shuffle, seed and an abort signal.
   * @returns The epoch's batches.
   * @throws {Error} The previous epoch's stream is still open.
   * @throws {TypeError} A bad option, or a `length` that is not a number.
   * @throws {RangeError} A `length` that is negative or fractional.
   *
   * @example Shuffle reproducibly
   * ```ts
   * import { PyDataset } from "@pydataset/pydataset";
   * import assert from "node:assert/strict";
   *
   * class Indices extends PyDataset<number> {
   *   get length(): number {
   *     return 5;
   *   }
   *   getItem(index: number): number {
   *     return index;
   *   }
   * }
   *
   * const read = async (stream: ReadableStream<number>) => {
   *   const seen: number[] = [];
   *   for await (const index of stream) seen.push(index);
   *   return seen;
   * };
   * const first = await read(new Indices().epoch({ shuffle: true, seed: 7 }));
   * const again = await read(new Indices().epoch({ shuffle: true, seed: 7 }));
   * assert.deepEqual(first, again);
   * assert.deepEqual([...first].sort(), [0, 1, 2, 3, 4]);
   * ```
   */
  epoch(options: EpochOptions = {}): ReadableStream<B> {
    return this.#epochs.open(options);
  }

  /**
   * Fetches batch `index` outside any epoch, through the same fetchers as
   * an epoch (the workers, with `useMultiprocessing`) and under the same
   * policy (`timeout`, a retry after a worker's death, a
   * {@linkcode BatchError} that names the batch). No hook runs; `getItem`'s
   * `info` derives from `epoch` and `seed` as in an unshuffled epoch.
   * Calls may run at once, up to `workers` in parallel, but not while an
   * epoch is open. With `useMultiprocessing`, the workers get the
   * dataset's fields when the first of a run of overlapping calls begins.
   *
   * @param index The batch index, from 0 to `length - 1`.
   * @param options The epoch number and seed for `info`, and an abort signal.
   * @returns The batch.
   * @throws {Error} An epoch is open.
   * @throws {RangeError} An index outside the dataset.
   * @throws {BatchError} `getItem` failed for the batch.
   *
   * @example Fetch one batch
   * ```ts
   * import { PyDataset } from "@pydataset/pydataset";
   * import assert from "node:assert/strict";
   *
   * class Squares extends PyDataset<number> {
   *   get length(): number {
   *     return 4;
   *   }
   *   getItem(index: number): number {
   *     return index * index;
   *   }
   * }
   *
   * assert.equal(await new Squares().getBatch(3), 9);
   * ```
   */
  getBatch(index: number, options: BatchOptions = {}): Promise<B> {
    return this.#epochs.getBatch(index, options);
  }

  /**
   * Where the reader of the current (or last) epoch stopped: pass it back
   * to {@linkcode PyDataset.prototype.epoch}, in this process or another, to
   * continue the same order exactly there. It counts the batches the reader
   * has taken from the stream; once an epoch was read to the end, it points
   * at the start of the next. Undefined before the first epoch.
   *
   * Save it with a checkpoint of what was trained on: a reader that reads
   * ahead (an adapter with a prefetch buffer) has taken more than it
   * trained on. The order is the loader's; state that hooks change (such
   * as `this.indices` shuffled in `onEpochEnd`) is the dataset's to save.
   */
  get cursor(): EpochCursor | undefined {
    return this.#epochs.cursor;
  }

  /**
   * Hands back a batch the reader no longer uses, so that its memory makes
   * later batches: the buffers of its arrays that `info.allocate` made go
   * back to where they were made (to the worker that made them, with the
   * next request it gets, without a copy; or to the main thread's pool).
   * Everything else in the batch (an array of a cache, a view of an array
   * the dataset holds, a buffer of your own) is left alone, so release
   * never hands out memory that something else still holds.
   *
   * The released arrays are detached at once (their length becomes 0):
   * do not use them, or anything made from them without a copy, again. The
   * pools together hold at most `maxQueueSize + workers` batches' worth of
   * buffers (the largest batch's allocations so far); what is released
   * beyond that is let go, so releasing never grows memory. `toTfDataset`
   * releases its batches by itself, once the tensors made from them no
   * longer hold their memory.
   *
   * @param batch A batch from this dataset's epochs or `getBatch`, or any
   * part of one (arrays, plain objects, `Map`s and `Set`s are searched).
   * @returns How many buffers were handed back, one per `allocate` call
   * (0 when getItem did not use `allocate`, or the batch was released
   * already).
   * @throws {TypeError} `batch` is undefined or null.
   *
   * @example Recycle each batch once it is used
   * ```ts
   * import { type BatchInfo, PyDataset } from "@pydataset/pydataset";
   * import assert from "node:assert/strict";
   *
   * class Noise extends PyDataset<Float32Array> {
   *   get length(): number {
   *     return 50;
   *   }
   *   getItem(_index: number, info: BatchInfo): Float32Array {
   *     const batch = info.allocate(Float32Array, 4096);
   *     for (let i = 0; i < batch.length; i++) batch[i] = Math.random();
   *     return batch;
   *   }
   * }
   *
   * await using noise = new Noise({ workers: 2 });
   * for await (const batch of noise.epoch()) {
   *   let sum = 0;
   *   for (const value of batch) sum += value;
   *   assert.ok(sum > 0);
   *   assert.equal(noise.release(batch), 1);
   *   assert.equal(batch.length, 0); // detached
   * }
   * const { allocations, recycled } = noise.stats!;
   * assert.equal(allocations, 50);
   * assert.ok(recycled >= 30);
   * ```
   */
  release(batch: unknown): number {
    return this.#epochs.release(batch);
  }

  /**
   * Iterates over batches `0 .. length - 1` (forever when infinite) on the
   * calling thread, one at a time, without hooks, shuffle or workers, as
   * iterating a Keras `PyDataset` does.
   *
   * @example Manual iteration
   * ```ts
   * import { PyDataset } from "@pydataset/pydataset";
   * import assert from "node:assert/strict";
   *
   * class Letters extends PyDataset<string> {
   *   get length(): number {
   *     return 3;
   *   }
   *   getItem(index: number): string {
   *     return "abc"[index]!;
   *   }
   * }
   *
   * const letters: string[] = [];
   * for await (const letter of new Letters()) letters.push(letter);
   * assert.deepEqual(letters, ["a", "b", "c"]);
   * ```
   */
  [Symbol.asyncIterator](): AsyncGenerator<B, void, undefined> {
    return this.#epochs.iterate();
  }

  /**
   * Stops the open epoch (its stream errors with an `Error` that says the
   * dataset was closed), terminates the workers and waits until the epoch
   * has ended, without waiting for running `getItem` calls: a main-thread
   * call still running is left to finish, its result ignored. A later
   * `epoch()` starts fresh workers. Without `close()`, idle workers end
   * `idleTimeout` after the last epoch (5 s by default), and only then can
   * the process exit: use `await using`.
   *
   * @example Close with `await using`
   * ```ts
   * import { PyDataset } from "@pydataset/pydataset";
   *
   * class Zeros extends PyDataset<Float32Array> {
   *   get length(): number {
   *     return 2;
   *   }
   *   getItem(): Float32Array {
   *     return new Float32Array(4);
   *   }
   * }
   *
   * {
   *   await using zeros = new Zeros();
   *   for await (const _ of zeros.epoch());
   * } // closed here
   * ```
   */
  close(): Promise<void> {
    return this.#epochs.close();
  }

  /** Closes the dataset, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Keeps the workers, idle or not, until the returned function is called;
   * returns undefined when there are none. `toTfDataset` holds them while
   * any of its passes is in progress, so that the validation pass that
   * `fitDataset` runs between two epochs does not end them.
   *
   * @internal
   */
  [HOLD_WORKERS](): (() => void) | undefined {
    return this.#epochs.hold();
  }
}
