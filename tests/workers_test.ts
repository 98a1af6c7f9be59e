import assert from "node:assert/strict";
import { mainThread, Probe } from "./fixtures/probe.ts";
import { collect } from "./_helpers.ts";

Deno.test("PyDataset workers get a copy of the dataset's fields without running its constructor", async () => {
  await using dataset = new Probe(6, { workers: 2, useMultiprocessing: true });
  dataset.indices = [50, 51, 52, 53, 54, 55];
  const batches = await collect(dataset.epoch());
  assert.deepEqual(batches.map((b) => b.value), [50, 51, 52, 53, 54, 55]);
  assert.ok(batches.every((b) => b.inWorker && b.constructedHere === 0));
});

Deno.test("PyDataset workers persist across epochs", async () => {
  await using dataset = new Probe(12, { workers: 2, useMultiprocessing: true });
  const threads = async () => new Set((await collect(dataset.epoch())).map((b) => b.thread));
  const first = await threads();
  const second = await threads();
  const third = await threads();
  assert.equal(first.size, 2);
  assert.ok(!first.has(mainThread));
  assert.deepEqual(second, first);
  assert.deepEqual(third, first);
});

Deno.test("PyDataset workers see onEpochEnd's changes in the next epoch (the Keras indices idiom)", async () => {
  for (const useMultiprocessing of [false, true]) {
    await using dataset = new Probe(5, { workers: 2, useMultiprocessing });
    const first = await collect(dataset.epoch());
    const second = await collect(dataset.epoch());
    assert.deepEqual(first.map((b) => b.value), [0, 1, 2, 3, 4]);
    assert.deepEqual(second.map((b) => b.value), [4, 3, 2, 1, 0]);
  }
});

Deno.test("PyDataset workers see onEpochBegin's changes in the same epoch", async () => {
  await using dataset = new Probe(4, { workers: 2, useMultiprocessing: true });
  for (const epoch of [1, 2, 3]) {
    const batches = await collect(dataset.epoch());
    assert.deepEqual(batches.map((b) => b.epochTag), [epoch, epoch, epoch, epoch]);
  }
});

Deno.test("PyDataset workers' changes to their copy never reach the main thread", async () => {
  await using dataset = new Probe(6, { workers: 2, useMultiprocessing: true });
  await collect(dataset.epoch());
  await collect(dataset.epoch());
  assert.equal(dataset.touched, 0);
  assert.deepEqual(dataset.events, ["begin 1", "end 1", "begin 2", "end 2"]);
  assert.equal(Atomics.load(dataset.calls, 0), 12, "shared memory is shared, by design");
});
