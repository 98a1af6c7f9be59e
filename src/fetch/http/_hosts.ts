// The data hosts that one dataset's HTTP fetchers share, and the one rule
// for which host gets a request. A host is avoided after a failure (for
// `avoidFor`), busy after a 503 that came with nothing else of ours in
// flight there (until its Retry-After), and full after a 503 that came
// while others were (at that many in flight, until one of them settles:
// then the next request probes again). In order:
//   (a) the fewest in flight (ties in turn) among the hosts that are
//       neither busy, full nor avoided;
//   (b) when none, and some host that is not avoided is busy or full: wait
//       until the first busy one is free or a request settles (a live host
//       that is only busy beats a dead one);
//   (c) only when every host is avoided: the one whose avoidance ends
//       first, among those neither busy nor full (never a stall), else
//       wait as in (b).
// The state outlives any one fetcher, so a host found dead stays avoided
// across epochs.

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
  /** How many in flight make it full (a 503 while others were); Infinity when it is not. */
  fullAt: number;
}

/** The longest timer: a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The hosts of one dataset, and which one to send to. */
export class Hosts {
  readonly #hosts: Host[];
  readonly #avoidFor: number;
  /** Where the round robin among equally loaded hosts goes on from. */
  #turn = 0;
  /** What wakes each request that waits for a host, first come first. */
  readonly #waiting = new Set<() => void>();

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
      fullAt: Infinity,
    }));
    this.#avoidFor = avoidFor;
  }

  /** Every host, in the order given. */
  get all(): readonly Host[] {
    return this.#hosts;
  }

  /**
   * The host to send a request to now; or, when a request must wait, the
   * milliseconds until the first busy host is free (Infinity when only
   * full ones block: a settle ends that wait).
   */
  choose(now: number = performance.now()): Host | number {
    const open = this.#hosts.filter((host) => host.busyUntil <= now && host.inFlight < host.fullAt);
    const welcome = open.filter((host) => host.avoidedUntil <= now);
    if (welcome.length > 0) return this.#inTurn(welcome);
    const everyAvoided = this.#hosts.every((host) => host.avoidedUntil > now);
    if (everyAvoided && open.length > 0) {
      return open.reduce((first, host) => host.avoidedUntil < first.avoidedUntil ? host : first);
    }
    const busy = this.#hosts.filter((host) => host.busyUntil > now);
    return Math.min(...busy.map((host) => host.busyUntil)) - now;
  }

  /** A request goes to `host`. */
  sent(host: Host): void {
    host.inFlight++;
  }

  /**
   * A request to `host` settled, not with a 503: a place is free there, so
   * its cap lifts and the first waiting request wakes.
   */
  settled(host: Host): void {
    host.inFlight--;
    host.fullAt = Infinity;
    const [first] = this.#waiting;
    first?.();
  }

  /**
   * A request to `host` settled with a 503 asking for `ms`: full at the
   * others in flight there, or busy for `ms` when there are none.
   */
  refused(host: Host, ms: number, now: number = performance.now()): void {
    host.inFlight--;
    if (host.inFlight > 0) host.fullAt = host.inFlight;
    else this.busy(host, ms, now);
  }

  /** `host` failed: avoid it for `avoidFor` from now. */
  avoid(host: Host, now: number = performance.now()): void {
    host.avoidedUntil = now + this.#avoidFor;
  }

  /** `host` answered a batch: it is welcome again. */
  answered(host: Host): void {
    host.avoidedUntil = 0;
  }

  /**
   * `host` is busy for `ms` from now (a 503's Retry-After). Every waiting
   * request wakes, to wait for the sooner of this and what it waited for.
   */
  busy(host: Host, ms: number, now: number = performance.now()): void {
    host.busyUntil = Math.max(host.busyUntil, now + ms);
    host.fullAt = Infinity;
    for (const wake of [...this.#waiting]) wake();
  }

  /**
   * Resolves after `ms` (none for Infinity) or once this request's turn
   * comes at a settle, whichever is first; rejects with `signal`'s reason
   * once it aborts. Leaves no timer or listener behind.
   */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      this.#waiting.delete(wake);
    };
    const wake = () => (done(), resolve());
    const onAbort = () => (done(), reject(signal.reason));
    const timer = ms < Infinity ? setTimeout(wake, Math.min(ms, MAX_TIMER_MS)) : undefined;
    signal.addEventListener("abort", onAbort, { once: true });
    this.#waiting.add(wake);
    return promise;
  }

  /** The least loaded of `hosts`, in turn among equals: the first at or after the last one's next. */
  #inTurn(hosts: Host[]): Host {
    const count = this.#hosts.length;
    const place = (host: Host) => (this.#hosts.indexOf(host) - this.#turn + count) % count;
    const chosen = hosts.reduce((best, host) =>
      host.inFlight < best.inFlight ||
        (host.inFlight === best.inFlight && place(host) < place(best))
        ? host
        : best
    );
    this.#turn = (this.#hosts.indexOf(chosen) + 1) % count;
    return chosen;
  }
}
