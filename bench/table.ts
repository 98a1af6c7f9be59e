/**
 * The benchmarks behind the README's table: each measures pydataset beside a
 * baseline in the same run and prints the ratio. `deno task bench`.
 *
 * 1. Loader overhead: fresh 4 MiB batches from 2 workers, against a
 *    hand-written Worker + postMessage transfer loop.
 * 2. CPU-bound scaling: decoding and resizing PNG batches in 2 workers,
 *    against the main thread.
 * 3. I/O-bound scaling: batches fetched from a server that answers after
 *    10 ms, 16 at once on the main thread, against one at a time.
 * 4. Overlap with training: `fitDataset` whose steps cost about as much as
 *    loading a batch, against max(training alone, loading alone), with
 *    workers and with the main thread.
 * 5. Memory: peak RSS while reading 500 batches of 4 MiB with
 *    `maxQueueSize: 8`, against the bound of (maxQueueSize + workers)
 *    batches, each measurement in a fresh process (bench/_memory.ts).
 *
 * @module
 */

import type * as Tf from "@tensorflow/tfjs";
import { ImageFiles } from "../examples/image_dataset.ts";
import { listImages, makeShapes } from "../examples/shapes.ts";
import { Fetched, FreshFloats, PngBatches } from "./_datasets.ts";

interface Row {
  benchmark: string;
  pydataset: string;
  baseline: string;
  ratio: string;
  ideal: string;
}

const rows: Row[] = [];
const runs = 7;

/** V8's collector, exposed by `--v8-flags=--expose-gc` (as `deno task bench` runs). */
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The median of `runs` measurements of `measure`, each after a collection. */
async function median(measure: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) {
    gc();
    values.push(await measure());
  }
  return middle(values);
}

/**
 * The medians of `runs` measurements of `a` and of `b`, taken in turns so
 * that neither pays for the other's garbage or warms the machine for it.
 */
async function medians(
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<[number, number]> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < runs; i++) {
    gc();
    as.push(await a());
    gc();
    bs.push(await b());
  }
  return [middle(as), middle(bs)];
}

async function time(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

function log(message: string): void {
  console.error(`  ${message}`);
}

// 1. Loader overhead ---------------------------------------------------------

async function loaderOverhead(): Promise<void> {
  const batches = 500;
  await using dataset = new FreshFloats(batches, 1 << 20, {
    workers: 2,
    useMultiprocessing: true,
    maxQueueSize: 8,
  });
  const epoch = () =>
    time(async () => {
      for await (const _ of dataset.epoch());
    });

  // The same work by hand: two workers, one request in flight each, the
  // answer transferred, and the next request sent at once.
  const workers = [0, 1].map(() =>
    new Worker(new URL("./_handwritten_worker.ts", import.meta.url), { type: "module" })
  );
  const loop = () =>
    time(() =>
      new Promise<void>((resolve) => {
        let sent = 0;
        let received = 0;
        for (const worker of workers) {
          worker.onmessage = () => {
            if (++received === batches) resolve();
            else if (sent < batches) worker.postMessage({ index: sent++, values: 1 << 20 });
          };
          worker.postMessage({ index: sent++, values: 1 << 20 });
        }
      })
    );
  await epoch(); // start the workers, warm up
  await loop();
  const [ours, baseline] = await medians(epoch, loop);
  for (const worker of workers) worker.terminate();
  rows.push({
    benchmark: "1. Loader overhead: fresh 4 MiB Float32Array batches, 2 workers",
    pydataset: `${(batches / ours).toFixed(0)} batches/s`,
    baseline: `${(batches / baseline).toFixed(0)} batches/s (hand-written Worker + transfer loop)`,
    ratio: `${(baseline / ours * 100).toFixed(0)}%`,
    ideal: "≥ 90%",
  });
}

// 2. CPU-bound scaling -------------------------------------------------------

async function imageFiles(): Promise<{ x: string[]; y: number[]; dir: string }> {
  const dir = ".cache/shapes";
  await makeShapes(dir, 1500);
  return { ...await listImages(dir), dir };
}

async function cpuScaling(): Promise<void> {
  const { x } = await imageFiles();
  const pngs = await Promise.all(x.slice(0, 2400).map((file) => Deno.readFile(file)));
  const epoch = (dataset: PngBatches) => () =>
    time(async () => {
      for await (const _ of dataset.epoch());
    });
  await using main = new PngBatches(pngs, 32, 32, { workers: 1 });
  await using workers = new PngBatches(pngs, 32, 32, { workers: 2, useMultiprocessing: true });
  await epoch(main)(); // warm up: JIT, workers
  await epoch(workers)();
  const [onMain, inWorkers] = await medians(epoch(main), epoch(workers));
  const batches = main.length;
  rows.push({
    benchmark:
      "2. CPU-bound: decode + resize 32 PNGs (in memory) per batch, 2 workers vs main thread",
    pydataset: `${(batches / inWorkers).toFixed(0)} batches/s`,
    baseline: `${(batches / onMain).toFixed(0)} batches/s (main thread)`,
    ratio: `${(onMain / inWorkers).toFixed(2)}×`,
    ideal: "2× on 2 cores",
  });
}

// 3. I/O-bound scaling -------------------------------------------------------

async function ioScaling(): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 10));
    return new Response(new Uint8Array(1024));
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const batches = 96;
  const epochSeconds = async (workers: number) => {
    await using dataset = new Fetched(batches, url, { workers, maxQueueSize: 16 });
    for await (const _ of dataset.epoch()); // warm up connections
    return await median(() =>
      time(async () => {
        for await (const _ of dataset.epoch());
      })
    );
  };
  const one = await epochSeconds(1);
  const sixteen = await epochSeconds(16);
  await server.shutdown();
  rows.push({
    benchmark: "3. I/O-bound: fetch from a server that answers after 10 ms, workers 16 vs 1",
    pydataset: `${(batches / sixteen).toFixed(0)} batches/s`,
    baseline: `${(batches / one).toFixed(0)} batches/s (workers: 1)`,
    ratio: `${(one / sixteen).toFixed(1)}×`,
    ideal: "16×",
  });
}

