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

/**
 * What `getItem` gets as `info` when fetcher `id` runs attempt `attempt`
 * of batch `index` (but `allocate`, which the fetcher adds): frozen, its
 * `attempt` the one given.
 */
export type JobInfo = (id: number, index: number, attempt: number) => BatchFacts;

/** Where a request's outcome goes: a promise's resolvers, or an epoch's position. */
export interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A request's attempts so far, and where its outcome goes: what its retries share. */
class BatchRun<B> {
  /** The attempts made. */
  made = 0;
  /** The retries after a failure (not a lost fetcher), for the delay. */
  retried = 0;
  /** How many times its fetcher was lost. */
  lost = 0;
  /** The fetcher that ran the last attempt. */
  ranOn: number | undefined;

  constructor(
    readonly request: BatchRequest,
    readonly info: JobInfo,
    readonly signal: AbortSignal | undefined,
    /** Whether a failure may be skipped (`fetchOrSkip`). */
    readonly skippable: boolean,
    readonly outcome: Settle<B | typeof SKIPPED>,
  ) {}
}

/** What an attempt reports to its policy, once. */
interface Outcomes<B> {
  succeeded(run: BatchRun<B>, batch: B): void;
  failed(run: BatchRun<B>, error: unknown): void;
}

/**
 * One attempt at a request: the job the fetcher gets, one object with its
 * methods (this runs for every batch). Its outcome is reported once: the
 * fetcher's, or the end of its time (while it runs: from `begun`, but not
 * while the fetcher is `waiting`), or the caller's signal.
 */
class Attempt<B> implements FetchJob<B> {
  readonly index: number;
  readonly position: number;
  readonly fetcher: number | undefined;
  readonly attempt: number;
  readonly tally: AllocationTally;
  readonly signal: AbortSignal | undefined;
  #run: BatchRun<B>;
  #outcomes: Outcomes<B>;
  #settled = false;
  #begun = false;
  /** Undefined without a timeout. */
  #clock: AttemptClock | undefined;

  constructor(
    run: BatchRun<B>,
    outcomes: Outcomes<B>,
    tally: AllocationTally,
    timeout: number | undefined,
  ) {
    const { request } = run;
    this.index = request.index;
    this.position = request.position;
    this.fetcher = run.ranOn ?? request.fetcher;
    this.attempt = run.made++;
    this.tally = tally;
    this.#run = run;
    this.#outcomes = outcomes;
    this.signal = this.#limit(timeout, run.signal);
  }

  info(id: number): BatchFacts {
    this.#run.ranOn = id;
    return this.#run.info(id, this.index, this.attempt);
  }

  begun(): void {
    if (!this.#begun) this.#run.request.begun();
    this.#begun = true;
    this.#clock?.run();
  }

  waiting(): void {
    this.#clock?.pause();
  }

  resolve(batch: B): void {
    if (this.#settle()) this.#outcomes.succeeded(this.#run, batch);
  }

  reject(error: unknown): void {
    if (this.#settle()) this.#outcomes.failed(this.#run, error);
  }

  /**
   * The signal that drops the job: the end of its time, or the caller's
   * `signal`; none when there is neither (a fetcher drops it otherwise only
   * when withdrawn or closed).
   */
  #limit(timeout: number | undefined, signal: AbortSignal | undefined): AbortSignal | undefined {
    if (timeout === undefined && !signal) return undefined;
    const expiry = new AbortController();
    if (timeout !== undefined) {
      // A fetcher lets go of the job when its signal aborts; the policy
      // does not wait for it to, but reports the timeout itself.
      this.#clock = attemptClock(timeout, () => {
        expiry.abort(timedOut(this.index, timeout));
        this.reject(expiry.signal.reason);
      });
    }
    if (!signal) return expiry.signal;
    const stop = AbortSignal.any([expiry.signal, signal]);
    // On `stop`, which lives as long as the attempt, not on the caller's signal.
    stop.addEventListener("abort", () => this.reject(stop.reason), { once: true });
    return stop;
  }

