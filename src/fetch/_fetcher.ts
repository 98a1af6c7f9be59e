// The seam between an epoch and whatever fetches its batches.
//
// A Fetcher runs `count` fetchers (main-thread slots, workers, later other
// hosts), each one job at a time, and queues the rest. It knows nothing
// about streams or epochs' order, and nothing of timeouts or retries:
// that policy is wrapped around every Fetcher in `_policy.ts`.
//
// src/fetch/ may import the public types at the top of src/, the src/_*.ts
// helpers and its own files, never src/epoch/ (an epoch drives fetchers,
// not the other way round). src/fetch/worker/ takes from its parent only
// this file and `_job_queues.ts`; src/fetch/http/ this file and `_slots.ts`,
// and is handed its decoder.

import type { BatchInfo, WorkerInfo } from "../worker_info.ts";

/** What the epoch stream asks for: one batch, at one place of the order. */
export interface BatchRequest {
  /** The batch index. */
  index: number;
  /**
   * Its position in the epoch's order (a single batch outside an epoch:
   * its index, as in an unshuffled epoch).
   */
  position: number;
  /**
   * The fetcher that must run it (ordered epochs: position mod count, so
   * that each fetcher's sequence of batches is reproducible), or undefined
   * for the first free one.
   */
  fetcher: number | undefined;
  /** Called when a fetcher starts it: it may wait in a queue first. */
  begun(): void;
}

/**
 * One attempt at a request, as the policy hands it to a {@linkcode Fetcher}.
 * The fetcher reports its outcome by calling `resolve` or `reject` once;
 * a failure before it starts that fetcher's next job, so that a retry
 * queued from `reject` runs first (after a success the next job may have
 * started already: a worker holds its next one, sent ahead).
 *
 * The fetcher calls `begun` as it starts the job; one that must then wait
 * (every data host is busy) calls `waiting`, and `begun` again as it goes
 * on. The request's own `begun` runs once.
 */
export interface FetchJob<B = unknown> extends BatchRequest {
  /** 0 for the first attempt. A retry goes before its fetcher's other jobs. */
  attempt: number;
  /**
   * What `getItem` gets as its `info` when fetcher `id` runs the job, but
   * `allocate`, which the fetcher adds where the call runs.
   */
  info(id: number): BatchFacts;
  /**
   * Aborts when the job is no longer wanted (a timeout, an abort): a queued
   * job is dropped, a running one is let go of (a worker running it is
   * replaced), and the job is rejected with the reason. None when the job
   * has neither a timeout nor a caller's signal: it then ends only when
   * withdrawn, or when the fetcher closes.
   */
  signal?: AbortSignal;
  /** Where the attempt's `info.allocate` calls are counted: its epoch's stats. */
  tally: AllocationTally;
  /**
   * Called when the fetcher waits, after `begun`, for something that is
   * not the batch's own work (a busy host's `Retry-After`): the attempt's
   * time stops until the next `begun`, so the wait does not count against
   * the timeout.
   */
  waiting?(): void;
  /** Called with the batch. */
  resolve(batch: B): void;
  /** Called with what went wrong ({@linkcode FetcherLost} when what ran it was lost). */
  reject(error: unknown): void;
}

/** How many `info.allocate` calls there were, and how many a released buffer served. */
export interface AllocationTally {
  allocations: number;
  recycled: number;
}

/** A batch's `info` without `allocate`: what crosses into a worker. */
export type BatchFacts = Omit<BatchInfo, "allocate">;

/**
 * The buffers of a worker's batches, as they go out and come back (the
 * dataset's recycler): `info.allocate` in a worker takes from what its
 * request brought, and the batch says which of its buffers allocate made.
 */
export interface WorkerBuffers {
  /** The released buffers to transfer to worker `id` with the request it gets now. */
  take(id: number): ArrayBuffer[];
  /**
   * Worker `id` answered: `allocated` are the buffers of its batch (none
   * for a failure) that `info.allocate` made; `allocations` (how many
   * calls) and `recycled` (how many the buffers its request brought
   * served) go into `tally`.
   */
  made(
    id: number,
    allocated: ArrayBuffer[],
    allocations: number,
    recycled: number,
    tally: AllocationTally,
  ): void;
}

/** What fetchers need to begin an epoch. */
export interface FetchContext {
  /** The epoch's number. */
  epoch: number;
  /** Each fetcher's info for `onWorkerStart`, by id. */
  infos: WorkerInfo[];
  /** The dataset's own enumerable fields, for fetchers that hold a copy. */
  state: Record<string, unknown>;
}

/** Fetches batches on `count` fetchers, one job per fetcher at a time. */
export interface Fetcher<B> {
  /** How many fetchers: ids are 0 to `count - 1`. */
  readonly count: number;
  /** Whether it was closed (or abandoned for good): a new one takes its place. */
  readonly closed: boolean;
  /**
   * Whether it refuses jobs now: closed, or unable to run any (its workers
   * cannot start). A job it refuses did not fail by itself: no retry.
   */
  readonly refusing: boolean;
  /**
   * Whether it holds what keeps the process alive (workers): then it is
   * closed once idle for the dataset's `idleTimeout`.
   */
  readonly holdsResources: boolean;
  /** Readies every fetcher for an epoch; `signal` aborts the wait. Rejects once closed. */
  begin(context: FetchContext, signal: AbortSignal): Promise<void>;
  /**
   * Runs `job` on fetcher `job.fetcher` (the first free one when undefined),
   * after the jobs queued for it (before them, for a retry); once closed,
   * rejects it at once.
   */
  fetch(job: FetchJob<B>): void;
  /**
   * Rejects, with `reason`, the jobs of positions after `after` (all with
   * -1) that no fetcher has started: queued, or sent ahead to a worker.
   */
  withdraw(after: number, reason: Error): void;
  /**
   * The epoch failed or was aborted: stop what still runs if that can be
   * done (workers are terminated; main-thread calls run to their end).
   */
  abandon(reason: Error): void;
  /**
   * What fails the epoch though every batch came, if anything: asked once
   * its fetches have settled, before it ends (a worker moved the working
   * directory since the last check).
   */
  verify?(): Error | undefined;
  /** The epoch has ended. */
  end(): void;
  /** Stops for good: queued and running jobs reject with `reason`. */
  close(reason: Error): void;
  /**
   * What follows "Cannot get batch i of Name" in the `BatchError` for
   * `error`, where this kind of fetcher knows more (a worker's missing
   * permission); undefined for the plain `: ${message}`.
   */
  explain?(error: unknown): string | undefined;
}

/**
 * The fetcher running a job was lost (a worker died): the job did not
 * fail by itself, and may be tried again on its replacement.
 */
export class FetcherLost extends Error {
  override name = "FetcherLost";
  /** What was lost, for messages: "worker". */
  readonly kind: string;

  constructor(message: string, kind: string, options: ErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}
