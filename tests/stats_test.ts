import assert from "node:assert/strict";
import { Numbers } from "./fixtures/numbers.ts";
import { delay } from "./_helpers.ts";

Deno.test("PyDataset.stats tells a slow loader from a slow reader", async () => {
  const slowLoader = new Numbers(20, { delay: 8 }, { workers: 1, maxQueueSize: 4 });
  const stats = () => slowLoader.stats;
  assert.equal(stats(), undefined, "no stats before the first epoch");
  let first = true;
  for await (const _ of slowLoader.epoch()) {
    if (first) assert.equal(stats()?.ended, false, "live while it runs");
    first = false;
  }
  const loader = stats()!;
  assert.equal(loader.ended, true);
  assert.equal(loader.epoch, 0);
  assert.equal(loader.batches, 20);
  assert.ok(loader.waitMs > 0 && loader.waitMs <= loader.elapsedMs + 1);
  assert.ok(loader.getItemMs > 0);
  assert.ok(loader.meanQueueDepth < 1, `the queue stays empty: ${loader.meanQueueDepth}`);

  const slowReader = new Numbers(20, {}, { workers: 2, maxQueueSize: 4 });
  for await (const _ of slowReader.epoch({ epoch: 7 })) await delay(4);
  const reader = slowReader.stats!;
  assert.equal(reader.epoch, 7);
  assert.equal(reader.maxQueueDepth, 4, "the queue fills up to maxQueueSize");
  assert.ok(reader.meanQueueDepth > 1, `the queue stays full: ${reader.meanQueueDepth}`);
  assert.ok(reader.waitMs < loader.waitMs, "the fast loader keeps the reader waiting less");
});

Deno.test("PyDataset.stats counts worker round trips and ends with a failed epoch", async () => {
  await using dataset = new Numbers(6, { throwAsync: [4] }, {
    workers: 2,
    useMultiprocessing: true,
  });
  await assert.rejects(Array.fromAsync(dataset.epoch()));
  const stats = dataset.stats!;
  assert.equal(stats.ended, true);
  assert.equal(stats.batches, 4);
  assert.ok(stats.getItemMs > 0);
});

Deno.test("PyDataset.stats times a worker's batch from when the worker starts it, not while it waits its turn", async () => {
  // One worker, and the loader keeps a second request waiting for it: summed
  // from the requests, getItemMs would be about twice the epoch's length.
  await using dataset = new Numbers(6, { delay: 30 }, { workers: 1, useMultiprocessing: true });
  await Array.fromAsync(dataset.epoch());
  const { getItemMs, elapsedMs } = dataset.stats!;
  assert.equal(Atomics.load(dataset.calls, 2), 1, "one batch runs at a time in one worker");
  assert.ok(getItemMs >= 6 * 30, `at least the getItem delays: ${getItemMs}`);
  assert.ok(getItemMs <= elapsedMs, `${getItemMs} ms within an epoch of ${elapsedMs} ms`);
});

Deno.test("PyDataset.stats.total is the batches the epoch delivers: its shard, from its start, less skip", async () => {
  await using numbers = new Numbers(20);
  const reader = numbers.epoch({ shard: { index: 1, count: 3 }, start: 2, skip: [4] }).getReader();
  assert.equal(numbers.stats?.total, undefined, "not known before the order is decided");
  await reader.read();
  // Shard 1 of 3 of 20 is 7 batches; from position 2, less one skipped: 4.
  assert.equal(numbers.stats?.total, 4);
  let read = 1;
  while (!(await reader.read()).done) read++;
  assert.equal(read, 4);
  assert.equal((await Array.fromAsync(numbers.epoch())).length, numbers.stats?.total);
});
