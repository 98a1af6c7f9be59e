/**
 * The {@linkcode PyDataset} base class: Keras's `PyDataset` for Deno.
 *
 * @module
 */

import { describeError as describe } from "./_describe.ts";
import { checkBatch } from "./fetch/_policy.ts";
import { missingPermission, permissionAdvice } from "./fetch/worker/_permission_advice.ts";
import { HOLD_WORKERS } from "./_hold_workers.ts";
import { inWorkerContext } from "./fetch/worker/_worker_context.ts";
import { BatchError } from "./batch_error.ts";
import type { EpochStats } from "./epoch_stats.ts";
import { createEpochStream, type EpochPlan } from "./epoch/_epoch_stream.ts";
import {
  checkLength,
  checkStart,
  type ResolvedOptions,
  resolveEpochOptions,
  resolveOptions,
} from "./_validate.ts";
import type { EpochOptions, PyDatasetOptions } from "./options.ts";
import { type EpochOrder, epochOrder, resumeOrder, shardOrder } from "./epoch/_order.ts";
import { ThreadFetchers } from "./fetch/_thread_fetcher.ts";
import type { EpochCursor } from "./epoch_cursor.ts";
import { cursorAfter, type EpochRecord } from "./epoch/_cursor.ts";
import { workerInfo } from "./epoch/_seeds.ts";
import type { WorkerInfo } from "./worker_info.ts";
import { WorkerPool } from "./fetch/worker/_pool.ts";

/**
 * Optional epoch hooks of a {@linkcode PyDataset}. They are looked up by name
 * when an epoch runs, so a subclass defines them as plain methods, without
 * `override`; add `implements PyDatasetHooks` to have their signatures
 * checked.
 *
 * @example Check hook signatures
 * ```ts
 * import { PyDataset, type PyDatasetHooks } from "@pydataset/pydataset";
 * import assert from "node:assert/strict";
 *
 * class Counted extends PyDataset<number> implements PyDatasetHooks {
 *   epochs = 0;
 *   get length(): number {
 *     return 2;
 *   }
 *   getItem(index: number): number {
 *     return index;
 *   }
 *   onEpochEnd(): void {
 *     this.epochs++;
 *   }
 * }
 *
 * const dataset = new Counted();
 * for await (const _ of dataset.epoch());
 * assert.equal(dataset.epochs, 1);
 * ```
 */
export interface PyDatasetHooks {
  /**
   * Runs on the main thread when an epoch opens, before its first
   * `getItem`. Changes it makes to the dataset's fields reach the workers in
   * this epoch.
   */
  onEpochBegin?(): void | Promise<void>;
  /**
   * Runs on the main thread exactly once per epoch: once the reader has
   * taken the last batch and no `getItem` runs (then the stream closes), or
   * when the epoch ends early by a cancel, an abort or a failed batch.
   * Changes it makes (e.g. shuffling `this.indices`) reach the workers next
   * epoch.
   */
  onEpochEnd?(): void | Promise<void>;
  /**
   * Runs in each worker (with `useMultiprocessing`) at each epoch, on that
   * epoch's copy of the dataset, before the worker's first batch: seed a
   * random generator from `info.seed` here, or open what `getItem` needs.
   * If it throws, the worker's batches fail with its error. It does not run
   * on the main thread, whose `workers` slots share one dataset.
   */
  onWorkerStart?(info: WorkerInfo): void | Promise<void>;
}

/** The longest delay `setTimeout` takes: 2³¹ - 1 ms, about 24.8 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The part of an epoch's plan that fetches its batches, and the pool it uses. */
type Fetching<B> = Pick<EpochPlan<B>, "fetch" | "withdraw" | "abandon"> & { pool?: WorkerPool };

