// A dataset's fetchers across epochs: made when an epoch (or a single
// batch) needs them, kept while idle for `idleTimeout` or while held, and
// replaced once closed. The one place that chooses the kind of fetcher:
// the dataset's own (a RemoteDataset's hosts), workers, or this thread.

import { MAKE_FETCHER } from "../_make_fetcher.ts";
import type { ResolvedOptions } from "../_validate.ts";
import type { BatchInfo } from "../worker_info.ts";
import type { Fetcher } from "./_fetcher.ts";
import type { Recycler } from "./_recycler.ts";
import { ThreadFetcher } from "./_thread_fetcher.ts";
import { WorkerPool } from "./worker/_pool.ts";
import { inWorkerContext } from "./worker/_worker_context.ts";

/** The longest delay `setTimeout` takes: 2³¹ - 1 ms, about 24.8 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the fetchers read of their dataset. */
export interface FetcherSource<B> {
  getItem(index: number, info: BatchInfo): B | Promise<B>;
  /** Makes `count` fetchers of the dataset's own kind, when it has one. */
  [MAKE_FETCHER]?(count: number): Fetcher<B>;
}

/** The fetcher of one dataset, across its epochs. */
export class Fetchers<B> {
  #name: string;
  #options: ResolvedOptions;
  #source: FetcherSource<B>;
  #fetcher: Fetcher<B> | undefined;
  /** Closes the idle fetcher; set while nothing uses or holds it. */
  #idle: ReturnType<typeof setTimeout> | undefined;
  /** How many holds keep the fetcher. */
  #holds = 0;
  /** The buffers of every fetcher made here: one budget for them all. */
  #recycler: Recycler;

  constructor(
    name: string,
    options: ResolvedOptions,
    source: FetcherSource<B>,
    recycler: Recycler,
  ) {
    this.#name = name;
    this.#options = options;
    this.#source = source;
    this.#recycler = recycler;
  }

  /** The fetcher to use now, a new one if there is none (or it was closed). */
  use(): Fetcher<B> {
    clearTimeout(this.#idle);
    if (!this.#fetcher || this.#fetcher.closed) this.#fetcher = this.#create();
    return this.#fetcher;
  }

  #create(): Fetcher<B> {
    const { workers, useMultiprocessing, module, permissions, timeout } = this.#options;
    const name = this.#name;
    const source = this.#source;
    if (source[MAKE_FETCHER]) return source[MAKE_FETCHER](workers);
    if (useMultiprocessing && inWorkerContext()) {
      throw new Error(
        `Cannot start workers for ${name} inside a dataset worker: put the top-level code of ${module} that opens epochs under if (import.meta.main)`,
      );
    }
    const settings = { ...this.#options };
    return useMultiprocessing
      ? new WorkerPool({
        module: module!,
        name,
        size: workers,
        permissions,
        timeout,
        settings,
        buffers: this.#recycler,
      }) as Fetcher<B>
      : new ThreadFetcher(workers, (index, info) => source.getItem(index, info), this.#recycler);
  }

  /**
   * A fetcher of one slot, for iterating the dataset one batch at a time:
   * of the dataset's own kind, else on this thread (never workers).
   */
  one(): Fetcher<B> {
    const source = this.#source;
    return source[MAKE_FETCHER]?.(1) ??
      new ThreadFetcher(1, (index, info) => source.getItem(index, info), this.#recycler);
  }

  /**
   * Nothing uses the fetcher now: it is closed `idleTimeout` from now,
   * unless it is used or held first. Deno's workers keep the process
   * alive, and have no `unref()`.
   */
  idle(): void {
    const fetcher = this.#fetcher;
    const { idleTimeout } = this.#options;
    if (!fetcher?.holdsResources || fetcher.closed || this.#holds > 0) return;
    // Infinity, or longer than a timer can wait (it would fire at once).
    if (idleTimeout > MAX_TIMER_MS) return;
    clearTimeout(this.#idle);
    const timer = this.#idle = setTimeout(() => {
      fetcher.close(new Error(`The workers of ${this.#name} were idle`));
    }, idleTimeout);
    // The live workers hold the process open until then; the timer need not.
    Deno.unrefTimer(timer);
  }

  /**
   * Keeps the fetcher, idle or not, until the returned function is called;
   * undefined when there is none that holds resources.
   */
  hold(inUse: () => boolean): (() => void) | undefined {
    if (!this.#fetcher?.holdsResources || this.#fetcher.closed) return undefined;
    this.#holds++;
    clearTimeout(this.#idle);
    return () => {
      this.#holds--;
      if (!inUse()) this.idle();
    };
  }

  /** Closes the fetcher; the next use makes a new one. */
  close(reason: Error): void {
    clearTimeout(this.#idle);
    this.#fetcher?.close(reason);
    this.#fetcher = undefined;
  }
}
