// Validation of PyDatasetOptions, EpochOptions, BatchOptions and a
// dataset's length.
// Messages state the current value, as the house style asks.

import { show } from "./_describe.ts";
import type {
  BatchOptions,
  ConsumedLayer,
  EpochOptions,
  PyDatasetOptions,
  Shard,
  WorkerPermissions,
} from "./options.ts";

/** {@linkcode PyDatasetOptions} with defaults applied and values checked. */
export interface ResolvedOptions {
  workers: number;
  useMultiprocessing: boolean;
  maxQueueSize: number;
  permissions: WorkerPermissions;
  module: string | undefined;
  ordered: boolean;
  timeout: number | undefined;
  idleTimeout: number;
  retries: number;
  retryDelay: number;
  onError: "raise" | "skip";
  maxSkipped: number | undefined;
}

/**
 * Applies defaults to `options` and checks every value.
 *
 * @throws {TypeError} A value of the wrong type, or `useMultiprocessing`
 * without `module`.
 * @throws {RangeError} A value out of range.
 */
export function resolveOptions(
  options: PyDatasetOptions,
  name: string,
): ResolvedOptions {
  const prefix = `Cannot create ${name} as`;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${prefix} options must be an object: current value is ${show(options)}`,
    );
  }
  const {
    workers = 1,
    useMultiprocessing = false,
    maxQueueSize = 10,
    permissions = "none",
    module,
    ordered = true,
    timeout,
    idleTimeout = 5_000,
    retries = 0,
    retryDelay = 100,
    onError = "raise",
    maxSkipped,
  } = options;
  checkInteger(workers, 1, `${prefix} workers`);
  checkBoolean(useMultiprocessing, `${prefix} useMultiprocessing`);
  checkInteger(maxQueueSize, 1, `${prefix} maxQueueSize`);
  checkPermissions(permissions, prefix);
  checkBoolean(ordered, `${prefix} ordered`);
  const url = module === undefined ? undefined : checkModule(module, prefix);
  if (useMultiprocessing && url === undefined) {
    throw new TypeError(
      `${prefix} useMultiprocessing needs module, the URL of the module that exports ${name}: current value is undefined (pass module: import.meta.url)`,
    );
  }
  if (timeout !== undefined) checkTimeout(timeout, prefix);
  checkIdleTimeout(idleTimeout, prefix);
  checkRetries({ retries, retryDelay }, prefix);
  checkSkipping({ onError, maxSkipped }, prefix);
  return {
    workers,
    useMultiprocessing,
    maxQueueSize,
    permissions,
    module: url,
    ordered,
    timeout,
    idleTimeout,
    retries,
    retryDelay,
    onError,
    maxSkipped,
  };
}

/** {@linkcode EpochOptions} with defaults applied and values checked. */
export type ResolvedEpochOptions = EpochOptions & {
  shuffle: boolean;
  start: number;
  skip: number[];
};

/**
 * Checks one epoch's options.
 *
 * @throws {TypeError} A value of the wrong type.
 * @throws {RangeError} A seed that is not a safe integer.
 */
export function resolveEpochOptions(
  options: EpochOptions,
  name: string,
  prefix = `Cannot open an epoch of ${name} as`,
): ResolvedEpochOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${prefix} options must be an object: current value is ${show(options)}`,
    );
  }
  const { shuffle = false, seed, signal, epoch, shard, start = 0, skip = [] } = options;
  const { retries, retryDelay, onError, maxSkipped } = options;
  const { orderVersion, scope, consumed } = options;
  if (typeof shuffle !== "boolean") {
    throw new TypeError(
      `${prefix} shuffle must be a boolean: current value is ${show(shuffle)}`,
    );
  }
  checkSeed(seed, prefix);
  if (epoch !== undefined) checkInteger(epoch, 0, `${prefix} epoch`);
  const checkedShard = shard === undefined ? undefined : checkShard(shard, prefix);
  checkInteger(start, 0, `${prefix} start`);
  checkSkip(skip, start, prefix);
  const layers = checkConsumed({ scope, consumed }, prefix);
  checkOrderVersion(orderVersion, { shuffle, start, skip, consumed: layers }, prefix);
  checkSignal(signal, prefix);
  checkRetries({ retries, retryDelay }, prefix);
  checkSkipping({ onError, maxSkipped }, prefix);
  const retry = { retries, retryDelay, onError, maxSkipped };
  return {
    shuffle,
    seed,
    signal,
    epoch,
    shard: checkedShard,
    start,
    skip: [...skip],
    orderVersion,
    ...(scope === undefined ? {} : { scope }),
    ...(layers.length > 0 ? { consumed: layers } : {}),
    ...retry,
  };
}

