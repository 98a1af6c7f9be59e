// The options of serveDataset, checked, with their defaults: the limit of
// 8 requests at once, a Retry-After of 1 s, and no CORS.

import { show } from "../_describe.ts";
import type { CorsOrigins } from "./_cors.ts";

/** The options of a host, checked. */
export interface ResolvedServeOptions {
  maxConcurrent: number;
  retryAfter: number;
  cors: CorsOrigins | undefined;
}

/** Checks `make` and the options; applies the defaults. */
export function resolveServeOptions(
  make: unknown,
  options: { maxConcurrent?: unknown; retryAfter?: unknown; cors?: unknown },
): ResolvedServeOptions {
  const prefix = "Cannot serve a dataset as";
  if (typeof make !== "function") {
    throw new TypeError(
      `${prefix} make must be a function that returns a PyDataset: current value is ${show(make)}`,
    );
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${prefix} options must be an object: current value is ${show(options)}`);
  }
  const { maxConcurrent = 8, retryAfter = 1, cors } = options;
  const list = Array.isArray(cors) && cors.every((origin) => typeof origin === "string");
  if (cors !== undefined && cors !== "*" && !list) {
    throw new TypeError(
      `${prefix} cors must be an array of origins or "*": current value is ${show(cors)}`,
    );
  }
  return {
    maxConcurrent: positiveInteger(maxConcurrent, `${prefix} maxConcurrent`),
    retryAfter: positiveInteger(retryAfter, `${prefix} retryAfter`),
    cors: Array.isArray(cors) ? [...cors] : cors as "*" | undefined,
  };
}

function positiveInteger(value: unknown, what: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${what} must be a positive integer: current value is ${show(value)}`);
  }
  if (!(Number.isSafeInteger(value) && value >= 1)) {
    throw new RangeError(`${what} must be a positive integer: current value is ${value}`);
  }
  return value;
}
