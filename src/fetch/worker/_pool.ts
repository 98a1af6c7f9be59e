// Persistent module Web Workers that run a dataset's `getItem`: the
// Fetcher for `useMultiprocessing`.
//
// Workers live across epochs; each epoch they get the dataset's state and
// their WorkerInfo. One batch runs per worker at a time, and each worker
// holds its next ones, sent ahead, so that it starts without waiting for a
// round trip; the rest wait in the job queues. Jobs go two to a message
// where they can: a post costs the main thread more than a batch's
// bookkeeping. A worker that dies (an error outside getItem, self.close(),
// Deno.exit()) is replaced under the same id, and its job fails with
// FetcherLost (the policy retries it); a job let go of (its timeout) has
// its worker replaced, since a running getItem cannot be stopped otherwise.
//
// src/fetch/worker/ holds everything that runs in or crosses into a Worker.
// It may import the public types, the src/_*.ts helpers, its own files and,
// from src/fetch/, only _fetcher.ts and _job_queues.ts.

import { describeError } from "../../_describe.ts";
import type { WorkerInfo } from "../../worker_info.ts";
import {
  type AllocationTally,
  type BatchFacts,
  type FetchContext,
  type Fetcher,
  FetcherLost,
  type FetchJob,
  type WorkerBuffers,
} from "../_fetcher.ts";
import { JobQueues } from "../_job_queues.ts";
import { missingPermission, permissionAdvice } from "./_permission_advice.ts";
import { deserializeError } from "./_serialize_error.ts";
import { checkWorkerOptions, workerOptionsError } from "./_worker_options.ts";
import type { WorkerPermissions } from "../../options.ts";
import {
  answeredJob,
  appendJob,
  cloneFailure,
  jobFacts,
  type JobsMessage,
  newClaims,
  offerJob,
  readMessage,
  type ToWorker,
  withdrawJob,
} from "./_protocol.ts";
import { checkFolders } from "./_folder_check.ts";
import { type PathScopes, pathScopes } from "./_path_scopes.ts";
import { workingDirectory } from "./_paths.ts";

/** How often, at most, a worker's message has the working directory looked at, in ms. */
const CWD_CHECK_MS = 1;

/**
 * The most jobs a worker holds sent ahead, beyond the one it runs, so that
 * it never waits for a round trip. More go once two are queued for it and
 * it holds one or none, or once it holds none (see `#sendAhead`).
 */
const AHEAD = 3;

/** The most jobs in one message. */
const PER_MESSAGE = 2;

/** Options for {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** The module that exports the dataset class. */
  module: string;
  /** The exported name of the dataset class. */
  name: string;
  /** How many workers. */
  size: number;
  /** The workers' Deno permissions. */
  permissions: WorkerPermissions;
  /** Milliseconds the workers may take to start; undefined for no limit. */
  timeout: number | undefined;
  /** The options the dataset was constructed with, for its copies. */
  settings: Record<string, unknown>;
  /** Where the buffers `allocate` made come back from, to go with each request. */
  buffers: WorkerBuffers;
}

/**
 * A job in the pool: the policy's, and what the pool keeps with it (an
 * object of its own, not a copy: this runs for every batch).
 */
class Job implements FetchJob {
  /** The id it was last sent with, to match the answer. */
  id = -1;
  /** Its cell of its worker's claims, or -1 (see GetJob). */
  cell = -1;
  readonly index: number;
  readonly position: number;
  readonly fetcher: number | undefined;
  readonly attempt: number;
  readonly tally: AllocationTally;
  readonly signal: AbortSignal | undefined;
  #job: FetchJob;

  constructor(job: FetchJob) {
    this.index = job.index;
    this.position = job.position;
    this.fetcher = job.fetcher;
    this.attempt = job.attempt;
    this.tally = job.tally;
    this.signal = job.signal;
    this.#job = job;
  }

  info(id: number): BatchFacts {
    return this.#job.info(id);
  }

  begun(): void {
    this.#job.begun();
  }

  resolve(batch: unknown): void {
    this.#job.resolve(batch);
  }

  reject(error: unknown): void {
    this.#job.reject(error);
  }
}

