/**
 * A data server: the demo's images as two data hosts of `./remote`, one
 * per dataset, mounted under `/train` and `/test` of one `Deno.serve` on
 * loopback. Each is `serveDataset(make)`: `/train/epoch` streams an epoch
 * as safetensors documents, `/train/batch` sends one batch, and `/info`,
 * `/healthz` and `/metrics` describe the host, so that trainers elsewhere
 * (another Deno process with `RemoteDataset`, a browser, Python) read it.
 *
 * ```sh
 * deno task serve      # the demo's images: http://127.0.0.1:8000/train and /test
 * curl -s 'http://127.0.0.1:8000/train/epoch?epoch=3&shuffle=1&seed=7&shard=0/2' | wc -c
 * deno task train-remote                       # trains from it (examples/train_remote.ts)
 * ```
 *
 * The query of `/epoch`: `epoch=N` (the epoch number, which seeds the
 * shuffle), `shuffle=1`, `seed=S`, `shard=i/n` (trainer i of n reads every
 * n-th batch of the epoch's order, from the i-th). Backpressure reaches the
 * workers: a client that reads slowly slows them, and one that goes away
 * cancels its epoch. docs/http.md has the whole contract.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type DatasetHandler, serveDataset } from "../remote.ts";
import { integer, run, stopOnInterrupt } from "./_flags.ts";
import { ImageFiles } from "./image_dataset.ts";
import { listImages, makeShapes } from "./shapes.ts";

/**
 * One server for several handlers, each under its name:
 * `/train/epoch?epoch=3` is the `train` handler's `/epoch?epoch=3`. Any
 * other path is a 404 that lists the names.
 */
export function mount(
  handlers: Record<string, (request: Request) => Promise<Response>>,
): (request: Request) => Promise<Response> {
  return (request) => {
    const url = new URL(request.url);
    const [, name = "", rest = "/"] = /^\/([^/]*)(\/.*)?$/.exec(url.pathname) ?? [];
    if (!Object.hasOwn(handlers, name)) {
      const path = JSON.stringify(url.pathname);
      const names = Object.keys(handlers).map((name) => `/${name}/…`).join(" or ");
      return Promise.resolve(Response.json({
        name: "NotFoundError",
        message: `Cannot serve ${path} as no dataset is there: use ${names}`,
      }, { status: 404 }));
    }
    url.pathname = rest;
    // Not `new Request(url, request)`: reading request.signal makes
    // Deno.serve warn, and a host needs none (a client that goes away
    // cancels the response's body).
    return handlers[name]!(new Request(url, { method: request.method, headers: request.headers }));
  };
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
  --port N              the port on 127.0.0.1, 0 for a free one (default ${port})
  --workers N           workers per dataset: one serves /batch, one each open epoch (default 2)
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
    port: portFlag(values.port, port),
    workers: integer(values.workers, "workers", 2),
    batchSize: integer(values["batch-size"], "batch-size", 32),
    size: integer(values.size, "size", 16),
  };
}

/** `--port N`, or `fallback`; 0 picks a free port. */
function portFlag(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (value.trim() === "" || !(Number.isSafeInteger(port) && port >= 0 && port <= 65535)) {
    throw new RangeError(`--port must be an integer from 0 to 65535: current value is ${value}`);
  }
  return port;
}

const HELP = `Serves a folder of images as batches over HTTP, at /train and /test.

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
  const handlers: Record<string, DatasetHandler> = {
    train: serveDataset(datasets.train),
    test: serveDataset(datasets.test),
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: flags.port,
    onListen: ({ hostname, port }) =>
      console.log(
        `Serving ${x.length} images in ${classes.length} classes (${
          classes.join(", ")
        }) at http://${hostname}:${port}/train and /test`,
      ),
  }, mount(handlers));
  // The hosts first: their epochs end and their workers with them; then
  // the responses, which a client that stopped reading still holds open
  // (stopOnInterrupt exits anyway).
  stopOnInterrupt(async () => {
    await Promise.all(Object.values(handlers).map((handler) => handler.close()));
    await server.shutdown();
  });
  await server.finished;
}

if (import.meta.main) await run(main, HELP);
