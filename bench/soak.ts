/**
 * `deno task soak`: reads 100,000 small batches (1 KiB) in worker mode over
 * ten epochs and prints, every 10,000 batches, the process's RSS, the size
 * of the main thread's V8 heap, and what is live in it after a full
 * collection. It fails unless, after the warm-up (the first half), the live
 * heap (what a leak would grow) stays within 1 MiB, and RSS within `--limit`
 * MiB (default 16) beyond what V8 added to its heap's size.
 *
 * Run it with `--batches 1000000` to see V8's heap settle: it enlarges its
 * young generation in steps while batches stream through, then stays.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { FreshFloats } from "./_datasets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batches: { type: "string", default: "100000" },
    epochs: { type: "string", default: "10" },
    limit: { type: "string", default: "16" },
  },
});
const total = Number(values.batches);
const epochs = Number(values.epochs);
const limitMiB = Number(values.limit);
const every = Math.max(1, Math.round(total / 10));
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc, as deno task soak does");
const mib = (bytes: number) => bytes / 2 ** 20;

interface Sample {
  rss: number;
  heap: number;
  live: number;
}

function sample(read: number, started: number): Sample {
  const { rss, heapTotal } = Deno.memoryUsage();
  gc!();
  const live = Deno.memoryUsage().heapUsed;
  console.log(
    `${String(read).padStart(8)} batches ${
      ((performance.now() - started) / 1000).toFixed(1).padStart(6)
    } s   RSS ${mib(rss).toFixed(1).padStart(6)} MiB   V8 heap ${
      mib(heapTotal).toFixed(1).padStart(5)
    } MiB, live ${mib(live).toFixed(2)} MiB`,
  );
  return { rss, heap: heapTotal, live };
}

await using dataset = new FreshFloats(Math.ceil(total / epochs), 256, {
  workers: 2,
  useMultiprocessing: true,
  maxQueueSize: 8,
});
console.log(
  `soak: ${total} batches of 1 KiB over ${epochs} epochs, 2 workers, maxQueueSize 8; Deno ${Deno.version.deno}`,
);
const started = performance.now();
const samples: Sample[] = [];
let read = 0;
for (let epoch = 0; epoch < epochs && read < total; epoch++) {
  for await (const batch of dataset.epoch({ shuffle: true, seed: 1 })) {
    if (batch.length !== 256) throw new Error(`batch ${read} has ${batch.length} values`);
    if (++read % every === 0) samples.push(sample(read, started));
  }
}
const warm = samples[Math.floor(samples.length / 2) - 1]!;
const last = samples.at(-1)!;
const rssGrowth = mib(last.rss - warm.rss);
const heapGrowth = mib(last.heap - warm.heap);
const liveGrowth = mib(last.live - warm.live);
const flat = rssGrowth - Math.max(0, heapGrowth) <= limitMiB && liveGrowth <= 1;
const signed = (value: number, digits = 1) => `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
console.log(
  `${flat ? "flat" : "GROWING"} after warm-up (from batch ${
    every * (samples.indexOf(warm) + 1)
  }): RSS ${signed(rssGrowth)} MiB, of which V8 heap size ${
    signed(heapGrowth)
  } MiB (limit ${limitMiB} MiB beyond it); live heap ${signed(liveGrowth, 2)} MiB (limit 1); ${
    (read / ((performance.now() - started) / 1000)).toFixed(0)
  } batches/s`,
);
if (!flat) Deno.exit(1);
