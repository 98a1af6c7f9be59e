// Fetchers whose batches come from data hosts: `count` slots on the main
// thread, each with one `GET {host}/batch?index=&epoch=&seed=` in flight at
// a time, as a ThreadFetcher's slots each run one `getItem` call. Which
// host, and what a host's failure or a 503 does, is decided here alone:
// a failure avoids the host for a while and goes to the policy, whose
// retry this fetcher sends elsewhere; a 503 is no failure: the request goes
// to another host at once, or waits (not counted against the timeout) for
// the first to be free.

import type { FetchJob } from "../_fetcher.ts";
import { SlotFetcher } from "../_slots.ts";
import { busyFor, nameAndMessage, onlyBatch, whatItSaid } from "./_answer.ts";
import type { Host, Hosts } from "./_hosts.ts";

/** Options for {@linkcode HttpFetcher}. */
export interface HttpFetcherOptions<B> {
  /** The hosts, shared by the dataset's fetchers: a host's avoidance outlives a fetcher. */
  hosts: Hosts;
  /** How many requests may be in flight: the fetcher ids are 0 to `count - 1`. */
  count: number;
  /** Sent with every request (such as authorization). */
  headers: Headers;
  /** The batches in a 200's body: the wire decoder, handed in (src/fetch does not import it). */
  read(response: Response): ReadableStream<B>;
}

/** What a host that said 503 gave instead of a batch. */
const BUSY: unique symbol = Symbol("busy");

/** Fetches batches from data hosts, `count` requests at a time. */
export class HttpFetcher<B> extends SlotFetcher<B> {
  #options: HttpFetcherOptions<B>;

  constructor(options: HttpFetcherOptions<B>) {
    super(options.count);
    this.#options = options;
  }

  /** A request can be stopped: a failed or aborted epoch aborts what is in flight. */
  override abandon(reason: Error): void {
    this.close(reason);
  }

  protected run(job: FetchJob<B>, slot: number, signal: AbortSignal): Promise<B> {
    return this.#request(job, slot, signal);
  }

  /** The job's batch, from the first host that answers it with one rather than a 503. */
  async #request(job: FetchJob<B>, slot: number, signal: AbortSignal): Promise<B> {
    const { epoch, epochSeed } = job.info(slot);
    const query = new URLSearchParams({
      index: String(job.index),
      epoch: String(epoch),
      seed: String(epochSeed),
    });
    while (true) {
      const host = await this.#host(job, signal);
      job.begun();
      const batch = await this.#send(host, `batch?${query}`, job.index, signal);
      if (batch !== BUSY) return batch;
    }
  }

  /**
   * The host to send to: at once when one is not busy, else once the
   * first is free. The job is `waiting` meanwhile: the wait is not the
   * batch's, and does not count against its timeout.
   */
  async #host(job: FetchJob<B>, signal: AbortSignal): Promise<Host> {
    let choice = this.#options.hosts.choose();
    if (typeof choice !== "number") return choice;
    job.waiting?.();
    while (typeof choice === "number") {
      await sleep(choice, signal);
      choice = this.#options.hosts.choose();
    }
    return choice;
  }

  /** Sends one request to `host`: its batch, or BUSY for a 503. */
  async #send(
    host: Host,
    path: string,
    index: number,
    signal: AbortSignal,
  ): Promise<B | typeof BUSY> {
    const { hosts, headers } = this.#options;
    host.inFlight++;
    try {
      const response = await fetch(new URL(path, host.url), { headers, signal }).catch((error) => {
        throw new Error(`${host.name} could not be reached: ${nameAndMessage(error)}`, {
          cause: error,
        });
      });
      const answer = await this.#answer(host, response, index);
      if (answer !== BUSY) hosts.answered(host);
      return answer;
    } catch (error) {
      const reason = signal.aborted ? signal.reason : undefined;
      // A request the timeout cut short is the host's failure; one no longer wanted is not.
      if (reason === undefined || isTimeout(reason)) hosts.avoid(host);
      throw reason ?? error;
    } finally {
      host.inFlight--;
    }
  }

  /** What `host`'s response to batch `index` gives: the batch, BUSY, or an error naming it. */
  async #answer(host: Host, response: Response, index: number): Promise<B | typeof BUSY> {
    const { status } = response;
    if (status === 503) {
      this.#options.hosts.busy(host, await busyFor(response));
      return BUSY;
    }
    if (!response.ok) {
      throw new Error(`${host.name} answered ${status}: ${await whatItSaid(response)}`);
    }
    const served = response.headers.get("x-pydataset-index");
    if (served !== null && served !== String(index)) {
      await response.body?.cancel();
      throw new Error(`${host.name} answered batch ${served} when asked for batch ${index}`);
    }
    return await onlyBatch(response, this.#options.read, host.name);
  }
}

/** Whether an abort's reason is a timeout's (the policy's `TimeoutError`). */
function isTimeout(reason: unknown): boolean {
  return reason instanceof DOMException && reason.name === "TimeoutError";
}

/** Resolves after `ms`, or rejects with `signal`'s reason once it aborts; leaves no timer. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const onAbort = () => {
    clearTimeout(timer);
    reject(signal.reason);
  };
  const timer = setTimeout(() => {
    signal.removeEventListener("abort", onAbort);
    resolve();
  }, ms);
  signal.addEventListener("abort", onAbort, { once: true });
  return promise;
}
