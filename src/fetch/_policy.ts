// The per-batch policy, wrapped around any Fetcher: the one place that
// decides what a batch's attempt may take (the timeout), when it is tried
// again (after its fetcher was lost), and what its failure says (a
// BatchError). Every fetcher kind gets it alike.

import { describeError } from "../_describe.ts";
import { BatchError } from "../batch_error.ts";
import type { WorkerInfo } from "../worker_info.ts";
import { type BatchRequest, type Fetcher, FetcherLost, type FetchJob } from "./_fetcher.ts";

/** How many times a batch is tried again after its fetcher was lost. */
const LOST_RETRIES = 1;

/** Options for {@linkcode BatchPolicy}. */
export interface BatchPolicyOptions {
  /** The dataset's class name, for messages. */
  name: string;
  /** Milliseconds an attempt may take once started; undefined for no limit. */
  timeout: number | undefined;
}

/** Fetches batches through a {@linkcode Fetcher}, under the policy. */
export class BatchPolicy<B> {
  #fetcher: Fetcher<B>;
  #options: BatchPolicyOptions;

  constructor(fetcher: Fetcher<B>, options: BatchPolicyOptions) {
    this.#fetcher = fetcher;
    this.#options = options;
  }

  /**
   * Fetches the batch `request` asks for, with `info(id)` for fetcher `id`;
   * rejects with a {@linkcode BatchError} that names it, or with `signal`'s
   * reason once it aborts.
   */
  async fetch(
    request: BatchRequest,
    info: (id: number) => WorkerInfo,
    signal?: AbortSignal,
  ): Promise<B> {
    for (let attempt = 0;; attempt++) {
      try {
        return checkBatch(await this.#attempt({ ...request, attempt, info }, signal));
      } catch (error) {
        if (signal?.aborted && error === signal.reason) throw error;
        if (isLost(error) && attempt < LOST_RETRIES) {
          // Recovered from, but said: a lost fetcher is a bug worth seeing.
          console.error(
            `${error.message}; retrying the batch on a new ${error.kind}:`,
            error.cause,
          );
          continue;
        }
        throw this.#batchError(request.index, lostTwice(error, request.index));
      }
    }
  }

  /** One attempt, over once it settles, or its time is up, or `signal` aborts. */
  #attempt(job: Omit<FetchJob, "signal">, signal: AbortSignal | undefined): Promise<B> {
    const { timeout } = this.#options;
    const expiry = new AbortController();
    const stop = signal ? AbortSignal.any([expiry.signal, signal]) : expiry.signal;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const begun = () => {
      job.begun();
      if (timeout === undefined) return;
      timer = setTimeout(() => expiry.abort(timedOut(job.index, timeout)), timeout);
    };
    const fetched = this.#fetcher.fetch({ ...job, begun, signal: stop });
    const { promise: stopped, reject } = Promise.withResolvers<never>();
    stop.addEventListener("abort", () => reject(stop.reason), { once: true });
    // Whichever loses the race no longer matters.
    fetched.catch(() => {});
    stopped.catch(() => {});
    return Promise.race([fetched, stopped]).finally(() => clearTimeout(timer));
  }

  #batchError(index: number, cause: unknown): BatchError {
    const message = this.#fetcher.explain?.(index, cause) ??
      `Cannot get batch ${index} of ${this.#options.name}: ${describeError(cause)}`;
    return new BatchError(index, message, { cause });
  }
}

/** `error instanceof FetcherLost`, false where a Proxy's traps throw. */
function isLost(error: unknown): error is FetcherLost {
  try {
    return error instanceof FetcherLost;
  } catch {
    return false;
  }
}

function timedOut(index: number, timeout: number): DOMException {
  return new DOMException(
    `Batch ${index} took longer than the timeout of ${timeout} ms`,
    "TimeoutError",
  );
}

/** A fetcher lost again on the retry: the batch itself is the likely cause. */
function lostTwice(error: unknown, index: number): unknown {
  if (!isLost(error)) return error;
  const cause = error.cause;
  return new Error(
    `The ${error.kind} died twice while fetching batch ${index}: ${describeError(cause)}`,
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
  return batch;
}
