// The host's one limit: open /epoch streams and in-flight /batch requests
// together run at most `maxConcurrent` at a time; one more is refused with
// a 503 and a Retry-After (busy: the client waits). A closed host refuses
// every request with a 503 and no Retry-After (going away: the client
// fails over at once). Both are counted.

import { errorResponse } from "./_error_response.ts";

/** What holds a place under the limit. */
export type Admitted = "epoch" | "batch";

/** The places under the limit, taken and given back. */
export class Admission {
  #max: number;
  #retryAfter: number;
  #running: Record<Admitted, number> = { epoch: 0, batch: 0 };
  #refused = 0;

  /**
   * @param max How many may run at once.
   * @param retryAfter The seconds a refused client is told to wait.
   */
  constructor(max: number, retryAfter: number) {
    this.#max = max;
    this.#retryAfter = retryAfter;
  }

  /** How many of `what` run now. */
  running(what: Admitted): number {
    return this.#running[what];
  }

  /** How many requests were refused so far, busy or closed. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Takes a place for `what`, or answers the request at `path` with a 503
   * when none is left (then returns the response).
   */
  enter(what: Admitted, path: string): Response | undefined {
    const running = this.#running.epoch + this.#running.batch;
    if (running < this.#max) {
      this.#running[what]++;
      return undefined;
    }
    this.#refused++;
    return errorResponse(503, {
      name: "BusyError",
      message:
        `Cannot serve ${path} as the host runs its limit of open epochs and batch requests, maxConcurrent: current value is ${running}`,
    }, { "retry-after": String(this.#retryAfter) });
  }

  /** Gives back a place that `enter` took. */
  leave(what: Admitted): void {
    this.#running[what]--;
  }

  /**
   * Refuses a request at `path` to a closed host: a 503 without
   * Retry-After, as waiting will not help.
   */
  closed(path: string): Response {
    this.#refused++;
    return errorResponse(503, {
      name: "ClosedError",
      message: `Cannot serve ${path} as the host was closed`,
    });
  }
}
