import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { Seeded, type SeededBatch } from "./fixtures/seeded.ts";
import { collect, MODES, within } from "./_helpers.ts";

async function read(dataset: Seeded, options = {}): Promise<SeededBatch[]> {
  return await within(collect(dataset.epoch(options)));
}

for (const mode of MODES) {
  Deno.test(`getItem gets the WorkerInfo of the fetcher for position i mod workers (${mode.name})`, async () => {
    await using dataset = new Seeded(12, mode.options);
    const batches = await read(dataset, { shuffle: true, seed: 5, epoch: 3 });
    const { workers } = dataset;
    batches.forEach((batch, position) => {
      assert.equal(batch.id, position % workers, `position ${position}`);
      assert.equal(batch.count, workers);
      assert.equal(batch.epoch, 3);
    });
    const seeds = new Map(batches.map((batch) => [batch.id, batch.seed]));
    assert.equal(seeds.size, workers);
    assert.equal(new Set(seeds.values()).size, workers, "each fetcher has its own seed");
    for (const batch of batches) assert.equal(batch.seed, seeds.get(batch.id));

    await using twin = new Seeded(12, mode.options);
    const again = await read(twin, { shuffle: true, seed: 5, epoch: 3 });
    assert.deepEqual(again, batches, "the same seed and epoch give the same infos");
    const next = await read(dataset, { shuffle: true, seed: 5, epoch: 4 });
    for (const batch of next) {
      assert.notEqual(batch.seed, seeds.get(batch.id), "seeds change with the epoch");
    }
    const other = await read(dataset, { shuffle: true, seed: 6, epoch: 3 });
    for (const batch of other) assert.notEqual(batch.seed, seeds.get(batch.id));
  });
}

Deno.test("onWorkerStart runs once in each worker per epoch, before its first batch", async () => {
  await using dataset = new Seeded(9, { workers: 3, useMultiprocessing: true });
  await read(dataset);
  assert.equal(Atomics.load(dataset.starts, 0), 3);
  await read(dataset);
  assert.equal(Atomics.load(dataset.starts, 0), 6, "again on each epoch's copy");
  assert.equal(Atomics.load(dataset.starts, 1), 0, "no batch was fetched before it");
  assert.equal(dataset.random, undefined, "it never runs on the main thread");
});

Deno.test("An async onWorkerStart ends before its worker's first batch, and its failure fails them", async () => {
  await using dataset = new Seeded(6, { workers: 2, useMultiprocessing: true });
  // The workers get their first jobs while it still waits.
  dataset.startDelay = 30;
  const batches = await read(dataset);
  assert.equal(batches.length, 6);
  assert.equal(Atomics.load(dataset.starts, 0), 2);
  assert.equal(Atomics.load(dataset.starts, 1), 0, "no batch was fetched before it ended");
  assert.ok(
    batches.every((batch) => batch.draw >= 0),
    "each batch drew from its worker's generator",
  );
  // A promise is followed as `await` follows it: a `then` of its own is not called.
  dataset.startOwnThen = true;
  assert.equal((await read(dataset)).length, 6);
  assert.equal(Atomics.load(dataset.starts, 0), 4);
  dataset.failStart = true;
  const error = await within(collect(dataset.epoch())).catch((error) => error);
  assert.ok(error instanceof BatchError, String(error));
  assert.equal(error.index, 0);
  assert.match(error.message, /onWorkerStart threw in worker 0: no start for worker 0/);
});

Deno.test("Workers' random draws repeat with the seed and differ between workers and epochs", async () => {
  const options = { workers: 2, useMultiprocessing: true };
  await using first = new Seeded(10, options);
  await using second = new Seeded(10, options);
  const draws = (batches: SeededBatch[]) => batches.map((batch) => batch.draw);
  const a = await read(first, { shuffle: true, seed: 11, epoch: 0 });
  const b = await read(second, { shuffle: true, seed: 11, epoch: 0 });
  assert.deepEqual(draws(a), draws(b), "the same seed gives the same augmentations");
  assert.ok(a.every((batch) => batch.draw >= 0));
  const byWorker = [0, 1].map((id) => a.filter((batch) => batch.id === id).map((b) => b.draw));
  assert.notDeepEqual(byWorker[0], byWorker[1], "the workers do not repeat each other");
  const nextEpoch = await read(first, { shuffle: true, seed: 11, epoch: 1 });
  assert.notDeepEqual(draws(nextEpoch).toSorted(), draws(a).toSorted());
  const otherSeed = await read(second, { shuffle: true, seed: 12, epoch: 0 });
  assert.notDeepEqual(draws(otherSeed), draws(a));
});

Deno.test("A throwing onWorkerStart fails the worker's batches with its error", async () => {
  await using dataset = new Seeded(4, { workers: 2, useMultiprocessing: true });
  dataset.failStart = true;
  const error = await within(collect(dataset.epoch())).catch((error) => error);
  assert.ok(error instanceof BatchError, String(error));
  assert.equal(error.index, 0);
  assert.match(
    error.message,
    /Cannot get batch 0 of Seeded: onWorkerStart threw in worker 0: no start for worker 0/,
  );
});
