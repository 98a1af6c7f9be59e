/**
 * {@linkcode RemoteDataset}: a `PyDataset` whose batches come from data
 * hosts, the client half of `./remote`.
 *
 * @module
 */

import { MAKE_FETCHER } from "../_make_fetcher.ts";
import type { Fetcher } from "../fetch/_fetcher.ts";
import { HttpFetcher } from "../fetch/http/_http_fetcher.ts";
import { Hosts } from "../fetch/http/_hosts.ts";
import type { PyDatasetOptions } from "../options.ts";
import { PyDataset } from "../py_dataset.ts";
import { batchesFromResponse } from "../wire/batch_response.ts";
import type { Batch } from "../wire/types.ts";
import type { BatchInfo } from "../worker_info.ts";
import { readHostInfo } from "./_host_info.ts";
import { resolveRemoteOptions } from "./_remote_options.ts";

/**
 * Options for {@linkcode RemoteDataset.connect}: the hosts, how many
 * requests are in flight, how a slow or failing host is handled, and the
 * {@linkcode PyDatasetOptions} that apply on this thread (`maxQueueSize`,
 * `ordered`, `idleTimeout`, `retryDelay`, `onError`, `maxSkipped`). The
 * options of Workers (`useMultiprocessing`, `module`, `permissions`) are
 * not among them: the hosts run the dataset.
 *
 * @example Two hosts, with a token
 * ```ts
 * import type { RemoteDatasetOptions } from "@pydataset/pydataset/remote";
 *
 * const options: RemoteDatasetOptions = {
 *   hosts: ["http://10.0.0.1:8000", "http://10.0.0.2:8000"],
 *   headers: { authorization: "Bearer token" },
 *   timeout: 10_000,
 * };
 * ```
 */
