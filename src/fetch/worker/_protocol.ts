// The messages between the main thread and a dataset's workers.

import { someBuffer } from "../../_buffers_in.ts";
import { describeError } from "../../_describe.ts";
import { CAUSE_DEPTH, type SerializedError } from "./_serialize_error.ts";
import type { WorkerInfo } from "../../worker_info.ts";
import type { AllocationTally, BatchFacts } from "../_fetcher.ts";

/** Main thread → worker: the epoch's state, or jobs to run (see {@linkcode JobsMessage}). */
export type ToWorker =
  | {
    type: "state";
    epoch: number;
    /** Which worker this is, and its seed, for this epoch. */
    info: WorkerInfo;
    /** The options the dataset was constructed with. */
    settings: Record<string, unknown>;
    /** The dataset's own enumerable fields. */
    state: Record<string, unknown>;
    /**
     * Set to 1 by the main thread before it terminates the worker:
     * `terminate()` stops a worker only some time later, and a worker that
     * sees the flag starts no more `getItem` calls meanwhile.
     */
    stopped: Int32Array;
    /** The claims on the jobs it is sent ahead (see `offerJob`). */
    claims: Int32Array;
  }
  | JobsMessage;

/**
 * Jobs to run in order, each after the one before: the message sent for
 * every batch, so a flat array, which costs both threads less to clone
 * than nested objects (docs/benchmarks.md, "Jobs and answers as flat
 * arrays"). Each job is its fields in {@linkcode GetJob}'s order, then how
 * many buffers it brings, then those.
 */
export type JobsMessage = (number | BatchFacts | ArrayBuffer | undefined)[];

/** One job of a {@linkcode JobsMessage}. */
export interface GetJob {
  id: number;
  index: number;
  /**
   * Its cell of `claims`: a job sent while the worker may still run
   * others starts only if the worker wins its claim, and never after a
   * failed job (the main thread queues it again, after that job's
   * retry). -1 for the first job sent to an idle worker: it starts at once.
   */
  cell: number;
  /** `info.batchSeed` of this batch. */
  batchSeed: number;
  /** `info.attempt` of this batch. */
  attempt: number;
  /**
   * What `getItem` gets as its `info` (the worker adds `allocate`);
   * undefined when its fetcher's part is the worker's info from the
   * epoch's state (see `jobFacts`), as for most jobs.
   */
  info: BatchFacts | undefined;
  /** Released buffers of this worker's earlier batches, transferred: `allocate` takes from them. */
  buffers: ArrayBuffer[];
}

/** Adds `job` to `message` (see {@linkcode JobsMessage}). */
export function appendJob(message: JobsMessage, job: GetJob): void {
  const { id, index, cell, batchSeed, attempt, info, buffers } = job;
  message.push(id, index, cell, batchSeed, attempt, info, buffers.length);
  for (const buffer of buffers) message.push(buffer);
}

/** The jobs of `message`, in order (see {@linkcode JobsMessage}). */
export function readJobs(message: JobsMessage): GetJob[] {
  const jobs: GetJob[] = [];
  for (let at = 0; at < message.length;) {
    const count = message[at + 6] as number;
    jobs.push({
      id: message[at] as number,
      index: message[at + 1] as number,
      cell: message[at + 2] as number,
      batchSeed: message[at + 3] as number,
      attempt: message[at + 4] as number,
      info: message[at + 5] as BatchFacts | undefined,
      buffers: message.slice(at + 7, at + 7 + count) as ArrayBuffer[],
    });
    at += 7 + count;
  }
  return jobs;
}

// `claims`: one cell per job a worker holds sent ahead, so that exactly
// one of the worker (starting the job) and the main thread (withdrawing
// it) gets each, whatever the order. A cell is FREE, OFFERED (the job is
// on its way), STARTED, WITHDRAWN by the main thread (the worker, coming
// to the job, drops it and frees the cell) or DROPPED by a worker that
// failed an earlier job. The main thread offers a cell again only once no
// job of its own holds it and the worker is done with it (FREE or DROPPED).

/** How many jobs sent ahead a worker's claims can hold at once. */
export const CLAIM_CELLS = 8;

const FREE = 0;
const OFFERED = 1;
const STARTED = 2;
const WITHDRAWN = 3;
const DROPPED = 4;

/** A worker's claims, every cell free. */
export function newClaims(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * CLAIM_CELLS));
}

/**
 * The main thread's side, sending a job ahead: a cell that neither a job
 * it holds (`held`) nor the worker uses, now OFFERED; -1 when there is none.
 */
export function offerJob(claims: Int32Array, held: ReadonlySet<number>): number {
  for (let cell = 0; cell < CLAIM_CELLS; cell++) {
    if (held.has(cell)) continue;
    const state = Atomics.load(claims, cell);
    if (state !== FREE && state !== DROPPED) continue;
    Atomics.store(claims, cell, OFFERED);
    return cell;
  }
  return -1;
}

