/**
 * The benchmarks behind docs/benchmarks.md's table: each measures pydataset beside a
 * baseline in the same run and prints the ratio. `deno task bench`.
 *
 * 1. Loader overhead: 500 batches of 4 MiB Float32 from 2 workers
 *    (`maxQueueSize: 8`), in turns: pydataset with fresh batches and with
 *    recycled ones (`info.allocate`, `release` after each batch), against a
 *    hand-written Worker + postMessage transfer loop, fresh and with each
 *    buffer sent back to be written again; then PyTorch's DataLoader (2
 *    workers, `batch_size=None`, bench/torch_loader.py; "not installed"
 *    without torch). All of it twice: with bare batches (only the first and
 *    last float of batch i set to i, nothing else written) and a reader
 *    that does nothing with them but check those two floats, the loader's
 *    own cost; then with filled batches (every float i) and a reader that
 *    sums every float, a consumer that reads every byte. The recycled runs,
 *    which leave little garbage, are taken in turns with no collection
 *    forced before each (see `inTurnsUncollected`).
 * 2. CPU-bound scaling: decoding and resizing PNG batches in 2 workers,
 *    against the main thread and against a hand-written pair of Workers
 *    sent the files once, in turns. The files are packed into one
 *    SharedArrayBuffer, shared with the workers rather than copied, for
 *    pydataset's workers at each epoch as for the hand-written ones once.
 * 3. I/O-bound scaling: batches fetched from a server that answers after
 *    10 ms, 16 at once on the main thread, against one at a time.
 * 4. Overlap with training: `fitDataset` whose steps cost about as much as
 *    loading a batch, against max(training alone, loading alone), with
 *    workers and with the main thread.
 * 5. Memory: peak RSS while reading batches of 4 MiB with
 *    `maxQueueSize: 8`, against the bound of (maxQueueSize + workers)
 *    batches, or 2 × (maxQueueSize + workers + 1) for readers that release
 *    each batch, pydataset's and hand-written, each measurement in a fresh
 *    process (bench/_memory.ts).
 * 6. Serving: an epoch of 4 MiB batches through a data host's `/epoch`,
 *    decoded, against the same bytes raw through the same server; and a
 *    `RemoteDataset` over three data hosts (child processes) whose
 *    `getItem` waits 20 ms, one call at a time each, against one host.
 *
 * @module
 */

import type * as Tf from "@tensorflow/tfjs";
import { ImageFiles } from "../examples/image_dataset.ts";
import { listImages, makeShapes } from "../examples/shapes.ts";
import type { PyDataset } from "../mod.ts";
import { RemoteDataset, serveDataset } from "../remote.ts";
import { startHosts } from "../tests/fixtures/child_hosts.ts";
import { batchesFromResponse } from "../wire.ts";
import {
  Fetched,
  FreshFloats,
  type PackedFiles,
  packFiles,
  PngBatches,
  RecycledFloats,
  Repeated,
} from "./_datasets.ts";

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

/**
 * One measurement by `measure`, in the state a long run is in: after a
 * collection, so that it pays for no other configuration's garbage, and
 * after one untimed run of its own, since a forced collection throws away
 * the compiled code of every function whose objects it collected
 * (pydataset's stream, policy and pool, Deno's own event and stream code),
 * and the run right after it is spent compiling them again: about half
 * the hand-written loop's rate with recycled bare batches instead of about
 * 80% (measured here), which no program that does not call `gc()` sees.
 */
async function measured(measure: () => Promise<number>): Promise<number> {
  gc();
  await measure();
  return await measure();
}

/** The median of `runs` measurements of `measure` (see {@linkcode measured}). */
async function median(measure: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(await measured(measure));
  return middle(values);
}

/**
 * The medians of `runs` measurements of each of `measures`, taken in turns
 * (one of each, then again) so that none pays for another's garbage or
 * finds the machine warmed by another.
 */
async function inTurns(measures: (() => Promise<number>)[]): Promise<number[]> {
  const values: number[][] = measures.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [j, measure] of measures.entries()) {
      values[j]!.push(await measured(measure));
    }
  }
  return values.map(middle);
}

/** Untimed rounds of {@linkcode inTurnsUncollected} before its timed ones. */
const settlingRounds = 6;

