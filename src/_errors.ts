// Errors that cross the worker boundary, and hints for permission errors.

import { absolute, isAbsolute, normalize, workingDirectory } from "./_paths.ts";

/** An error as plain data, so that it survives `postMessage`. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  cause?: SerializedError;
}

/** How many causes deep errors are followed: a chain may be endless (a cycle). */
export const CAUSE_DEPTH = 8;

/**
 * Turns anything thrown into plain data, keeping name, message and stack.
 * It never throws: what cannot be read is left out or described as such.
 */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!isError(error)) return { name: "Error", message: describe(error) };
  const name = attempt(() => error.name);
  const data: SerializedError = {
    name: name.ok && typeof name.value === "string" ? name.value : "Error",
    message: describe(error),
  };
  const stack = attempt(() => error.stack);
  if (stack.ok && typeof stack.value === "string") data.stack = stack.value;
  const cause = attempt(() => error.cause);
  if (depth >= CAUSE_DEPTH || (cause.ok && cause.value === undefined)) return data;
  data.cause = cause.ok ? serializeError(cause.value, depth + 1) : {
    name: "Error",
    message: `The cause cannot be read: reading it threw ${describe(cause.thrown)}`,
  };
  return data;
}

/**
 * Rebuilds an error from {@linkcode serializeError}'s data, as an instance of
 * the same built-in class (`TypeError`, `Deno.errors.NotCapable`, ...) where
 * one exists, with the stack from where it was thrown.
 */
export function deserializeError(data: SerializedError): Error {
  const options = data.cause ? { cause: deserializeError(data.cause) } : {};
  const error = new (errorClass(data.name))(data.message, options);
  if (error.name !== data.name) error.name = data.name;
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}

type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

const BUILT_IN: Record<string, ErrorClass> = {
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

function errorClass(name: string): ErrorClass {
  if (Object.hasOwn(BUILT_IN, name)) return BUILT_IN[name]!;
  const errors = globalThis.Deno?.errors as Record<string, unknown> | undefined;
  const candidate = errors && Object.hasOwn(errors, name) ? errors[name] : undefined;
  return typeof candidate === "function" ? candidate as ErrorClass : Error;
}

/**
 * Returns `batch`, or throws when `getItem` returned nothing: `undefined`
 * or `null` would otherwise look like a missing batch (Keras hangs on it).
 */
export function checkBatch<B>(batch: B): B {
  if (batch === undefined || batch === null) {
    throw new TypeError(`Expected getItem to return a batch: current value is ${batch}`);
  }
  return batch;
}

/**
 * A short description of any thrown value: an error's message, a string, or
 * the value as JSON or text. It never throws, whatever the value's getters,
 * `toString` or Proxy traps do: an undescribable value is described as such,
 * with what describing it threw.
 */
export function describe(error: unknown): string {
  return describeWithin(error, 1);
}

/** `describe`, which describes what a failed description threw `depth` levels deep. */
function describeWithin(value: unknown, depth: number): string {
  if (typeof value === "string") return value;
  if (isError(value)) {
    const message = attempt(() => value.message);
    if (!message.ok) return undescribable(value, "reading its message", message.thrown, depth);
    if (typeof message.value === "string") return message.value;
  }
  const json = attempt(() => JSON.stringify(value));
  if (json.ok && typeof json.value === "string") return json.value;
  const text = attempt(() => String(value));
  return text.ok ? text.value : undescribable(value, "its toString", text.thrown, depth);
}

function undescribable(value: unknown, what: string, thrown: unknown, depth: number): string {
  let why = `${what} threw a value that cannot be described either`;
  if (thrown === value) why = `${what} threw the value itself`;
  else if (depth > 0) why = `${what} threw: ${describeWithin(thrown, depth - 1)}`;
  return `a value that cannot be described (${why})`;
}

/** The outcome of a call that may throw. */
type Attempt<T> = { ok: true; value: T } | { ok: false; thrown: unknown };

function attempt<T>(call: () => T): Attempt<T> {
  try {
    return { ok: true, value: call() };
  } catch (thrown) {
    return { ok: false, thrown };
  }
}

/** `value instanceof Error`, false where a Proxy's `getPrototypeOf` throws. */
function isError(value: unknown): value is Error {
  const checked = attempt(() => value instanceof Error);
  return checked.ok && checked.value;
}

/** The permission a Deno permission error asks for, if it is one. */
export interface MissingPermission {
  /** `read`, `write`, `net`, `env`, `run`, `ffi`, `sys`, `import` or `all`. */
  name: string;
  /** The path, host, variable, command or API it was asked for. */
  target?: string;
  /** Where `target`, a path, really leads, when that differs (through `..` or a symlink). */
  resolved?: string;
}

/**
 * The path a read or write permission error names, made absolute with `..`
 * resolved, if that differs. Only as written: the error may come from a
 * hostile worker, so the main thread touches no file it names (a worker's
 * guard names where a symlink leads itself).
 */
function resolved([, name, target]: RegExpExecArray): string | undefined {
  if ((name !== "read" && name !== "write") || target === undefined) return undefined;
  const cwd = workingDirectory();
  if (cwd === undefined && !isAbsolute(target)) return undefined;
  const written = normalize(absolute(target, cwd ?? ""));
  return written === target ? undefined : written;
}

const REQUIRES = /Requires (\w+) access(?: to "([^"]*)"(?: \(that is "([^"]*)")?)?/;

/** Finds the permission a Deno `NotCapable` error (or its cause) names. */
export function missingPermission(error: unknown, depth = 0): MissingPermission | undefined {
  if (!isError(error) || depth >= CAUSE_DEPTH) return undefined;
  const match = REQUIRES.exec(describe(error));
  if (match) return { name: match[1]!, target: match[2], resolved: match[3] ?? resolved(match) };
  const cause = attempt(() => error.cause);
  return cause.ok ? missingPermission(cause.value, depth + 1) : undefined;
}

/** How to grant `missing` through a dataset's `permissions` option. */
export function permissionAdvice(missing: MissingPermission): string {
  if (missing.name === "all") {
    return `add permissions: "inherit" to the dataset's options`;
  }
  const target = missing.resolved ?? missing.target;
  const value = target === undefined ? "true" : `[${JSON.stringify(target)}]`;
  return `add { ${missing.name}: ${value} } to the dataset's permissions option`;
}
