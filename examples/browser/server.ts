/**
 * Train in the browser from a Deno data server: this server streams epochs
 * of images (decoded in permission-scoped workers) from the serving
 * example's two data hosts (`serveDataset`, at `/train` and `/test`), and
 * serves a page that trains a TensorFlow.js model on them with
 * `toTfDataset` and `model.fitDataset`.
 *
 * ```sh
 * deno task browser-demo      # then open http://127.0.0.1:8001/ and press Train
 * ```
 *
 * The page's script (`app.ts`) is bundled for the browser with
 * `deno bundle --platform browser` at start-up, into `.cache/browser/`.
 *
 * @module
 */

import { serveDataset } from "../../remote.ts";
import { run, stopOnInterrupt } from "../_flags.ts";
import type { ImageFiles } from "../image_dataset.ts";
import { imageDatasets, mount, parseServerFlags, serverFlagsHelp } from "../serve.ts";
import { listImages } from "../shapes.ts";

/** Options for {@linkcode startBrowserDemo}. */
export interface BrowserDemoOptions {
  /** PNG or JPEG images in `dir/<class>/<image>`. */
  dir: string;
  /** Where the page's bundled script goes. */
  bundle: string;
  /** The port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** Images are resized to `size × size`. */
  size?: number;
  batchSize?: number;
  /** Workers per dataset the hosts make (one serves `/batch`, one each open epoch). */
  workers?: number;
  /** The served datasets' `maxQueueSize`. */
  maxQueueSize?: number;
}

/** A running demo server. */
export interface BrowserDemo {
  /** The page's address. */
  url: string;
  /** `getItem` calls so far, in every dataset the hosts made. */
  calls(): number;
  /** Stops the server and closes its datasets. */
  close(): Promise<void>;
}

/** Bundles the page's script for the browser with `deno bundle`. */
export async function bundlePage(output: string): Promise<void> {
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--minify",
      "--config",
      decodeURIComponent(new URL("../../deno.json", import.meta.url).pathname),
      "--output",
      output,
      decodeURIComponent(new URL("./app.ts", import.meta.url).pathname),
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`deno bundle failed for the page: ${new TextDecoder().decode(stderr)}`);
  }
}

/** Bundles the page, then serves it and the images in `dir` at `/train` and `/test`. */
export async function startBrowserDemo(options: BrowserDemoOptions): Promise<BrowserDemo> {
  const { dir, bundle, port = 8001, size = 16, batchSize = 32, workers = 2 } = options;
  const { x, y, classes } = await listImages(dir);
  await bundlePage(bundle);
  const files = {
    "/": [
      "text/html; charset=utf-8",
      await Deno.readFile(new URL("./index.html", import.meta.url)),
    ],
    "/app.js": ["text/javascript; charset=utf-8", await Deno.readFile(bundle)],
    "/info": ["application/json", new TextEncoder().encode(JSON.stringify({ size, classes }))],
  } as const satisfies Record<string, readonly [string, Uint8Array]>;
  const { maxQueueSize } = options;
  const datasets = imageDatasets(dir, x, y, { batchSize, size, workers, maxQueueSize });
  const made: ImageFiles[] = [];
  const host = (make: () => ImageFiles) => serveDataset(() => made[made.length] = make());
  const handlers = { train: host(datasets.train), test: host(datasets.test) };
  const served = mount(handlers);
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: listening.resolve },
    (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/favicon.ico") return new Response(null, { status: 204 });
      const file = files[pathname as keyof typeof files];
      if (!file) return served(request);
      return new Response(file[1], {
        headers: { "content-type": file[0], "cache-control": "no-store" },
      });
    },
  );
  const address = await listening.promise;
  return {
    url: `http://${address.hostname}:${address.port}/`,
    calls: () => made.reduce((sum, dataset) => sum + Atomics.load(dataset.calls, 0), 0),
    close: async () => {
      // The hosts first: their epochs end, and so do the responses of
      // clients still reading; a client that stopped reading still holds
      // shutdown() (see stopOnInterrupt).
      await Promise.all([handlers.train.close(), handlers.test.close()]);
      await server.shutdown();
    },
  };
}

const HELP = `Serves a page that trains a TensorFlow.js model in the browser on
epochs of images streamed from this Deno server.

Usage: deno task browser-demo [options]

${serverFlagsHelp(8001)}`;

async function main(args: string[]): Promise<void> {
  const flags = await parseServerFlags(args, 8001);
  if (!flags) {
    console.log(HELP);
    return;
  }
  await Deno.mkdir(".cache/browser", { recursive: true });
  const demo = await startBrowserDemo({ ...flags, bundle: ".cache/browser/app.js" });
  console.log(`Open ${demo.url} and press Train (Ctrl-C stops the server)`);
  stopOnInterrupt(demo.close);
}

if (import.meta.main) await run(main, HELP);
