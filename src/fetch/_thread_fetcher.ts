// Fetchers on the main thread: `count` slots that each run one `getItem`
// call at a time, as a worker pool's workers do, for datasets whose
// batches wait on I/O rather than the CPU.

import type { BatchInfo } from "../worker_info.ts";
import type { FetchContext, Fetcher, FetchJob } from "./_fetcher.ts";
import type { Recycler } from "./_recycler.ts";
import { Slots } from "./_slots.ts";

/** A dataset's `getItem`, called on this thread. */
export type GetItem<B> = (index: number, info: BatchInfo) => B | Promise<B>;

/** Runs `getItem` on `count` slots of the main thread. */
export class ThreadFetcher<B> implements Fetcher<B> {
  readonly count: number;
  #slots: Slots<B>;

  constructor(count: number, getItem: GetItem<B>, recycler: Recycler) {
    this.count = count;
    // A running call cannot be stopped: it runs to its end, its result ignored.
    this.#slots = new Slots(count, async (job, slot) => {
      job.begun();
      const { allocate, done } = recycler.allocator(job.tally);
      try {
        return await getItem(job.index, Object.freeze({ ...job.info(slot), allocate }));
      } finally {
        done();
      }
    });
  }

  get closed(): boolean {
    return this.#slots.closed !== undefined;
  }

  get refusing(): boolean {
    return this.closed;
  }

  /** The slots are calls on this thread: nothing to let go of when idle. */
  get holdsResources(): boolean {
    return false;
  }

  /** Nothing to ready: the slots share the dataset itself. */
  begin(_context: FetchContext, _signal: AbortSignal): Promise<void> {
    const closed = this.#slots.closed;
    return closed ? Promise.reject(closed) : Promise.resolve();
  }

  fetch(job: FetchJob<B>): void {
    this.#slots.fetch(job);
  }

  withdraw(after: number, reason: Error): void {
    this.#slots.withdraw(after, reason);
  }

  /** A running call cannot be stopped: it runs to its end, its result ignored. */
  abandon(_reason: Error): void {}

  end(): void {}

  close(reason: Error): void {
    this.#slots.close(reason);
  }
}
