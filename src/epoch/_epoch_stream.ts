// One epoch as a ReadableStream of batches.
//
// The stream knows nothing about workers: it asks `fetch` for the batch at
// position i, naming the fetcher (position i mod workers, so that each
// fetcher's sequence of batches is reproducible) or, unordered, any free
// one, and is told its outcome. The fetchers run one batch each at a time and
// queue the rest. The stream keeps at most `maxQueueSize + workers` batches
// fetched or requested ahead of the reader (ordered, and at most
// AHEAD_OF_DELIVERY per fetcher past the next one to deliver), delivers
// them in epoch order or, unordered, as they arrive, and runs the epoch
// hooks once each.

import { describeError, isError } from "../_describe.ts";
import type { EpochStats } from "../epoch_stats.ts";
import type { BatchRequest } from "../fetch/_fetcher.ts";
import { type Settle, SKIPPED } from "../fetch/_policy.ts";
import type { EpochOrder } from "./_order.ts";

/**
 * Ordered, how many positions per fetcher are requested past the next one
 * to deliver. A batch that comes before an earlier one waits on this
 * thread: a few per fetcher keep the others busy while one batch is slow,
 * and more would only swing the memory this thread holds (with 4 MiB
 * batches, enough to start a full collection about once per 500), much
 * as PyTorch's `prefetch_factor` bounds each worker's outstanding batches.
 */
const AHEAD_OF_DELIVERY = 3;

/** What an epoch stream needs from its dataset. */
export interface EpochPlan<B> {
  /** How many fetchers; with `maxQueueSize`, bounds the batches fetched ahead. */
  workers: number;
  /** The stream's highWaterMark. */
  maxQueueSize: number;
  /** Deliver in epoch order, or as batches arrive. */
  ordered: boolean;
  /** Aborting it stops the epoch and errors the stream with its reason. */
  signal: AbortSignal;
  /**
   * Aborting it ends the epoch at once, without waiting for running
   * fetches (the dataset is closing).
   */
  force: AbortSignal;
  /** Runs `onEpochBegin`. */
  begin(): Promise<void>;
  /**
   * Decides the epoch's order and readies the fetcher; after `begin`.
   * `signal` aborts when the epoch is stopped meanwhile.
   */
  prepare(signal: AbortSignal): Promise<EpochOrder>;
  /**
   * Fetches the batch `request` asks for, and tells `request` once: the
   * batch, or {@linkcode SKIPPED} for one left out, or the error to report
   * for it. The stats time it from `request.begun()`.
   */
  fetch(request: EpochFetch<B>): void;
  /**
   * Drops the fetches of positions after `after` (all with -1) that have not
   * started: they are told they failed. Called when they can no longer be
   * delivered (a cancel, an abort, a failure), so no `getItem` starts for
   * them.
   */
  withdraw(after: number): void;
  /**
   * Called once when the epoch fails or is aborted, before waiting for
   * running fetches: the fetcher may abandon them.
   */
  abandon(reason: Error): void;
  /** Filled in as the epoch runs. */
  stats: EpochStats;
  /** What the reader has taken, filled in as the epoch runs. */
  progress: EpochProgress;
  /**
   * What fails the epoch though every batch came, if anything (a worker
   * moved the working directory): asked once every fetch has settled,
   * before `end`.
   */
  verify(): Error | undefined;
  /** Runs `onEpochEnd`. */
  end(): Promise<void>;
  /** Called once, right before the stream closes, errors or is cancelled. */
  release(): void;
}

/** A position's fetch, as the plan gets it: the request, and where its outcome goes. */
export interface EpochFetch<B> extends BatchRequest, Settle<B | typeof SKIPPED> {}

/** What the reader of an epoch has taken. */
export interface EpochProgress {
  /**
   * Ordered: the first position not consumed (taken by the reader, or
   * skipped before the next one it takes). Unordered: how many batches the
   * reader has taken.
   */
  taken: number;
  /** Unordered: the positions delivered, in delivery order. */
  delivered: number[];
  /** Unordered: the positions skipped, which count as consumed. */
  skipped: number[];
}

/**
 * A stream that delivers one epoch of batches in order, with a
 * `CountQueuingStrategy` of `highWaterMark = maxQueueSize`.
 */
export function createEpochStream<B>(plan: EpochPlan<B>): ReadableStream<B> {
  return new ReadableStream<B>(
    new EpochSource(plan),
    new CountQueuingStrategy({ highWaterMark: plan.maxQueueSize }),
  );
}

/**
 * A position being fetched: the request the plan gets (one object with its
 * methods, as this runs for every batch), and its outcome once it has one.
 */