/**
 * Checks `scope` and `consumed` (a cursor's record of consumed positions, see
 * {@linkcode ConsumedLayer}); returns plain copies of the layers.
 */
function checkConsumed(
  { scope, consumed = [] }: { scope: unknown; consumed: unknown },
  prefix: string,
): ConsumedLayer[] {
  if (scope !== undefined && scope !== "shard" && scope !== "epoch") {
    throw new TypeError(
      `${prefix} scope must be "shard" or "epoch": current value is ${show(scope)}`,
    );
  }
  if (!Array.isArray(consumed)) {
    throw new TypeError(
      `${prefix} consumed must be an array of layers: current value is ${show(consumed)}`,
    );
  }
  if (consumed.length > 0 && scope === undefined) {
    throw new TypeError(
      `${prefix} consumed needs a scope, "shard" or "epoch", to say what start and skip count: current value of scope is undefined`,
    );
  }
  return consumed.map((layer, i) => checkLayer(layer, `${prefix} consumed[${i}]`));
}

function checkLayer(layer: unknown, prefix: string): ConsumedLayer {
  if (typeof layer !== "object" || layer === null) {
    throw new TypeError(
      `${prefix} must be { count, starts, skip? }: current value is ${show(layer)}`,
    );
  }
  const { count, starts, skip = [] } = layer as Record<string, unknown>;
  checkInteger(count, 1, `${prefix}.count`);
  if (!Array.isArray(starts) || starts.length !== count) {
    throw new TypeError(
      `${prefix}.starts must be an array of ${count} prefix lengths, one a shard: current value is ${
        show(starts)
      }`,
    );
  }
  starts.forEach((start, s) => checkInteger(start, 0, `${prefix}.starts[${s}]`));
  checkSkip(skip, -1, prefix);
  for (const position of skip as number[]) {
    if (Math.floor(position / count) < starts[position % count]) {
      throw new RangeError(
        `${prefix}.skip must hold positions outside the prefixes of starts (${
          JSON.stringify(starts)
        }): current value is ${JSON.stringify(skip)}`,
      );
    }
  }
  const skipped = skip as number[];
  return { count, starts: [...starts], ...(skipped.length > 0 ? { skip: [...skipped] } : {}) };
}

/** {@linkcode BatchOptions} with defaults applied and values checked. */
export type ResolvedBatchOptions = BatchOptions & { epoch: number };

/**
 * Checks a single batch's index and options.
 *
 * @throws {TypeError} A value of the wrong type.
 * @throws {RangeError} An index outside the dataset, or a bad seed or epoch.
 */