/**
 * The medians of `runs` measurements of each of `measures` in turns, as
 * {@linkcode inTurns}, but with no forced collection before each: for
 * configurations whose runs leave little garbage (recycled batches), after
 * one collection before them all and `settlingRounds` untimed rounds (then
 * `settled` is called). A collection forced between runs, while no epoch
 * runs, frees the hidden classes of every object that lives only while one
 * does (pydataset's positions and attempts, Deno's stream and event
 * objects), and V8 then deoptimizes the code compiled against them
 * ("embedded weak objects cleared": 172 over four forced collections in a
 * probe), after which pydataset's epochs of recycled batches ran about a
 * third slower for the next 16 epochs and more (probes). A program that
 * does not call `gc()` sees few of them: V8's own full collections are
 * rare for recycled batches alone (3 in 35,000 and 1 in 10,000, two
 * probes) and come mid-epoch, when the heap fills and those objects live
 * (0 and 23 deoptimizations).
 */
async function inTurnsUncollected(
  measures: (() => Promise<number>)[],
  settled: () => void,
): Promise<number[]> {
  gc();
  for (let i = 0; i < settlingRounds; i++) {
    for (const measure of measures) await measure();
  }
  settled();
  const values: number[][] = measures.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [j, measure] of measures.entries()) values[j]!.push(await measure());
  }
  return values.map(middle);
}

async function time(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** Where a process's CPU time goes: its threads, by kind. */
type ThreadKind = "main thread" | "workers" | "V8's collector threads" | "other threads";

/**
 * The CPU time this process's threads have had so far, in ns, by kind:
 * the main thread, the Web Workers (Deno names their threads worker-N) and
 * V8's helper threads, which do most of the concurrent work of its garbage
 * collector. Read from Linux's /proc by a shell kept for it (Deno lets only
 * --allow-all read /proc/<pid>); none elsewhere.
 */
class ThreadTimes {
  #shell: Deno.ChildProcess | undefined;
  #lines: ReadableStreamDefaultReader<string> | undefined;

  constructor() {
    if (Deno.build.os !== "linux") return;
    const script = `while read -r _; do for t in /proc/${Deno.pid}/task/*; do ` +
      `echo "\${t##*/} $(cat "$t/comm") $(cut -d' ' -f1 "$t/schedstat")"; done; echo end; done`;
    this.#shell = new Deno.Command("sh", { args: ["-c", script], stdin: "piped", stdout: "piped" })
      .spawn();
    this.#lines = this.#shell.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lines())
      .getReader();
  }

  async read(): Promise<Map<ThreadKind, number>> {
    const times = new Map<ThreadKind, number>();
    if (!this.#shell || !this.#lines) return times;
    const writer = this.#shell.stdin.getWriter();
    await writer.write(new TextEncoder().encode("\n"));
    writer.releaseLock();
    for (let line = await this.#lines.read(); !line.done && line.value !== "end";) {
      const [tid, ...rest] = line.value.split(" ");
      const ns = Number(rest.pop());
      const comm = rest.join(" ");
      const kind: ThreadKind = tid === String(Deno.pid)
        ? "main thread"
        : comm.startsWith("worker-")
        ? "workers"
        : comm.startsWith("V8 ")
        ? "V8's collector threads"
        : "other threads";
      if (Number.isFinite(ns)) times.set(kind, (times.get(kind) ?? 0) + ns);
      line = await this.#lines.read();
    }
    return times;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#shell) return;
    await this.#shell.stdin.close();
    await this.#lines?.cancel();
    await this.#shell.status;
  }
}

/** A stream of text split into lines. */
function lines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const part of parts) controller.enqueue(part);
    },
  });
}

/** The CPU time of some runs, by kind of thread (ns), and how many runs. */
interface CpuTimes {
  times: Map<ThreadKind, number>;
  runs: number;
}

/** `measure`, its threads' CPU time added to `into` at each run (the untimed ones too). */
function countingCpu(
  measure: () => Promise<number>,
  threads: ThreadTimes,
  into: CpuTimes,
): () => Promise<number> {
  return async () => {
    const before = await threads.read();
    const seconds = await measure();
    for (const [kind, ns] of await threads.read()) {
      into.times.set(kind, (into.times.get(kind) ?? 0) + ns - (before.get(kind) ?? 0));
    }
    into.runs++;
    return seconds;
  };
}

function log(message: string): void {
  console.error(`  ${message}`);
}

