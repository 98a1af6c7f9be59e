import assert from "node:assert/strict";
import { Numbers } from "./fixtures/numbers.ts";
import { mainThread, Probe } from "./fixtures/probe.ts";
import { collect, MODES } from "./_helpers.ts";

Deno.test("PyDataset.epoch runs getItem on the main thread one at a time with workers: 1", async () => {
  await using dataset = new Probe(6, { workers: 1 });
  const batches = await collect(dataset.epoch());
  assert.ok(batches.every((b) => b.thread === mainThread && !b.inWorker));
  assert.deepEqual(
    dataset.events.filter((e) => e.startsWith("get")),
    ["get 0", "get 1", "get 2", "get 3", "get 4", "get 5"],
  );
});

Deno.test("PyDataset.epoch keeps workers getItem calls in flight on the main thread", async () => {
  await using dataset = new Numbers(20, { delay: 3 }, { workers: 5 });
  await collect(dataset.epoch());
  assert.equal(Atomics.load(dataset.calls, 2), 5);
});

Deno.test("PyDataset.epoch runs getItem in workers with useMultiprocessing", async () => {
  await using dataset = new Probe(8, { workers: 2, useMultiprocessing: true });
  const batches = await collect(dataset.epoch());
  assert.ok(batches.every((b) => b.inWorker && b.thread !== mainThread));
  assert.equal(new Set(batches.map((b) => b.thread)).size, 2);
});

Deno.test("PyDataset.epoch gives the same batches in the same order in every mode", async (t) => {
  const results: unknown[][] = [];
  for (const mode of MODES) {
    await t.step(mode.name, async () => {
      await using dataset = new Numbers(13, { delay: { 2: 15, 5: 5 } }, mode.options);
      const plain = await collect(dataset.epoch());
      const shuffled = await collect(dataset.epoch({ shuffle: true, seed: 99 }));
      results.push([plain, shuffled]);
    });
  }
  assert.equal(results.length, 3);
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
  const [plain] = results[0] as [[Float64Array, Int32Array][]];
  assert.deepEqual(plain.map(([x]) => x[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(plain[3], [Float64Array.of(3, 3.5), Int32Array.of(9)]);
});
