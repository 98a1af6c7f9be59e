// The messages between the main thread and a dataset's workers.

import { buffersIn } from "../../_buffers_in.ts";
import { describeError } from "../../_describe.ts";
import { CAUSE_DEPTH, type SerializedError } from "./_serialize_error.ts";
import type { WorkerInfo } from "../../worker_info.ts";
import type { AllocationTally, BatchFacts } from "../_fetcher.ts";

/** Main thread → worker. */
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
    /**
     * Who has the job sent ahead: the worker, which starts it, or the main
     * thread, which withdraws it (`startAhead`, `withdrawAhead`).
     */
    claim: Int32Array;
  }
  | {
    type: "get";
    id: number;
    index: number;
    /**
     * Sent while the worker's last job still runs: it starts only if the
     * worker wins `claim`, and never after a failed job (the main thread
     * queues it again, after that job's retry).
     */
    ahead: boolean;
    /** What `getItem` gets as its `info` for this batch (the worker adds `allocate`). */
    info: BatchFacts;
    /** Released buffers of this worker's earlier batches, transferred: `allocate` takes from them. */
    buffers: ArrayBuffer[];
  };

// `claim`: -1 at first; an id the worker wrote as it started that job sent
// ahead; or `-id - 2`, written by the main thread as it withdrew the job
// `id`, until the worker, coming to that job, drops it and writes -1. Jobs
// start in the order sent, so a mark for a later job stays when the worker
// starts an earlier one; and the main thread sends no job ahead while a
// withdrawal is unseen, so that one mark never overwrites another.

/** The main thread's mark for the withdrawn job `id`. */
function mark(id: number): number {
  return -id - 2;
}

/**
 * The worker's side of `claim`: whether it may start the job sent ahead
 * with `id`. A withdrawn one it drops, and says it saw the withdrawal.
 */
export function startAhead(claim: Int32Array, id: number): boolean {
  for (;;) {
    const seen = Atomics.load(claim, 0);
    if (seen === mark(id)) return dropAhead(claim, id), false;
    if (seen <= -2 && -seen - 2 > id) return true; // a later job's mark stays
    if (Atomics.compareExchange(claim, 0, seen, id) === seen) return true;
  }
}

/** The worker drops the job sent ahead with `id` (withdrawn, or after a failure): it saw any withdrawal. */
export function dropAhead(claim: Int32Array, id: number): void {
  Atomics.compareExchange(claim, 0, mark(id), -1);
}

/** The main thread's side of `claim`: whether it withdrew the job sent ahead with `id` before the worker started it. */
export function withdrawAhead(claim: Int32Array, id: number): boolean {
  for (;;) {
    const seen = Atomics.load(claim, 0);
    if (seen === id) return false;
    if (Atomics.compareExchange(claim, 0, seen, mark(id)) === seen) return true;
  }
}

/** Whether the worker has come to the job `id` that the main thread withdrew. */
export function sawWithdrawal(claim: Int32Array, id: number): boolean {
  return Atomics.load(claim, 0) !== mark(id);
}

/** Worker → main thread. */
export type FromWorker =
  | { type: "ready" }
  | { type: "fatal"; error: SerializedError }
  | {
    type: "batch";
    id: number;
    batch: unknown;
    /** The buffers in `batch` (the same objects) that `allocate` made. */
    allocated: ArrayBuffer[];
  } & AllocationTally
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

const MESSAGE_TYPES = new Set(["ready", "fatal", "batch", "error", "exit", "fault"]);

/**
 * `data` as a message of the protocol, or undefined when it is not one: a
 * worker's own code can reach the channel, and what it sends must not
 * crash the main thread.
 */
export function readMessage(data: unknown): FromWorker | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const message = data as Record<string, unknown>;
  if (typeof message.type !== "string" || !MESSAGE_TYPES.has(message.type)) return undefined;
  if (message.type === "batch" || message.type === "error") {
    if (typeof message.id !== "number" || !isAllocations(message)) return undefined;
  }
  if (message.type === "batch" && !isAllocatedIn(message.allocated, message.batch)) {
    return undefined;
  }
  const carriesError = message.type !== "ready" && message.type !== "batch";
  if (carriesError && !isSerializedError(message.error, 0)) return undefined;
  return message as FromWorker;
}

function isAllocations({ allocations, recycled }: Record<string, unknown>): boolean {
  return Number.isSafeInteger(allocations) && Number.isSafeInteger(recycled) &&
    (recycled as number) >= 0 && (recycled as number) <= (allocations as number);
}

/**
 * Whether `allocated` lists distinct buffers of `batch`: what else a
 * worker listed would count toward the pools' budget, or land in them.
 */
function isAllocatedIn(allocated: unknown, batch: unknown): boolean {
  if (!Array.isArray(allocated)) return false;
  const inBatch = buffersIn(batch);
  return new Set(allocated).size === allocated.length &&
    allocated.every((buffer) => buffer instanceof ArrayBuffer && inBatch.has(buffer));
}

function isSerializedError(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null || depth > CAUSE_DEPTH) return false;
  const { name, message, stack, cause } = value as Record<string, unknown>;
  return typeof name === "string" && typeof message === "string" &&
    (stack === undefined || typeof stack === "string") &&
    (cause === undefined || isSerializedError(cause, depth + 1));
}
