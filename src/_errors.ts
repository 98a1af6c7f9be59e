// Errors that cross the worker boundary, and hints for permission errors.

/** An error as plain data, so that it survives `postMessage`. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  cause?: SerializedError;
}

/** Turns anything thrown into plain data, keeping name, message and stack. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (error instanceof Error) {
    const data: SerializedError = {
      name: error.name,
      message: error.message,
      stack: error.stack,
    };
    if (error.cause !== undefined && depth < 8) {
      data.cause = serializeError(error.cause, depth + 1);
    }
    return data;
  }
  return { name: "Error", message: describe(error) };
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

/** A short description of any thrown value. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** The permission a Deno permission error asks for, if it is one. */
export interface MissingPermission {
  /** `read`, `write`, `net`, `env`, `run`, `ffi`, `sys`, `import` or `all`. */
  name: string;
  /** The path, host, variable, command or API it was asked for. */
  target?: string;
}

const REQUIRES = /Requires (\w+) access(?: to "([^"]*)")?/;

/** Finds the permission a Deno `NotCapable` error (or its cause) names. */
export function missingPermission(error: unknown): MissingPermission | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; depth++) {
    const match = REQUIRES.exec(e.message);
    if (match) return { name: match[1]!, target: match[2] };
    e = e.cause;
  }
  return undefined;
}

/** How to grant `missing` through a dataset's `permissions` option. */
export function permissionAdvice(missing: MissingPermission): string {
  if (missing.name === "all") {
    return `add permissions: "inherit" to the dataset's options`;
  }
  const value = missing.target === undefined ? "true" : `[${JSON.stringify(missing.target)}]`;
  return `add { ${missing.name}: ${value} } to the dataset's permissions option`;
}