export interface RemoteDatasetOptions extends
  Omit<
    PyDatasetOptions,
    "workers" | "useMultiprocessing" | "module" | "permissions" | "timeout" | "retries"
  > {
  /**
   * The data hosts (`serveDataset`), as http or https URLs, each serving
   * the same dataset; one may be a load balancer in front of many. A
   * URL's path is kept: `http://lb/data` asks `http://lb/data/batch`. At
   * least one, none twice; none with a query or fragment, or with a user
   * name or password (send credentials with `headers`, such as
   * `authorization`). A host that answers with a redirect fails: it is
   * not followed.
   */
  hosts: (string | URL)[];
  /**
   * How many batch requests are in flight at once, over all hosts: the
   * dataset's `workers`. Each goes to the host with the fewest in flight.
   * A positive integer. The default, four per host, keeps a host's
   * fetchers busy across the round trip, and two trainers within a host's
   * default `maxConcurrent` of 8.
   *
   * @default {4 × hosts.length}
   */
  workers?: number;
  /**
   * Milliseconds one request for a batch may take (a host that overruns
   * it is avoided, and the batch tried again elsewhere), and the longest
   * `connect` waits for the hosts' `/info`. A wait for a busy host (a 503
   * with `Retry-After`) does not count: hosts at their limit are
   * backpressure, waited for as long as they say so (the epoch's `signal`
   * ends the wait). A positive number.
   *
   * @default {30_000}
   */
  timeout?: number;
  /**
   * How many more times a batch is asked for after a failure (a host that
   * cannot be reached, an error status, a redirect, an unreadable body,
   * the timeout, or a 503 without `Retry-After`, which a host that is going
   * away answers),
   * each time from another host when there is one. A non-negative
   * integer; more than a local dataset's 0, since losing a host is
   * expected.
   *
   * @default {2}
   */
  retries?: number;
  /**
   * Milliseconds a host that failed is avoided: requests go to the other
   * hosts meanwhile (when every host is avoided, to the one whose time is
   * up first). A non-negative number.
   *
   * @default {5_000}
   */
  avoidFor?: number;
  /**
   * Headers sent with every request, such as `authorization`.
   *
   * @default {undefined}
   */
  headers?: HeadersInit;
  /**
   * Aborting it rejects `connect` with its reason.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * A {@linkcode PyDataset} whose batches come from data hosts: each batch
 * is one `GET /batch?index=I&epoch=E&seed=S` to one of them, up to
 * `workers` at once, each to the host with the fewest in flight. The
 * epochs are this process's: order, shuffle, shards, resume, `cursor`,
 * `stats`, `onError: "skip"` and `toTfDataset` work as for a local
 * dataset, and each batch equals the one the dataset would give locally,
 * since a host computes it from the same index, epoch number and seed.
 *
 * A host that fails (cannot be reached, answers an error or a redirect,
 * sends what cannot be read, overruns `timeout`, or answers 503 without
 * `Retry-After`, as a closed host does) is avoided for `avoidFor`, and
 * the batch is tried again (`retries`) on another; the `BatchError` of a
 * batch that fails everywhere names the last host and what it answered.
 * A host at its limit (503 with `Retry-After`) is no failure: the request
 * goes to another host at once, or waits, which does not count against
 * `timeout`: for a place to free up when others of this dataset's
 * requests are in flight there, else for its `Retry-After` (at most
 * 30 s), for as long as the hosts stay busy.
 *
 * `getItem(index, info)` is `getBatch(index, { epoch: info.epoch, seed:
 * info.epochSeed })`: it fetches through the hosts too, when no epoch is
 * open. Nothing keeps the process alive once requests have settled;
 * `close()` aborts those in flight.
 *
 * @typeParam B The type of one batch, as the hosts send it.
 *
 * @example Read an epoch from a host
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import { RemoteDataset, serveDataset } from "@pydataset/pydataset/remote";
 * import assert from "node:assert/strict";
 *
 * class Squares extends PyDataset<Float32Array> {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(index: number): Float32Array {
 *     return Float32Array.of(index * index);
 *   }
 * }
 *
 * await using handler = serveDataset(() => new Squares());
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
 * await using remote = await RemoteDataset.connect<Float32Array>({
 *   hosts: [`http://127.0.0.1:${server.addr.port}`],
 * });
 * const batches: number[] = [];
 * for await (const batch of remote.epoch({ shuffle: true, seed: 1 })) batches.push(batch[0]!);
 * assert.deepEqual(batches.toSorted((a, b) => a - b), [0, 1, 4, 9]);
 * ```
 */
export class RemoteDataset<B = Batch> extends PyDataset<B> {
  #hosts: Hosts;
  #headers: Headers;
  #length = 0;
  #remoteName = "";

  private constructor(hosts: Hosts, headers: Headers, options: PyDatasetOptions) {
    super(options);
    this.#hosts = hosts;
    this.#headers = headers;
  }

  /**
   * Connects to the hosts: reads every host's `/info` at once (within
   * `timeout`), checks that each speaks protocol 1 and the wire format,
   * and that all serve the same number of batches.
   *
   * @typeParam B The type of one batch, as the hosts send it (not checked).
   * @param options The hosts and how batches are fetched from them.
   * @returns The dataset.
   * @throws {TypeError} A bad, repeated or non-http host, one with a query,
   * a fragment or credentials, an option of the
   * wrong type, or an option of Workers (`useMultiprocessing`, `module`,
   * `permissions`).
   * @throws {RangeError} An option out of range.
   * @throws {Error} A host that cannot be reached or is no data host of
   * protocol 1 (each named), or hosts whose lengths differ (each named
   * with its length); `signal`'s reason once it aborts.
   *
   * @example Hosts that disagree are refused
   * ```ts
   * import { PyDataset } from "@pydataset/pydataset";
   * import { RemoteDataset, serveDataset } from "@pydataset/pydataset/remote";
   * import assert from "node:assert/strict";
   *
   * class Zeros extends PyDataset<Float32Array> {
   *   constructor(public n: number) {
   *     super();
   *   }
   *   get length(): number {
   *     return this.n;
   *   }
   *   getItem(): Float32Array {
   *     return new Float32Array(1);
   *   }
   * }
   *
   * const listen = { hostname: "127.0.0.1", port: 0, onListen() {} };
   * await using three = serveDataset(() => new Zeros(3));
   * await using four = serveDataset(() => new Zeros(4));
   * await using a = Deno.serve(listen, three);
   * await using b = Deno.serve(listen, four);
   * await assert.rejects(
   *   RemoteDataset.connect({
   *     hosts: [`http://127.0.0.1:${a.addr.port}`, `http://127.0.0.1:${b.addr.port}`],
   *   }),
   *   /must serve the same number of batches: .* has 3, .* has 4/,
   * );
   * ```
   */
  static async connect<B = Batch>(options: RemoteDatasetOptions): Promise<RemoteDataset<B>> {
    const resolved = resolveRemoteOptions(options);
    const hosts = new Hosts(resolved.hosts, resolved.avoidFor);
    const { signal, timeout } = resolved;
    const dataset = new RemoteDataset<B>(hosts, resolved.headers, resolved.dataset);
    const info = await readHostInfo(hosts.all, resolved.headers, signal, timeout);
    dataset.#length = info.length;
    dataset.#remoteName = info.name;
    return dataset;
  }

  /** The number of batches the hosts serve (`Infinity` when their `/info` says `null`). */
  get length(): number {
    return this.#length;
  }

  /** The class name of the dataset the hosts serve, as the first host's `/info` says it. */
  get remoteName(): string {
    return this.#remoteName;
  }

  /** The hosts' URLs, as messages name them. */
  get hosts(): string[] {
    return this.#hosts.all.map((host) => host.name);
  }

  /**
   * Fetches batch `index` from the hosts, as epoch `info.epoch` of seed
   * `info.epochSeed` gives it: {@linkcode PyDataset.prototype.getBatch},
   * so not while an epoch is open.
   *
   * @param index The batch index.
   * @param info The epoch number and seed to ask for.
   * @returns The batch.
   */
  getItem(index: number, info: BatchInfo): Promise<B> {
    return this.getBatch(index, { epoch: info.epoch, seed: info.epochSeed });
  }

  /**
   * Makes the dataset's `count` fetchers: requests to its hosts.
   *
   * @internal
   */
  [MAKE_FETCHER](count: number): Fetcher<B> {
    return new HttpFetcher<B>({
      hosts: this.#hosts,
      count,
      headers: this.#headers,
      read: (response) => batchesFromResponse<B>(response),
    });
  }
}
