// Fetchers on the main thread: `count` slots that each run one `getItem`
// call at a time, as a worker pool's workers do, for datasets whose
// batches wait on I/O rather than the CPU.

import type { WorkerInfo } from "../worker_info.ts";
import type { FetchContext, Fetcher, FetchJob } from "./_fetcher.ts";
import { JobQueues } from "./_job_queues.ts";

/** A dataset's `getItem`, called on this thread. */
export type GetItem<B> = (index: number, info: WorkerInfo) => B | Promise<B>;

interface Job<B> extends FetchJob {
  resolve(value: B): void;
  reject(error: unknown): void;
}

/** Runs `getItem` on `count` slots of the main thread. */
export class ThreadFetcher<B> implements Fetcher<B> {
  readonly count: number;
  #getItem: GetItem<B>;
  #queues: JobQueues<Job<B>>;
  /** The job each slot runs, by slot. */
  #running: (Job<B> | undefined)[];
  #closed = false;

  constructor(count: number, getItem: GetItem<B>) {
    this.count = count;
    this.#getItem = getItem;
    this.#queues = new JobQueues(count);
    this.#running = Array.from({ length: count });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The slots are calls on this thread: nothing to let go of when idle. */
  get holdsResources(): boolean {
    return false;
  }

  /** Nothing to ready: the slots share the dataset itself. */
  begin(_context: FetchContext, _signal: AbortSignal): Promise<void> {
    return Promise.resolve();
  }

  fetch(request: FetchJob): Promise<B> {
    const { promise, resolve, reject } = Promise.withResolvers<B>();
    const job: Job<B> = { ...request, resolve, reject };
    if (this.#closed) reject(new Error("The fetcher was closed"));
    else if (job.signal.aborted) reject(job.signal.reason);
    else {
      job.signal.addEventListener("abort", () => this.#drop(job), { once: true });
      this.#queues.add(job);
      this.#drainAll();
    }
    return promise;
  }

  withdraw(after: number, reason: Error): void {
    for (const job of this.#queues.withdraw(after)) job.reject(reason);
  }

  /** A running call cannot be stopped: it runs to its end, its result ignored. */
  abandon(_reason: Error): void {}

  end(): void {}

  close(reason: Error): void {
    this.#closed = true;
    for (const job of this.#queues.withdraw(-Infinity)) job.reject(reason);
    for (const [slot, job] of this.#running.entries()) {
      this.#running[slot] = undefined;
      job?.reject(reason);
    }
  }

  /** A job no longer wanted: off its queue, or its slot freed for the next. */
  #drop(job: Job<B>): void {
    job.reject(job.signal.reason);
    if (this.#queues.remove(job)) return;
    const slot = this.#running.indexOf(job);
    if (slot < 0) return;
    this.#running[slot] = undefined;
    this.#drain(slot);
  }

  #drainAll(): void {
    for (let slot = 0; slot < this.count; slot++) this.#drain(slot);
  }

  #drain(slot: number): void {
    if (this.#running[slot] || this.#closed) return;
    const job = this.#queues.take(slot);
    if (!job) return;
    this.#running[slot] = job;
    job.begun();
    Promise.resolve().then(() => this.#getItem(job.index, job.info(slot))).then(
      job.resolve,
      job.reject,
    ).finally(() => {
      if (this.#running[slot] !== job) return; // dropped or closed meanwhile
      this.#running[slot] = undefined;
      this.#drain(slot);
    });
  }
}
