// Fetchers on the main thread: `count` slots that each run one `getItem`
// call at a time, as the worker pool's workers do. A request names its slot
// (ordered epochs: position mod count, so each slot's sequence of batches is
// reproducible) or takes the first free one.

interface Job<B> {
  index: number;
  position: number;
  begun(): void;
  resolve(value: B): void;
  reject(error: unknown): void;
}

/** Runs `run(index, fetcher)` on `count` slots, one call per slot at a time. */
export class ThreadFetchers<B> {
  #run: (index: number, fetcher: number) => Promise<B>;
  #busy: boolean[];
  #queues: Job<B>[][];
  #shared: Job<B>[] = [];

  constructor(count: number, run: (index: number, fetcher: number) => Promise<B>) {
    this.#run = run;
    this.#busy = Array.from({ length: count }, () => false);
    this.#queues = Array.from({ length: count }, () => []);
  }

  /** Fetches batch `index` on slot `fetcher`, or the first free slot. */
  fetch(
    index: number,
    position: number,
    fetcher: number | undefined,
    begun: () => void,
  ): Promise<B> {
    const { promise, resolve, reject } = Promise.withResolvers<B>();
    const job = { index, position, begun, resolve, reject };
    if (fetcher === undefined) {
      this.#shared.push(job);
      for (let slot = 0; slot < this.#busy.length; slot++) this.#drain(slot);
    } else {
      this.#queues[fetcher]!.push(job);
      this.#drain(fetcher);
    }
    return promise;
  }

  /** Rejects the jobs not yet started of positions after `after`. */
  withdraw(after: number, reason: unknown): void {
    for (const queue of [this.#shared, ...this.#queues]) {
      const kept = queue.filter((job) => job.position <= after);
      for (const job of queue) if (job.position > after) job.reject(reason);
      queue.splice(0, queue.length, ...kept);
    }
  }

  #drain(slot: number): void {
    if (this.#busy[slot]) return;
    const job = this.#queues[slot]!.shift() ?? this.#shared.shift();
    if (!job) return;
    this.#busy[slot] = true;
    job.begun();
    this.#run(job.index, slot).then(job.resolve, job.reject).finally(() => {
      this.#busy[slot] = false;
      this.#drain(slot);
    });
  }
}
