// Errors that cross the worker boundary, as plain data.

import { attempt, describeError, isError } from "../../_describe.ts";

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
  if (!isError(error)) return { name: "Error", message: describeError(error) };
  const name = attempt(() => error.name);
  const data: SerializedError = {
    name: name.ok && typeof name.value === "string" ? name.value : "Error",
    message: describeError(error),
  };
  const stack = attempt(() => error.stack);
  if (stack.ok && typeof stack.value === "string") data.stack = stack.value;
  const cause = attempt(() => error.cause);
  if (depth >= CAUSE_DEPTH || (cause.ok && cause.value === undefined)) return data;
  data.cause = cause.ok ? serializeError(cause.value, depth + 1) : {
    name: "Error",
    message: `The cause cannot be read: reading it threw ${describeError(cause.thrown)}`,
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
