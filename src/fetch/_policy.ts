// The per-batch policy, wrapped around any Fetcher: the one place that
// decides what a batch's attempt may take (the timeout), when it is tried
// again (a lost fetcher once at once; any failure up to `retries` times,
// with a doubling delay), what its failure says (a BatchError), and whether
// an epoch skips it (`onError: "skip"`, within `maxSkipped`). Every fetcher
// kind gets it alike.

import { someBuffer } from "../_buffers_in.ts";
import { describeError } from "../_describe.ts";
import { BatchError } from "../batch_error.ts";
import {
  type AllocationTally,
  type BatchFacts,
  type BatchRequest,
  type Fetcher,
  FetcherLost,
  type FetchJob,
} from "./_fetcher.ts";

/** How many times a batch is tried again at once after its fetcher was lost, beyond `retries`. */
const LOST_RETRIES = 1;

/** The longest wait before a retry, in ms. */
const MAX_RETRY_DELAY = 10_000;

/** Options for {@linkcode BatchPolicy}. */
export interface BatchPolicyOptions {
  /** The dataset's class name, for messages. */
  name: string;
  /** Milliseconds an attempt may take once started; undefined for no limit. */
  timeout: number | undefined;
  /** How many more attempts a failing batch gets. */
  retries: number;
  /** Milliseconds before the first retry; doubling, at most 10 s. */
  retryDelay: number;
  /** Called for each attempt beyond a batch's first. */
  onRetry?(): void;
  /** Where the attempts' `info.allocate` calls are counted: the epoch's stats (none: nowhere). */
  tally?: AllocationTally;
  /** What {@linkcode BatchPolicy.prototype.fetchOrSkip} does with a failed batch. */
  onError?: "raise" | "skip";
  /** The most batches `fetchOrSkip` skips; asked at the first skip. */
  maxSkipped?(): number;
  /** Called for each skipped batch, with how many were skipped so far. */
  onSkip?(request: BatchRequest, error: BatchError, skipped: number): void;
}

/** What {@linkcode BatchPolicy.prototype.fetchOrSkip} gives for a skipped batch. */
export const SKIPPED: unique symbol = Symbol("skipped");

/** What `getItem` gets as `info`, but for the attempt, which the policy adds. */
export type JobInfo = (id: number) => Omit<BatchFacts, "attempt">;

/** One request's attempts so far. */
interface Attempts {
  /** The attempts made. */
  made: number;
  /** The retries after a failure (not a lost fetcher), for the delay. */
  retried: number;
  /** How many times its fetcher was lost. */
  lost: number;
  /** The fetcher that ran the last attempt. */
  ranOn: number | undefined;
}

/** A retry waiting for its delay. */
interface Delayed {
  position: number;
  cancel(reason: unknown): void;
}

/** Fetches batches through a {@linkcode Fetcher}, under the policy. */
export class BatchPolicy<B> {
  #fetcher: Fetcher<B>;
  #options: BatchPolicyOptions;
  #delayed = new Set<Delayed>();
  /** How many batches `fetchOrSkip` skipped. */
  #skipped = 0;
  /** Positions after this one were withdrawn: their failures are not retried. */
  #withdrawnAfter = Infinity;

  constructor(fetcher: Fetcher<B>, options: BatchPolicyOptions) {
    this.#fetcher = fetcher;
    this.#options = options;
  }

