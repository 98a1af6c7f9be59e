// Fetchers on the main thread: `count` slots that each run one `getItem`
// call at a time, as a worker pool's workers do, for datasets whose
// batches wait on I/O rather than the CPU.

import type { BatchInfo } from "../worker_info.ts";
import type { FetchJob } from "./_fetcher.ts";
import type { Recycler } from "./_recycler.ts";
import { SlotFetcher } from "./_slots.ts";

/** A dataset's `getItem`, called on this thread. */
export type GetItem<B> = (index: number, info: BatchInfo) => B | Promise<B>;

/** Runs `getItem` on `count` slots of the main thread. */
export class ThreadFetcher<B> extends SlotFetcher<B> {
  #getItem: GetItem<B>;
  #recycler: Recycler;

  constructor(count: number, getItem: GetItem<B>, recycler: Recycler) {
    super(count);
    this.#getItem = getItem;
    this.#recycler = recycler;
  }

  /** A call cannot be stopped: once dropped, it runs to its end, its result ignored. */
  protected async run(job: FetchJob<B>, slot: number): Promise<B> {
    job.begun();
    const { allocate, done } = this.#recycler.allocator(job.tally);
    try {
      return await this.#getItem(job.index, Object.freeze({ ...job.info(slot), allocate }));
    } finally {
      done();
    }
  }
}
