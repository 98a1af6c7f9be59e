// The jobs waiting for fetchers: one queue per fetcher id, for jobs that
// must run on that one, and a shared queue for jobs any fetcher may run.
// A fetcher takes its own jobs first. Every Fetcher queues with this.

import type { FetchJob } from "./_fetcher.ts";

/** Queued jobs, per fetcher and shared. */
export class JobQueues<J extends FetchJob> {
  #own: J[][];
  #shared: J[] = [];

  constructor(count: number) {
    this.#own = Array.from({ length: count }, () => []);
  }

  /** Queues `job`; a retry goes before the others, which keeps a worker's order as it was. */
  add(job: J): void {
    const queue = job.fetcher === undefined ? this.#shared : this.#own[job.fetcher]!;
    if (job.attempt > 0) queue.unshift(job);
    else queue.push(job);
  }

  /** Queues `job` before the others: it was taken, but never started. */
  putBack(job: J): void {
    const queue = job.fetcher === undefined ? this.#shared : this.#own[job.fetcher]!;
    queue.unshift(job);
  }

  /** The next job fetcher `id` runs, taken off its queue; undefined when none waits. */
  take(id: number): J | undefined {
    return this.#own[id]!.shift() ?? this.#shared.shift();
  }

  /** The next job that must run on fetcher `id`, taken off its queue; undefined when none waits. */
  takeOwn(id: number): J | undefined {
    return this.#own[id]!.shift();
  }

  /** How many jobs wait that must run on fetcher `id`. */
  ownCount(id: number): number {
    return this.#own[id]!.length;
  }

  /** Whether a job waits that fetcher `id` could run. */
  waitsFor(id: number): boolean {
    return this.#own[id]!.length > 0 || this.#shared.length > 0;
  }

  /** Takes `job` off its queue; whether it was queued. */
  remove(job: J): boolean {
    const queue = job.fetcher === undefined ? this.#shared : this.#own[job.fetcher]!;
    const at = queue.indexOf(job);
    if (at >= 0) queue.splice(at, 1);
    return at >= 0;
  }

  /** Takes off and returns the jobs of positions after `after` (all with -1). */
  withdraw(after: number): J[] {
    const withdrawn: J[] = [];
    for (const queue of [this.#shared, ...this.#own]) {
      const kept = queue.filter((job) => job.position <= after);
      for (const job of queue) if (job.position > after) withdrawn.push(job);
      queue.splice(0, queue.length, ...kept);
    }
    return withdrawn;
  }
}