// 4. Overlap with training ---------------------------------------------------

function mlp(tf: typeof Tf, size: number, units: number): Tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [size, size, 3] }),
      tf.layers.dense({ units, activation: "relu" }),
      tf.layers.dense({ units: 4, activation: "softmax" }),
    ],
  });
  model.compile({ optimizer: "adam", loss: "sparseCategoricalCrossentropy" });
  return model;
}

async function overlap(): Promise<void> {
  // TensorFlow.js loads here only, so that it weighs on no other benchmark.
  const tf = await import("@tensorflow/tfjs");
  const { toTfDataset } = await import("../tfjs.ts");
  const { useBackend } = await import("../examples/_training.ts");
  await useBackend("wasm");
  const { x, y, dir } = await imageFiles();
  const files = x.filter((_, i) => i % 4 === 0); // 1,500 images, all classes
  const labels = y.filter((_, i) => i % 4 === 0);
  const size = 32;
  const toTensors = ([images, labels]: [{ data: Float32Array; shape: number[] }, {
    data: Int32Array;
    shape: number[];
  }]) => ({ xs: images, ys: { data: Float32Array.from(labels.data), shape: labels.shape } });
  const dataset = (useMultiprocessing: boolean) =>
    new ImageFiles(files, labels, 32, size, {
      workers: useMultiprocessing ? 2 : 1,
      useMultiprocessing,
      permissions: { read: [dir] },
    });

  // Loading alone, per mode.
  const loadSeconds = async (useMultiprocessing: boolean) => {
    await using data = dataset(useMultiprocessing);
    for await (const _ of data.epoch());
    return await median(() =>
      time(async () => {
        for await (const _ of data.epoch());
      })
    );
  };
  const loadMain = await loadSeconds(false);
  const loadWorkers = await loadSeconds(true);
  const batches = Math.ceil(files.length / 32);

  // Training alone on tensors in memory, with a model whose step costs about
  // as much as loading a batch on the main thread.
  await using source = dataset(false);
  const inMemory = await Array.fromAsync(source.epoch());
  const trainSeconds = async (units: number) => {
    const model = mlp(tf, size, units);
    const data = tf.data.generator(function* () {
      for (const batch of inMemory) {
        const { xs, ys } = toTensors(batch);
        yield { xs: tf.tensor(xs.data, xs.shape), ys: tf.tensor(ys.data, ys.shape) };
      }
    });
    await model.fitDataset(data, { epochs: 1, verbose: 0 }); // warm up
    const seconds = await median(() =>
      time(() => model.fitDataset(data, { epochs: 1, verbose: 0 }))
    );
    model.dispose();
    return seconds;
  };
  let units = 16;
  let train = await trainSeconds(units);
  while (train < loadMain * 0.8 && units < 1024) {
    units *= 2;
    train = await trainSeconds(units);
  }
  log(
    `overlap: ${units} hidden units; a step takes ${
      (train / batches * 1000).toFixed(1)
    } ms, loading a batch ${(loadMain / batches * 1000).toFixed(1)} ms`,
  );

  const fitSeconds = async (useMultiprocessing: boolean) => {
    await using data = dataset(useMultiprocessing);
    const model = mlp(tf, size, units);
    const tfData = toTfDataset(data, { toTensors });
    await model.fitDataset(tfData, { epochs: 1, verbose: 0 }); // warm up
    const waits: number[] = [];
    const seconds = await median(async () => {
      const seconds = await time(() => model.fitDataset(tfData, { epochs: 1, verbose: 0 }));
      waits.push(data.stats!.waitMs / 1000);
      return seconds;
    });
    model.dispose();
    return { seconds, waited: middle(waits) };
  };
  const { seconds: withWorkers, waited: waitedWorkers } = await fitSeconds(true);
  const { seconds: onMain, waited: waitedMain } = await fitSeconds(false);
  const boundWorkers = Math.max(train, loadWorkers);
  const boundMain = Math.max(train, loadMain);
  rows.push({
    benchmark: `4. Overlap: fitDataset epoch (${batches} batches, step ≈ load), 2 workers`,
    pydataset: `${withWorkers.toFixed(2)} s (training waited ${waitedWorkers.toFixed(2)} s)`,
    baseline: `max(train ${train.toFixed(2)} s, load ${loadWorkers.toFixed(2)} s)`,
    ratio: `${(withWorkers / boundWorkers).toFixed(2)}×`,
    ideal: "1.0×",
  });
  rows.push({
    benchmark: "4. Overlap: the same on the main thread (workers: 1)",
    pydataset: `${onMain.toFixed(2)} s (training waited ${waitedMain.toFixed(2)} s)`,
    baseline: `max(train ${train.toFixed(2)} s, load ${loadMain.toFixed(2)} s)`,
    ratio: `${(onMain / boundMain).toFixed(2)}×`,
    ideal: "1.0× (≈ 2× expected: tfjs blocks the main thread)",
  });
}