/**
 * Workers kept while other configurations take their turns (the default
 * `idleTimeout` of 5 s would end them, and time their start-up in the next
 * turn), as the hand-written loops and PyTorch's persistent_workers keep theirs.
 */
const persistent = { useMultiprocessing: true, idleTimeout: Infinity } as const;

// 1. Loader overhead ---------------------------------------------------------

/**
 * The loader-overhead batches: 500 of 4 MiB (2^20 floats), batch i bare
 * (its first and last float i) or filled with i.
 */
const overheadBatches = 500;
const floats = 1 << 20;

/** What a reader does with each batch before it lets it go. */
interface Reader {
  /** Reads `batch` (or not). */
  read(batch: Float32Array): void;
  /** After an epoch: throws unless the reader saw every float it should have. */
  check(): void;
}

/**
 * A reader that does nothing with each batch but check its first and last
 * float, as the loader's own cost is measured: batch i has both set to i,
 * bare or filled, so an epoch fails the check unless each of its batches
 * came once and was written. (In any order: the hand-written loop hands
 * batches over as its workers answer.)
 */
function glancing(batches: number): Reader {
  let seen = new Uint8Array(batches);
  let wrong: string | undefined;
  return {
    read(batch) {
      const index = batch[0]!;
      if (index !== batch[batch.length - 1] || seen[index] !== 0) {
        wrong ??= `a batch holds ${index} … ${batch[batch.length - 1]}`;
      } else {
        seen[index] = 1;
      }
    },
    check() {
      const [failure, missing] = [wrong, seen.indexOf(0)];
      seen = new Uint8Array(batches);
      wrong = undefined;
      if (failure) throw new Error(failure);
      if (missing !== -1) throw new Error(`Batch ${missing} never came`);
    },
  };
}

/**
 * A reader that sums every float of each batch in a plain loop, and checks
 * the epoch's total: batch i holds i everywhere, so the total is exact in a
 * double and wrong if a recycled array was not filled.
 */
function summing(batches: number, values: number): Reader {
  let total = 0;
  return {
    read(batch) {
      let sum = 0;
      for (let i = 0; i < batch.length; i++) sum += batch[i]!;
      total += sum;
    },
    check() {
      const expected = values * batches * (batches - 1) / 2;
      const seen = total;
      total = 0;
      if (seen !== expected) throw new Error(`Checksum ${seen}, expected ${expected}`);
    },
  };
}

/** One epoch of `dataset` read by `reader`; with `recycle`, each batch is released once read. */
async function readEpoch(
  dataset: PyDataset<Float32Array>,
  reader: Reader,
  recycle: boolean,
): Promise<void> {
  for await (const batch of dataset.epoch()) {
    reader.read(batch);
    if (recycle) dataset.release(batch);
  }
  reader.check();
}

/**
 * One epoch of a hand-written loop over `workers`: each has one request in
 * flight, and gets its next request as soon as it answers (before the
 * answer is read, so that it works meanwhile), as pydataset's pool does.
 */
function handEpoch<T>(
  workers: Worker[],
  batches: number,
  request: (worker: Worker, index: number) => void,
  read: (batch: T, worker: Worker) => void,
): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    for (const worker of workers) {
      worker.onmessage = (event: MessageEvent<T>) => {
        if (sent < batches) request(worker, sent++);
        read(event.data, worker);
        if (++received === batches) resolve();
      };
      if (sent < batches) request(worker, sent++);
    }
  });
}

/**
 * The hand-written loop of bench/_handwritten_worker.ts read by `reader`,
 * its batches filled or, without `fill`, bare. With `recycle`, each buffer
 * read goes back to the worker that made it with that worker's next
 * request, to be written again (kept across epochs, as pydataset's pools
 * are).
 */
function handFloats(
  workers: Worker[],
  reader: Reader,
  fill: boolean,
  recycle: boolean,
): () => Promise<void> {
  const spare = new Map(workers.map((worker) => [worker, [] as ArrayBuffer[]]));
  const request = (worker: Worker, index: number) => {
    const buffer = spare.get(worker)!.pop();
    worker.postMessage({ index, values: floats, fill, buffer }, buffer ? [buffer] : []);
  };
  const read = (batch: Float32Array, worker: Worker) => {
    reader.read(batch);
    if (recycle) spare.get(worker)!.push(batch.buffer as ArrayBuffer);
  };
  return async () => {
    await handEpoch(workers, overheadBatches, request, read);
    reader.check();
  };
}

