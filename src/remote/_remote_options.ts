// Validation of RemoteDatasetOptions: the hosts' URLs, the options only a
// RemoteDataset has, its own defaults, and the PyDatasetOptions passed on
// (which PyDataset checks). Messages state the current value.

import { show } from "../_describe.ts";
import type { PyDatasetOptions } from "../options.ts";

/** `RemoteDatasetOptions` checked, with defaults applied. */
export interface ResolvedRemoteOptions {
  /** Each host's base URL, ending in "/". */
  hosts: URL[];
  avoidFor: number;
  headers: Headers;
  signal: AbortSignal | undefined;
  /** Bounds the connect too. */
  timeout: number;
  /** What the PyDataset gets. */
  dataset: PyDatasetOptions;
}

/** A RemoteDataset's default `timeout`, in ms. */
export const DEFAULT_TIMEOUT = 30_000;

/** A RemoteDataset's default `retries`: a host lost mid-batch is expected. */
export const DEFAULT_RETRIES = 2;

/** A RemoteDataset's default `avoidFor`, in ms. */
export const DEFAULT_AVOID_FOR = 5_000;

const PREFIX = "Cannot connect RemoteDataset as";

/** The options of PyDataset that need Workers, which a RemoteDataset has none of. */
const WORKER_OPTIONS = ["useMultiprocessing", "module", "permissions"] as const;

/**
 * Checks `options` (a `RemoteDatasetOptions`, as any caller may pass) and
 * applies a RemoteDataset's defaults; PyDataset checks the options it gets.
 *
 * @throws {TypeError} A value of the wrong type, a bad or repeated host
 * (one with a query, a fragment or credentials is bad too), or
 * an option that needs Workers.
 * @throws {RangeError} `avoidFor` out of range.
 */
export function resolveRemoteOptions(options: unknown): ResolvedRemoteOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${PREFIX} options must be an object: current value is ${show(options)}`);
  }
  const { hosts, avoidFor = DEFAULT_AVOID_FOR, headers, signal, ...rest } = options as Record<
    string,
    unknown
  >;
  checkNoWorkers(rest);
  const urls = checkHosts(hosts);
  checkAvoidFor(avoidFor);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${PREFIX} signal must be an AbortSignal: current value is ${show(signal)}`,
    );
  }
  const { workers = 4 * urls.length, timeout = DEFAULT_TIMEOUT, retries = DEFAULT_RETRIES } = rest;
  const dataset = { ...rest, workers, timeout, retries } as PyDatasetOptions;
  return {
    hosts: urls,
    avoidFor,
    headers: checkHeaders(headers),
    signal,
    // Checked with the dataset's options, before connect uses it.
    timeout: timeout as number,
    dataset,
  };
}

function checkNoWorkers(options: Record<string, unknown>): void {
  for (const name of WORKER_OPTIONS) {
    const value = options[name];
    if (value === undefined || (name === "useMultiprocessing" && value === false)) continue;
    throw new TypeError(
      `${PREFIX} ${name} is not one of its options: its batches come from the hosts, with no Workers: current value is ${
        show(value)
      }`,
    );
  }
}

/** Each host's base URL, ending in "/", so that `batch` resolves below its path. */
function checkHosts(hosts: unknown): URL[] {
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw new TypeError(
      `${PREFIX} hosts must be a non-empty array of http or https URLs: current value is ${
        show(hosts)
      }`,
    );
  }
  const seen = new Map<string, number>();
  return hosts.map((host, i) => {
    const url = checkHost(host, i);
    const before = seen.get(url.href);
    if (before !== undefined) {
      throw new TypeError(
        `${PREFIX} hosts[${i}] repeats hosts[${before}]: current value is ${show(String(host))}`,
      );
    }
    seen.set(url.href, i);
    return url;
  });
}

function checkHost(host: unknown, i: number): URL {
  const what = `${PREFIX} hosts[${i}] must be an http or https URL such as "http://127.0.0.1:8000"`;
  if (typeof host !== "string" && !(host instanceof URL)) {
    throw new TypeError(`${what}: current value is ${show(host)}`);
  }
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new TypeError(`${what}: current value is ${show(String(host))}`);
  }
  const shown = show(masked(url).href);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${what}: current value is ${shown}`);
  }
  // `href`, not `search` and `hash`: those are "" for a bare "?" or "#" too.
  if (/[?#]/.test(url.href)) {
    throw new TypeError(
      `${PREFIX} hosts[${i}] must have no query or fragment: current value is ${shown}`,
    );
  }
  if (url.username || url.password) {
    throw new TypeError(
      `${PREFIX} hosts[${i}] must have no user name or password: send credentials with the headers option (an authorization header): current value is ${shown}`,
    );
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/** `url` with its user name and password, if any, shown as `***`. */
function masked(url: URL): URL {
  const copy = new URL(url);
  if (copy.username) copy.username = "***";
  if (copy.password) copy.password = "***";
  return copy;
}

function checkAvoidFor(avoidFor: unknown): asserts avoidFor is number {
  const what = `${PREFIX} avoidFor must be a non-negative number of milliseconds`;
  if (typeof avoidFor !== "number") {
    throw new TypeError(`${what}: current value is ${show(avoidFor)}`);
  }
  if (!(avoidFor >= 0 && avoidFor < Infinity)) {
    throw new RangeError(`${what}: current value is ${avoidFor}`);
  }
}

function checkHeaders(headers: unknown): Headers {
  try {
    return new Headers(headers as HeadersInit | undefined);
  } catch (error) {
    throw new TypeError(
      `${PREFIX} headers must be a Headers, an object or a list of name-value pairs: current value is ${
        show(headers)
      } (${error instanceof Error ? error.message : error})`,
    );
  }
}
