// PyDataset.getBatch: one batch by index outside an epoch, through the
// same fetchers (the workers too) and the same per-batch policy.

import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { collect, delay, MODES, within } from "./_helpers.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { Seeded, type SeededBatch } from "./fixtures/seeded.ts";
import { Startup } from "./fixtures/startup.ts";

for (const mode of MODES) {
  Deno.test(`PyDataset.getBatch gives a batch with the info an unshuffled epoch gives it (${mode.name})`, async () => {
    await using dataset = new Seeded(6, mode.options);
    const epoch = await within(collect(dataset.epoch({ epoch: 3, seed: 9 })));
    for (const index of [5, 0, 2]) {
      const batch = await within(dataset.getBatch(index, { epoch: 3, seed: 9 }));
      assert.equal(batch.index, index);
      assert.equal(batch.epoch, 3);
      assert.equal(batch.count, dataset.workers);
      // The draw from onWorkerStart's generator depends on what the worker fetched before.
      const { draw: _, ...fetched } = batch;
      const { draw: __, ...expected } = epoch[index]!;
      assert.deepEqual(fetched, expected, "the batch, fetcher and seed the epoch gave");
    }
    const other = await within(dataset.getBatch(0, { epoch: 4, seed: 9 }));
    assert.notEqual(other.seed, epoch.find((batch) => batch.id === other.id)!.seed);
  });

  Deno.test(`PyDataset.getBatch calls at once each get the info of their own epoch and seed (${mode.name})`, async () => {
    await using dataset = new Seeded(6, mode.options);
    const calls = [[1, 3, 9], [2, 4, 9], [3, 3, 5], [4, 4, 5]] as const;
    const epochs = new Map<string, SeededBatch[]>();
    for (const [, epoch, seed] of calls) {
      epochs.set(`${epoch}/${seed}`, await within(collect(dataset.epoch({ epoch, seed }))));
    }
    // In worker mode the first call's epoch and seed reach the workers with
    // the dataset's fields; the others' must come with their jobs.
    const batches = await within(
      Promise.all(calls.map(([index, epoch, seed]) => dataset.getBatch(index, { epoch, seed }))),
    );
    for (const [k, [index, epoch, seed]] of calls.entries()) {
      const { draw: _, ...fetched } = batches[k]!;
      const { draw: __, ...expected } = epochs.get(`${epoch}/${seed}`)![index]!;
      assert.deepEqual(fetched, expected, `batch ${index} of epoch ${epoch}, seed ${seed}`);
    }
  });

  Deno.test(`PyDataset.getBatch runs calls at once, at most workers at a time (${mode.name})`, async () => {
    await using dataset = new Numbers(8, { delay: 20 }, mode.options);
    const batches = await within(
      Promise.all([7, 3, 5, 0, 1, 6].map((index) => dataset.getBatch(index))),
    );
    assert.deepEqual(batches.map(([, square]) => square[0]), [49, 9, 25, 0, 1, 36]);
    const most = Atomics.load(dataset.calls, 2);
    assert.ok(most <= dataset.workers, `${most} ran at once with ${dataset.workers} workers`);
    // The dataset still reads whole epochs afterwards.
    assert.equal((await within(collect(dataset.epoch()))).length, 8);
  });

  Deno.test(`PyDataset.getBatch fails a batch with a BatchError that names it (${mode.name})`, async () => {
    await using dataset = new Numbers(4, { throwAsync: [2], returnNull: [3] }, mode.options);
    await assert.rejects(within(dataset.getBatch(2)), (error: unknown) => {
      assert.ok(error instanceof BatchError);
      assert.equal(error.index, 2);
      assert.match(error.message, /Cannot get batch 2 of Numbers: async failure at 2/);
      return true;
    });
    await assert.rejects(within(dataset.getBatch(3)), /Expected getItem to return a batch/);
    assert.equal((await within(dataset.getBatch(1)))[1][0], 1);
  });

  Deno.test(`PyDataset.getBatch holds to the timeout (${mode.name})`, async () => {
    const workers = "useMultiprocessing" in mode.options;
    const [timeout, slow] = workers ? [1_000, 60_000] : [100, 600];
    await using dataset = new Numbers(3, { delay: { 1: slow } }, { ...mode.options, timeout });
    await assert.rejects(within(dataset.getBatch(1), 5_000), (error: unknown) => {
      assert.ok(error instanceof BatchError);
      assert.equal((error.cause as DOMException).name, "TimeoutError");
      return true;
    });
    assert.equal((await within(dataset.getBatch(2)))[1][0], 4);
    if (!workers) await delay(slow); // a main-thread getItem runs to its end
  });
}