class Pending<B> implements EpochFetch<B> {
  /** Since when it runs (the stats' getItem time). */
  started = performance.now();
  /** Whether it settled with a batch (or SKIPPED), else with an error. */
  ok = false;
  /** The batch, SKIPPED, or the error. */
  outcome: unknown;
  #arrive: (pending: Pending<B>) => void;

  constructor(
    readonly index: number,
    readonly position: number,
    readonly fetcher: number | undefined,
    arrive: (pending: Pending<B>) => void,
  ) {
    this.#arrive = arrive;
  }

  begun(): void {
    this.started = performance.now();
  }

  resolve(value: B | typeof SKIPPED): void {
    this.ok = true;
    this.outcome = value;
    this.#arrive(this);
  }

  reject(error: unknown): void {
    this.outcome = error;
    this.#arrive(this);
  }
}

class EpochSource<B> implements UnderlyingDefaultSource<B> {
  #plan: EpochPlan<B>;
  #controller!: ReadableStreamDefaultController<B>;
  #order: EpochOrder | undefined;
  /** Next position to fetch. */
  #next = 0;
  /** Batches enqueued so far. */
  #delivered = 0;
  /** Positions skipped so far: consumed, but never enqueued. */
  #skipped = 0;
  /** Ordered: the positions of the enqueued batches the reader has not taken, in order. */
  #unread: number[] = [];
  /** Positions being fetched. */
  #running = new Set<number>();
  /** Whether the fetcher was told to abandon what still runs. */
  #abandoned = false;
  /** Fetched batches waiting for earlier ones (ordered: skipped ones too). */
  #waiting = new Map<number, B | typeof SKIPPED>();
  /** The earliest failed position and its error. */
  #failure: { position: number; error: unknown } | undefined;
  /** Why the epoch was stopped early: the reader cancelled, or the signal. */
  #stop: { cancelled: boolean; reason: unknown } | undefined;
  #started!: Promise<void>;
  #finishing: Promise<void> | undefined;
  /** Aborted when the epoch stops while it is being prepared. */
  #halt = new AbortController();
  /** Set while we enqueue: the stream may call `pull` from inside. */
  #enqueuing = false;
  /** Batches the reader had taken at the last pull (for the stats). */
  #consumedAtPull = 0;
  /** Since when the reader waits for a batch, if it does. */
  #waitingSince: number | undefined;
  #queueSamples = 0;
  #queueSum = 0;
  #startedAt = performance.now();
  #settled = Promise.withResolvers<void>();
  /** Positions that settled since their microtask was queued, in order. */
  #arrived: Pending<B>[] = [];

  constructor(plan: EpochPlan<B>) {
    this.#plan = plan;
    this.#settled.promise.catch(() => {}); // observed only by cancel()
  }

  start(controller: ReadableStreamDefaultController<B>): Promise<void> {
    this.#controller = controller;
    this.#started = this.#start();
    return this.#started;
  }

  pull(): void {
    this.#noteRead();
    // A pull from inside our own enqueue: #flush's caller pumps and checks.
    if (this.#enqueuing || this.#stop || this.#finishing) return;
    this.#flush();
    this.#pump();
    this.#check();
  }

  async cancel(reason: unknown): Promise<void> {
    this.#stop ??= { cancelled: true, reason };
    this.#halt.abort(reason);
    // Withdrawn at once: a job sent ahead to a worker would start, unasked,
    // if the one before it ended before the next tick. A cancel during the
    // start waits for it to end, as nothing is fetched until then.
    if (!this.#order) await this.#started.catch(() => {});
    this.#plan.withdraw(-1);
    this.#check();
    return this.#settled.promise;
  }

  async #start(): Promise<void> {
    const { signal } = this.#plan;
    try {
      await this.#plan.begin();
    } catch (error) {
      this.#plan.release();
      this.#settled.resolve();
      throw error;
    }
    try {
      signal.throwIfAborted();
      this.#order = await this.#plan.prepare(AbortSignal.any([signal, this.#halt.signal]));
    } catch (error) {
      let failure = error;
      try {
        await this.#plan.end();
      } catch (hookError) {
        failure = new SuppressedError(
          hookError,
          error,
          "onEpochEnd threw while the epoch was failing",
        );
      }
      this.#plan.release();
      this.#settled.resolve();
      throw failure;
    }
    signal.addEventListener("abort", this.#onAbort, { once: true });
    if (signal.aborted) this.#onAbort();
    this.#pump();
    this.#check();
  }

  #onAbort = (): void => {
    this.#stop ??= { cancelled: false, reason: this.#plan.signal.reason };
    this.#plan.withdraw(-1);
    this.#check();
  };

  /**
   * Takes a settled position: handled in a microtask, as a promise's
   * outcome would be, not inside the fetcher's call that reported it.
   */
  #arrive = (pending: Pending<B>): void => {
    if (this.#arrived.push(pending) === 1) queueMicrotask(this.#settleArrived);
  };

  /** Settles the positions that arrived, in order, with those arriving meanwhile. */
  #settleArrived = (): void => {
    const arrived = this.#arrived;
    // Each settles, whatever one of them throws: the first throw is raised after.
    let failure: { error: unknown } | undefined;
    for (let i = 0; i < arrived.length; i++) {
      try {
        this.#settle(arrived[i]!);
      } catch (error) {
        failure ??= { error };
      }
    }
    arrived.length = 0;
    if (failure) throw failure.error;
  };