interface ActiveEpoch {
  controller: AbortController;
  settled: Promise<void>;
}

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
  #options: ResolvedOptions;
  #epochs = 0;
  #seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
  #active: ActiveEpoch | undefined;
  #pool: WorkerPool | undefined;
  /** Ends the idle workers; set while no epoch is open and nothing holds them. */
  #idle: ReturnType<typeof setTimeout> | undefined;
  /** How many `toTfDataset` holds keep the workers. */
  #holds = 0;
  #stats: EpochStats | undefined;
  #record: EpochRecord | undefined;

  /**
   * Constructs a new instance; only stores the options, as Keras does.
   *
   * @param options How batches are fetched.
   * @throws {TypeError} An option of the wrong type, or
   * `useMultiprocessing` without `module`.
   * @throws {RangeError} An option out of range, such as `workers: 0`.
   */
  constructor(options: PyDatasetOptions = {}) {
    this.#options = resolveOptions(options, new.target.name);
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
   * @param info Which fetcher runs the call, and its seed; a subclass may
   * leave it out of its signature.
   */
  abstract getItem(index: number, info: WorkerInfo): B | Promise<B>;

  /** How many batches are fetched at once. */
  get workers(): number {
    return this.#options.workers;
  }

  /** Whether batches are fetched in Web Workers. */
  get useMultiprocessing(): boolean {
    return this.#options.useMultiprocessing;
  }

  /** The `highWaterMark` of each epoch's stream. */
  get maxQueueSize(): number {
    return this.#options.maxQueueSize;
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
    return this.#stats;
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
    const name = this.constructor.name;
    const { shuffle, seed = this.#seed, signal, epoch, shard, start, skip } = resolveEpochOptions(
      options,
      name,
    );
    this.#checkCanOpen(name, signal);
    const number = epoch ?? this.#epochs;
    this.#epochs = number + 1;
    const closing = new AbortController();
    const settled = Promise.withResolvers<void>();
    this.#active = { controller: closing, settled: settled.promise };
    clearTimeout(this.#idle); // the idle workers are needed again
    const { workers, maxQueueSize, ordered } = this.#options;
    const infos = Array.from(
      { length: workers },
      (_, id) => workerInfo(id, workers, { seed, epoch: number, shard: shard?.index ?? 0 }),
    );
    const { pool, ...fetching } = this.#fetching(infos);
    const progress = { taken: 0, delivered: [] };
    const record: EpochRecord = {
      epoch: number,
      seed,
      shuffle,
      shard,
      start,
      skip,
      ordered,
      progress,
    };
    this.#record = record;
    const stats = this.#stats = emptyStats(number);
    return createEpochStream<B>({
      stats,
      progress,
      workers,
      maxQueueSize,
      ordered,
      signal: signal ? AbortSignal.any([signal, closing.signal]) : closing.signal,
      force: closing.signal,
      begin: () => this.#hook("onEpochBegin"),
      prepare: (signal) => this.#prepare(record, pool, infos, signal),
      ...fetching,
      end: () => this.#hook("onEpochEnd"),
      release: () => {
        pool?.end();
        this.#active = undefined;
        this.#idleLater();
        settled.resolve();
      },
    });
  }

  /** Throws when an epoch cannot open now. */
  #checkCanOpen(name: string, signal: AbortSignal | undefined): void {
    if (this.#active) {
      throw new Error(
        `Cannot open an epoch of ${name} as its previous epoch's stream is still open: read it to the end, cancel it, or close the dataset first`,
      );
    }
    signal?.throwIfAborted();
    checkLength(this.length, name);
    if (this.#options.useMultiprocessing && inWorkerContext()) {
      throw new Error(
        `Cannot start workers for ${name} inside a dataset worker: put the top-level code of ${this.#options.module} that opens epochs under if (import.meta.main)`,
      );
    }
  }

  /** How an epoch's batches are fetched: by the workers, or on this thread. */
  #fetching(infos: WorkerInfo[]): Fetching<B> {
    const noLongerNeeded = () => new DOMException("The batch is no longer needed", "AbortError");
    if (!this.#options.useMultiprocessing) {
      const fetchers = new ThreadFetchers<B>(
        this.#options.workers,
        (index, fetcher) => this.#getItem(index, infos[fetcher]!),
      );
      return {
        fetch: (index, position, fetcher, begun) => fetchers.fetch(index, position, fetcher, begun),
        withdraw: (after) => fetchers.withdraw(after, noLongerNeeded()),
        abandon: () => {},
      };
    }
    const pool = this.#workerPool();
    return {
      pool,
      fetch: (index, position, fetcher, begun) =>
        this.#fetchIn(pool, index, position, fetcher, begun),
      withdraw: (after) => pool.withdraw(after, noLongerNeeded()),
      // Workers stop at once on a failure or an abort: nothing is left running.
      abandon: (reason) => {
        if (this.#pool !== pool) return;
        this.#pool = undefined;
        pool.close(reason instanceof Error ? reason : new Error(String(reason)));
      },
    };
  }

  /** Decides an epoch's order, then gives the workers the dataset's state. */
  async #prepare(
    record: EpochRecord,
    pool: WorkerPool | undefined,
    infos: WorkerInfo[],
    signal: AbortSignal,
  ): Promise<EpochOrder> {
    const name = this.constructor.name;
    const { epoch, seed, shuffle, shard, start, skip } = record;
    const length = checkLength(this.length, name);
    const full = epochOrder(length, { shuffle, seed, epoch });
    const sharded = shard ? shardOrder(full, shard) : full;
    record.order = resumeOrder(sharded, checkStart(start, skip, sharded.length, name), skip);
    record.length = sharded.length;
    const state = { ...this } as Record<string, unknown>;
    await pool?.begin(epoch, state, { ...this.#options }, infos, signal);
    return record.order;
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
    return this.#record && cursorAfter(this.#record);
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
  async *[Symbol.asyncIterator](): AsyncGenerator<B, void, undefined> {
    const name = this.constructor.name;
    const length = checkLength(this.length, name);
    const info = workerInfo(0, 1, { seed: this.#seed, epoch: 0, shard: 0 });
    for (let index = 0; index < length; index++) {
      yield await this.#getItem(index, info);
    }
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
  async close(): Promise<void> {
    const active = this.#active;
    const reason = new Error(`${this.constructor.name} was closed`);
    active?.controller.abort(reason);
    clearTimeout(this.#idle);
    this.#pool?.close(reason);
    this.#pool = undefined;
    await active?.settled;
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
    if (!this.#pool) return undefined;
    this.#holds++;
    clearTimeout(this.#idle);
    return () => {
      this.#holds--;
      this.#idleLater();
    };
  }

  /**
   * Ends the workers `idleTimeout` from now, unless an epoch opens or a
   * hold comes first: Deno's workers keep the process alive, and have no
   * `unref()`.
   */
  #idleLater(): void {
    const { idleTimeout } = this.#options;
    if (!this.#pool || this.#active || this.#holds > 0) return;
    // Infinity, or longer than a timer can wait (it would fire at once).
    if (idleTimeout > MAX_TIMER_MS) return;
    clearTimeout(this.#idle);
    const timer = this.#idle = setTimeout(() => {
      const reason = new Error(`The workers of ${this.constructor.name} were idle`);
      this.#pool?.close(reason);
      this.#pool = undefined;
    }, idleTimeout);
    // The live workers hold the process open until then; the timer need not.
    Deno.unrefTimer(timer);
  }

  #workerPool(): WorkerPool {
    return this.#pool ??= new WorkerPool({
      module: this.#options.module!,
      name: this.constructor.name,
      size: this.#options.workers,
      permissions: this.#options.permissions,
      timeout: this.#options.timeout,
    });
  }

  async #fetchIn(
    pool: WorkerPool,
    index: number,
    position: number,
    worker: number | undefined,
    begun: () => void,
  ): Promise<B> {
    try {
      return await pool.fetch(index, position, worker, begun) as B;
    } catch (error) {
      throw this.#batchError(index, error);
    }
  }

  /** Calls `getItem` on this thread, with the timeout and result check. */
  async #getItem(index: number, info: WorkerInfo): Promise<B> {
    try {
      return checkBatch(
        await withTimeout(
          Promise.resolve().then(() => this.getItem(index, info)),
          this.#options.timeout,
          index,
        ),
      );
    } catch (error) {
      throw this.#batchError(index, error);
    }
  }

  #batchError(index: number, cause: unknown): BatchError {
    const name = this.constructor.name;
    const inWorker = this.#options.useMultiprocessing;
    const missing = inWorker ? missingPermission(cause) : undefined;
    const resolved = missing?.resolved === undefined ? "" : ` (that is "${missing.resolved}")`;
    let message = missing
      ? `Cannot get batch ${index} of ${name} as its worker lacks ${missing.name} access${
        missing.target === undefined ? "" : ` to "${missing.target}"${resolved}`
      }: ${permissionAdvice(missing)} (${describe(cause)})`
      : `Cannot get batch ${index} of ${name}: ${describe(cause)}`;
    if (inWorker && /private member/.test(describe(cause))) {
      message +=
        ` (a worker's copy of the dataset has no #private fields, since its constructor does not run there: keep the state getItem needs in public fields)`;
    }
    return new BatchError(index, message, { cause });
  }

  async #hook(name: "onEpochBegin" | "onEpochEnd"): Promise<void> {
    const hook = (this as PyDatasetHooks)[name];
    if (typeof hook === "function") await hook.call(this);
  }
}

function emptyStats(epoch: number): EpochStats {
  return {
    epoch,
    batches: 0,
    getItemMs: 0,
    waitMs: 0,
    meanQueueDepth: 0,
    maxQueueDepth: 0,
    elapsedMs: 0,
    ended: false,
  };
}

function withTimeout<T>(
  promise: Promise<T>,
  timeout: number | undefined,
  index: number,
): Promise<T> {
  if (timeout === undefined) return promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() =>
      reject(
        new DOMException(
          `Batch ${index} took longer than the timeout of ${timeout} ms`,
          "TimeoutError",
        ),
      ), timeout);
  });
  promise.catch(() => {}); // abandoned on timeout; its outcome no longer matters
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
