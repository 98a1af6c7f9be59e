/**
 * {@linkcode serveDataset}: a data host, the server half of `./remote`.
 *
 * @module
 */

import { show } from "../_describe.ts";
import { checkLength } from "../_validate.ts";
import type { PyDataset } from "../py_dataset.ts";
import { MEDIA_TYPE } from "../wire/batch_response.ts";
import type { Batch } from "../wire/types.ts";
import { Admission } from "./_admission.ts";
import { serveBatch } from "./_batch_route.ts";
import { addCorsHeaders, type CorsOrigins, preflight } from "./_cors.ts";
import { serveEpoch } from "./_epoch_route.ts";
import { errorResponse, reportOf } from "./_error_response.ts";
import type { Host } from "./_host.ts";
import { ServeMetrics } from "./_metrics.ts";
import { DatasetPool } from "./_pool.ts";
import { checkNoQuery } from "./_query.ts";
import { resolveServeOptions } from "./_serve_options.ts";

/** The version of the HTTP contract that `/info` reports. */
const PROTOCOL = 1;

const PATHS = ["/info", "/healthz", "/batch", "/epoch", "/metrics"];

/**
 * Options of {@linkcode serveDataset}.
 *
 * @example Allow one page to read the batches, and four clients at once
 * ```ts
 * import type { ServeDatasetOptions } from "@pydataset/pydataset/remote";
 *
 * const options: ServeDatasetOptions = { maxConcurrent: 4, cors: ["http://localhost:5173"] };
 * ```
 */
export interface ServeDatasetOptions {
  /**
   * How many requests that fetch batches may run at once: open `/epoch`
   * streams and in-flight `/batch` requests together. One more is answered
   * with a 503 and a `Retry-After` (busy: the client waits and tries
   * again). It also bounds the dataset instances (see
   * {@linkcode serveDataset}). A positive integer.
   *
   * @default {8}
   */
  maxConcurrent?: number;
  /**
   * The seconds a refused client is told to wait, in `Retry-After`. A
   * positive integer.
   *
   * @default {1}
   */
  retryAfter?: number;
  /**
   * The origins whose pages may read the responses (CORS): a list such as
   * `["http://localhost:5173"]`, or `"*"` for every origin. A request from
   * an allowed `Origin` gets `access-control-allow-origin` (that origin)
   * and may read `x-pydataset-batches`, `x-pydataset-index` and
   * `retry-after`; its `OPTIONS` preflight gets a 204 that allows GET and
   * the request headers it names (such as `authorization`), for 600
   * seconds. Another origin gets no CORS headers (its preflight a bare
   * 204), so its browser blocks the request. Unset means no CORS headers,
   * and `OPTIONS` is a 405.
   *
   * @default {undefined}
   */
  cors?: readonly string[] | "*";
}

/**
 * A data host's handler: give it to `Deno.serve` (or call it with a
 * `Request`). Closing it closes every dataset it made, with their workers;
 * later requests, and a `/batch` that was running, get a 503 without
 * `Retry-After` (`ClosedError`: the host is going away, so a client fails
 * over at once), all but `/metrics`, which still counts them.
 *
 * @example Close it with `await using`
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import { serveDataset } from "@pydataset/pydataset/remote";
 * import assert from "node:assert/strict";
 *
 * class Ones extends PyDataset<Float32Array> {
 *   get length(): number {
 *     return 2;
 *   }
 *   getItem(): Float32Array {
 *     return Float32Array.of(1);
 *   }
 * }
 *
 * await using handler = serveDataset(() => new Ones());
 * const response = await handler(new Request("http://host/healthz"));
 * assert.equal(await response.text(), "ok\n");
 * ```
 */
export interface DatasetHandler extends AsyncDisposable {
  /** Answers one request, as the HTTP contract of `./remote` says. */
  (request: Request): Promise<Response>;
  /**
   * Closes every dataset made, with their workers, once their epochs have
   * ended; open epochs end with an error.
   */
  close(): Promise<void>;
}

