// The entry of every dataset worker; the only code that runs in a worker.
//
// It is imported before the dataset's module (see the generated entry in
// _pool.ts), so that its guards are in place before user code runs:
// a worker that closes itself, exits or throws outside getItem reports it
// instead of vanishing, which Deno's Worker would do without an event.

import { BatchAllocator, type FreeBuffers } from "../../_allocator.ts";
import { buffersIn } from "../../_buffers_in.ts";
import { describeError } from "../../_describe.ts";
import { serializeError } from "./_serialize_error.ts";
import { claimJob, type FromWorker, type GetJob, readJobs, type ToWorker } from "./_protocol.ts";
import { markWorkerContext } from "./_worker_context.ts";
import { isDatasetClass, reviveDataset } from "./_revive.ts";
import type { PyDataset } from "../../py_dataset.ts";
import type { PyDatasetHooks } from "../../py_dataset_hooks.ts";
import type { BatchInfo, WorkerInfo } from "../../worker_info.ts";
import { prepareTransfer, reachableBuffers } from "./_transfer.ts";

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  close(): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
const closeWorker = scope.close.bind(scope);
const postMessage = scope.postMessage.bind(scope);

function post(message: FromWorker, transfer?: Transferable[]): void {
  postMessage(message, transfer);
}

function leave(type: "exit" | "fault", error: unknown): void {
  post({ type, error: serializeError(error) });
  closeWorker();
}

markWorkerContext();

// The channel to the main thread is the pool's: a batch is what getItem returns.
Object.defineProperty(globalThis, "postMessage", {
  value: () => {
    throw new TypeError(
      "A dataset's worker cannot call postMessage: the channel to the main thread is the pool's, and a batch is what getItem returns",
    );
  },
  writable: false,
  configurable: false,
});

scope.close = () => leave("exit", new Error("The worker called self.close()"));
Deno.exit = (code?: number): never => {
  leave("exit", new Error(`The worker called Deno.exit(${code ?? ""})`));
  throw new Error("The worker is closing");
};
scope.addEventListener("error", (event) => {
  event.preventDefault();
  const { error, message } = event as ErrorEvent;
  leave("fault", error ?? new Error(message));
});
scope.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  leave("fault", (event as PromiseRejectionEvent).reason);
});

/**
 * Serves batches of the class `name` exported by `module`: called by the
 * generated entry module once the dataset's module has loaded.
 */
export function serve(exports: Record<string, unknown>, name: string, module: string): void {
  const constructor = exports[name];
  if (!isDatasetClass(constructor)) {
    const exported = Object.keys(exports);
    const problem = typeof constructor === "function"
      ? `its export ${name} does not extend PyDataset (imported from ${
        new URL("../../../mod.ts", import.meta.url).href
      })`
      : `it does not export a class named ${name}: it exports ${
        exported.length > 0 ? exported.join(", ") : "nothing"
      }`;
    post({
      type: "fatal",
      error: serializeError(
        new TypeError(`Cannot start a worker for ${name} from ${module} as ${problem}`),
      ),
    });
    return;
  }
  let epoch: WorkerEpoch | undefined;
  const line = new JobLine();
  scope.onmessage = (event) => {
    const message = event.data;
    if (!Array.isArray(message)) {
      const dataset = reviveDataset(constructor, message.settings, message.state);
      const { info, stopped, claims } = message;
      epoch = { dataset, info, stopped, claims, start: startWorker(dataset, info, stopped) };
    } else if (epoch) {
      for (const job of readJobs(message)) line.add(epoch, job);
    }
  };
  post({ type: "ready" });
}

/** This worker's copy of the dataset for the current epoch. */
interface WorkerEpoch {
  dataset: PyDataset;
  info: WorkerInfo;
  /** 1 once the main thread is terminating this worker. */
  stopped: Int32Array;
  /** The claims on the jobs sent ahead (see `claimJob`). */
  claims: Int32Array;
  /** `onWorkerStart`, run once on this copy before its first batch. */
  start: Start;
}

/**
 * Where `onWorkerStart` is, read without awaiting, so that a batch whose
 * getItem returns a value is made and posted in one go.
 */
interface Start {
  state: "running" | "done" | "failed";
  /** While `running`: settles once it no longer is; never rejects. */
  settled?: Promise<void>;
  /** Once `failed`: what fails every batch. */
  error?: Error;
}

function startWorker(dataset: PyDataset, info: WorkerInfo, stopped: Int32Array): Start {
  const hook = (dataset as PyDatasetHooks).onWorkerStart;
  const start: Start = { state: "done" };
  if (typeof hook !== "function" || Atomics.load(stopped, 0) === 1) return start;
  const fail = (error: unknown) => {
    start.state = "failed";
    start.error = new Error(`onWorkerStart threw in worker ${info.id}: ${describeError(error)}`, {
      cause: error,
    });
  };
  try {
    const result = hook.call(dataset, info);
    if (isThenable(result)) {
      start.state = "running";
      start.settled = awaited(result).then(() => {
        start.state = "done";
      }, fail);
    }
  } catch (error) {
    fail(error);
  }
  return start;
}