/** PyTorch's batches/s and version (bench/torch_loader.py), or why there are none. */
type TorchResult = { batchesPerSecond: number; torch: string } | { missing: string };

/**
 * PyTorch's DataLoader on the same batches, from the first of `python3` and
 * /usr/bin/python3 that has torch (a pyenv or venv python3 on the PATH may
 * not). Fewer batches than ours, as it is over 10× slower: its rate is what
 * is compared.
 */
async function torchLoader(consume: boolean): Promise<TorchResult> {
  const args = [
    new URL("torch_loader.py", import.meta.url).pathname,
    "--batches",
    "200",
    "--runs",
    "5",
    // Bare batches for the empty reader, filled ones for the summing reader, as ours.
    consume ? "--consume" : "--bare",
  ];
  const decoder = new TextDecoder();
  for (const python of ["python3", "/usr/bin/python3"]) {
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(python, { args, stdout: "piped", stderr: "piped" }).output();
    } catch {
      continue; // no such python
    }
    if (!output.success) {
      // Not the bench's failure: the row says so, and the log why.
      log(`${python} bench/torch_loader.py failed: ${decoder.decode(output.stderr).trim()}`);
      return { missing: `failed (${python}: see the log)` };
    }
    // The script prints one line of JSON, last.
    const result = JSON.parse(decoder.decode(output.stdout).trim().split("\n").at(-1)!);
    if (result.installed) return result;
  }
  return { missing: "not installed" };
}

/**
 * Loader overhead with bare batches and an empty reader, then with filled
 * batches and a reader that sums every float: pydataset fresh and
 * recycled, the hand-written loop fresh and recycled, all in turns, then
 * PyTorch's DataLoader.
 */
