// A dataset's epochs over its life: the one open now (one at a time), the
// number and seed of the next, the last one's stats and cursor record, the
// single batches fetched outside any epoch, and closing it all.
//
// src/epoch/ opens epochs and drives the fetchers: it may import the public
// types, the src/_*.ts helpers, src/fetch/ and its own files, never the
// adapters (src/wire/, src/tfjs/, src/testing/), which build on it.

import {
  checkLength,
  resolveBatchOptions,
  type ResolvedOptions,
  resolveEpochOptions,
} from "../_validate.ts";
import type { EpochStats } from "../epoch_stats.ts";
import type { Fetcher } from "../fetch/_fetcher.ts";
import { Fetchers, type FetcherSource } from "../fetch/_fetchers.ts";
import { BatchPolicy } from "../fetch/_policy.ts";
import { Recycler } from "../fetch/_recycler.ts";
import type { BatchOptions, EpochOptions } from "../options.ts";
import type { EpochCursor } from "../epoch_cursor.ts";
import { cursorAfter, type EpochRecord } from "./_cursor.ts";
import { type EpochDataset, openEpoch, singleBatchInfo } from "./_open_epoch.ts";
import { workerInfo } from "./_seeds.ts";

/** What the epochs read of their dataset. */
export interface Dataset<B> extends EpochDataset, FetcherSource<B> {}

interface ActiveEpoch {
  controller: AbortController;
  settled: Promise<void>;
}

/** Single batches being fetched outside an epoch: one fetcher, begun once for them all. */
interface BatchSession<B> {
  fetcher: Fetcher<B>;
  begun: Promise<void>;
  running: number;
  /** Aborted by `close()`: its calls stop, retries waiting for their delay too. */
  closing: AbortController;
}

/** The epochs of one dataset. */
export class Epochs<B> {
  #dataset: Dataset<B>;
  #name: string;
  #options: ResolvedOptions;
  #fetchers: Fetchers<B>;
  #epochs = 0;
  #seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
  #active: ActiveEpoch | undefined;
  #session: BatchSession<B> | undefined;
  #stats: EpochStats | undefined;
  #record: EpochRecord | undefined;
  #recycler: Recycler;

  constructor(dataset: Dataset<B>, name: string, options: ResolvedOptions) {
    this.#dataset = dataset;
    this.#name = name;
    this.#options = options;
    // One budget for every pool: the batches the queue and the workers hold.
    this.#recycler = new Recycler(options.maxQueueSize + options.workers);
    this.#fetchers = new Fetchers(name, options, dataset, this.#recycler);
  }

  get options(): ResolvedOptions {
    return this.#options;
  }

  get stats(): EpochStats | undefined {
    return this.#stats;
  }

  get cursor(): EpochCursor | undefined {
    return this.#record && cursorAfter(this.#record);
  }