/**
 * Runs the jobs it is sent one at a time, in order: the main
 * thread sends a worker its next jobs ahead, while the last one runs, so
 * that no round trip separates them. A job sent ahead starts only if this
 * worker wins its claim (the main thread may have withdrawn it meanwhile),
 * and never after a failure: the main thread then queues it again behind
 * the failed job's retry, and this worker drops what was sent ahead until
 * a job sent to it idle, which starts at once.
 */
class JobLine {
  #waiting: { epoch: WorkerEpoch; job: GetJob }[] = [];
  #running = false;
  #failed = false;

  add(epoch: WorkerEpoch, job: GetJob): void {
    this.#waiting.push({ epoch, job });
    if (!this.#running) this.#run();
  }

  /**
   * Runs the waiting jobs: in one go while their getItem calls return
   * values (no promise, no microtask between a batch and the next: this
   * runs for every batch), waiting where one returns a promise.
   */
  #run(): void {
    this.#running = true;
    for (let next = this.#waiting.shift(); next; next = this.#waiting.shift()) {
      if (!this.#mayStart(next.epoch, next.job)) continue;
      const posted = fetchBatch(next.epoch, next.job);
      if (typeof posted !== "boolean") {
        void posted.then((posted) => {
          this.#failed = !posted;
          this.#run();
        });
        return;
      }
      this.#failed = !posted;
    }
    this.#running = false;
  }

  #mayStart({ claims }: WorkerEpoch, { cell }: GetJob): boolean {
    if (cell >= 0) return claimJob(claims, cell, this.#failed);
    this.#failed = false;
    return true;
  }
}

/**
 * Runs getItem for one job and posts its batch (or failure): whether it
 * posted a batch, or a promise of it where `onWorkerStart` still runs or
 * getItem returned a promise. `allocate` takes from the buffers the job
 * brought; those it does not use are let go after the call, so a worker
 * holds no pool of its own.
 */
function fetchBatch(epoch: WorkerEpoch, job: GetJob): boolean | Promise<boolean> {
  const { dataset, info: epochInfo, stopped, start } = epoch;
  if (start.state === "running") return start.settled!.then(() => fetchBatch(epoch, job));
  const { id, index, batchSeed, attempt, info, buffers } = job;
  const allocator = new BatchAllocator(freeBuffers(buffers));
  let batch;
  try {
    if (start.state === "failed") throw start.error;
    // Being terminated: nobody waits for this batch any more.
    if (Atomics.load(stopped, 0) === 1) return false;
    // Without an info of its own, the job's is the epoch's (see jobFacts).
    const batchInfo = { ...(info ?? epochInfo), batchSeed, attempt, allocate: allocator.allocate };
    batch = dataset.getItem(index, Object.freeze(batchInfo satisfies BatchInfo));
    // In the try: a batch's `then` may be a getter that throws, or a revoked Proxy's.
    if (!isThenable(batch)) return postBatch(dataset, id, allocator, batch);
  } catch (error) {
    return postError(id, allocator, error);
  }
  return awaited(batch).then(
    (batch) => postBatch(dataset, id, allocator, batch),
    (error) => postError(id, allocator, error),
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * What `await` makes of `value`, as a promise of our own: a native promise
 * is followed without calling a `then` property of its own, and a
 * thenable's `then` that throws rejects instead of throwing.
 */
async function awaited(value: PromiseLike<unknown>): Promise<unknown> {
  return await value;
}

/** Posts the failure of job `id`: false, as no batch was posted. */
function postError(id: number, allocator: BatchAllocator, error: unknown): false {
  const { allocations, recycled } = allocator;
  post({ type: "error", id, error: serializeError(error), allocations, recycled });
  return false;
}

/** Posts `batch`, job `id`'s, transferring what the dataset does not hold: whether it could. */
function postBatch(
  dataset: PyDataset,
  id: number,
  allocator: BatchAllocator,
  batch: unknown,
): boolean {
  let prepared;
  try {
    prepared = prepareTransfer(batch, reachableBuffers(dataset, buffersIn(batch)));
  } catch (error) {
    return postError(id, allocator, error);
  }
  // Only what is transferred whole arrives as the same buffer.
  const sent = new Set(prepared.transfer);
  const allocated = allocator.made.filter((buffer) => sent.has(buffer));
  try {
    const { allocations, recycled } = allocator;
    post([id, prepared.value, allocated, allocations, recycled], prepared.transfer);
    return true;
  } catch (error) {
    return postError(
      id,
      allocator,
      new TypeError(
        `The batch cannot be sent from the worker: ${
          describeError(error)
        } (a batch may hold typed arrays, arrays, plain objects, numbers and strings, not functions or class instances with private state)`,
        { cause: error },
      ),
    );
  }
}

/** The buffers a request brought, by byte length, for `allocate` to take from. */
function freeBuffers(buffers: ArrayBuffer[]): FreeBuffers {
  const free: FreeBuffers = new Map();
  for (const buffer of buffers) {
    const list = free.get(buffer.byteLength);
    if (list) list.push(buffer);
    else free.set(buffer.byteLength, [buffer]);
  }
  return free;
}