  /** Requests fetches while the bound allows. */
  #pump(): void {
    const order = this.#order;
    if (!order || this.#stop || this.#finishing) return;
    const { workers, maxQueueSize, ordered } = this.#plan;
    if (!ordered && this.#failure) return;
    const end = Math.min(order.length, this.#failure?.position ?? Infinity);
    while (this.#next < end) {
      // Requested but not yet enqueued, plus enqueued but unread.
      const queued = maxQueueSize - (this.#controller.desiredSize ?? 0);
      if (this.#running.size + this.#waiting.size + queued >= maxQueueSize + workers) break;
      if (ordered && this.#next - this.#nextToDeliver() >= AHEAD_OF_DELIVERY * workers) break;
      const position = this.#next++;
      this.#running.add(position);
      const fetcher = ordered ? position % workers : undefined;
      this.#plan.fetch(new Pending<B>(order.at(position), position, fetcher, this.#arrive));
    }
  }

  #settle(pending: Pending<B>): void {
    this.#plan.stats.getItemMs += performance.now() - pending.started;
    const { position, ok, outcome } = pending;
    this.#running.delete(position);
    if (!this.#stop) {
      if (this.#plan.ordered) this.#settleOrdered(position, ok, outcome);
      else if (!this.#failure) {
        // Unordered, the first failure ends the epoch: what arrives later is
        // dropped, what arrived earlier is still delivered.
        if (ok && outcome === SKIPPED) this.#skipUnordered(position);
        else if (ok) this.#waiting.set(position, outcome as B);
        else {
          this.#failure = { position, error: outcome };
          this.#plan.withdraw(-1);
        }
      }
      this.#flush();
      this.#pump();
    }
    this.#check();
  }

  #skipUnordered(position: number): void {
    this.#skipped++;
    this.#plan.progress.skipped.push(position);
  }

  /** Ordered: `outcome` is the batch (or SKIPPED) when `ok`, else the error. */
  #settleOrdered(position: number, ok: boolean, outcome: unknown): void {
    if (position >= (this.#failure?.position ?? Infinity)) return;
    if (ok) {
      this.#waiting.set(position, outcome as B | typeof SKIPPED);
      return;
    }
    this.#failure = { position, error: outcome };
    for (const later of this.#waiting.keys()) {
      if (later > position) this.#waiting.delete(later);
    }
    this.#plan.withdraw(position);
  }

  /**
   * Keeps the stats of the reader's side. Every batch the reader takes
   * triggers a pull (the queue never exceeds its highWaterMark), so a pull
   * with no batch taken since the previous one, outside our own enqueue, is
   * a read waiting on an empty queue.
   */
  #noteRead(): void {
    if (!this.#order) return;
    const queued = this.#plan.maxQueueSize - (this.#controller.desiredSize ?? 0);
    const consumed = this.#delivered - queued;
    const waiting = !this.#enqueuing && consumed === this.#consumedAtPull && queued === 0;
    this.#consumedAtPull = consumed;
    this.#plan.progress.taken = this.#taken(queued);
    if (this.#enqueuing) return;
    this.#queueSamples++;
    this.#queueSum += queued;
    this.#plan.stats.meanQueueDepth = this.#queueSum / this.#queueSamples;
    if (waiting) this.#waitingSince ??= performance.now();
  }

  /** {@linkcode EpochProgress.taken}, with `queued` batches still unread. */
  #taken(queued: number): number {
    if (!this.#plan.ordered) return this.#delivered - queued;
    // Mostly one taken since the last pull: shifted, with no array made for it.
    while (this.#unread.length > queued) this.#unread.shift();
    return this.#unread[0] ?? this.#nextToDeliver();
  }

  /**
   * Enqueues the batches that are next in order while the queue has room:
   * the queue never holds more than `maxQueueSize`, and a batch fetched
   * beyond that waits here, counted against the fetch-ahead bound.
   */
  #flush(): void {
    while ((this.#controller.desiredSize ?? 0) > 0) {
      const position = this.#nextDeliverable();
      if (position === undefined) break;
      const value = this.#waiting.get(position)!;
      this.#waiting.delete(position);
      if (value === SKIPPED) {
        this.#skipped++; // ordered: passed in its place, taking no room in the queue
        continue;
      }
      this.#delivered++;
      if (this.#plan.ordered) this.#unread.push(position);
      else this.#plan.progress.delivered.push(position);
      const { stats } = this.#plan;
      if (this.#waitingSince !== undefined) {
        stats.waitMs += performance.now() - this.#waitingSince;
        this.#waitingSince = undefined;
      }
      this.#enqueuing = true;
      try {
        this.#controller.enqueue(value);
      } finally {
        this.#enqueuing = false;
      }
      stats.batches++;
      stats.maxQueueDepth = Math.max(
        stats.maxQueueDepth,
        this.#plan.maxQueueSize - (this.#controller.desiredSize ?? 0),
      );
      stats.elapsedMs = performance.now() - this.#startedAt;
    }
  }

  /** Ordered: the position to enqueue or pass next, whether or not it has arrived. */
  #nextToDeliver(): number {
    return this.#delivered + this.#skipped;
  }

  /** The position to enqueue next, if it has arrived. */
  #nextDeliverable(): number | undefined {
    if (!this.#plan.ordered) return this.#waiting.keys().next().value;
    const position = this.#nextToDeliver();
    const deliverable = position < (this.#failure?.position ?? Infinity) &&
      this.#waiting.has(position);
    return deliverable ? position : undefined;
  }

  /**
   * Ends the epoch once nothing runs (at once when the dataset is closing)
   * and, unless it was stopped, once the reader has taken every batch up to
   * the end or the failure: closing or erroring the stream earlier would
   * drop batches.
   */
  #check(): void {
    if (!this.#order || this.#finishing) return;
    this.#abandonIfUseless();
    if (this.#running.size > 0 && !this.#plan.force.aborted) return;
    if (!this.#stop) {
      if (this.#plan.ordered || !this.#failure) {
        const target = this.#failure?.position ?? this.#order.length;
        if (this.#delivered + this.#skipped < target) return;
      } else if (this.#waiting.size > 0) return;
      if (this.#controller.desiredSize !== this.#plan.maxQueueSize) return;
    }
    this.#finishing = this.#finish();
  }

  /**
   * Once the epoch is aborted, or failed with every earlier batch fetched,
   * what still runs can only be thrown away: the fetcher may stop it now,
   * and let go of what it holds.
   */
  #abandonIfUseless(): void {
    if (this.#abandoned) return;
    const aborted = this.#stop !== undefined && !this.#stop.cancelled;
    const failure = this.#failure;
    if (!aborted && !failure) return;
    const needed = !aborted && this.#plan.ordered &&
      [...this.#running].some((position) => position < failure!.position);
    if (!aborted && needed) return;
    this.#abandoned = true;
    const reason = aborted ? this.#stop!.reason : failure!.error;
    this.#plan.abandon(isError(reason) ? reason : new Error(describeError(reason)));
  }

  async #finish(): Promise<void> {
    this.#plan.signal.removeEventListener("abort", this.#onAbort);
    if (!this.#stop?.cancelled) {
      // A cancelled stream has emptied its queue: the last pull counted.
      const queued = this.#plan.maxQueueSize - (this.#controller.desiredSize ?? 0);
      this.#plan.progress.taken = this.#taken(queued);
    }
    this.#plan.stats.elapsedMs = performance.now() - this.#startedAt;
    this.#plan.stats.ended = true;
    this.#waiting.clear();
    const late = this.#plan.verify();
    if (late) this.#failure ??= { position: this.#order!.length, error: late };
    let hookFailed = false;
    let hookError: unknown;
    try {
      await this.#plan.end();
    } catch (error) {
      hookFailed = true;
      hookError = error;
    }
    this.#plan.release();
    const stop = this.#stop;
    if (stop?.cancelled) {
      if (hookFailed) this.#settled.reject(hookError);
      else this.#settled.resolve();
      return;
    }
    const failed = stop !== undefined || this.#failure !== undefined;
    const error = stop ? stop.reason : this.#failure?.error;
    if (failed && hookFailed) {
      this.#controller.error(
        new SuppressedError(hookError, error, "onEpochEnd threw while the epoch was failing"),
      );
    } else if (failed || hookFailed) {
      this.#controller.error(failed ? error : hookError);
    } else {
      this.#controller.close();
    }
    this.#settled.resolve();
  }
}