export function resolveBatchOptions(
  index: unknown,
  length: number,
  options: BatchOptions,
  name: string,
): ResolvedBatchOptions {
  const prefix = `Cannot fetch batch ${show(index)} of ${name} as`;
  checkInteger(index, 0, `${prefix} its index`);
  if (index >= length) {
    throw new RangeError(
      `${prefix} its index must be less than the length, ${length}: current value is ${index}`,
    );
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${prefix} options must be an object: current value is ${show(options)}`);
  }
  const { epoch = 0, seed, signal } = options;
  checkInteger(epoch, 0, `${prefix} epoch`);
  checkSeed(seed, prefix);
  checkSignal(signal, prefix);
  return { epoch, seed, signal };
}

/** Checks `onError` and `maxSkipped` where they are given. */
function checkSkipping(
  { onError, maxSkipped }: { onError: unknown; maxSkipped: unknown },
  prefix: string,
): void {
  if (onError !== undefined && onError !== "raise" && onError !== "skip") {
    throw new TypeError(
      `${prefix} onError must be "raise" or "skip": current value is ${show(onError)}`,
    );
  }
  if (maxSkipped !== undefined) checkInteger(maxSkipped, 0, `${prefix} maxSkipped`);
}

/** Checks `retries` and `retryDelay` where they are given. */
function checkRetries(
  { retries, retryDelay }: { retries: unknown; retryDelay: unknown },
  prefix: string,
): void {
  if (retries !== undefined) checkInteger(retries, 0, `${prefix} retries`);
  if (retryDelay === undefined) return;
  if (typeof retryDelay !== "number") {
    throw new TypeError(
      `${prefix} retryDelay must be a non-negative number of milliseconds: current value is ${
        show(retryDelay)
      }`,
    );
  }
  if (!(Number.isFinite(retryDelay) && retryDelay >= 0)) {
    throw new RangeError(
      `${prefix} retryDelay must be a non-negative number of milliseconds: current value is ${retryDelay}`,
    );
  }
}

/**
 * Checks `orderVersion` where given: a version of the shuffled order this
 * build reads (those of src/epoch/_order.ts). A shuffled resume needs it, as
 * a cursor without one may be of either version.
 */
function checkOrderVersion(
  orderVersion: unknown,
  { shuffle, start, skip, consumed }: {
    shuffle: boolean;
    start: number;
    skip: readonly number[];
    consumed: readonly ConsumedLayer[];
  },
  prefix: string,
): void {
  const versions = "1 or 2";
  if (orderVersion === undefined) {
    if (!shuffle || (start === 0 && skip.length === 0 && consumed.length === 0)) return;
    const at = `start ${start}` + (skip.length > 0 ? `, skip ${JSON.stringify(skip)}` : "") +
      (consumed.length > 0 ? `, ${consumed.length} consumed layers` : "");
    throw new TypeError(
      `${prefix} resuming a shuffled order (${at}) needs its orderVersion, ${versions}: current value is undefined (a cursor saved before orderVersion existed resumes exactly with orderVersion: 1)`,
    );
  }
  if (typeof orderVersion !== "number") {
    throw new TypeError(
      `${prefix} orderVersion must be ${versions}: current value is ${show(orderVersion)}`,
    );
  }
  if (orderVersion !== 1 && orderVersion !== 2) {
    throw new RangeError(
      `${prefix} orderVersion must be ${versions}, the versions of the shuffled order this build reads: current value is ${orderVersion}`,
    );
  }
}

function checkSeed(seed: unknown, prefix: string): void {
  if (seed === undefined) return;
  if (typeof seed !== "number") {
    throw new TypeError(`${prefix} seed must be an integer: current value is ${show(seed)}`);
  }
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`${prefix} seed must be a safe integer: current value is ${seed}`);
  }
}

function checkSignal(signal: unknown, prefix: string): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${prefix} signal must be an AbortSignal: current value is ${show(signal)}`,
    );
  }
}

function checkSkip(skip: unknown, start: number, prefix: string): void {
  if (!Array.isArray(skip) || skip.some((position) => typeof position !== "number")) {
    throw new TypeError(
      `${prefix} skip must be an array of positions: current value is ${show(skip)}`,
    );
  }
  let previous = start;
  for (const position of skip as number[]) {
    if (!(Number.isSafeInteger(position) && position > previous)) {
      throw new RangeError(
        `${prefix} skip must hold ascending integers greater than start (${start}): current value is ${
          JSON.stringify(skip)
        }`,
      );
    }
    previous = position;
  }
}

function checkShard(shard: unknown, prefix: string): Shard {
  if (typeof shard !== "object" || shard === null) {
    throw new TypeError(
      `${prefix} shard must be { index, count }: current value is ${show(shard)}`,
    );
  }
  const { index, count, pad = false } = shard as { index: unknown; count: unknown; pad?: unknown };
  if (typeof pad !== "boolean") {
    throw new TypeError(`${prefix} shard.pad must be a boolean: current value is ${show(pad)}`);
  }
  if (typeof index !== "number" || typeof count !== "number") {
    throw new TypeError(
      `${prefix} shard must be { index, count } of integers: current value is ${show(shard)}`,
    );
  }
  if (!(Number.isSafeInteger(count) && count >= 1)) {
    throw new RangeError(
      `${prefix} shard.count must be a positive integer: current value is ${count}`,
    );
  }
  if (!(Number.isSafeInteger(index) && index >= 0 && index < count)) {
    throw new RangeError(
      `${prefix} shard.index must be an integer from 0 to ${count - 1}: current value is ${index}`,
    );
  }
  return { index, count, pad };
}

/**
 * Checks an epoch's `start` and `skip` against the length of its order.
 *
 * @throws {RangeError} A start or skipped position past the end.
 */
export function checkStart(start: number, skip: number[], length: number, name: string): number {
  const last = skip.at(-1) ?? start;
  if (start > length || (skip.length > 0 && last >= length)) {
    throw new RangeError(
      `Cannot open an epoch of ${name} as start (${start}) and skip (${
        JSON.stringify(skip)
      }) must lie within its ${length} batches: current value of start is ${start}`,
    );
  }
  return start;
}