/**
 * Serves a dataset over HTTP: a web-standard handler for `Deno.serve` that
 * answers the routes of `./remote`'s contract, protocol 1.
 *
 * - `GET /info`: JSON `{ protocol: 1, name, length, mediaType }` (`length`
 *   is `null` for an infinite dataset).
 * - `GET /healthz`: `ok`.
 * - `GET /batch?index=I&epoch=E&seed=S`: batch I, as
 *   `getBatch(I, { epoch: E, seed: S })` gives it, as one document of the
 *   wire format (`x-pydataset-index: I`). `seed` is required, `epoch`
 *   defaults to 0. Instead of `index`, `position=P&shuffle=1` asks for the
 *   batch at position P of that epoch's shuffled order, as
 *   `epoch({ epoch: E, seed: S, shuffle: true })` computes it, and
 *   `x-pydataset-index` says which batch it is. A failed batch is a 500
 *   whose JSON names the `BatchError` and its `index`.
 * - `GET /epoch?epoch=E&shuffle=1&seed=S&shard=i/n&start=K`: an epoch as a
 *   stream of the wire format (`batchResponse`); `x-pydataset-batches`
 *   says how many batches it carries (after shard and start, from the
 *   length before `onEpochBegin`; absent when infinite). `epoch` defaults
 *   to 0, `seed` to the instance's random seed: give both to get the same
 *   order from every host. A failure ends the stream with the wire
 *   format's error document. A client that goes away cancels its epoch.
 * - `GET /metrics`: Prometheus text format, names prefixed `pydataset_`:
 *   batches served and failed, by route; seconds spent fetching (the
 *   duration of each `getBatch` call of `/batch`, waiting for a free
 *   fetcher included, and each epoch's `stats.getItemMs`, read-ahead
 *   batches included); open epochs, in-flight batch requests, refused
 *   requests and instances made. A batch counts as served once it is
 *   encoded and sent on; one that cannot be encoded counts as failed.
 *
 * A bad query is a 400 whose JSON `{ name, message }` names the value
 * (an unknown parameter included: `/info`, `/healthz` and `/metrics` take
 * none), an unknown path a 404, another method than GET and HEAD a 405, a
 * request beyond `maxConcurrent` a 503 with `Retry-After` (busy), and any
 * request once the host is closed a 503 without it (see
 * {@linkcode DatasetHandler}). `HEAD` answers with the headers only, and
 * fetches nothing.
 *
 * `make` builds one instance of the dataset; it is first called when a
 * request needs one. One instance serves every `/batch` request, at once,
 * through its fetchers (its workers, with `useMultiprocessing`); each open
 * `/epoch` stream has an instance of its own, taken from a pool and handed
 * back idle once its epoch has ended (read to the end, failed, or
 * cancelled), so that its workers persist for the next. So at most
 * `1 + maxConcurrent` instances are made, each with the dataset's
 * `workers`; an idle one ends its workers after the dataset's
 * `idleTimeout`, and `close()` ends them all. Every instance must give the
 * same batches for the same index, epoch number and seed, and `make` must
 * build a new one on each call (`() => dataset` is a 500 from its second
 * call on).
 *
 * A place under `maxConcurrent` is held until its `getItem` calls settle:
 * a `/batch` whose client left, or an `/epoch` cancelled, waits for them.
 * So a served dataset should set its `timeout`, for a call that hangs to
 * give its place back. An `/epoch` whose client stays connected but stops
 * reading holds its place too (backpressure pauses it): a public host
 * belongs behind a proxy with a send timeout.
 *
 * `/batch` runs no epoch hooks (`getBatch` runs none; `onWorkerStart` does
 * run in new workers); `/epoch` runs them as a local epoch does. A dataset
 * served per batch derives its per-epoch state from `info.epoch` and
 * `info.batchSeed` in `getItem`, not from `onEpochBegin`.
 *
 * @param make Builds one instance of the dataset.
 * @param options The limit, `Retry-After` and CORS.
 * @returns The handler.
 * @throws {TypeError} `make` is not a function, or an option of the wrong type.
 * @throws {RangeError} An option out of range, such as `maxConcurrent: 0`.
 *
 * @example Serve batches and read one back
 * ```ts
 * import { type BatchInfo, PyDataset } from "@pydataset/pydataset";
 * import { serveDataset } from "@pydataset/pydataset/remote";
 * import { batchesFromResponse } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * class Squares extends PyDataset<{ x: Float32Array; epoch: number }> {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(index: number, info: BatchInfo): { x: Float32Array; epoch: number } {
 *     return { x: Float32Array.of(index * index), epoch: info.epoch };
 *   }
 * }
 *
 * await using handler = serveDataset(() => new Squares(), { maxConcurrent: 4 });
 * const response = await handler(new Request("http://host/batch?index=3&epoch=2&seed=7"));
 * assert.equal(response.headers.get("x-pydataset-index"), "3");
 * const [batch] = await Array.fromAsync(batchesFromResponse(response));
 * assert.deepEqual(batch, { x: Float32Array.of(9), epoch: 2 });
 * ```
 *
 * @example Serve on loopback
 * ```ts ignore
 * import { serveDataset } from "@pydataset/pydataset/remote";
 *
 * // A timeout, for a getItem that hangs to give its place under maxConcurrent back.
 * await using handler = serveDataset(() => new Images(files, { workers: 4, timeout: 30_000 }));
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 8000 }, handler);
 * // curl 'http://127.0.0.1:8000/epoch?epoch=3&shuffle=1&seed=7&shard=0/2'
 * await server.finished;
 * ```
 */
