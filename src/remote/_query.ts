// The queries of the routes, read strictly before anything runs: every
// parameter known (/info, /healthz and /metrics know none), given once, and
// in range, or a RangeError whose message names the value, which the host
// answers with a 400.

import { show } from "../_describe.ts";
import { epochOrder, shardOrder } from "../epoch/_order.ts";
import type { Shard } from "../options.ts";

/** What a `/batch` query asks for. */
export interface BatchQuery {
  /** The batch to fetch: `index`, or the batch at `position` of the epoch's order. */
  index: number;
  epoch: number;
  seed: number;
}

/** What an `/epoch` query asks for. */
export interface EpochQuery {
  epoch: number;
  shuffle: boolean;
  seed: number | undefined;
  shard: Shard | undefined;
  start: number;
  /** How many batches the response carries: after shard and start; `Infinity` when infinite. */
  batches: number;
}

const BATCH_PARAMETERS = ["index", "position", "epoch", "seed", "shuffle"];
const EPOCH_PARAMETERS = ["epoch", "shuffle", "seed", "shard", "start"];
const FLAGS: Record<string, boolean> = { "0": false, "1": true, false: false, true: true };

/**
 * Reads a `/batch` query for a dataset of `length` batches; `position`
 * maps to an index through the order a local epoch computes.
 *
 * @throws {RangeError} A parameter that is unknown, repeated, missing or out of range.
 */
export function parseBatchQuery(url: URL, length: number, name: string): BatchQuery {
  const query: Query = new Query(url, "/batch", BATCH_PARAMETERS); // typed, so fail() narrows
  const index = query.natural("index");
  const position = query.natural("position");
  if ((index === undefined) === (position === undefined)) {
    query.fail("it takes exactly one of index and position");
  }
  const seed = query.integer("seed");
  if (seed === undefined) {
    query.fail("seed is required (an integer: every host must derive the same batch seeds)");
  }
  const epoch = query.natural("epoch") ?? 0;
  const shuffle = query.flag("shuffle");
  const [key, at] = index === undefined ? ["position", position!] : ["index", index];
  if (at >= length) {
    throw new RangeError(
      `Cannot serve /batch as ${key} must be less than the length, ${length}: current value is ${at}`,
    );
  }
  if (index !== undefined) return { index, epoch, seed };
  return { index: epochOrder(length, { shuffle, seed, epoch, name }).at(at), epoch, seed };
}

/**
 * Reads an `/epoch` query for a dataset of `length` batches.
 *
 * @throws {RangeError} A parameter that is unknown, repeated or out of range.
 */
export function parseEpochQuery(url: URL, length: number): EpochQuery {
  const query = new Query(url, "/epoch", EPOCH_PARAMETERS);
  const epoch = query.natural("epoch") ?? 0;
  const shuffle = query.flag("shuffle");
  const seed = query.integer("seed");
  const shard = query.shard();
  const start = query.natural("start") ?? 0;
  // The order's length only: the unshuffled order has the same.
  const { length: sharded } = shard ? shardOrder(epochOrder(length), shard) : { length };
  if (start > sharded) {
    throw new RangeError(
      `Cannot serve /epoch as start must be at most the ${sharded} batches of the ${
        shard ? "shard" : "epoch"
      }: current value is ${start}`,
    );
  }
  return { epoch, shuffle, seed, shard, start, batches: sharded - start };
}

/**
 * Checks the query of a route that takes no parameters, such as `/info`.
 *
 * @throws {RangeError} A parameter, which is unknown.
 */
export function checkNoQuery(url: URL, route: string): void {
  new Query(url, route, []);
}

/** One route's query parameters, each read and checked on demand. */
class Query {
  #params: URLSearchParams;
  #route: string;

  constructor(url: URL, route: string, allowed: string[]) {
    this.#params = url.searchParams;
    this.#route = route;
    for (const key of new Set(this.#params.keys())) {
      if (allowed.length === 0) this.fail("it takes no query parameters");
      if (!allowed.includes(key)) {
        const list = `${allowed.slice(0, -1).join(", ")} and ${allowed.at(-1)}`;
        this.fail(`${show(key)} is not one of its query parameters, ${list}`);
      }
      const values = this.#params.getAll(key);
      if (values.length > 1) {
        this.fail(`${key} is given ${values.length} times: current value is ${show(values)}`);
      }
    }
  }

  /** A non-negative safe integer, or undefined when absent. */
  natural(key: string): number | undefined {
    return this.#number(key, /^\d+$/, "a non-negative integer");
  }

  /** A safe integer, or undefined when absent. */
  integer(key: string): number | undefined {
    return this.#number(key, /^-?\d+$/, "an integer");
  }

  /** `0`, `1`, `false` or `true`; false when absent. */
  flag(key: string): boolean {
    const text = this.#params.get(key);
    if (text === null) return false;
    const value = FLAGS[text];
    if (value === undefined) {
      this.fail(`${key} must be 0, 1, true or false: current value is ${show(text)}`);
    }
    return value;
  }

  /** `shard=i/n`, with 0 ≤ i < n; undefined when absent. */
  shard(): Shard | undefined {
    const text = this.#params.get("shard");
    if (text === null) return undefined;
    const match = /^(\d+)\/(\d+)$/.exec(text);
    const index = Number(match?.[1]);
    const count = Number(match?.[2]);
    if (!(Number.isSafeInteger(count) && count >= 1 && index < count)) {
      this.fail(`shard must be i/n with 0 ≤ i < n: current value is ${show(text)}`);
    }
    return { index, count };
  }

  /** Throws the RangeError of this route's query: `Cannot serve <route> as <reason>`. */
  fail(reason: string): never {
    const query = this.#params.size > 0 ? show(`?${this.#params}`) : "empty";
    const detail = reason.includes("current value") ? "" : `: current query is ${query}`;
    throw new RangeError(`Cannot serve ${this.#route} as ${reason}${detail}`);
  }

  #number(key: string, pattern: RegExp, what: string): number | undefined {
    const text = this.#params.get(key);
    if (text === null) return undefined;
    const value = Number(text);
    if (!pattern.test(text) || !Number.isSafeInteger(value)) {
      this.fail(`${key} must be ${what}: current value is ${show(text)}`);
    }
    return value;
  }
}
