/**
 * Benchmark 5, run by bench/table.ts in a fresh process per measurement so
 * that no earlier benchmark's memory lowers or raises the baseline.
 *
 * `deno run --v8-flags=--expose-gc … bench/_memory.ts <reader> <collection>`
 * reads 500 batches of 4 MiB with `maxQueueSize: 8` and prints, as JSON, the
 * peak growth over the baseline in batches: `rss` (the process) and
 * `external` (the ArrayBuffers the main thread holds).
 *
 * - reader: `workers` (pydataset, 2 workers), `main` (pydataset, main thread,
 *   2 at once) or `hand` (a hand-written pair of Workers feeding a
 *   ReadableStream of highWaterMark 8, transferring each batch).
 * - collection: `forced` (a full collection after each read) or `v8` (V8's
 *   own).
 *
 * @module
 */

import { FreshFloats } from "./_datasets.ts";

const batchBytes = 4 << 20;
const batches = 500;
const maxQueueSize = 8;
const workers = 2;

const [reader, collection] = Deno.args;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc");

/** Started on first use and kept, as pydataset keeps its workers. */
let pool: Worker[] | undefined;

/** Batches of `values` floats from a hand-written pair of workers. */
function handWritten(values: number, count: number): ReadableStream<Float32Array> {
  const url = new URL("./_handwritten_worker.ts", import.meta.url);
  const workers = pool ??= Array.from({ length: 2 }, () => new Worker(url, { type: "module" }));
  const idle: Worker[] = [];
  let sent = 0;
  let received = 0;
  const request = (worker: Worker) => worker.postMessage({ index: sent++, values });
  return new ReadableStream<Float32Array>({
    start(controller) {
      for (const worker of workers) {
        worker.onmessage = (event: MessageEvent<Float32Array>) => {
          controller.enqueue(event.data);
          if (++received === count) controller.close();
          else if (sent < count && (controller.desiredSize ?? 0) > 0) request(worker);
          else idle.push(worker);
        };
        request(worker);
      }
    },
    pull() {
      while (idle.length > 0 && sent < count) request(idle.pop()!);
    },
  }, new CountQueuingStrategy({ highWaterMark: maxQueueSize }));
}

async function main(): Promise<void> {
  await using dataset = new FreshFloats(batches, 1, {
    workers,
    useMultiprocessing: reader === "workers",
    maxQueueSize,
  });
  const epoch = () =>
    reader === "hand"
      ? handWritten(dataset.values, batches)
      : dataset.epoch() as ReadableStream<Float32Array>;
  for await (const _ of epoch()); // start the workers, with tiny batches
  dataset.values = batchBytes / 4;
  gc!();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc!();
  const baseline = Deno.memoryUsage();
  let rss = 0;
  let external = 0;
  for await (const _ of epoch()) {
    if (collection === "forced") gc!();
    const now = Deno.memoryUsage();
    rss = Math.max(rss, now.rss - baseline.rss);
    external = Math.max(external, now.external - baseline.external);
    // A reader a little slower than the loader, so the queue stays full.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  for (const worker of pool ?? []) worker.terminate();
  console.log(JSON.stringify({ rss: rss / batchBytes, external: external / batchBytes }));
}

if (!["workers", "main", "hand"].includes(reader!) || !["forced", "v8"].includes(collection!)) {
  throw new TypeError(
    `Expected <workers|main|hand> <forced|v8>, got ${JSON.stringify(Deno.args)}`,
  );
}
await main();