/**
 * Checks a dataset's `length`: a non-negative integer, or `Infinity` for an
 * infinite dataset.
 *
 * @throws {TypeError} A length that is not a number.
 * @throws {RangeError} A negative, fractional or NaN length.
 */
export function checkLength(length: unknown, name: string): number {
  const prefix = `Cannot use ${name} as its length`;
  if (typeof length !== "number") {
    throw new TypeError(
      `${prefix} must be a number of batches: current value is ${show(length)}`,
    );
  }
  if (length !== Infinity && !(Number.isSafeInteger(length) && length >= 0)) {
    throw new RangeError(
      `${prefix} must be a non-negative integer or Infinity: current value is ${length}`,
    );
  }
  return length;
}

/** Checks `timeout`: a positive finite number of milliseconds. */
function checkTimeout(timeout: unknown, prefix: string): asserts timeout is number {
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(
      `${prefix} timeout must be a number of milliseconds: current value is ${show(timeout)}`,
    );
  }
  if (!(timeout > 0 && timeout < Infinity)) {
    throw new RangeError(
      `${prefix} timeout must be a positive finite number of milliseconds: current value is ${timeout}`,
    );
  }
}

/** Checks `idleTimeout`: a non-negative number of milliseconds, `Infinity` included. */
function checkIdleTimeout(idleTimeout: unknown, prefix: string): asserts idleTimeout is number {
  const what = `${prefix} idleTimeout must be a non-negative number of milliseconds or Infinity`;
  if (typeof idleTimeout !== "number") {
    throw new TypeError(`${what}: current value is ${show(idleTimeout)}`);
  }
  if (!(idleTimeout >= 0)) throw new RangeError(`${what}: current value is ${idleTimeout}`);
}

/** Checks that `value` is a safe integer of at least `min` (0 or 1). */
function checkBoolean(value: unknown, what: string): asserts value is boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${what} must be a boolean: current value is ${show(value)}`);
  }
}

function checkInteger(value: unknown, min: 0 | 1, what: string): asserts value is number {
  const kind = min === 0 ? "a non-negative integer" : "a positive integer";
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be ${kind}: current value is ${show(value)}`);
  }
  if (!(Number.isSafeInteger(value) && value >= min)) {
    throw new RangeError(`${what} must be ${kind}: current value is ${value}`);
  }
}

const PERMISSION_NAMES = new Set([
  "env",
  "ffi",
  "import",
  "net",
  "read",
  "run",
  "sys",
  "write",
]);

function checkPermissions(permissions: unknown, prefix: string): void {
  if (permissions === "none" || permissions === "inherit") return;
  if (
    typeof permissions !== "object" || permissions === null ||
    Array.isArray(permissions)
  ) {
    throw new TypeError(
      `${prefix} permissions must be "none", "inherit" or an object such as { read: ["./data"] }: current value is ${
        show(permissions)
      }`,
    );
  }
  for (const [key, value] of Object.entries(permissions)) {
    if (!PERMISSION_NAMES.has(key)) {
      throw new TypeError(
        `${prefix} permissions has an unknown permission "${key}": expected one of ${
          [...PERMISSION_NAMES].join(", ")
        }`,
      );
    }
    const valid = value === undefined || value === "inherit" ||
      typeof value === "boolean" ||
      (Array.isArray(value) &&
        value.every((entry) => typeof entry === "string" || entry instanceof URL));
    if (!valid) {
      throw new TypeError(
        `${prefix} permissions.${key} must be a boolean, "inherit" or an array of strings: current value is ${
          show(value)
        }`,
      );
    }
  }
  const { read, write } = permissions as Deno.PermissionOptionsObject;
  if (Array.isArray(read) && (write === true || write === "inherit")) {
    throw new TypeError(
      `${prefix} permissions.read is scoped to folders, but permissions.write is ${
        show(write)
      }: a worker that may write anywhere can move any file into a read folder, so scope write to folders too, or set read: true`,
    );
  }
}

function checkModule(module: unknown, prefix: string): string {
  if (typeof module !== "string" && !(module instanceof URL)) {
    throw new TypeError(
      `${prefix} module must be a URL such as import.meta.url: current value is ${show(module)}`,
    );
  }
  try {
    return new URL(module).href;
  } catch {
    throw new TypeError(
      `${prefix} module must be an absolute URL such as import.meta.url: current value is ${
        show(module)
      }`,
    );
  }
}