interface Slot {
  /** The worker's id, kept by its replacements. */
  id: number;
  worker: Worker;
  /** Shared with the worker: 1 once it is being terminated. */
  stopped: Int32Array;
  /** Settles when the worker has loaded the dataset class, or failed to. */
  ready: Promise<void>;
  /** Rejects `ready`. */
  unready(error: Error): void;
  loaded: boolean;
  dead: boolean;
  /** The epoch whose state this worker holds. */
  epoch: number;
  /** The job it runs. */
  job?: Job;
  /** The jobs sent ahead, in order: it starts each once the one before succeeds, unless withdrawn first. */
  ahead: Job[];
  /** Shared with the worker: the claims on `ahead` (see `offerJob`). */
  claims: Int32Array;
  /** The cells of `claims` that jobs here hold. */
  held: Set<number>;
}

/**
 * The entry module of every worker: the guard (except for "inherit"), our
 * runtime, then the dataset's module.
 */
function entryUrl(
  module: string,
  name: string,
  permissions: WorkerPermissions,
  scopes: PathScopes | undefined,
): string {
  const runtime = new URL("./_worker.ts", import.meta.url).href;
  // Imports evaluate in order: the guard is in place before the dataset's
  // module runs its first line.
  const guard = permissions === "inherit" ? "" : `import ${JSON.stringify(guardUrl(scopes))};\n`;
  const source = guard + `import { serve } from ${JSON.stringify(runtime)};\n` +
    `import * as dataset from ${JSON.stringify(module)};\n` +
    `serve(dataset, ${JSON.stringify(name)}, ${JSON.stringify(module)});\n`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** A module that installs the worker guard for `scopes`. */
function guardUrl(scopes: PathScopes | undefined): string {
  const guard = new URL("./_path_guard.ts", import.meta.url).href;
  const source = `import { guardWorker } from ${JSON.stringify(guard)};\n` +
    `guardWorker(${JSON.stringify(scopes)});\n`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** A pool of workers that fetch batches of one dataset. */
export class WorkerPool implements Fetcher<unknown> {
  readonly count: number;
  #options: WorkerPoolOptions;
  /** The folders of scoped permissions; undefined when unscoped. */
  #scopes: PathScopes | undefined;
  #entry: string;
  /** By id; undefined until started or after its worker was lost. */
  #slots: (Slot | undefined)[] = [];
  #queues: JobQueues<Job>;
  #infos: WorkerInfo[] = [];
  #nextId = 0;
  #epoch = -1;
  #state: Record<string, unknown> = {};
  #fatal: Error | undefined;
  /** Why it was closed; undefined while open. */
  #closed: Error | undefined;
  /** The working directory when the epoch began, to notice a worker moving it. */
  #cwd: string | undefined;
  /** When `#cwd` was last compared with the working directory (performance.now()). */
  #cwdCheckedAt = 0;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#scopes = pathScopes(options.permissions);
    this.#entry = entryUrl(options.module, options.name, options.permissions, this.#scopes);
    this.count = options.size;
    this.#queues = new JobQueues(options.size);
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Closed, or a worker could not load the dataset (until the next epoch begins). */
  get refusing(): boolean {
    return this.#closed !== undefined || this.#fatal !== undefined;
  }

  /** Workers keep the process alive until terminated. */
  get holdsResources(): boolean {
    return true;
  }

  #live(): Slot[] {
    return this.#slots.filter((slot) => slot !== undefined);
  }

  /**
   * Starts the workers that are missing, waits until all have loaded the
   * dataset class, and gives them the dataset's state for the epoch and
   * each its info.
   */
  async begin({ epoch, state, infos }: FetchContext, signal: AbortSignal): Promise<void> {
    if (this.#closed) throw this.#closed;
    this.#epoch = epoch;
    this.#state = state;
    // No job is in the pool while an epoch or a run of single batches
    // begins, so none is sent between this and the state below: a job
    // leaves out the info its worker holds from the state (see jobFacts).
    this.#infos = infos;
    this.#fatal = undefined;
    if (this.#options.permissions !== "inherit") {
      const check = checkWorkerOptions();
      if (!check.enabled) throw workerOptionsError(this.#options.name, check.seen);
      this.#cwd = workingDirectory();
      this.#cwdCheckedAt = performance.now();
    }
    if (this.#scopes) await checkFolders(this.#scopes, this.#options.name, signal);
    // Closed meanwhile: no worker may start that nothing would end.
    if (this.#closed) throw this.#closed;
    for (let id = 0; id < this.#options.size; id++) if (!this.#slots[id]) this.#spawn(id);
    await this.#ready(signal);
    if (this.#closed) throw this.#closed;
    for (const slot of this.#live()) this.#sendState(slot);
  }

  /**
   * Waits until every worker has loaded the dataset, for at most `timeout`
   * when one is set (a worker still loading then is terminated), or until
   * `signal` aborts.
   */
  async #ready(signal: AbortSignal): Promise<void> {
    const { timeout, name } = this.#options;
    const { promise: stopped, reject } = Promise.withResolvers<never>();
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = timeout === undefined ? undefined : setTimeout(() => {
      const error = new DOMException(
        `The workers of ${name} did not start within the timeout of ${timeout} ms`,
        "TimeoutError",
      );
      for (const slot of this.#live()) if (!slot.loaded) this.#failLoad(slot, error);
    }, timeout);
    try {
      signal.throwIfAborted();
      await Promise.race([Promise.all(this.#live().map((slot) => slot.ready)), stopped]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Runs `job` in its worker (any free one when it names none). Jobs wait
   * in the queues until their worker is free, or can take more sent ahead
   * (`#sendAhead`): then up to two of its own go in one message, to start
   * as the one before ends.
   */
  fetch(request: FetchJob): void {
    const job = new Job(request);
    const refusal = this.#closed ?? this.#fatal;
    if (refusal) return job.reject(refusal);
    const { signal } = job;
    if (signal?.aborted) return job.reject(signal.reason);
    signal?.addEventListener("abort", () => this.#drop(job, signal.reason), { once: true });
    this.#queues.add(job);
    this.#dispatch();
  }

  /**
   * A job no longer wanted, for `reason`: off its queue, or, running, its
   * worker replaced, since only terminating it stops a running getItem.
   */
  #drop(job: Job, reason: unknown): void {
    if (this.#queues.remove(job)) return job.reject(reason);
    const slot = this.#live().find((slot) => slot.job === job || slot.ahead.includes(job));
    if (!slot) return; // settled already
    if (slot.job !== job && this.#withdraw(slot, job)) return job.reject(reason);
    const { running, ahead } = this.#empty(slot);
    this.#bury(slot);
    job.reject(reason);
    // The worker had started `job`, sent ahead: the batches before it, on
    // their way, are lost with the worker; those after it never started.
    // The lost go last first: each retry is queued before the others, so
    // they run again in their order.
    const at = ahead.indexOf(job);
    this.#requeue(ahead.slice(at + 1));
    const cause = new Error(`It was replaced to stop batch ${job.index}, sent ahead to it`);
    for (const lost of [running, ...ahead.slice(0, Math.max(at, 0))].toReversed()) {
      if (lost && lost !== job) lost.reject(this.#lostJob(lost, cause));
    }
    this.#dispatch();
  }

  /** Takes `job`, sent ahead, back from `slot`'s worker, unless it has started it: whether it did. */
  #withdraw(slot: Slot, job: Job): boolean {
    if (!withdrawJob(slot.claims, job.cell)) return false;
    slot.ahead.splice(slot.ahead.indexOf(job), 1);
    slot.held.delete(job.cell);
    return true;
  }

  /** Clears `slot`'s jobs and returns them. */
  #empty(slot: Slot): { running: Job | undefined; ahead: Job[] } {
    const { job: running, ahead } = slot;
    slot.job = undefined;
    slot.ahead = [];
    slot.held.clear();
    return { running, ahead };
  }

  /** Jobs sent ahead that their worker never started go first in their queues again, in order. */
  #requeue(jobs: Job[]): void {
    for (const job of jobs.toReversed()) this.#queues.putBack(job);
  }

  /**
   * The epoch has ended: the working directory is the program's to change
   * again until the next one begins.
   */
  end(): void {
    this.#cwd = undefined;
  }

  /** Fails the jobs no worker has started, of positions after `after`. */
  withdraw(after: number, reason: Error): void {
    for (const slot of this.#live()) {
      for (const job of slot.ahead.filter((job) => job.position > after)) {
        if (this.#withdraw(slot, job)) job.reject(reason);
      }
    }
    for (const job of this.#queues.withdraw(after)) job.reject(reason);
  }

  /** Workers stop at once on a failure or an abort: nothing is left running. */
  abandon(reason: Error): void {
    this.close(reason);
  }

  /** Terminates every worker; pending batches fail with `reason`. */
  close(reason: Error): void {
    this.#closed ??= reason;
    for (const slot of this.#live()) {
      this.#terminate(slot);
      slot.unready(reason);
      const { running, ahead } = this.#empty(slot);
      running?.reject(reason);
      for (const job of ahead) job.reject(reason);
    }
    this.#slots = [];
    for (const job of this.#queues.withdraw(-Infinity)) job.reject(reason);
  }

  /**
   * What a batch's failure says in worker mode: the permission a worker
   * lacked and how to grant it, or that a worker's copy has no #private
   * fields.
   */
  explain(cause: unknown): string | undefined {
    const missing = missingPermission(cause);
    const message = describeError(cause);
    if (missing) {
      const resolved = missing.resolved === undefined ? "" : ` (that is "${missing.resolved}")`;
      const target = missing.target === undefined ? "" : ` to "${missing.target}"${resolved}`;
      return ` as its worker lacks ${missing.name} access${target}: ${
        permissionAdvice(missing)
      } (${message})`;
    }
    if (!/private member/.test(message)) return undefined;
    return `: ${message} (a worker's copy of the dataset has no #private fields, since its constructor does not run there: keep the state getItem needs in public fields)`;
  }

  #spawn(id: number): Slot {
    const { promise: ready, resolve, reject } = Promise.withResolvers<void>();
    ready.catch(() => {}); // observed by begin() or #dispatch()
    const worker = this.#create();
    const slot: Slot = {
      id,
      worker,
      stopped: new Int32Array(new SharedArrayBuffer(4)),
      ahead: [],
      claims: newClaims(),
      held: new Set(),
      ready,
      unready: reject,
      loaded: false,
      dead: false,
      epoch: -1,
    };
    worker.addEventListener("message", (event: MessageEvent<unknown>) => {
      if (!this.#movedCwd(false)) this.#receive(slot, event.data, resolve);
    });
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      this.#lost(slot, new Error(event.message || "The worker failed"));
    });
    worker.addEventListener("messageerror", () => {
      const error = new TypeError("The batch could not be deserialized on the main thread");
      // The worker sent a batch: it goes on with the jobs sent ahead.
      const job = this.#answered(slot, slot.job?.id ?? -1, true);
      if (!job) return;
      job.reject(error);
      this.#dispatch();
    });
    this.#slots[id] = slot;
    return slot;
  }

  /** What worker `slot` sent; `loaded` resolves its `ready`. */
  #receive(slot: Slot, data: unknown, loaded: () => void): void {
    const message = readMessage(data);
    if (!message) return this.#refuse(slot, data);
    if (Array.isArray(message)) {
      // No closure or copy for what runs with every batch: the answer is settled here.
      const job = this.#answered(slot, message[0], true);
      if (!job) return;
      this.#options.buffers.made(slot.id, message[2], message[3], message[4], job.tally);
      job.resolve(message[1]);
      this.#dispatch();
      return;
    }
    switch (message.type) {
      case "ready":
        slot.loaded = true;
        loaded();
        this.#dispatch();
        break;
      case "fatal":
        this.#failLoad(slot, deserializeError(message.error));
        break;
      case "error": {
        const job = this.#answered(slot, message.id, false);
        if (!job) break;
        this.#options.buffers.made(slot.id, [], message.allocations, message.recycled, job.tally);
        job.reject(deserializeError(message.error));
        this.#dispatch();
        break;
      }
      case "exit":
      case "fault":
        this.#lost(slot, deserializeError(message.error));
        break;
    }
  }

  #create(): Worker {
    const { permissions, name } = this.#options;
    try {
      // The `deno` option is left out for "inherit": with it, Deno demands
      // the unstable flag even though nothing is scoped.
      return permissions === "inherit"
        ? new Worker(this.#entry, { type: "module", name })
        : new Worker(this.#entry, { type: "module", name, deno: { permissions } });
    } catch (error) {
      const escalation = error instanceof Deno.errors.NotCapable;
      throw new Error(
        `Cannot start workers for ${name} with permissions ${JSON.stringify(permissions)}${
          escalation ? ": the main process must hold every permission its workers get" : ""
        } (${describeError(error)})`,
        { cause: error },
      );
    }
  }

  /** The epoch's last look at the working directory: the error that fails it if moved. */
  verify(): Error | undefined {
    return this.#movedCwd(true) ? this.#fatal : undefined;
  }

  /**
   * Whether the working directory moved since the epoch began: Deno's is
   * the whole process's, and a worker that got past the guard (say,
   * through a node:worker_threads worker of its own) could move it. It is
   * moved back, and the epoch fails. A worker's message looks at most once
   * every CWD_CHECK_MS (a look per message cost a quarter of the
   * throughput of small batches); `verify`, at the epoch's end, always.
   */
  #movedCwd(always: boolean): boolean {
    const before = this.#cwd;
    if (before === undefined) return false;
    const at = performance.now();
    if (!always && at - this.#cwdCheckedAt < CWD_CHECK_MS) return false;
    this.#cwdCheckedAt = at;
    const now = workingDirectory();
    if (now === undefined || now === before) return false;
    let back = "moved back";
    try {
      Deno.chdir(before!);
    } catch (error) {
      back = `it could not be moved back: ${describeError(error)}`;
    }
    const error = new Error(
      `A worker of ${this.#options.name} moved the process's working directory from "${before}" to "${now}" (${back}): a dataset's workers must not change it, as it is the whole process's`,
    );
    this.close(error);
    this.#fatal = error;
    return true;
  }

  #loadError(error: Error): Error {
    const { name, module } = this.#options;
    const read = /Requires (read|import) access to "([^"]*)"/.exec(error.message);
    const hint = read
      ? `: the main process needs ${read[1]} access to "${
        read[2]
      }" to load the dataset's code into workers (workers get only the dataset's permissions, but their modules load with the main process's)`
      : "";
    return new Error(`Cannot start a worker for ${name} from ${module}${hint}: ${error.message}`, {
      cause: error,
    });
  }

  #sendState(slot: Slot): void {
    const message: ToWorker = {
      type: "state",
      epoch: this.#epoch,
      info: this.#infos[slot.id]!,
      stopped: slot.stopped,
      claims: slot.claims,
      settings: this.#options.settings,
      state: this.#state,
    };
    try {
      slot.worker.postMessage(message);
    } catch (error) {
      const failure = cloneFailure(this.#state);
      if (!failure) throw error;
      throw new TypeError(
        `Cannot send ${this.#options.name} to its workers as its field "${failure.key}" cannot be structured-cloned: ${failure.message}`,
        { cause: error },
      );
    }
    slot.epoch = this.#epoch;
  }

  #dispatch(): void {
    for (let id = 0; id < this.#options.size; id++) {
      if (this.#fatal || this.#closed) return;
      const slot = this.#slots[id];
      if (!slot) {
        if (this.#queues.waitsFor(id)) this.#respawn(id);
        continue;
      }
      if (!slot.loaded || slot.dead) continue;
      if (!slot.job) this.#startIdle(slot);
      else if (slot.ahead.length <= AHEAD - PER_MESSAGE && slot.epoch === this.#epoch) {
        this.#sendAhead(slot);
      }
    }
  }

  /**
   * Sends `slot`'s idle worker its next job, which starts at once, with as
   * many of its own as the message holds, sent ahead: only jobs that must
   * run on this worker go ahead, as any other would wait behind a slow job
   * while another worker is free.
   */
  #startIdle(slot: Slot): void {
    const first = this.#queues.take(slot.id);
    if (!first) return;
    first.cell = -1; // sent ahead before, it may hold an old cell
    if (slot.epoch !== this.#epoch) {
      try {
        this.#sendState(slot);
      } catch (error) {
        first.reject(error);
        return;
      }
    }
    this.#send(slot, [first, ...this.#takeAhead(slot, PER_MESSAGE - 1)]);
    first.begun();
  }

  /**
   * Sends `slot`'s busy worker more of its own jobs ahead, within the epoch
   * whose state it holds: two once two wait, or what waits once it holds
   * none ahead. Not each job as soon as it is queued: sent then, jobs took
   * their recycled buffers at moments that varied with the reader, the
   * buffers this thread holds swung by a few batches, and V8, which counts
   * them toward the limit that starts a full collection, ran one about
   * every 500 batches (15 in 15 epochs of 500 recycled 4 MiB batches,
   * against 2 this way).
   */
  #sendAhead(slot: Slot): void {
    if (slot.ahead.length > 0 && this.#queues.ownCount(slot.id) < PER_MESSAGE) return;
    const jobs = this.#takeAhead(slot, Math.min(PER_MESSAGE, AHEAD - slot.ahead.length));
    if (jobs.length > 0) this.#send(slot, jobs);
  }

  /** Up to `count` of `slot`'s own queued jobs, each with a claim; fewer when no cell is free. */
  #takeAhead(slot: Slot, count: number): Job[] {
    const jobs: Job[] = [];
    while (jobs.length < count) {
      const job = this.#queues.takeOwn(slot.id);
      if (!job) break;
      const cell = offerJob(slot.claims, slot.held);
      if (cell < 0) {
        this.#queues.putBack(job); // it waits for a free cell, first in its queue
        break;
      }
      job.cell = cell;
      slot.held.add(cell);
      jobs.push(job);
    }
    return jobs;
  }

  /** Starts a replacement for worker `id`; a failure fails every batch. */
  #respawn(id: number): void {
    try {
      this.#spawn(id);
    } catch (error) {
      this.#failAll(error as Error);
    }
  }

  /** Posts `jobs` to `slot`'s worker: the first runs now when it has none, the rest go ahead. */
  #send(slot: Slot, jobs: Job[]): void {
    const transfer: ArrayBuffer[] = [];
    const message: JobsMessage = [];
    for (const job of jobs) {
      job.id = this.#nextId++;
      if (slot.job) slot.ahead.push(job);
      else slot.job = job;
      const buffers = this.#options.buffers.take(slot.id);
      transfer.push(...buffers);
      const { id, index, cell } = job;
      const facts = job.info(slot.id);
      const info = jobFacts(facts, this.#infos[slot.id]);
      const { batchSeed, attempt } = facts;
      appendJob(message, { id, index, cell, batchSeed, attempt, info, buffers });
    }
    slot.worker.postMessage(message, transfer);
  }

  /**
   * Worker `slot` answered job `id`: after a batch it has gone on with the
   * job sent ahead (its time counts from now); after a failure it dropped
   * that job, which is queued again, behind the retry the caller's settling
   * may queue. Returns the job answered, for the caller to settle and then
   * dispatch; undefined for a late answer.
   */
  #answered(slot: Slot, id: number, succeeded: boolean): Job | undefined {
    const job = slot.job;
    if (!job || job.id !== id) return undefined; // a late answer to a job already given up
    if (job.cell >= 0) {
      answeredJob(slot.claims, job.cell);
      slot.held.delete(job.cell);
    }
    const next = succeeded ? slot.ahead.shift() : undefined;
    if (next) {
      slot.job = next;
      next.begun();
      this.#dispatch(); // its next jobs go ahead before this batch is settled
    } else {
      this.#requeue(this.#empty(slot).ahead);
    }
    return job;
  }

  /**
   * A worker is gone: it failed to load (every batch fails, no respawn), or
   * it died (it is replaced, and its job fails as lost, to be retried).
   */
  #lost(slot: Slot, cause: Error): void {
    if (slot.dead) return;
    if (!slot.loaded) {
      this.#failLoad(slot, this.#loadError(cause));
      return;
    }
    const { running, ahead } = this.#empty(slot);
    this.#bury(slot);
    this.#requeue(ahead);
    if (running) {
      running.reject(this.#lostJob(running, cause));
    } else {
      // Recovered from, but said: a dying worker is a bug worth seeing.
      console.error(
        `A worker of ${this.#options.name} died between batches on a new worker:`,
        cause,
      );
    }
    this.#dispatch();
  }

  /** The failure of `job`, whose worker is gone for `cause`: the policy runs it again. */
  #lostJob(job: Job, cause: unknown): FetcherLost {
    const message = `A worker of ${this.#options.name} died while fetching batch ${job.index}`;
    return new FetcherLost(message, "worker", { cause });
  }

  /**
   * A worker sent what the protocol does not know: its own code reached the
   * channel. It is not dead, so its batch is not retried; it fails, and the
   * worker, which can no longer be trusted, is replaced.
   */
  #refuse(slot: Slot, data: unknown): void {
    const error = new TypeError(
      `A worker of ${this.#options.name} sent a message that is not the pool's: ${
        describeError(data)
      } (the dataset's code must not post messages)`,
    );
    if (!slot.loaded) {
      this.#failLoad(slot, error);
      return;
    }
    const { running, ahead } = this.#empty(slot);
    this.#bury(slot);
    running?.reject(error);
    this.#requeue(ahead);
    this.#dispatch();
  }

  /** A worker could not load the dataset: no batch can run, so all fail. */
  #failLoad(slot: Slot, failure: Error): void {
    slot.unready(failure);
    this.#bury(slot);
    this.#failAll(failure);
  }

  #bury(slot: Slot): void {
    this.#terminate(slot);
    if (this.#slots[slot.id] === slot) this.#slots[slot.id] = undefined;
  }

  /**
   * Stops a worker. Deno's `terminate()` takes effect some time later, and
   * meanwhile the worker would still start the batches it was sent: the
   * shared flag, set first, tells it not to.
   */
  #terminate(slot: Slot): void {
    slot.dead = true;
    Atomics.store(slot.stopped, 0, 1);
    slot.worker.terminate();
  }

  #failAll(error: Error): void {
    this.#fatal = error;
    for (const job of this.#queues.withdraw(-Infinity)) job.reject(error);
  }
}