Deno.test("PyDataset.getBatch stops waiting when its signal aborts, and the next call works", async () => {
  // A worker running the batch is replaced; a main-thread call runs to its end, ignored.
  for (const [options, slow] of [[{}, 400], [{ useMultiprocessing: true }, 60_000]] as const) {
    await using dataset = new Numbers(3, { delay: { 0: slow } }, options);
    const reason = new Error("no longer needed");
    const controller = new AbortController();
    const pending = dataset.getBatch(0, { signal: controller.signal });
    await delay(50);
    controller.abort(reason);
    await assert.rejects(within(pending, 300), (error) => error === reason);
    assert.equal((await within(dataset.getBatch(2)))[1][0], 4);
    if (!dataset.useMultiprocessing) await delay(slow);
  }
});

Deno.test("PyDataset.getBatch and epoch() do not overlap, and say why", async () => {
  await using dataset = new Numbers(4, { delay: 30 });
  const stream = dataset.epoch();
  await assert.rejects(dataset.getBatch(0), /Cannot fetch batch 0 of Numbers as an epoch is open/);
  await stream.cancel();
  const pending = dataset.getBatch(1);
  assert.throws(
    () => dataset.epoch(),
    /Cannot open an epoch of Numbers as 1 single batch \(getBatch\) is being fetched/,
  );
  await within(pending);
  assert.equal((await within(collect(dataset.epoch()))).length, 4);
});

Deno.test("PyDataset.getBatch refuses a bad index or option, naming the value", async () => {
  const dataset = new Numbers(4);
  await assert.rejects(dataset.getBatch(4), RangeError);
  await assert.rejects(
    dataset.getBatch(4),
    /its index must be less than the length, 4: current value is 4/,
  );
  await assert.rejects(
    dataset.getBatch(-1),
    /Cannot fetch batch -1 of Numbers as its index must be a non-negative integer: current value is -1/,
  );
  await assert.rejects(dataset.getBatch(1.5), RangeError);
  await assert.rejects(dataset.getBatch("1" as unknown as number), TypeError);
  await assert.rejects(
    dataset.getBatch(0, { seed: 0.5 }),
    /seed must be a safe integer: current value is 0.5/,
  );
  await assert.rejects(dataset.getBatch(0, { epoch: -2 }), /epoch must be a non-negative integer/);
  await assert.rejects(
    dataset.getBatch(0, { signal: "x" as unknown as AbortSignal }),
    /signal must be an AbortSignal: current value is "x"/,
  );
});

Deno.test("PyDataset.getBatch after close() starts afresh, and calls running at the close fail with its reason", async () => {
  for (const options of [{ workers: 1 }, { workers: 1, useMultiprocessing: true }]) {
    await using dataset = new Numbers(3, { delay: { 0: 300 } }, options);
    const running = dataset.getBatch(0);
    await delay(100);
    await dataset.close();
    await assert.rejects(within(running), /Numbers was closed/);
    assert.equal((await within(dataset.getBatch(2)))[1][0], 4);
    if (!dataset.useMultiprocessing) await delay(300); // the closed call runs to its end
  }
});

Deno.test("PyDataset.getBatch stops waiting for workers to start when its signal aborts", async () => {
  await using dataset = new Startup("slow"); // its module takes 60 s to load in a worker
  await assert.rejects(
    within(dataset.getBatch(0, { signal: AbortSignal.timeout(100) }), 5_000),
    (error: unknown) => (error as DOMException).name === "TimeoutError",
  );
});