  /**
   * Fetches the batch `request` asks for, with `info(id)` for fetcher `id`;
   * rejects with a {@linkcode BatchError} that names it (and how many
   * attempts failed), or with `signal`'s reason once it aborts.
   */
  fetch(request: BatchRequest, info: JobInfo, signal?: AbortSignal): Promise<B> {
    const { promise, resolve, reject } = Promise.withResolvers<B>();
    const attempts: Attempts = { made: 0, retried: 0, lost: 0, ranOn: undefined };
    const fail = (error: unknown) => {
      if (signal?.aborted && error === signal.reason) return reject(error);
      reject(
        this.#batchError(request.index, lostAgain(error, attempts, request.index), attempts.made),
      );
    };
    const attempt = (): void => {
      const number = attempts.made++;
      if (number > 0) this.#options.onRetry?.();
      const fetcher = attempts.ranOn ?? request.fetcher;
      const jobInfo = (id: number): BatchFacts => {
        attempts.ranOn = id;
        return Object.freeze({ ...info(id), attempt: number });
      };
      this.#attempt({ ...request, fetcher, attempt: number, info: jobInfo }, signal, {
        resolve: (batch) => {
          try {
            resolve(checkBatch(batch));
          } catch (error) {
            fail(error);
          }
        },
        reject: (error) => this.#retryOrFail(request, error, attempts, signal, attempt, fail),
      });
    };
    attempt();
    return promise;
  }

  /**
   * {@linkcode BatchPolicy.prototype.fetch}, but a batch that still fails
   * is {@linkcode SKIPPED} with `onError: "skip"`, while the budget lasts:
   * the one past it fails with a `BatchError` that says so. A batch that
   * was withdrawn, or that the fetcher refused, is never skipped.
   */
  async fetchOrSkip(request: BatchRequest, info: JobInfo): Promise<B | typeof SKIPPED> {
    try {
      return await this.fetch(request, info);
    } catch (error) {
      const { onError, maxSkipped, onSkip } = this.#options;
      const skippable = onError === "skip" && error instanceof BatchError &&
        request.position <= this.#withdrawnAfter && !this.#fetcher.refusing;
      if (!skippable) throw error;
      const budget = maxSkipped?.() ?? 0;
      if (this.#skipped >= budget) throw overBudget(error, budget);
      onSkip?.(request, error, ++this.#skipped);
      return SKIPPED;
    }
  }

  /**
   * Decides after a failed attempt: again at once (a fetcher lost the first
   * time), again after the delay (while `retries` allow), or the failure.
   * An attempt queued from here goes before its fetcher's next job.
   */
  #retryOrFail(
    request: BatchRequest,
    error: unknown,
    attempts: Attempts,
    signal: AbortSignal | undefined,
    again: () => void,
    fail: (error: unknown) => void,
  ): void {
    const lost = isLost(error);
    if (lost) attempts.lost++;
    const stopped = (signal?.aborted ?? false) || this.#fetcher.refusing ||
      request.position > this.#withdrawnAfter;
    if (stopped) return fail(error);
    if (lost && attempts.lost <= LOST_RETRIES) {
      // Recovered from, but said: a lost fetcher is a bug worth seeing.
      console.error(`${error.message}; retrying the batch on a new ${error.kind}:`, error.cause);
      return again();
    }
    if (attempts.retried >= this.#options.retries) return fail(error);
    const doubling = 2 ** Math.min(attempts.retried++, 30); // 2³⁰ × any delay is past the cap
    const delay = Math.min(this.#options.retryDelay * doubling, MAX_RETRY_DELAY);
    this.#later(request.position, delay, again, fail, signal);
  }

  /** Runs `again` after `delay` ms, unless withdrawn or aborted first (then `fail`). */
  #later(
    position: number,
    delay: number,
    again: () => void,
    fail: (reason: unknown) => void,
    signal: AbortSignal | undefined,
  ): void {
    const done = () => {
      clearTimeout(timer);
      this.#delayed.delete(delayed);
      signal?.removeEventListener("abort", onAbort);
    };
    const delayed: Delayed = { position, cancel: (reason) => (done(), fail(reason)) };
    const onAbort = () => delayed.cancel(signal!.reason);
    const timer = setTimeout(() => (done(), again()), delay);
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#delayed.add(delayed);
  }

  /**
   * Rejects, with `reason`, the batches of positions after `after` that
   * wait for a fetcher or for their retry's delay (all with -Infinity), and
   * tries none of them again.
   */
  withdraw(after: number, reason: Error): void {
    this.#withdrawnAfter = Math.min(this.#withdrawnAfter, after);
    for (const delayed of [...this.#delayed]) {
      if (delayed.position > after) delayed.cancel(reason);
    }
    this.#fetcher.withdraw(after, reason);
  }

  /**
   * Hands one attempt to the fetcher. Its outcome is reported once: the
   * fetcher's, or the end of its time (while it runs: from `begun`, but
   * not while the fetcher is `waiting`), or `signal`.
   */
  #attempt(
    job: Omit<FetchJob<B>, "signal" | "resolve" | "reject" | "tally">,
    signal: AbortSignal | undefined,
    outcome: Pick<FetchJob<B>, "resolve" | "reject">,
  ): void {
    const { timeout } = this.#options;
    const expiry = new AbortController();
    const stop = signal ? AbortSignal.any([expiry.signal, signal]) : expiry.signal;
    let settled = false;
    let begun = false;
    const once = <T>(report: (value: T) => void) => (value: T) => {
      if (settled) return;
      settled = true;
      clock.stop();
      report(value);
    };
    const reject = once(outcome.reject);
    // A fetcher lets go of the job when `stop` aborts; the policy does not
    // wait for it to, but reports the timeout or the abort itself.
    const clock = attemptClock(timeout, () => {
      expiry.abort(timedOut(job.index, timeout!));
      reject(expiry.signal.reason);
    });
    // On `stop`, which lives as long as the attempt, not on the caller's signal.
    if (signal) stop.addEventListener("abort", () => reject(stop.reason), { once: true });
    this.#fetcher.fetch({
      ...job,
      tally: this.#options.tally ?? { allocations: 0, recycled: 0 },
      signal: stop,
      begun: () => {
        if (!begun) job.begun();
        begun = true;
        clock.run();
      },
      waiting: () => clock.pause(),
      resolve: once(outcome.resolve),
      reject,
    });
  }

  #batchError(index: number, cause: unknown, attempts: number): BatchError {
    const detail = this.#fetcher.explain?.(cause) ?? `: ${describeError(cause)}`;
    const failed = attempts > 1 ? ` (${attempts} attempts failed)` : "";
    const message = `Cannot get batch ${index} of ${this.#options.name}${failed}${detail}`;
    return new BatchError(index, message, { cause, attempts });
  }
}

