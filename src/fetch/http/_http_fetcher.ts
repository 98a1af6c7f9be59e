// Fetchers whose batches come from data hosts: `count` slots on the main
// thread, each with one `GET {host}/batch?index=&epoch=&seed=` in flight at
// a time, as a ThreadFetcher's slots each run one `getItem` call. Which
// host (the rule is in `_hosts.ts`), and what a host's failure or a 503
// does, is decided here alone:
// - a failure (no answer, an error status, a redirect, a body that cannot
//   be read, a 200 without `x-pydataset-index`, the timeout, or a 503
//   without Retry-After, which a closed host answers) avoids the host for
//   a while and goes to the policy, whose retry goes elsewhere;
// - a 503 with Retry-After is no failure: the request goes to another host
//   at once, or waits (not counted against the timeout) for a host to be
//   free, for as long as the hosts say they are busy: overload is
//   backpressure, and the epoch's signal still ends the wait.

import type { FetchJob } from "../_fetcher.ts";
import { SlotFetcher } from "../_slots.ts";
import { checkServed, nameAndMessage, onlyBatch, retryAfter, whatItSaid } from "./_answer.ts";
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

/** What a host that said 503 with Retry-After gave instead of a batch. */
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
   * The host to send to, counted as sent to: at once when one is free,
   * else once one is. The job is `waiting` meanwhile: the wait is not the
   * batch's, and does not count against its timeout.
   */
  async #host(job: FetchJob<B>, signal: AbortSignal): Promise<Host> {
    const { hosts } = this.#options;
    let choice = hosts.choose();
    if (typeof choice === "number") job.waiting?.();
    while (typeof choice === "number") {
      await hosts.wait(choice, signal);
      choice = hosts.choose();
    }
    hosts.sent(choice);
    return choice;
  }

  /** Sends one request to `host` (counted as sent to already): its batch, or BUSY for a 503. */
  async #send(
    host: Host,
    path: string,
    index: number,
    signal: AbortSignal,
  ): Promise<B | typeof BUSY> {
    const { hosts, headers } = this.#options;
    let busyFor: number | undefined;
    try {
      const init = { headers, signal, redirect: "error" } as const;
      const response = await fetch(new URL(path, host.url), init).catch((error) => {
        throw new Error(`${host.name} could not be reached: ${nameAndMessage(error)}`, {
          cause: error,
        });
      });
      if (response.status === 503) {
        busyFor = await retryAfter(response, host.name);
        return BUSY;
      }
      const batch = await this.#answer(host, response, index);
      hosts.answered(host);
      return batch;
    } catch (error) {
      const reason = signal.aborted ? signal.reason : undefined;
      // A request the timeout cut short is the host's failure; one no longer wanted is not.
      if (reason === undefined || isTimeout(reason)) hosts.avoid(host);
      throw reason ?? error;
    } finally {
      if (busyFor === undefined) hosts.settled(host);
      else hosts.refused(host, busyFor);
    }
  }

  /** What `host`'s response (not a 503) to batch `index` gives: the batch, or an error naming it. */
  async #answer(host: Host, response: Response, index: number): Promise<B> {
    if (!response.ok) {
      throw new Error(`${host.name} answered ${response.status}: ${await whatItSaid(response)}`);
    }
    await checkServed(response, index, host.name);
    return await onlyBatch(response, this.#options.read, host.name);
  }
}

/** Whether an abort's reason is a timeout's (the policy's `TimeoutError`). */
function isTimeout(reason: unknown): boolean {
  return reason instanceof DOMException && reason.name === "TimeoutError";
}
