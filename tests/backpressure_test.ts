import assert from "node:assert/strict";
import { Numbers } from "./fixtures/numbers.ts";
import { delay, MODES, waitFor, within } from "./_helpers.ts";

const maxQueueSize = 4;

for (const mode of MODES) {
  Deno.test(`PyDataset.epoch stops fetching when the reader stalls (${mode.name})`, async () => {
    await using dataset = new Numbers(100, { delay: 1 }, { ...mode.options, maxQueueSize });
    const bound = maxQueueSize + dataset.workers;
    const reader = dataset.epoch().getReader();
    let read = 0;
    for (; read < 5; read++) {
      await within(reader.read());
      assert.ok(
        Atomics.load(dataset.calls, 0) - (read + 1) <= bound,
        `fetched ${Atomics.load(dataset.calls, 0)} after reading ${read + 1}`,
      );
    }
    // The reader stalls: fetching fills the queue and the workers, then stops.
    await waitFor(
      () => Atomics.load(dataset.calls, 0) === read + bound,
      10_000,
      "filling the queue",
    );
    await delay(50);
    assert.equal(Atomics.load(dataset.calls, 0), read + bound);
    // One more read makes room for exactly one more fetch.
    await within(reader.read());
    read++;
    await waitFor(() => Atomics.load(dataset.calls, 0) === read + bound, 10_000, "refilling");
    await delay(20);
    assert.equal(Atomics.load(dataset.calls, 0), read + bound);
    await within(reader.cancel());
  });
}

Deno.test("PyDataset.epoch keeps at most workers getItem calls running", async (t) => {
  for (const workers of [1, 2, 4]) {
    await t.step(`workers: ${workers}`, async () => {
      await using dataset = new Numbers(24, { delay: 2 }, { workers, maxQueueSize: 8 });
      for await (const _ of dataset.epoch());
      assert.equal(Atomics.load(dataset.calls, 2), workers);
    });
  }
});

Deno.test("PyDataset.epoch lets a slow batch hold back delivery but not other fetches", async () => {
  // Batch 0 is slow: later batches are fetched meanwhile (up to the bound) and
  // still come out after it, in order.
  await using dataset = new Numbers(12, { delay: { 0: 80 } }, { workers: 2, maxQueueSize: 3 });
  const reader = dataset.epoch().getReader();
  const first = await within(reader.read());
  assert.equal(first.value?.[0][0], 0);
  assert.ok(
    Atomics.load(dataset.calls, 0) >= 3,
    "batches after the slow one were fetched meanwhile",
  );
  assert.ok(Atomics.load(dataset.calls, 0) <= 1 + 3 + 2);
  const rest: number[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value[0][0]!);
  assert.deepEqual(rest, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

for (const mode of MODES.filter(({ options }) => options.workers > 1)) {
  Deno.test(`PyDataset.epoch runs each fetcher at most three batches past one that has not come (${mode.name})`, async () => {
    const workers = mode.options.workers;
    // Batch 0 waits for the gate: the window (maxQueueSize + workers) would
    // allow 16 batches, but only three per fetcher past batch 0 are asked for.
    await using dataset = new Numbers(40, { gated: [0] }, { ...mode.options, maxQueueSize: 16 });
    const reader = dataset.epoch().getReader();
    const first = reader.read();
    // The other fetchers run their batches among positions 1 to 3 × workers - 1;
    // batch 0's fetcher holds its own, queued behind it.
    const started = 1 + (3 * workers - 1) - (3 - 1);
    await waitFor(() => Atomics.load(dataset.calls, 0) === started, 10_000, "the batches past 0");
    await delay(50);
    assert.equal(Atomics.load(dataset.calls, 0), started);
    dataset.open();
    const seen = [(await within(first)).value![0][0]];
    for (let next = await within(reader.read()); !next.done; next = await within(reader.read())) {
      seen.push(next.value[0][0]);
    }
    assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i));
  });
}

Deno.test("PyDataset.epoch with ordered: false runs on past a batch that has not come", async () => {
  await using dataset = new Numbers(40, { gated: [0] }, {
    workers: 2,
    maxQueueSize: 16,
    ordered: false,
  });
  const reader = dataset.epoch().getReader();
  // Unordered, batches after 0 are delivered: the reader takes 16 of them, and
  // the window refills behind each.
  const seen: number[] = [];
  for (let i = 0; i < 16; i++) seen.push((await within(reader.read())).value![0][0]!);
  assert.ok(!seen.includes(0), `batch 0 came before the gate opened: ${seen}`);
  dataset.open();
  for (let next = await within(reader.read()); !next.done; next = await within(reader.read())) {
    seen.push(next.value[0][0]!);
  }
  assert.deepEqual(seen.toSorted((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
});
