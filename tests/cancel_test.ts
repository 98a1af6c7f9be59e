import assert from "node:assert/strict";
import { PyDataset } from "../mod.ts";
import { Faulty } from "./fixtures/faulty.ts";
import { Heartbeat } from "./fixtures/heartbeat.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { Startup } from "./fixtures/startup.ts";
import { collect, delay, MODES, waitFor, waitUntilStill, within } from "./_helpers.ts";

for (const mode of MODES) {
  Deno.test(`ReadableStream.cancel stops all fetching of an epoch (${mode.name})`, async () => {
    await using dataset = new Numbers(1_000, { delay: 2 }, { ...mode.options, maxQueueSize: 3 });
    const reader = dataset.epoch().getReader();
    for (let i = 0; i < 4; i++) await within(reader.read());
    await within(reader.cancel("enough"));
    const calls = Atomics.load(dataset.calls, 0);
    assert.equal(Atomics.load(dataset.calls, 1), 0, "no getItem runs once cancel() resolved");
    await delay(50);
    assert.equal(Atomics.load(dataset.calls, 0), calls);
    assert.ok(calls <= 4 + 3 + dataset.workers);
  });

  Deno.test(`An aborted signal stops fetching and errors the stream with its reason (${mode.name})`, async () => {
    await using dataset = new Numbers(1_000, { delay: 2 }, { ...mode.options, maxQueueSize: 3 });
    const controller = new AbortController();
    const reader = dataset.epoch({ signal: controller.signal }).getReader();
    await within(reader.read());
    const reason = new Error("training stopped");
    controller.abort(reason);
    await assert.rejects(within(readAll(reader)), (error) => error === reason);
    const calls = Atomics.load(dataset.calls, 0);
    await delay(50);
    assert.equal(Atomics.load(dataset.calls, 0), calls);
    // Main-thread calls were awaited; workers were terminated mid-batch.
    if (!dataset.useMultiprocessing) assert.equal(Atomics.load(dataset.calls, 1), 0);
  });
}

async function readAll<T>(reader: ReadableStreamDefaultReader<T>): Promise<void> {
  while (!(await reader.read()).done);
}

Deno.test("PyDataset.epoch throws at once for an already aborted signal", async () => {
  await using dataset = new Numbers(3);
  const reason = new Error("already");
  assert.throws(() => dataset.epoch({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
  assert.equal(Atomics.load(dataset.calls, 0), 0);
});

Deno.test("PyDataset.epoch honours AbortSignal.timeout", async () => {
  await using dataset = new Numbers(1_000, { delay: 5 });
  const stream = dataset.epoch({ signal: AbortSignal.timeout(30) });
  await assert.rejects(within(readAll(stream.getReader())), { name: "TimeoutError" });
});

Deno.test("PyDataset.close terminates its workers", async () => {
  const dataset = new Heartbeat(50, 1, { workers: 2 });
  const reader = dataset.epoch().getReader();
  await within(reader.read());
  await waitFor(() => Atomics.load(dataset.beats, 0) > 5, 5_000, "workers ticking");
  await within(dataset.close());
  await assert.rejects(within(readAll(reader)), /Heartbeat was closed/);
  const beats = await waitUntilStill(() => Atomics.load(dataset.beats, 0));
  await delay(100);
  assert.equal(Atomics.load(dataset.beats, 0), beats, "no worker ticks after close()");
});

Deno.test("PyDataset leaves no worker running after a failed epoch, even without close", async () => {
  const dataset = new Heartbeat(50, 20, { workers: 2 });
  dataset.failAt = 3;
  await assert.rejects(within(readAll(dataset.epoch().getReader())), /batch 3/);
  const beats = await waitUntilStill(() => Atomics.load(dataset.beats, 0));
  assert.ok(beats > 0, "the workers did tick");
  await delay(100);
  assert.equal(Atomics.load(dataset.beats, 0), beats, "no worker ticks after the failure");
  await dataset.close();
});

Deno.test("PyDataset works again after close, with fresh workers", async () => {
  await using dataset = new Heartbeat(6, 1, { workers: 2 });
  let count = 0;
  for await (const _ of dataset.epoch()) count++;
  await dataset.close();
  for await (const _ of dataset.epoch()) count++;
  assert.equal(count, 12);
});

Deno.test("PyDataset supports await using", async () => {
  let beats: Int32Array;
  {
    await using dataset = new Heartbeat(4, 1, { workers: 1 });
    beats = dataset.beats;
    for await (const _ of dataset.epoch());
  }
  const after = await waitUntilStill(() => Atomics.load(beats, 0));
  await delay(100);
  assert.equal(Atomics.load(beats, 0), after);
});

Deno.test("PyDataset.close does not wait for a worker batch that never ends", async () => {
  const dataset = new Faulty(10, { 2: "hang" }, Infinity, { workers: 2, useMultiprocessing: true });
  const reader = dataset.epoch().getReader();
  await within(reader.read());
  await within(reader.read());
  const pending = readAll(reader);
  await within(dataset.close(), 2_000, "close()");
  await assert.rejects(within(pending), /Faulty was closed/);
});

Deno.test("An aborted signal stops a worker epoch at once, even while a batch hangs", async () => {
  await using dataset = new Faulty(10, { 2: "hang" }, Infinity, {
    workers: 2,
    useMultiprocessing: true,
  });
  const controller = new AbortController();
  const reader = dataset.epoch({ signal: controller.signal }).getReader();
  await within(reader.read());
  await within(reader.read());
  const pending = readAll(reader);
  controller.abort(new Error("stop"));
  await assert.rejects(within(pending, 2_000), /stop/);
});

Deno.test("Cancel and abort do not wait for workers that are still loading", async (t) => {
  await t.step("cancel", async () => {
    await using dataset = new Startup("slow");
    const reader = dataset.epoch().getReader();
    const read = reader.read();
    await delay(50);
    await within(reader.cancel(), 2_000, "cancel()");
    assert.deepEqual(await read, { done: true, value: undefined });
  });
  await t.step("abort", async () => {
    await using dataset = new Startup("slow");
    const stream = dataset.epoch({ signal: AbortSignal.timeout(100) });
    await assert.rejects(within(collect(stream), 2_000), { name: "TimeoutError" });
  });
});

Deno.test("PyDataset.close does not wait for a main-thread getItem that never ends", async () => {
  class Stuck extends PyDataset<number> {
    get length(): number {
      return 5;
    }
    getItem(index: number): number | Promise<number> {
      return index === 1 ? new Promise(() => {}) : index;
    }
  }
  const dataset = new Stuck({ workers: 2 });
  const reader = dataset.epoch().getReader();
  await within(reader.read());
  const pending = readAll(reader);
  await within(dataset.close(), 2_000, "close()");
  await assert.rejects(within(pending), /Stuck was closed/);
});

Deno.test("ReadableStream.cancel starts no batch that a worker had lined up", async () => {
  // One worker with batch 1 running (held until the cancel) and batch 2
  // lined up, sent ahead to it: batch 1 may finish, batch 2 must never start.
  await using dataset = new Numbers(20, { gated: [1] }, {
    workers: 1,
    useMultiprocessing: true,
    maxQueueSize: 1,
  });
  const reader = dataset.epoch().getReader();
  await within(reader.read());
  const cancelled = reader.cancel("enough");
  await delay(0); // the cancel has withdrawn what had not started
  dataset.open();
  await within(cancelled); // after batch 1
  await delay(150); // long enough for a lined-up batch to start
  assert.equal(Atomics.load(dataset.calls, 0), 2, "batches 0 and 1 only");
});
