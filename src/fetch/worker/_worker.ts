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
import { claimJob, type FromWorker, type GetJob, type ToWorker } from "./_protocol.ts";
import type { AllocationTally } from "../_fetcher.ts";
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
    if (message.type === "state") {
      const dataset = reviveDataset(constructor, message.settings, message.state);
      const { info, stopped, claims } = message;
      const started = startWorker(dataset, info, stopped);
      started.catch(() => {}); // reported with each batch
      epoch = { dataset, info, stopped, claims, started };
    } else if (epoch) {
      for (const job of message.jobs) line.add(epoch, job);
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
  started: Promise<void>;
}

async function startWorker(
  dataset: PyDataset,
  info: WorkerInfo,
  stopped: Int32Array,
): Promise<void> {
  const hook = (dataset as PyDatasetHooks).onWorkerStart;
  if (typeof hook !== "function" || Atomics.load(stopped, 0) === 1) return;
  try {
    await hook.call(dataset, info);
  } catch (error) {
    throw new Error(`onWorkerStart threw in worker ${info.id}: ${describeError(error)}`, {
      cause: error,
    });
  }
}

/**
 * Runs the jobs of the `get` messages one at a time, in order: the main
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

  async #run(): Promise<void> {
    this.#running = true;
    for (let next = this.#waiting.shift(); next; next = this.#waiting.shift()) {
      if (this.#mayStart(next.epoch, next.job)) {
        this.#failed = !await fetchBatch(next.epoch, next.job);
      }
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
 * posted a batch. `allocate` takes from the buffers the job brought; those
 * it does not use are let go after the call, so a worker holds no pool of
 * its own.
 */
async function fetchBatch(
  { dataset, info: epochInfo, stopped, started }: WorkerEpoch,
  { id, index, batchSeed, attempt, info, buffers }: GetJob,
): Promise<boolean> {
  const allocator = new BatchAllocator(freeBuffers(buffers));
  const counts = (): AllocationTally => ({
    allocations: allocator.allocations,
    recycled: allocator.recycled,
  });
  let prepared;
  try {
    await started;
    // Being terminated: nobody waits for this batch any more.
    if (Atomics.load(stopped, 0) === 1) return false;
    // Without an info of its own, the job's is the epoch's (see jobFacts).
    const batchInfo = { ...(info ?? epochInfo), batchSeed, attempt, allocate: allocator.allocate };
    const batch = await dataset.getItem(index, Object.freeze(batchInfo satisfies BatchInfo));
    prepared = prepareTransfer(batch, reachableBuffers(dataset, buffersIn(batch)));
  } catch (error) {
    post({ type: "error", id, error: serializeError(error), ...counts() });
    return false;
  }
  // Only what is transferred whole arrives as the same buffer.
  const sent = new Set(prepared.transfer);
  const allocated = allocator.made.filter((buffer) => sent.has(buffer));
  try {
    post({ type: "batch", id, batch: prepared.value, allocated, ...counts() }, prepared.transfer);
    return true;
  } catch (error) {
    post({
      type: "error",
      id,
      ...counts(),
      error: serializeError(
        new TypeError(
          `The batch cannot be sent from the worker: ${
            describeError(error)
          } (a batch may hold typed arrays, arrays, plain objects, numbers and strings, not functions or class instances with private state)`,
          { cause: error },
        ),
      ),
    });
    return false;
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