/** The failure of the batch that would skip one more than `budget`. */
function overBudget(error: BatchError, budget: number): BatchError {
  return new BatchError(
    error.index,
    `${error.message} (onError: "skip" would exceed maxSkipped: ${budget} batches of this epoch were skipped already)`,
    { cause: error.cause, attempts: error.attempts },
  );
}

/** `error instanceof FetcherLost`, false where a Proxy's traps throw. */
function isLost(error: unknown): error is FetcherLost {
  try {
    return error instanceof FetcherLost;
  } catch {
    return false;
  }
}

/** An attempt's time: it runs, pauses, runs on, and calls `expire` past `timeout` ms of running. */
interface AttemptClock {
  /** Starts it, or lets it go on after a pause; nothing while it runs or once stopped. */
  run(): void;
  /** Stops it until the next `run`: what passes meanwhile is not counted. */
  pause(): void;
  /** Stops it for good. */
  stop(): void;
}

/** The clock of an attempt that may take `timeout` ms of running time (undefined: no limit). */
function attemptClock(timeout: number | undefined, expire: () => void): AttemptClock {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let spent = 0;
  let since: number | undefined;
  let stopped = false;
  return {
    run() {
      if (timeout === undefined || stopped || since !== undefined) return;
      since = performance.now();
      timer = setTimeout(expire, Math.max(0, timeout - spent));
    },
    pause() {
      if (since === undefined) return;
      clearTimeout(timer);
      spent += performance.now() - since;
      since = undefined;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function timedOut(index: number, timeout: number): DOMException {
  return new DOMException(
    `Batch ${index} took longer than the timeout of ${timeout} ms`,
    "TimeoutError",
  );
}

/** A fetcher lost more than once on one batch: the batch itself is the likely cause. */
function lostAgain(error: unknown, { lost }: Attempts, index: number): unknown {
  if (!isLost(error) || lost < 2) return error;
  const times = lost === 2 ? "twice" : `${lost} times`;
  const cause = error.cause;
  return new Error(
    `The ${error.kind} died ${times} while fetching batch ${index}: ${describeError(cause)}`,
    { cause },
  );
}

/**
 * Returns `batch`, or throws when `getItem` returned nothing: `undefined`
 * or `null` would otherwise look like a missing batch (Keras hangs on it).
 */
function checkBatch<B>(batch: B): B {
  if (batch === undefined || batch === null) {
    throw new TypeError(`Expected getItem to return a batch: current value is ${batch}`);
  }
  // A main-thread batch is the object itself: a detached array would read
  // as empty (a worker's batch is checked as it is sent).
  if (someBuffer(batch, (buffer) => buffer.detached)) {
    throw new TypeError(
      "Expected getItem to return a batch of live arrays, but it holds a detached ArrayBuffer: an array from info.allocate belongs to the batch it was returned in, and release() detaches it, so do not keep one in the dataset's fields; a transferred array cannot be returned either",
    );
  }
  return batch;
}
