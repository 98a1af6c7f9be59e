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
  fetch(
    request: BatchRequest,
    info: (id: number) => WorkerInfo,
    signal?: AbortSignal,
  ): Promise<B> {
    const { promise, resolve, reject } = Promise.withResolvers<B>();
    const fail = (error: unknown) => {
      if (signal?.aborted && error === signal.reason) reject(error);
      else reject(this.#batchError(request.index, lostTwice(error, request.index)));
    };
    const attempt = (number: number) =>
      this.#attempt({ ...request, attempt: number, info }, signal, {
        resolve: (batch) => {
          try {
            resolve(checkBatch(batch));
          } catch (error) {
            fail(error);
          }
        },
        reject: (error) => {
          if (!isLost(error) || number >= LOST_RETRIES) return fail(error);
          // Recovered from, but said: a lost fetcher is a bug worth seeing.
          console.error(
            `${error.message}; retrying the batch on a new ${error.kind}:`,
            error.cause,
          );
          attempt(number + 1);
        },
      });
    attempt(0);
    return promise;
  }

  /**
   * Hands one attempt to the fetcher. Its outcome is reported once: the
   * fetcher's, or the end of its time (from when it starts), or `signal`.
   * A retry queued from `outcome.reject` goes before the fetcher's next job.
   */
  #attempt(
    job: Omit<FetchJob<B>, "signal" | "resolve" | "reject">,
    signal: AbortSignal | undefined,
    outcome: Pick<FetchJob<B>, "resolve" | "reject">,
  ): void {
    const { timeout } = this.#options;
    const expiry = new AbortController();
    const stop = signal ? AbortSignal.any([expiry.signal, signal]) : expiry.signal;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const once = <T>(report: (value: T) => void) => (value: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      report(value);
    };
    const reject = once(outcome.reject);
    // A fetcher lets go of the job when `stop` aborts; the policy does not wait for it to.
    stop.addEventListener("abort", () => reject(stop.reason), { once: true });
    this.#fetcher.fetch({
      ...job,
      signal: stop,
      begun: () => {
        job.begun();
        if (timeout === undefined || settled) return;
        timer = setTimeout(() => expiry.abort(timedOut(job.index, timeout)), timeout);
      },
      resolve: once(outcome.resolve),
      reject,
    });
  }

  #batchError(index: number, cause: unknown): BatchError {
    const detail = this.#fetcher.explain?.(cause) ?? `: ${describeError(cause)}`;
    return new BatchError(index, `Cannot get batch ${index} of ${this.#options.name}${detail}`, {
      cause,
    });
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