// 5. Memory ------------------------------------------------------------------

interface MemoryRow {
  reader: string;
  collection: string;
  rss: number;
  held: number;
}

const memoryRows: MemoryRow[] = [];
/** maxQueueSize + workers, as bench/_memory.ts reads. */
const memoryBound = 8 + 2;

/** One fresh process of bench/_memory.ts: peak growth in batches. */
async function memoryRun(
  reader: string,
  collection: string,
): Promise<{ rss: number; external: number }> {
  const root = new URL("..", import.meta.url);
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-read",
      new URL("_memory.ts", import.meta.url).pathname,
      reader,
      collection,
    ],
    cwd: root,
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    throw new Error(`bench/_memory.ts ${reader} ${collection} failed: ${decoder.decode(stderr)}`);
  }
  return JSON.parse(decoder.decode(stdout));
}

async function memory(): Promise<void> {
  const configurations = [
    ["workers", "pydataset, 2 workers"],
    ["main", "pydataset, main thread (workers: 2)"],
    ["hand", "hand-written: 2 Workers feeding a ReadableStream"],
  ] as const;
  for (
    const [collection, label] of [["v8", "V8's own"], ["forced", "after every read"]] as const
  ) {
    for (const [reader, name] of configurations) {
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await memoryRun(reader, collection));
      memoryRows.push({
        reader: name,
        collection: label,
        rss: middle(results.map((result) => result.rss)),
        held: middle(results.map((result) => result.external)),
      });
    }
  }
}

// ---------------------------------------------------------------------------

const started = performance.now();
for (
  const [name, benchmark] of [
    ["loader overhead", loaderOverhead],
    ["CPU-bound scaling", cpuScaling],
    ["I/O-bound scaling", ioScaling],
    ["overlap with training", overlap],
    ["memory", memory],
  ] as const
) {
  log(`${name}…`);
  await benchmark();
}

/** The CPU's name: /proc/cpuinfo is readable only with --allow-all, `cat` it. */
async function cpuName(): Promise<string> {
  try {
    const { stdout } = await new Deno.Command("cat", { args: ["/proc/cpuinfo"] }).output();
    return /model name\s*:\s*(.*)/.exec(new TextDecoder().decode(stdout))?.[1] ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

const cpu = await cpuName();
const gib = (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0);
console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores (${cpu}), ${gib} GiB, ${Deno.build.os}; median of ${runs} runs; ${
    ((performance.now() - started) / 1000).toFixed(0)
  } s in all\n`,
);
console.log("| benchmark | pydataset | baseline | ratio | ideal |");
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) {
  console.log(
    `| ${row.benchmark} | ${row.pydataset} | ${row.baseline} | ${row.ratio} | ${row.ideal} |`,
  );
}
console.log(
  `\n5. Memory: growth over the baseline while reading 500 batches of 4 MiB, maxQueueSize 8 (bound: maxQueueSize + workers = ${memoryBound} batches); median of 3 fresh processes\n`,
);
console.log(
  "| reader | garbage collection | peak RSS growth | of the bound | peak ArrayBuffers held on the main thread |",
);
console.log("| --- | --- | --- | --- | --- |");
for (const row of memoryRows) {
  console.log(
    `| ${row.reader} | ${row.collection} | +${row.rss.toFixed(1)} batches (${
      (row.rss * 4).toFixed(0)
    } MiB) | ${(row.rss / memoryBound * 100).toFixed(0)}% | ${row.held.toFixed(1)} batches |`,
  );
}
