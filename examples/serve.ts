/**
 * A data server: `Deno.serve` on loopback streams an epoch of a `PyDataset`
 * per request, as safetensors documents, so that trainers elsewhere (another
 * Deno process, a browser, Python) read it as it arrives.
 *
 * ```sh
 * deno task serve      # the demo's images: http://127.0.0.1:8000/train and /test
 * curl -s 'http://127.0.0.1:8000/train?epoch=3&shuffle=1&seed=7&shard=0/2' | wc -c
 * deno task train-remote                       # trains from it (examples/train_remote.ts)
 * ```
 *
 * Query: `epoch=N` (the epoch number, which seeds the shuffle), `shuffle=1`,
 * `seed=S`, `shard=i/n` (trainer i of n reads every n-th batch of the
 * epoch's order, from the i-th). Backpressure reaches the workers: a client
 * that reads slowly slows them, and one that goes away cancels its epoch.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { EpochOptions, PyDataset } from "../mod.ts";
import { type Batch, batchResponse } from "../wire.ts";
import { integer, run, stopOnInterrupt } from "./_flags.ts";
import { ImageFiles } from "./image_dataset.ts";
import { listImages, makeShapes } from "./shapes.ts";

/**
 * What a request's query asks for.
 *
 * @throws {RangeError} A value that is not a number, or a bad shard.
 */
export function epochOptions(url: URL): EpochOptions {
  const query = url.searchParams;
  for (const key of query.keys()) {
    if (!["epoch", "seed", "shuffle", "shard"].includes(key)) {
      throw new RangeError(
        `Unknown query parameter ${JSON.stringify(key)}: use epoch, seed, shuffle and shard`,
      );
    }
  }
  const options: EpochOptions = {};
  const number = (name: string): number | undefined => {
    const text = query.get(name);
    if (text === null) return undefined;
    const value = Number(text);
    if (text.trim() === "" || !Number.isSafeInteger(value)) {
      throw new RangeError(`${name} must be an integer: current value is ${JSON.stringify(text)}`);
    }
    return value;
  };
  options.epoch = number("epoch");
  options.seed = number("seed");
  const shuffle = query.get("shuffle");
  if (shuffle !== null && !["0", "1", "true", "false"].includes(shuffle)) {
    throw new RangeError(
      `shuffle must be 0, 1, true or false: current value is ${JSON.stringify(shuffle)}`,
    );
  }
  options.shuffle = shuffle === "1" || shuffle === "true";
  const shard = query.get("shard");
  if (shard !== null) {
    const match = /^(\d+)\/(\d+)$/.exec(shard);
    if (!match) {
      throw new RangeError(`shard must be i/n: current value is ${JSON.stringify(shard)}`);
    }
    options.shard = { index: Number(match[1]), count: Number(match[2]) };
  }
  return options;
}

/** Options for {@linkcode serveEpochs}. */
export interface ServeEpochsOptions {
  /** The address to listen on. */
  hostname?: string;
  /** The port; 0 picks a free one. */
  port?: number;
  /** Called once the server listens. */
  onListen?: (address: Deno.NetAddr) => void;
  /** Extra headers for every response (e.g. CORS for a page elsewhere). */
  headers?: HeadersInit;
}

/** The epoch endpoints of {@linkcode serveEpochs}, for a server of your own. */
export interface EpochRoutes<D> {
  /** Answers a request: an epoch of `/<name>`, or a 404 or 400 that says why not. */
  handle(request: Request): Response;
  /** The datasets made so far: one per request being answered at most. */
  readonly made: readonly D[];
  /** Closes every dataset made, and with them their workers. */
  close(): Promise<void>;
}

/**
 * Answers requests for epochs of datasets at `/<name>`, one kind per name,
 * each made by its function. Each request reads its own epoch; a dataset is
 * reused once its epoch has ended, so its workers persist, and made anew
 * only for concurrent requests. Responses say how many batches follow in
 * `x-pydataset-batches`.
 */
export function epochRoutes<D extends PyDataset<Batch>>(
  datasets: Record<string, () => D>,
  { headers }: { headers?: HeadersInit } = {},
): EpochRoutes<D> {
  const idle = new Map<string, D[]>(Object.keys(datasets).map((name) => [name, []]));
  const made: D[] = [];
  const handle = (request: Request): Response => {
    const url = new URL(request.url);
    const name = url.pathname.slice(1);
    const free = idle.get(name);
    if (!free) {
      return new Response(`Not found: try ${[...idle.keys()].map((n) => `/${n}`).join(" or ")}`, {
        status: 404,
        headers,
      });
    }
    let options: EpochOptions;
    try {
      options = epochOptions(url);
    } catch (error) {
      return new Response((error as Error).message, { status: 400, headers });
    }
    let dataset = free.pop();
    if (!dataset) made.push(dataset = datasets[name]!());
    let epoch: ReadableStream<Batch>;
    try {
      epoch = dataset.epoch(options);
    } catch (error) {
      free.push(dataset);
      return new Response((error as Error).message, { status: 400, headers });
    }
    const response = batchResponse(releasing(epoch, () => free.push(dataset)), { headers });
    response.headers.set("x-pydataset-batches", String(batchesIn(dataset.length, options)));
    return response;
  };
  const close = async () => {
    await Promise.all(made.map((dataset) => dataset.close()));
  };
  return { handle, made, close };
}

