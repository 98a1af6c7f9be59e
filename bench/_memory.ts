/**
 * Benchmark 5, run by bench/table.ts in a fresh process per measurement so
 * that no earlier benchmark's memory lowers or raises the baseline.
 *
 * `deno run --v8-flags=--expose-gc … bench/_memory.ts <reader> <collection> [batches]`
 * reads `batches` (500 unless given) batches of 4 MiB with `maxQueueSize: 8`
 * and prints, as JSON, the peak growth over the baseline in batches: `rss`
 * (the process) and `external` (the ArrayBuffers the main thread holds).
 *
 * - reader: `workers` (pydataset, 2 workers), `main` (pydataset, main thread,
 *   2 at once) or `hand` (a hand-written pair of Workers feeding a
 *   ReadableStream of highWaterMark 8, transferring each batch); or one of
 *   them followed by `-recycled`, a reader that hands each batch back once
 *   read (pydataset: `RecycledFloats` and `dataset.release(batch)`; by
 *   hand: the buffer goes back to a worker with a later request, to be
 *   filled again); or `workers-tfjs` / `main-tfjs`: `RecycledFloats` read
 *   through `toTfDataset` on TensorFlow.js's cpu backend (which keeps the
 *   typed arrays), each element disposed once read, the adapter releasing.
 * - collection: `forced` (a full collection after each read) or `v8` (V8's
 *   own).
 *
 * @module
 */

import type * as Tf from "@tensorflow/tfjs";
import { FreshFloats, RecycledFloats } from "./_datasets.ts";

const batchBytes = 4 << 20;
const maxQueueSize = 8;
const workers = 2;
const readers = [
  ...["workers", "main", "hand"].flatMap((reader) => [reader, `${reader}-recycled`]),
  "workers-tfjs",
  "main-tfjs",
];

const [reader, collection, count = "500"] = Deno.args;
const batches = Number(count);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc");

/** Started on first use and kept, as pydataset keeps its workers. */
let pool: Worker[] | undefined;

/** Buffers the reader is done with, by the worker that made them (`hand-recycled`). */
type Spare = Map<Worker, ArrayBuffer[]>;
/** Which worker made each batch the hand-written workers sent. */
const madeBy = new WeakMap<ArrayBuffer, Worker>();

/**
 * Batches of `values` floats from a hand-written pair of workers. Buffers
 * in `spare` (the reader is done with them) go back to the worker that
 * made them with its next request, to be filled again.
 */
function handWritten(values: number, count: number, spare: Spare): ReadableStream<Float32Array> {
  const url = new URL("./_handwritten_worker.ts", import.meta.url);
  const workers = pool ??= Array.from({ length: 2 }, () => new Worker(url, { type: "module" }));
  const idle: Worker[] = [];
  let sent = 0;
  let received = 0;
  const request = (worker: Worker) => {
    const buffer = spare.get(worker)?.pop();
    worker.postMessage({ index: sent++, values, buffer }, buffer ? [buffer] : []);
  };
  return new ReadableStream<Float32Array>({
    start(controller) {
      for (const worker of workers) {
        worker.onmessage = (event: MessageEvent<Float32Array>) => {
          madeBy.set(event.data.buffer as ArrayBuffer, worker);
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

/**
 * The batches of `dataset` as `toTfDataset` hands them to `fitDataset`:
 * each element's tensors are disposed once the next is asked for, as
 * `fitDataset` does after its step, and the adapter releases the batch.
 */
async function* throughTfjs(dataset: RecycledFloats): AsyncGenerator<Float32Array> {
  const tf = await import("@tensorflow/tfjs");
  const { toTfDataset } = await import("../tfjs.ts");
  tf.env().set("PROD", true);
  await tf.setBackend("cpu");
  const data = toTfDataset(dataset, { toTensors: (batch) => ({ xs: batch, ys: batch }) });
  const iterator = await data.iterator();
  while (true) {
    const { done, value } = await iterator.next();
    if (done) return;
    const { xs, ys } = value as { xs: Tf.Tensor; ys: Tf.Tensor };
    yield xs.dataSync() as Float32Array;
    tf.dispose([xs, ys]);
  }
}

async function main(): Promise<void> {
  const tfjs = reader!.endsWith("-tfjs");
  const recycle = reader!.endsWith("-recycled") || tfjs;
  const kind = reader!.replace(/-recycled$|-tfjs$/, "");
  const Dataset = recycle ? RecycledFloats : FreshFloats;
  await using dataset = new Dataset(batches, 1, {
    workers,
    useMultiprocessing: kind === "workers",
    maxQueueSize,
  });
  // Per epoch, so that the warm-up's tiny buffers are not sent back.
  let spare: Spare = new Map();
  const epoch = () => {
    spare = new Map();
    if (tfjs) return throughTfjs(dataset as RecycledFloats);
    return kind === "hand" ? handWritten(dataset.values, batches, spare) : dataset.epoch();
  };
  /** Hands `batch` back, as a reader that recycles does once it is done with it. */
  const release = (batch: Float32Array) => {
    if (!recycle || tfjs) return; // the adapter releases by itself
    if (kind === "hand") {
      const buffer = batch.buffer as ArrayBuffer;
      const worker = madeBy.get(buffer)!;
      if (!spare.has(worker)) spare.set(worker, []);
      spare.get(worker)!.push(buffer);
    } else {
      dataset.release(batch);
    }
  };
  for await (const batch of epoch()) release(batch); // start the workers, with tiny batches
  dataset.values = batchBytes / 4;
  gc!();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc!();
  const baseline = Deno.memoryUsage();
  let rss = 0;
  let external = 0;
  for await (const batch of epoch()) {
    if (collection === "forced") gc!();
    const now = Deno.memoryUsage();
    rss = Math.max(rss, now.rss - baseline.rss);
    external = Math.max(external, now.external - baseline.external);
    // A reader a little slower than the loader, so the queue stays full;
    // it is done with the batch after that.
    await new Promise((resolve) => setTimeout(resolve, 1));
    release(batch);
  }
  for (const worker of pool ?? []) worker.terminate();
  console.log(JSON.stringify({ rss: rss / batchBytes, external: external / batchBytes }));
}

if (
  !readers.includes(reader!) || !["forced", "v8"].includes(collection!) ||
  !(Number.isInteger(batches) && batches > 0)
) {
  throw new TypeError(
    `Expected <${readers.join("|")}> <forced|v8> [batches], got ${JSON.stringify(Deno.args)}`,
  );
}
await main();
