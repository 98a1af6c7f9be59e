// `count` slots on this thread that each run one job at a time, the rest
// queued per slot: the machinery of the main-thread fetchers (getItem calls,
// requests to data hosts), which differ only in what running a job is.

import type { FetchContext, Fetcher, FetchJob } from "./_fetcher.ts";
import { JobQueues } from "./_job_queues.ts";

/** A slot's job, and what lets go of its run. */
interface Running<B> {
  job: FetchJob<B>;
  stop: AbortController;
}

/**
 * A fetcher of `count` slots on this thread, each running one job at a
 * time after the jobs queued for it; a kind says what running one is.
 */
export abstract class SlotFetcher<B> implements Fetcher<B> {
  readonly count: number;
  #queues: JobQueues<FetchJob<B>>;
  /** The job each slot runs, by slot. */
  #running: (Running<B> | undefined)[];
  #closed: Error | undefined;

  constructor(count: number) {
    this.count = count;
    this.#queues = new JobQueues(count);
    this.#running = Array.from({ length: count });
  }

  /**
   * Runs `job` on `slot`; `signal` aborts once the job is no longer wanted
   * (dropped, or the fetcher closed), for a run that can stop early.
   */
  protected abstract run(job: FetchJob<B>, slot: number, signal: AbortSignal): Promise<B>;

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  get refusing(): boolean {
    return this.closed;
  }

  /** The slots are on this thread: nothing to let go of when idle. */
  get holdsResources(): boolean {
    return false;
  }

  /** Nothing to ready: the slots share the dataset, or ask others for it. */
  begin(_context: FetchContext, _signal: AbortSignal): Promise<void> {
    return this.#closed ? Promise.reject(this.#closed) : Promise.resolve();
  }

  /** Queues `job` and starts what a free slot can; once closed, rejects it at once. */
  fetch(job: FetchJob<B>): void {
    if (this.#closed) return job.reject(this.#closed);
    const { signal } = job;
    if (signal?.aborted) return job.reject(signal.reason);
    signal?.addEventListener("abort", () => this.#drop(job, signal.reason), { once: true });
    this.#queues.add(job);
    for (let slot = 0; slot < this.count; slot++) this.#drain(slot);
  }

  /** Rejects, with `reason`, the queued jobs of positions after `after`. */
  withdraw(after: number, reason: Error): void {
    for (const job of this.#queues.withdraw(after)) job.reject(reason);
  }

  /** What runs is left to end (a kind whose runs can stop stops them). */
  abandon(_reason: Error): void {}

  end(): void {}

  /** Rejects every job, queued or running, with `reason`; their runs are told to stop. */
  close(reason: Error): void {
    this.#closed ??= reason;
    for (const job of this.#queues.withdraw(-Infinity)) job.reject(reason);
    for (const [slot, running] of this.#running.entries()) {
      if (!running) continue;
      this.#running[slot] = undefined;
      running.stop.abort(reason);
      running.job.reject(reason);
    }
  }

  /** A job no longer wanted, for `reason`: off its queue, or its run told to stop and its slot freed. */
  #drop(job: FetchJob<B>, reason: unknown): void {
    if (this.#queues.remove(job)) return job.reject(reason);
    const slot = this.#running.findIndex((running) => running?.job === job);
    if (slot < 0) return; // settled already
    const running = this.#running[slot]!;
    this.#running[slot] = undefined;
    running.stop.abort(reason);
    job.reject(reason);
    this.#drain(slot);
  }

  #drain(slot: number): void {
    if (this.#running[slot] || this.#closed) return;
    const job = this.#queues.take(slot);
    if (!job) return;
    const running = { job, stop: new AbortController() };
    this.#running[slot] = running;
    Promise.resolve().then(() => this.run(job, slot, running.stop.signal)).then(
      (batch) => this.#settle(slot, running, () => job.resolve(batch)),
      (error) => this.#settle(slot, running, () => job.reject(error)),
    );
  }

  /** Reports a job's outcome, unless it was dropped or closed meanwhile, then runs the next. */
  #settle(slot: number, running: Running<B>, report: () => void): void {
    if (this.#running[slot] !== running) return;
    this.#running[slot] = undefined;
    report();
    this.#drain(slot);
  }
}
