// Fetchers on the main thread: `count` slots that each run one `getItem`
// call at a time, as a worker pool's workers do, for datasets whose
// batches wait on I/O rather than the CPU.

import type { BatchInfo } from "../worker_info.ts";
import type { FetchContext, Fetcher, FetchJob } from "./_fetcher.ts";
import { JobQueues } from "./_job_queues.ts";
import type { Recycler } from "./_recycler.ts";

/** A dataset's `getItem`, called on this thread. */
export type GetItem<B> = (index: number, info: BatchInfo) => B | Promise<B>;

/** Runs `getItem` on `count` slots of the main thread. */
export class ThreadFetcher<B> implements Fetcher<B> {
  readonly count: number;
  #getItem: GetItem<B>;
  #queues: JobQueues<FetchJob<B>>;
  /** The job each slot runs, by slot. */
  #running: (FetchJob<B> | undefined)[];
  #closed: Error | undefined;
  #recycler: Recycler;

  constructor(count: number, getItem: GetItem<B>, recycler: Recycler) {
    this.count = count;
    this.#getItem = getItem;
    this.#recycler = recycler;
    this.#queues = new JobQueues(count);
    this.#running = Array.from({ length: count });
  }

  get closed(): boolean {
    return this.#closed !== undefined;
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
    return this.#closed ? Promise.reject(this.#closed) : Promise.resolve();
  }

  fetch(job: FetchJob<B>): void {
    if (this.#closed) return job.reject(this.#closed);
    if (job.signal.aborted) return job.reject(job.signal.reason);
    job.signal.addEventListener("abort", () => this.#drop(job), { once: true });
    this.#queues.add(job);
    for (let slot = 0; slot < this.count; slot++) this.#drain(slot);
  }

  withdraw(after: number, reason: Error): void {
    for (const job of this.#queues.withdraw(after)) job.reject(reason);
  }

  /** A running call cannot be stopped: it runs to its end, its result ignored. */
  abandon(_reason: Error): void {}

  end(): void {}

  close(reason: Error): void {
    this.#closed = reason;
    for (const job of this.#queues.withdraw(-Infinity)) job.reject(reason);
    for (const [slot, job] of this.#running.entries()) {
      this.#running[slot] = undefined;
      job?.reject(reason);
    }
  }

  /** A job no longer wanted: off its queue, or its slot freed for the next. */
  #drop(job: FetchJob<B>): void {
    if (this.#queues.remove(job)) return job.reject(job.signal.reason);
    const slot = this.#running.indexOf(job);
    if (slot < 0) return; // settled already
    this.#running[slot] = undefined;
    job.reject(job.signal.reason);
    this.#drain(slot);
  }

  #drain(slot: number): void {
    if (this.#running[slot] || this.#closed) return;
    const job = this.#queues.take(slot);
    if (!job) return;
    this.#running[slot] = job;
    job.begun();
    const { allocate, done } = this.#recycler.allocator(job.tally);
    const info = Object.freeze({ ...job.info(slot), allocate });
    Promise.resolve().then(() => this.#getItem(job.index, info)).finally(done).then(
      (batch) => this.#settle(slot, job, () => job.resolve(batch)),
      (error) => this.#settle(slot, job, () => job.reject(error)),
    );
  }

  /** Reports a job's outcome, unless it was dropped or closed meanwhile, then runs the next. */
  #settle(slot: number, job: FetchJob<B>, report: () => void): void {
    if (this.#running[slot] !== job) return;
    this.#running[slot] = undefined;
    report();
    this.#drain(slot);
  }
}