/**
 * The worker's side: whether it starts the job of `cell`. With `dropping`
 * (an earlier job failed) it drops it instead; a withdrawn one it drops,
 * freeing the cell.
 */
export function claimJob(claims: Int32Array, cell: number, dropping: boolean): boolean {
  const seen = Atomics.compareExchange(claims, cell, OFFERED, dropping ? DROPPED : STARTED);
  if (seen === WITHDRAWN) Atomics.store(claims, cell, FREE);
  return seen === OFFERED && !dropping;
}

/** The main thread's side: withdraws the job of `cell`; whether it will never start (false: it has). */
export function withdrawJob(claims: Int32Array, cell: number): boolean {
  return Atomics.compareExchange(claims, cell, OFFERED, WITHDRAWN) !== STARTED;
}

/** The main thread's side: the job of `cell`, started, was answered: the cell is free again. */
export function answeredJob(claims: Int32Array, cell: number): void {
  Atomics.store(claims, cell, FREE);
}

/**
 * The `info` a job carries: `facts`, unless its fetcher's part is
 * `held`'s, the info the worker has from the epoch's state (then
 * undefined). A single batch fetched with another epoch or seed carries
 * its own.
 */
export function jobFacts(facts: BatchFacts, held: WorkerInfo | undefined): BatchFacts | undefined {
  if (held === undefined) return facts;
  for (const key in held) {
    if (facts[key as keyof WorkerInfo] !== held[key as keyof WorkerInfo]) return facts;
  }
  return undefined;
}

/**
 * Job `id`'s batch, with the buffers in it (the same objects) that
 * `allocate` made and the job's allocation counts: sent for every batch,
 * so a flat array (see {@linkcode JobsMessage}).
 */
export type BatchAnswer = [
  id: number,
  batch: unknown,
  allocated: ArrayBuffer[],
  allocations: number,
  recycled: number,
];

/** Worker → main thread. */
export type FromWorker =
  | { type: "ready" }
  | { type: "fatal"; error: SerializedError }
  | BatchAnswer
  | { type: "error"; id: number; error: SerializedError } & AllocationTally
  | { type: "exit"; error: SerializedError }
  | { type: "fault"; error: SerializedError };

/** The first field of `state` that structured cloning rejects, if any. */
export function cloneFailure(
  state: Record<string, unknown>,
): { key: string; message: string } | undefined {
  for (const [key, value] of Object.entries(state)) {
    try {
      structuredClone(value);
    } catch (error) {
      return { key, message: describeError(error) };
    }
  }
  return undefined;
}

const MESSAGE_TYPES = new Set(["ready", "fatal", "error", "exit", "fault"]);

/**
 * `data` as a message of the protocol, or undefined when it is not one: a
 * worker's own code can reach the channel, and what it sends must not
 * crash the main thread.
 */
export function readMessage(data: unknown): FromWorker | undefined {
  if (Array.isArray(data)) return isBatchAnswer(data) ? data : undefined;
  if (typeof data !== "object" || data === null) return undefined;
  const message = data as Record<string, unknown>;
  if (typeof message.type !== "string" || !MESSAGE_TYPES.has(message.type)) return undefined;
  if (message.type === "error") {
    const { id, allocations, recycled } = message;
    if (typeof id !== "number" || !isAllocations(allocations, recycled)) return undefined;
  }
  const carriesError = message.type !== "ready";
  if (carriesError && !isSerializedError(message.error, 0)) return undefined;
  return message as FromWorker;
}

function isBatchAnswer(data: unknown[]): data is BatchAnswer {
  return data.length === 5 && typeof data[0] === "number" && isAllocations(data[3], data[4]) &&
    isAllocatedIn(data[2], data[1]);
}

function isAllocations(allocations: unknown, recycled: unknown): boolean {
  return Number.isSafeInteger(allocations) && Number.isSafeInteger(recycled) &&
    (recycled as number) >= 0 && (recycled as number) <= (allocations as number);
}

/**
 * Whether `allocated` lists distinct buffers of `batch`: what else a
 * worker listed would count toward the pools' budget, or land in them.
 */
function isAllocatedIn(allocated: unknown, batch: unknown): boolean {
  if (!Array.isArray(allocated)) return false;
  if (allocated.length === 0) return true;
  // The commonest batch, one array: no Set made (this runs for every batch).
  if (allocated.length === 1) return someBuffer(batch, (buffer) => buffer === allocated[0]);
  const listed = new Set<unknown>(allocated);
  if (listed.size !== allocated.length) return false;
  let found = 0;
  someBuffer(batch, (buffer) => (listed.has(buffer) && found++, false));
  return found === listed.size;
}

function isSerializedError(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null || depth > CAUSE_DEPTH) return false;
  const { name, message, stack, cause } = value as Record<string, unknown>;
  return typeof name === "string" && typeof message === "string" &&
    (stack === undefined || typeof stack === "string") &&
    (cause === undefined || isSerializedError(cause, depth + 1));
}
