// The data hosts that one dataset's HTTP fetchers share, and the one rule
// for which host gets a request: the fewest requests in flight (ties in
// turn) among the hosts that are neither busy (a 503, until its
// Retry-After) nor avoided (a failure, for `avoidFor`); when every host
// that is not busy is avoided, the one whose avoidance ends first (never a
// stall); when every host is busy, none until the first is free. The state
// outlives any one fetcher, so a host found dead stays avoided across epochs.

/** One data host, as the fetchers see it. */
export interface Host {
  /** Its base URL, ending in "/": `batch` resolves against it. */
  readonly url: URL;
  /** Its URL for messages, without the trailing "/". */
  readonly name: string;
  /** Requests sent to it that have not settled. */
  inFlight: number;
  /** Until when (`performance.now()`) it is avoided after a failure. */
  avoidedUntil: number;
  /** Until when (`performance.now()`) it said it is busy. */
  busyUntil: number;
}

/** The hosts of one dataset, and which one to send to. */
export class Hosts {
  readonly #hosts: Host[];
  readonly #avoidFor: number;
  /** Where the round robin among equally loaded hosts goes on from. */
  #turn = 0;

  /**
   * @param urls Each host's base URL, ending in "/".
   * @param avoidFor Milliseconds a host that failed is avoided.
   */
  constructor(urls: readonly URL[], avoidFor: number) {
    this.#hosts = urls.map((url) => ({
      url,
      name: url.href.replace(/\/$/, ""),
      inFlight: 0,
      avoidedUntil: 0,
      busyUntil: 0,
    }));
    this.#avoidFor = avoidFor;
  }

  /** Every host, in the order given. */
  get all(): readonly Host[] {
    return this.#hosts;
  }

  /**
   * The host to send a request to now; or, when every host is busy, the
   * milliseconds until the first is free.
   */
  choose(now: number = performance.now()): Host | number {
    const free = this.#hosts.filter((host) => host.busyUntil <= now);
    if (free.length === 0) {
      return Math.min(...this.#hosts.map((host) => host.busyUntil)) - now;
    }
    const welcome = free.filter((host) => host.avoidedUntil <= now);
    if (welcome.length === 0) {
      return free.reduce((first, host) => host.avoidedUntil < first.avoidedUntil ? host : first);
    }
    // In turn among equally loaded hosts: the first at or after the last one's next.
    const count = this.#hosts.length;
    const place = (host: Host) => (this.#hosts.indexOf(host) - this.#turn + count) % count;
    const chosen = welcome.reduce((best, host) =>
      host.inFlight < best.inFlight ||
        (host.inFlight === best.inFlight && place(host) < place(best))
        ? host
        : best
    );
    this.#turn = (this.#hosts.indexOf(chosen) + 1) % count;
    return chosen;
  }

  /** `host` failed: avoid it for `avoidFor` from now. */
  avoid(host: Host, now: number = performance.now()): void {
    host.avoidedUntil = now + this.#avoidFor;
  }

  /** `host` answered a batch: it is welcome again. */
  answered(host: Host): void {
    host.avoidedUntil = 0;
  }

  /** `host` is busy for `ms` from now (a 503's Retry-After). */
  busy(host: Host, ms: number, now: number = performance.now()): void {
    host.busyUntil = Math.max(host.busyUntil, now + ms);
  }
}