/** Serves the epochs of {@linkcode epochRoutes} with `Deno.serve`. */
export function serveEpochs<B extends Batch>(
  datasets: Record<string, () => PyDataset<B>>,
  { hostname = "127.0.0.1", port = 8000, onListen, headers }: ServeEpochsOptions = {},
): Deno.HttpServer<Deno.NetAddr> {
  const routes = epochRoutes(datasets, { headers });
  const server = Deno.serve({ hostname, port, onListen: onListen ?? (() => {}) }, routes.handle);
  // Closing the server closes the datasets, and with them their workers.
  server.finished.then(routes.close);
  return server;
}

/** How many batches an epoch with these options delivers. */
function batchesIn(length: number, { shard }: EpochOptions): number {
  if (!shard || length === Infinity) return length;
  return Math.max(0, Math.ceil((length - shard.index) / shard.count));
}

/**
 * Passes `stream` through and calls `release` once its epoch has ended: read
 * to the end, failed, or cancelled because the client went away.
 */
function releasing<T>(stream: ReadableStream<T>, release: () => void): ReadableStream<T> {
  const reader = stream.getReader();
  let released = false;
  const done = () => {
    if (!released) release();
    released = true;
  };
  return new ReadableStream<T>({
    async pull(controller) {
      try {
        const { done: finished, value } = await reader.read();
        if (finished) {
          done();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        done();
        throw error;
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
      done();
    },
  }, { highWaterMark: 0 });
}

/**
 * The served datasets: `train` and `test` (every fifth image, as in the main
 * job). Their samples are mixed once, the same way in every dataset, and
 * not again: batch i holds the same images whichever dataset answers, so
 * that an epoch number, a seed and a shard mean the same batches in every
 * request.
 */
export function imageDatasets(
  dir: string,
  x: string[],
  y: number[],
  { batchSize, size, workers, maxQueueSize }: {
    batchSize: number;
    size: number;
    workers: number;
    maxQueueSize?: number;
  },
): Record<"train" | "test", () => ImageFiles> {
  const split = (keep: boolean) => () => {
    const pick = (_: unknown, i: number) => (i % 5 === 0) !== keep;
    const dataset = new ImageFiles(x.filter(pick), y.filter(pick), batchSize, size, {
      workers,
      ...(maxQueueSize ? { maxQueueSize } : {}),
      useMultiprocessing: true,
      permissions: { read: [dir] },
    });
    dataset.shuffleSamples();
    dataset.reshuffle = false;
    return dataset;
  };
  return { train: split(true), test: split(false) };
}

/** The command-line flags of the image servers: this one and the browser demo. */
export interface ServerFlags {
  dir: string;
  port: number;
  workers: number;
  batchSize: number;
  size: number;
}

/** The lines of `--help` for {@linkcode ServerFlags}. */
export function serverFlagsHelp(port: number): string {
  return `  --data DIR            PNG or JPEG images in DIR/<class>/<image> (default: make .cache/shapes)
  --port N              the port on 127.0.0.1 (default ${port})
  --workers N           workers per epoch being served (default 2)
  --batch-size N        images per batch (default 32)
  --size N              images are resized to N×N (default 16)
  --help                this text`;
}

/**
 * Parses {@linkcode ServerFlags}, making the default images when `--data`
 * is absent; undefined for `--help`.
 */
export async function parseServerFlags(
  args: string[],
  port: number,
): Promise<ServerFlags | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: "string" },
      port: { type: "string" },
      workers: { type: "string" },
      "batch-size": { type: "string" },
      size: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return undefined;
  let dir = values.data;
  if (dir === undefined) {
    dir = ".cache/shapes";
    await makeShapes(dir, 1500);
  }
  return {
    dir,
    port: integer(values.port, "port", port),
    workers: integer(values.workers, "workers", 2),
    batchSize: integer(values["batch-size"], "batch-size", 32),
    size: integer(values.size, "size", 16),
  };
}

const HELP = `Serves epochs of a folder of images as batches over HTTP.

Usage: deno task serve [options]

${serverFlagsHelp(8000)}`;

async function main(args: string[]): Promise<void> {
  const flags = await parseServerFlags(args, 8000);
  if (!flags) {
    console.log(HELP);
    return;
  }
  const { dir, batchSize, size, workers } = flags;
  const { x, y, classes } = await listImages(dir);
  const datasets = imageDatasets(dir, x, y, { batchSize, size, workers });
  const server = serveEpochs(datasets, {
    port: flags.port,
    onListen: ({ hostname, port }) =>
      console.log(
        `Serving ${x.length} images in ${classes.length} classes (${
          classes.join(", ")
        }) at http://${hostname}:${port}/train and /test`,
      ),
  });
  stopOnInterrupt(() => server.shutdown());
  await server.finished;
}

if (import.meta.main) await run(main, HELP);