export function serveDataset(
  make: () => PyDataset<Batch>,
  options: ServeDatasetOptions = {},
): DatasetHandler {
  const { maxConcurrent, retryAfter, cors } = resolveServeOptions(make, options);
  const host: Host = {
    pool: new DatasetPool(make),
    metrics: new ServeMetrics(),
    admission: new Admission(maxConcurrent, retryAfter),
  };
  const handler = async (request: Request) =>
    addCorsHeaders(request, await route(request, host, cors), cors);
  const close = () => host.pool.close();
  return Object.assign(handler, { close, [Symbol.asyncDispose]: close });
}

/** Answers `request` by its method and path. */
async function route(
  request: Request,
  host: Host,
  cors: CorsOrigins | undefined,
): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  const refused = checkRequest(request.method, path, cors);
  if (refused) return refused;
  if (request.method === "OPTIONS") return preflight(request, cors!);
  // /metrics only reads counters: it still tells how many requests the closed host refused.
  if (host.pool.closed && path !== "/metrics") return host.admission.closed(path);
  const head = request.method === "HEAD";
  try {
    if (path === "/batch") return await serveBatch(url, head, host);
    if (path === "/epoch") return serveEpoch(url, head, host);
    return serveOther(url, path, host);
  } catch (error) {
    return errorResponse(500, reportOf(error));
  }
}

/** The 405 of a method a host does not answer, or the 404 of an unknown path. */
function checkRequest(
  method: string,
  path: string,
  cors: CorsOrigins | undefined,
): Response | undefined {
  const methods = cors ? ["GET", "HEAD", "OPTIONS"] : ["GET", "HEAD"];
  if (!methods.includes(method)) {
    const allow = methods.join(", ");
    return errorResponse(405, {
      name: "NotSupportedError",
      message: `Cannot serve ${path} as a host answers ${allow} only: current method is ${method}`,
    }, { allow });
  }
  if (!PATHS.includes(path)) {
    return errorResponse(404, {
      name: "NotFoundError",
      message: `Cannot serve ${show(path)} as no such path exists: use ${PATHS.join(", ")}`,
    });
  }
  return undefined;
}

/** Answers `/info`, `/healthz` and `/metrics`, which take no query parameters. */
function serveOther(url: URL, path: string, host: Host): Response {
  try {
    checkNoQuery(url, path);
  } catch (error) {
    return errorResponse(400, reportOf(error));
  }
  if (path === "/info") return info(host);
  if (path === "/metrics") return metrics(host);
  return new Response("ok\n", { headers: { "content-type": "text/plain; charset=utf-8" } });
}

function info({ pool }: Host): Response {
  const dataset = pool.any();
  const name = dataset.constructor.name;
  const length = checkLength(dataset.length, name);
  return Response.json({
    protocol: PROTOCOL,
    name,
    length: length === Infinity ? null : length,
    mediaType: MEDIA_TYPE,
  });
}

function metrics({ pool, metrics, admission }: Host): Response {
  const text = metrics.text({
    openEpochs: admission.running("epoch"),
    batchRequests: admission.running("batch"),
    refused: admission.refused,
    datasets: pool.size,
  });
  return new Response(text, {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
  });
}