  /** Whether this is the first report; stops the clock. */
  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#clock?.stop();
    return true;
  }
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
  /** Where every attempt reports: one object for all. */
  #outcomes: Outcomes<B> = {
    succeeded: (run, batch) => {
      try {
        run.outcome.resolve(checkBatch(batch));
      } catch (error) {
        this.#fail(run, error);
      }
    },
    failed: (run, error) => this.#retryOrFail(run, error),
  };

  constructor(fetcher: Fetcher<B>, options: BatchPolicyOptions) {
    this.#fetcher = fetcher;
    this.#options = options;
  }

  /**
   * Fetches the batch `request` asks for, with `info` for the fetcher that
   * runs it; rejects with a {@linkcode BatchError} that names it (and how
   * many attempts failed), or with `signal`'s reason once it aborts.
   */
  fetch(request: BatchRequest, info: JobInfo, signal?: AbortSignal): Promise<B> {
    const resolvers = Promise.withResolvers<B | typeof SKIPPED>();
    this.#attempt(new BatchRun<B>(request, info, signal, false, resolvers));
    return resolvers.promise as Promise<B>; // not skippable: SKIPPED never comes
  }

  /**
   * {@linkcode BatchPolicy.prototype.fetch} for an epoch, which `request`
   * tells the outcome (no promise: this runs for every batch); a batch
   * that still fails is {@linkcode SKIPPED} with `onError: "skip"`, while
   * the budget lasts: the one past it fails with a `BatchError` that says
   * so. A batch that was withdrawn, or that the fetcher refused, is never
   * skipped.
   */
  fetchOrSkip(request: BatchRequest & Settle<B | typeof SKIPPED>, info: JobInfo): void {
    this.#attempt(new BatchRun<B>(request, info, undefined, true, request));
  }

  /** Hands the next attempt of `run` to the fetcher. */
  #attempt(run: BatchRun<B>): void {
    if (run.made > 0) this.#options.onRetry?.();
    const { tally = { allocations: 0, recycled: 0 }, timeout } = this.#options;
    const attempt = new Attempt(run, this.#outcomes, tally, timeout);
    try {
      this.#fetcher.fetch(attempt);
    } catch (error) {
      // A fetcher that throws instead of rejecting: the batch still settles, once.
      attempt.reject(error);
    }
  }

  /**
   * Decides after a failed attempt: again at once (a fetcher lost the first
   * time), again after the delay (while `retries` allow), or the failure.
   * An attempt queued from here goes before its fetcher's next job.
   */
  #retryOrFail(run: BatchRun<B>, error: unknown): void {
    const lost = isLost(error);
    if (lost) run.lost++;
    const stopped = (run.signal?.aborted ?? false) || this.#fetcher.refusing ||
      run.request.position > this.#withdrawnAfter;
    if (stopped) return this.#fail(run, error);
    if (lost && run.lost <= LOST_RETRIES) {
      // Recovered from, but said: a lost fetcher is a bug worth seeing.
      console.error(`${error.message}; retrying the batch on a new ${error.kind}:`, error.cause);
      return this.#attempt(run);
    }
    if (run.retried >= this.#options.retries) return this.#fail(run, error);
    const doubling = 2 ** Math.min(run.retried++, 30); // 2³⁰ × any delay is past the cap
    const delay = Math.min(this.#options.retryDelay * doubling, MAX_RETRY_DELAY);
    this.#later(run, delay);
  }

  /**
   * Reports `run`'s failure for `error`: the signal's reason as it is; else
   * a BatchError, or, for a skippable run, SKIPPED while the budget lasts.
   */
  #fail(run: BatchRun<B>, error: unknown): void {
    const { signal, request } = run;
    if (signal?.aborted && error === signal.reason) return run.outcome.reject(error);
    const failure = this.#batchError(
      request.index,
      lostAgain(error, run.lost, request.index),
      run.made,
    );
    const { onError, maxSkipped, onSkip } = this.#options;
    const skippable = run.skippable && onError === "skip" &&
      request.position <= this.#withdrawnAfter && !this.#fetcher.refusing;
    if (!skippable) return run.outcome.reject(failure);
    // The epoch's own callbacks, here inside a fetcher's call: one that throws fails the batch.
    try {
      const budget = maxSkipped?.() ?? 0;
      if (this.#skipped >= budget) return run.outcome.reject(overBudget(failure, budget));
      onSkip?.(request, failure, ++this.#skipped);
    } catch (error) {
      return run.outcome.reject(error);
    }
    run.outcome.resolve(SKIPPED);
  }

  /** Tries `run` again after `delay` ms, unless withdrawn or aborted first (then it fails). */
  #later(run: BatchRun<B>, delay: number): void {
    const { signal } = run;
    const done = () => {
      clearTimeout(timer);
      this.#delayed.delete(delayed);
      signal?.removeEventListener("abort", onAbort);
    };
    const delayed: Delayed = {
      position: run.request.position,
      cancel: (reason) => (done(), this.#fail(run, reason)),
    };
    const onAbort = () => delayed.cancel(signal!.reason);
    const timer = setTimeout(() => (done(), this.#attempt(run)), delay);
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

/** The clock of an attempt that may take `timeout` ms of running time. */
function attemptClock(timeout: number, expire: () => void): AttemptClock {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let spent = 0;
  let since: number | undefined;
  let stopped = false;
  return {
    run() {
      if (stopped || since !== undefined) return;
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
function lostAgain(error: unknown, lost: number, index: number): unknown {
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
  if (someBuffer(batch, isDetached)) {
    throw new TypeError(
      "Expected getItem to return a batch of live arrays, but it holds a detached ArrayBuffer: an array from info.allocate belongs to the batch it was returned in, and release() detaches it, so do not keep one in the dataset's fields; a transferred array cannot be returned either",
    );
  }
  return batch;
}

/** Whether `buffer` was detached (transferred, or released). */
function isDetached(buffer: ArrayBuffer): boolean {
  return buffer.detached;
}