async function loaderOverhead(): Promise<void> {
  const options = { ...persistent, workers: 2, maxQueueSize: 8 };
  // `fill` is set per reader below: a field, so it reaches the workers with the next epoch.
  await using fresh = new FreshFloats(overheadBatches, floats, options);
  await using recycled = new RecycledFloats(overheadBatches, floats, options);
  // The same work by hand: two workers, one request in flight each, the
  // answer transferred.
  const workers = [0, 1].map(() =>
    new Worker(new URL("./_handwritten_worker.ts", import.meta.url), { type: "module" })
  );
  await using threads = new ThreadTimes();
  try {
    for (const consume of [false, true]) {
      // Bare batches for the empty reader, filled ones (an exact checksum) for the summing one.
      const fill = consume;
      fresh.fill = recycled.fill = fill;
      const reader = consume ? summing(overheadBatches, floats) : glancing(overheadBatches);
      const cpu: Record<"ours" | "hand", CpuTimes> = {
        ours: { times: new Map(), runs: 0 },
        hand: { times: new Map(), runs: 0 },
      };
      // Recycled bare epochs are short (about 30 ms): a run reads several, to be timed over ~100 ms.
      const epochs = consume ? 1 : 4;
      const repeated = (epoch: () => Promise<void>) => () =>
        time(async () => {
          for (let i = 0; i < epochs; i++) await epoch();
        });
      const freshMeasures = [
        () => time(() => readEpoch(fresh, reader, false)),
        () => time(handFloats(workers, reader, fill, false)),
      ];
      const recycledMeasures = [
        repeated(() => readEpoch(recycled, reader, true)),
        repeated(handFloats(workers, reader, fill, true)),
      ];
      // Start the workers, warm up.
      for (const measure of [...freshMeasures, ...recycledMeasures]) await measure();
      // The recycled runs' CPU time (their timed runs'): where each batch's time goes.
      recycledMeasures[0] = countingCpu(recycledMeasures[0]!, threads, cpu.ours);
      recycledMeasures[1] = countingCpu(recycledMeasures[1]!, threads, cpu.hand);
      // Fresh runs leave 2 GiB of buffers to collect each: a collection before each run.
      const [ours, hand] = await inTurns(freshMeasures);
      // Their CPU time is counted from the timed runs on.
      const settled = () => {
        for (const counted of [cpu.ours, cpu.hand]) {
          Object.assign(counted, { times: new Map(), runs: 0 });
        }
      };
      const [ourRecycled, handRecycled] = (await inTurnsUncollected(recycledMeasures, settled))
        .map((seconds) => seconds / epochs);
      const { allocations, recycled: reused } = recycled.stats!;
      log(
        `${consume ? "summing" : "empty"} reader: ${reused} of ${allocations} allocations recycled`,
      );
      const torch = await torchLoader(consume);
      overheadRows(consume, [ours!, ourRecycled!, hand!, handRecycled!], torch);
      if (!consume) {
        cpuRow(
          "1. Loader overhead, bare batches, recycled: CPU time per batch, all threads, pydataset vs the hand-written loop (where the time goes; the threads share 2 cores)",
          [cpu.ours, cpu.hand],
          overheadBatches * epochs,
          ["hand-written loop, recycled", "≤ 1.25× (80%)"],
        );
      }
    }
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

/**
 * The rows of one reader. `seconds`: the median epochs of pydataset fresh
 * and recycled, then of the hand-written loop fresh and recycled.
 */
function overheadRows(consume: boolean, seconds: number[], torch: TorchResult): void {
  const [ours, ourRecycled, hand, handRecycled] = seconds.map((s) => overheadBatches / s);
  const rate = (perSecond: number) => `${perSecond.toFixed(0)} batches/s`;
  const head = consume
    ? "1. Loader overhead, filled batches (every float i), the reader summing every float"
    : "1. Loader overhead: bare 4 MiB Float32Array batches (first and last float set), 2 workers";
  rows.push({
    benchmark: `${head}; fresh batches, pydataset vs a hand-written Worker + transfer loop`,
    pydataset: rate(ours!),
    baseline: `${rate(hand!)} (hand-written loop, fresh)`,
    ratio: `${(ours! / hand! * 100).toFixed(0)}%`,
    ideal: "≥ 90%",
  });
  rows.push({
    benchmark:
      `${head}; recycled batches, pydataset (info.allocate, release) vs the hand-written loop transferring each buffer back with the next request`,
    pydataset: rate(ourRecycled!),
    baseline: `${rate(handRecycled!)} (hand-written loop, recycled)`,
    ratio: `${(ourRecycled! / handRecycled! * 100).toFixed(0)}%`,
    ideal: "≥ 80%",
  });
  rows.push({
    benchmark: `${head}; pydataset recycled vs PyTorch's DataLoader (2 workers, batch_size=None, ${
      consume ? "torch.full, batch.sum()" : "torch.zeros, nothing done with the batch"
    })`,
    pydataset: rate(ourRecycled!),
    baseline: "missing" in torch
      ? `PyTorch ${torch.missing}`
      : `${rate(torch.batchesPerSecond)} (PyTorch ${torch.torch} DataLoader)`,
    ratio: "missing" in torch ? "–" : `${(ourRecycled! / torch.batchesPerSecond).toFixed(1)}×`,
    // Summing, the reader's own loop is most of the work: no loader target.
    ideal: consume ? "– (the reader's sum dominates)" : "≥ 20×",
  });
}

/**
 * The row of where each batch's CPU time goes, all threads, pydataset
 * (`ours`) against a hand-written loop (`hand`), `batches` a run: on a
 * 2-core machine every thread's time is taken from the same two cores, so
 * the total bounds the rate.
 */
function cpuRow(
  benchmark: string,
  [ours, hand]: [CpuTimes, CpuTimes],
  batches: number,
  [baseline, ideal]: [string, string],
): void {
  const total = ({ times }: CpuTimes) => [...times.values()].reduce((a, b) => a + b, 0);
  if (total(ours) === 0 || total(hand) === 0) return; // not Linux: nothing was read
  const perBatch = (cpu: CpuTimes) => {
    const all = cpu.runs * batches;
    return `${(total(cpu) / all / 1000).toFixed(0)} µs (${
      [...cpu.times].filter(([, ns]) => ns / all >= 500).map(([kind, ns]) =>
        `${kind} ${(ns / all / 1000).toFixed(0)}`
      ).join(", ")
    })`;
  };
  rows.push({
    benchmark,
    pydataset: perBatch(ours),
    baseline: `${perBatch(hand)} (${baseline})`,
    ratio: `${(total(ours) / ours.runs / (total(hand) / hand.runs)).toFixed(2)}×`,
    ideal,
  });
}

// 2. CPU-bound scaling -------------------------------------------------------

async function imageFiles(): Promise<{ x: string[]; y: number[]; dir: string }> {
  const dir = ".cache/shapes";
  await makeShapes(dir, 1500);
  return { ...await listImages(dir), dir };
}

/**
 * The hand-written pair of workers of the CPU-bound benchmark
 * (bench/_handwritten_png_worker.ts), each sent the packed PNG files once.
 */
async function pngWorkers(files: PackedFiles, batchSize: number, size: number): Promise<Worker[]> {
  const url = new URL("./_handwritten_png_worker.ts", import.meta.url);
  const workers = [0, 1].map(() => new Worker(url, { type: "module" }));
  await Promise.all(workers.map((worker) =>
    new Promise((resolve) => {
      worker.onmessage = resolve;
      worker.postMessage({ type: "files", files, batchSize, size });
    })
  ));
  return workers;
}

async function cpuScaling(): Promise<void> {
  const { x } = await imageFiles();
  // One SharedArrayBuffer for all of them, shared by every dataset and worker below.
  const files = packFiles(await Promise.all(x.slice(0, 2400).map((file) => Deno.readFile(file))));
  const epoch = (dataset: PngBatches) => () =>
    time(async () => {
      for await (const _ of dataset.epoch());
    });
  await using main = new PngBatches(files, 32, 32, { workers: 1 });
  await using workers = new PngBatches(files, 32, 32, { ...persistent, workers: 2 });
  const batches = main.length;
  const hand = await pngWorkers(files, 32, 32);
  const byHand = () =>
    time(() =>
      handEpoch(
        hand,
        batches,
        (worker, index) => worker.postMessage({ type: "get", index }),
        () => {},
      )
    );
  const measures = [epoch(main), epoch(workers), byHand];
  for (const measure of measures) await measure(); // warm up: JIT, workers
  // Both use the 2 cores fully: what each batch costs them all is where the rest goes.
  await using threads = new ThreadTimes();
  const cpu: [CpuTimes, CpuTimes] = [{ times: new Map(), runs: 0 }, { times: new Map(), runs: 0 }];
  measures[1] = countingCpu(measures[1]!, threads, cpu[0]);
  measures[2] = countingCpu(measures[2]!, threads, cpu[1]);
  const [onMain, inWorkers, handWritten] = await inTurns(measures);
  for (const worker of hand) worker.terminate();
  rows.push({
    benchmark:
      "2. CPU-bound: decode + resize 32 PNGs (in memory) per batch, 2 workers vs main thread",
    pydataset: `${(batches / inWorkers!).toFixed(0)} batches/s`,
    baseline: `${(batches / onMain!).toFixed(0)} batches/s (main thread)`,
    ratio: `${(onMain! / inWorkers!).toFixed(2)}×`,
    ideal: "2× on 2 cores",
  });
  rows.push({
    benchmark:
      "2. CPU-bound: the same, pydataset's 2 workers vs a hand-written loop of 2 Workers (the PNG files in one SharedArrayBuffer, sent to the hand-written Workers once, shared with pydataset's at each epoch)",
    pydataset: `${(batches / inWorkers!).toFixed(0)} batches/s`,
    baseline: `${(batches / handWritten!).toFixed(0)} batches/s (hand-written 2-Worker loop)`,
    ratio: `${(handWritten! / inWorkers! * 100).toFixed(0)}%`,
    ideal: "≥ 95%",
  });
  cpuRow(
    "2. CPU-bound: CPU time per batch, all threads, pydataset's 2 workers vs the hand-written 2-Worker loop (where the rest goes: the threads share the 2 cores, so any thread's time is the workers' loss)",
    cpu,
    batches,
    ["hand-written 2-Worker loop", "≤ 1.05× (95%)"],
  );
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

// 6. Serving -----------------------------------------------------------------

/**
 * One epoch of 4 MiB batches through a data host's `/epoch`, decoded by
 * `batchesFromResponse`, against the same bytes sent raw through the same
 * server and only counted: what the wire format and the host cost over
 * HTTP itself.
 */
async function servedEpoch(): Promise<void> {
  const batches = 100;
  const batch = new Float32Array(floats).fill(1);
  const bytes = new Uint8Array(batch.buffer);
  await using handler = serveDataset(() => new Repeated(batches, batch, { workers: 2 }));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (new URL(request.url).pathname !== "/raw") return handler(request);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => sent++ < batches ? controller.enqueue(bytes) : controller.close(),
    }, { highWaterMark: 0 });
    return new Response(body);
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const raw = () =>
    time(async () => {
      let received = 0;
      for await (const chunk of (await fetch(`${url}/raw`)).body!) received += chunk.length;
      if (received !== batches * bytes.length) throw new Error(`raw: ${received} bytes`);
    });
  const served = () =>
    time(async () => {
      let floats = 0;
      const response = await fetch(`${url}/epoch`);
      for await (const x of batchesFromResponse<Float32Array>(response)) floats += x.length;
      if (floats !== batches * batch.length) throw new Error(`epoch: ${floats} floats`);
    });
  const [rawSeconds, servedSeconds] = await inTurns([raw, served]);
  await server.shutdown();
  const mib = batches * 4;
  rows.push({
    benchmark:
      `6. Serving: an epoch of ${batches} × 4 MiB through a data host's /epoch, decoded, vs the same bytes raw through the same server`,
    pydataset: `${(mib / servedSeconds!).toFixed(0)} MiB/s`,
    baseline: `${(mib / rawSeconds!).toFixed(0)} MiB/s (raw bytes, counted)`,
    ratio: `${(rawSeconds! / servedSeconds! * 100).toFixed(0)}%`,
    ideal: "≥ 90%",
  });
}

/**
 * A RemoteDataset over three data hosts (child processes) whose getItem
 * waits 20 ms, one call at a time each, against the same over one of them:
 * requests spread across hosts. On one machine the hosts share its cores,
 * so this shows the spreading, not CPU scale-out, which needs machines.
 */
async function spreadHosts(): Promise<void> {
  const batches = 90;
  const slow = ["--workers", "1", "--delay", "20", "--length", String(batches)];
  await using hosts = await startHosts(slow, slow, slow);
  await using one = await RemoteDataset.connect({ hosts: hosts.urls.slice(0, 1) });
  await using three = await RemoteDataset.connect({ hosts: hosts.urls });
  const epoch = (dataset: RemoteDataset) =>
    time(async () => {
      for await (const _ of dataset.epoch());
    });
  await epoch(one); // connections open, the hosts' datasets made
  await epoch(three);
  const [single, spread] = await inTurns([() => epoch(one), () => epoch(three)]);
  rows.push({
    benchmark:
      "6. Serving: a RemoteDataset over 3 data hosts whose getItem waits 20 ms, one at a time each, vs 1 host (one machine: requests spread; CPU scale-out needs more machines)",
    pydataset: `${(batches / spread!).toFixed(0)} batches/s`,
    baseline: `${(batches / single!).toFixed(0)} batches/s (1 host)`,
    ratio: `${(single! / spread!).toFixed(2)}×`,
    ideal: "3× (≥ 2.5×)",
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
  bound: number;
}

const memoryRows: MemoryRow[] = [];
/** maxQueueSize + workers, as bench/_memory.ts reads. */
const memoryBound = 8 + 2;
/**
 * The target for readers that release: 2 × (maxQueueSize + workers + 1)
 * batches, room for the queue and those in flight, and as many buffers
 * again waiting in the pools to be filled.
 */
const releasingBound = 2 * (8 + 2 + 1);
/**
 * Batches read per measurement: with a collection after every read (about
 * 20 ms each) the peak comes within the first few dozen, and 500 would take
 * most of the bench's time.
 */
const memoryBatches = { v8: 500, forced: 100 };

/** One fresh process of bench/_memory.ts: peak growth in batches. */
async function memoryRun(
  reader: string,
  collection: "v8" | "forced",
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
      `${memoryBatches[collection]}`,
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
    ["workers-recycled", "pydataset, 2 workers, recycled (release after each read)"],
    ["main-recycled", "pydataset, main thread (workers: 2), recycled (release after each read)"],
    ["hand-recycled", "hand-written: the same, each buffer read sent back to be filled again"],
    ["workers-tfjs", "pydataset, 2 workers, recycled, read through toTfDataset (cpu backend)"],
    ["main-tfjs", "pydataset, main thread (workers: 2), recycled, through toTfDataset (cpu)"],
  ] as const;
  for (
    const [collection, label] of [["v8", "V8's own"], ["forced", "after every read"]] as const
  ) {
    for (const [reader, name] of configurations) {
      // The adapter's rows answer "does it stay bounded as fitDataset reads it": V8's own only.
      if (reader.endsWith("-tfjs") && collection === "forced") continue;
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await memoryRun(reader, collection));
      memoryRows.push({
        reader: name,
        collection: label,
        rss: middle(results.map((result) => result.rss)),
        held: middle(results.map((result) => result.external)),
        bound: /-recycled$|-tfjs$/.test(reader) ? releasingBound : memoryBound,
      });
    }
  }
}

// ---------------------------------------------------------------------------

/**
 * The text of /proc/`name`, "" where it cannot be read: through `cat`, as
 * Deno lets only --allow-all read /proc.
 */
async function procFile(name: string): Promise<string> {
  try {
    const { stdout } = await new Deno.Command("cat", { args: [`/proc/${name}`] }).output();
    return new TextDecoder().decode(stdout);
  } catch {
    return "";
  }
}

/**
 * The time of all CPUs so far, in /proc/stat's ticks: in all, and what the
 * hypervisor of a virtual machine gave to other machines meanwhile
 * ("steal"), which no figure here can correct for, as it takes from the
 * configurations unevenly; undefined where /proc/stat is missing.
 */
async function cpuTicks(): Promise<{ total: number; steal: number } | undefined> {
  const line = (await procFile("stat")).split("\n")[0]!;
  // cpu user nice system idle iowait irq softirq steal
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (ticks.length < 8 || ticks.some((tick) => !Number.isFinite(tick))) return undefined;
  return { total: ticks.reduce((sum, tick) => sum + tick, 0), steal: ticks[7]! };
}

/** The share of CPU time stolen between `before` and now, as ", 12% of …" ("" if unknown). */
async function stolenSince(before: { total: number; steal: number } | undefined): Promise<string> {
  const now = await cpuTicks();
  if (!before || !now || now.total === before.total) return "";
  const share = (now.steal - before.steal) / (now.total - before.total);
  return `, ${(share * 100).toFixed(0)}% of the CPU time stolen by the hypervisor`;
}

const started = performance.now();
const startTicks = await cpuTicks();
// `deno task bench overhead memory` runs only the benchmarks so named.
const only = Deno.args.map((arg) => arg.toLowerCase());
for (
  const [name, benchmark] of [
    ["loader overhead", loaderOverhead],
    ["CPU-bound scaling", cpuScaling],
    ["I/O-bound scaling", ioScaling],
    ["overlap with training", overlap],
    ["memory", memory],
    ["serving", servedEpoch],
    ["serving hosts", spreadHosts],
  ] as const
) {
  if (only.length > 0 && !only.some((word) => name.toLowerCase().includes(word))) continue;
  log(`${name}…`);
  const start = performance.now();
  const ticks = await cpuTicks();
  await benchmark();
  log(`${name}: ${((performance.now() - start) / 1000).toFixed(0)} s${await stolenSince(ticks)}`);
}

/** The CPU's name, from /proc/cpuinfo. */
async function cpuName(): Promise<string> {
  return /model name\s*:\s*(.*)/.exec(await procFile("cpuinfo"))?.[1] ?? "unknown CPU";
}

const cpu = await cpuName();
const gib = (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0);
console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores (${cpu}), ${gib} GiB, ${Deno.build.os}; median of ${runs} runs; ${
    ((performance.now() - started) / 1000).toFixed(0)
  } s in all${await stolenSince(startTicks)}\n`,
);
console.log("| benchmark | pydataset | baseline | ratio | ideal |");
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) {
  console.log(
    `| ${row.benchmark} | ${row.pydataset} | ${row.baseline} | ${row.ratio} | ${row.ideal} |`,
  );
}
console.log(
  `\n5. Memory: growth over the baseline while reading ${memoryBatches.v8} batches of 4 MiB (${memoryBatches.forced} with a collection after every read), maxQueueSize 8, 2 workers (bound: maxQueueSize + workers = ${memoryBound} batches; the target for readers that release: 2 × (maxQueueSize + workers + 1) = ${releasingBound} batches); median of 3 fresh processes\n`,
);
console.log(
  "| reader | garbage collection | peak RSS growth | of the bound | peak ArrayBuffers held on the main thread |",
);
console.log("| --- | --- | --- | --- | --- |");
for (const row of memoryRows) {
  console.log(
    `| ${row.reader} | ${row.collection} | +${row.rss.toFixed(1)} batches (${
      (row.rss * 4).toFixed(0)
    } MiB) | ${(row.rss / row.bound * 100).toFixed(0)}% of ${row.bound} | ${
      row.held.toFixed(1)
    } batches |`,
  );
}