  /** Opens the next epoch. */
  open(given: EpochOptions): ReadableStream<B> {
    const options = resolveEpochOptions(given, this.#name);
    this.#checkCanOpen(options.signal);
    const fetcher = this.#fetchers.use();
    const number = options.epoch ?? this.#epochs;
    this.#epochs = number + 1;
    const closing = new AbortController();
    const settled = Promise.withResolvers<void>();
    this.#active = { controller: closing, settled: settled.promise };
    const { workers, maxQueueSize, ordered, timeout } = this.#options;
    const opened = openEpoch<B>({
      dataset: this.#dataset,
      name: this.#name,
      workers,
      maxQueueSize,
      ordered,
      timeout,
      retries: options.retries ?? this.#options.retries,
      retryDelay: options.retryDelay ?? this.#options.retryDelay,
      onError: options.onError ?? this.#options.onError,
      maxSkipped: options.maxSkipped ?? this.#options.maxSkipped,
      options,
      epoch: number,
      seed: options.seed ?? this.#seed,
      fetcher,
      closing: closing.signal,
      release: () => {
        this.#active = undefined;
        this.#fetchers.idle();
        settled.resolve();
      },
    });
    this.#record = opened.record;
    this.#stats = opened.stats;
    return opened.stream;
  }

  /** Throws when an epoch cannot open now. */
  #checkCanOpen(signal: AbortSignal | undefined): void {
    const name = this.#name;
    if (this.#active) {
      throw new Error(
        `Cannot open an epoch of ${name} as its previous epoch's stream is still open: read it to the end, cancel it, or close the dataset first`,
      );
    }
    const running = this.#session?.running;
    if (running) {
      const what = running === 1 ? "batch (getBatch) is" : "batches (getBatch) are";
      throw new Error(
        `Cannot open an epoch of ${name} as ${running} single ${what} being fetched: wait for them first`,
      );
    }
    signal?.throwIfAborted();
    checkLength(this.#dataset.length, name);
  }

  /**
   * Fetches batch `index` outside an epoch, through the same fetchers and
   * policy, by the fetcher and with the info an unshuffled epoch gives it.
   */
  async getBatch(index: number, given: BatchOptions): Promise<B> {
    const length = checkLength(this.#dataset.length, this.#name);
    const options = resolveBatchOptions(index, length, given, this.#name);
    const { epoch, seed = this.#seed, signal } = options;
    if (this.#active) {
      throw new Error(
        `Cannot fetch batch ${index} of ${this.#name} as an epoch is open: read it to the end, cancel it, or close the dataset first`,
      );
    }
    signal?.throwIfAborted();
    const session = this.#session ??= this.#beginSession(epoch, seed);
    session.running++;
    const stop = signal
      ? AbortSignal.any([signal, session.closing.signal])
      : session.closing.signal;
    try {
      await abortable(session.begun, stop);
      const { fetcher } = session;
      const policy = this.#singlePolicy(fetcher);
      const request = { index, position: index, fetcher: index % fetcher.count, begun: () => {} };
      const info = singleBatchInfo(fetcher.count, { seed, epoch });
      return await policy.fetch(request, info, stop);
    } finally {
      if (--session.running === 0 && this.#session === session) {
        this.#session = undefined;
        session.fetcher.end();
        this.#fetchers.idle();
      }
    }
  }

  /** The policy of single batches: the dataset's timeout and retries; they never skip. */
  #singlePolicy(fetcher: Fetcher<B>): BatchPolicy<B> {
    const { timeout, retries, retryDelay } = this.#options;
    return new BatchPolicy(fetcher, { name: this.#name, timeout, retries, retryDelay });
  }

  /** Readies the fetchers for single batches: the first one's epoch and seed. */
  #beginSession(epoch: number, seed: number): BatchSession<B> {
    const fetcher = this.#fetchers.use();
    const context = { seed, epoch, shard: 0 };
    const infos = Array.from(
      { length: fetcher.count },
      (_, id) => workerInfo(id, fetcher.count, context),
    );
    const state = { ...this.#dataset } as Record<string, unknown>;
    const begun = fetcher.begin({ epoch, infos, state }, new AbortController().signal);
    begun.catch(() => {}); // observed by each call, which may have stopped waiting
    return { fetcher, begun, running: 0, closing: new AbortController() };
  }

  /**
   * Batches `0 .. length - 1`, one at a time, under the policy: on this
   * thread, or from the dataset's own kind of fetcher (a RemoteDataset's hosts).
   */
  async *iterate(): AsyncGenerator<B, void, undefined> {
    const length = checkLength(this.#dataset.length, this.#name);
    const fetcher = this.#fetchers.one();
    const policy = this.#singlePolicy(fetcher);
    try {
      const info = singleBatchInfo(1, { seed: this.#seed, epoch: 0 });
      for (let index = 0; index < length; index++) {
        yield await policy.fetch({ index, position: index, fetcher: 0, begun: () => {} }, info);
      }
    } finally {
      fetcher.close(new Error(`The iteration of ${this.#name} ended`));
    }
  }

  /** Hands back a batch's buffers that `allocate` made; returns how many. */
  release(batch: unknown): number {
    if (batch === undefined || batch === null) {
      throw new TypeError(
        `Cannot release a batch of ${this.#name} as it must be a batch that getItem returned: current value is ${batch}`,
      );
    }
    return this.#recycler.release(batch);
  }

  /**
   * Stops the open epoch, closes the fetchers, drops the pooled buffers,
   * and waits until the epoch has ended.
   */
  async close(): Promise<void> {
    const active = this.#active;
    const reason = new Error(`${this.#name} was closed`);
    active?.controller.abort(reason);
    this.#session?.closing.abort(reason);
    this.#session = undefined;
    this.#fetchers.close(reason);
    this.#recycler.clear();
    await active?.settled;
  }

  /** Keeps the fetchers until the returned function is called; undefined when none holds anything. */
  hold(): (() => void) | undefined {
    return this.#fetchers.hold(() => this.#active !== undefined || this.#session !== undefined);
  }
}

/** `promise`, or a rejection with `signal`'s reason once it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const onAbort = () => reject(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return Promise.race([promise, aborted]).finally(() => {
    signal.removeEventListener("abort", onAbort);
  });
}
