import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { Faulty } from "./fixtures/faulty.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { Private } from "./fixtures/private.ts";
import { Startup } from "./fixtures/startup.ts";
import {
  capturingErrors,
  collect,
  delay,
  MODES,
  readUntilError,
  waitFor,
  within,
} from "./_helpers.ts";

const indexOf = (batches: [Float64Array, Int32Array][]) => batches.map(([x]) => x[0]);

for (const mode of MODES) {
  Deno.test(`PyDataset.epoch reports a throwing getItem after earlier batches (${mode.name})`, async (t) => {
    await using dataset = new Numbers(8, { delay: 2 }, { ...mode.options, maxQueueSize: 2 });
    for (const kind of ["throwSync", "throwAsync"] as const) {
      await t.step(kind, async () => {
        dataset.plan = { delay: 2, [kind]: [5] };
        const { read, error } = await within(readUntilError(dataset.epoch()));
        assert.deepEqual(indexOf(read), [0, 1, 2, 3, 4]);
        assert.ok(error instanceof BatchError);
        assert.equal(error.index, 5);
        assert.match(error.message, /Cannot get batch 5 of Numbers/);
        const cause = error.cause as Error;
        assert.ok(cause instanceof Error);
        assert.equal(cause.name, kind === "throwSync" ? "RangeError" : "Error");
        assert.match(cause.message, /failure at 5/);
        assert.match(cause.stack ?? "", /numbers\.ts/, "the stack from where it was thrown");
      });
    }
  });

  Deno.test(`PyDataset.epoch reports the earliest failing batch, not the first to fail (${mode.name})`, async () => {
    // Batch 6 fails at once; batch 2 fails late: the error names batch 2.
    await using dataset = new Numbers(10, { delay: { 2: 40 }, throwAsync: [2, 6] }, mode.options);
    const { read, error } = await within(readUntilError(dataset.epoch()));
    assert.deepEqual(indexOf(read), [0, 1]);
    assert.ok(error instanceof BatchError);
    assert.equal(error.index, 2);
  });

  Deno.test(`PyDataset.epoch fails a batch that is undefined or null instead of hanging (${mode.name})`, async () => {
    for (const plan of [{ returnUndefined: [3] }, { returnNull: [3] }]) {
      await using dataset = new Numbers(6, plan, mode.options);
      const { read, error } = await within(readUntilError(dataset.epoch()));
      assert.equal(read.length, 3);
      assert.ok(error instanceof BatchError);
      assert.equal(error.index, 3);
      assert.match(
        error.message,
        /Expected getItem to return a batch: current value is (undefined|null)/,
      );
    }
  });

  Deno.test(`PyDataset.epoch fails a batch over the timeout (${mode.name})`, async () => {
    // A busy machine may start a worker's batch late, so in workers the
    // timeout leaves room for that, and the slow batch runs far longer than
    // the bound below: an error within that bound came while it still ran.
    // A main-thread getItem starts at once.
    const workers = "useMultiprocessing" in mode.options;
    const [timeout, slow] = workers ? [1_000, 60_000] : [100, 600];
    await using dataset = new Numbers(5, { delay: { 2: slow } }, { ...mode.options, timeout });
    const { read, error } = await within(readUntilError(dataset.epoch()), 5_000);
    if (!workers) {
      assert.ok(
        Atomics.load(dataset.calls, 1) >= 1,
        "the error came while the slow batch still ran",
      );
    }
    assert.equal(read.length, 2);
    assert.ok(error instanceof BatchError);
    assert.equal(error.index, 2);
    assert.equal((error.cause as DOMException).name, "TimeoutError");
    assert.match(error.message, new RegExp(`took longer than the timeout of ${timeout} ms`));
    // A worker over the timeout is terminated; a main-thread getItem cannot
    // be stopped, so this test waits for the fixture's own timer to end.
    await waitFor(() => Atomics.load(dataset.calls, 1) === 0 || dataset.useMultiprocessing, 2_000);
    await delay(dataset.useMultiprocessing ? 0 : 20);
  });
}

Deno.test("PyDataset worker errors carry the worker's message, class and stack", async () => {
  await using dataset = new Faulty(4, { 1: "throw" }, Infinity, { useMultiprocessing: true });
  const { read, error } = await within(readUntilError(dataset.epoch()));
  assert.equal(read.length, 1);
  assert.ok(error instanceof BatchError);
  const cause = error.cause as Error;
  assert.ok(cause instanceof SyntaxError);
  assert.equal(cause.message, "bad record in batch 1");
  assert.match(cause.stack ?? "", /faulty\.ts/);
});

Deno.test("PyDataset fails only the batch whose then throws when read, and follows a promise as await does", async () => {
  await using dataset = new Faulty(4, { 1: "ownThen", 2: "thenThrows" }, Infinity, {
    useMultiprocessing: true,
  });
  const { result: { read, error }, printed } = await capturingErrors(() =>
    within(readUntilError(dataset.epoch()))
  );
  assert.deepEqual(read.map((batch) => batch[0]), [0, 1], "a promise's own then is not called");
  assert.ok(error instanceof BatchError, String(error));
  assert.equal(error.index, 2);
  assert.match(error.message, /Cannot get batch 2 of Faulty: the then of batch 2 broke/);
  assert.deepEqual(printed, [], "no worker died");
});

for (const fault of ["close", "exit", "throwOutside", "rejectOutside"] as const) {
  Deno.test(`PyDataset replaces a worker that dies (${fault}) and retries its batch once`, async () => {
    await using dataset = new Faulty(6, { 3: fault }, 1, { workers: 2, useMultiprocessing: true });
    const { result: { read, error }, printed } = await capturingErrors(() =>
      within(readUntilError(dataset.epoch()))
    );
    assert.equal(error, undefined);
    assert.equal(printed.length, 1, "the death was reported");
    assert.match(
      String(printed[0]![0]),
      /A worker of Faulty died while fetching batch 3; retrying the batch/,
    );
    assert.deepEqual(read.map((b) => b[0]), [0, 1, 2, 3, 4, 5]);
    assert.equal(Atomics.load(dataset.deaths, 0), 2, "died once, then the retry worked");
    // The pool is whole again for the next epoch.
    assert.equal((await within(readUntilError(dataset.epoch()))).read.length, 6);
  });

  Deno.test(`PyDataset errors the stream when a worker dies (${fault}) twice on one batch`, async () => {
    await using dataset = new Faulty(6, { 3: fault }, Infinity, {
      workers: 2,
      useMultiprocessing: true,
    });
    const { result: { read, error } } = await capturingErrors(() =>
      within(readUntilError(dataset.epoch()))
    );
    assert.deepEqual(read.map((b) => b[0]), [0, 1, 2]);
    assert.ok(error instanceof BatchError);
    assert.equal(error.index, 3);
    assert.match(error.message, /The worker died twice while fetching batch 3/);
    assert.equal(Atomics.load(dataset.deaths, 0), 2);
  });
}

Deno.test("PyDataset terminates a worker stuck in a loop past the timeout", async () => {
  // The timeout also bounds the next epoch's start of a replacement worker.
  // Deno never stops a terminated worker's spinning thread (the process
  // keeps it until it exits), so that start competes with it for a core: on
  // a loaded machine 200 ms was too little (it failed under two busy loops).
  await using dataset = new Faulty(5, { 2: "spin" }, Infinity, {
    workers: 2,
    useMultiprocessing: true,
    timeout: 1_000,
  });
  const { read, error } = await within(readUntilError(dataset.epoch()), 5_000);
  assert.equal(read.length, 2);
  assert.ok(error instanceof BatchError);
  assert.equal((error.cause as DOMException).name, "TimeoutError");
  // The stuck worker was replaced: the next epoch (without the fault) completes.
  dataset.faults = {};
  assert.equal((await within(readUntilError(dataset.epoch()))).read.length, 5);
});

Deno.test("PyDataset fails a worker batch that cannot be sent", async () => {
  await using dataset = new Faulty(3, { 1: "function" }, Infinity, { useMultiprocessing: true });
  const { error } = await within(readUntilError(dataset.epoch()));
  assert.ok(error instanceof BatchError);
  assert.equal(error.index, 1);
  assert.match(error.message, /cannot be sent from the worker/);
});

Deno.test("PyDataset fails clearly when its fields cannot reach the workers", async () => {
  await using dataset = new Faulty(3, {}, Infinity, { useMultiprocessing: true });
  Object.assign(dataset, { callback: () => 1 });
  await assert.rejects(
    within(
      readUntilError(dataset.epoch()).then((r) => {
        throw r.error;
      }),
    ),
    {
      name: "TypeError",
      message:
        /Cannot send Faulty to its workers as its field "callback" cannot be structured-cloned/,
    },
  );
});

Deno.test("PyDataset reports a dataset module that fails to load in a worker", async () => {
  await using dataset = new Startup("throw");
  await assert.rejects(within(collect(dataset.epoch())), (error) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, /Cannot start a worker for Startup from file:.*startup\.ts/);
    assert.match(error.message, /this module cannot load in a worker/);
    return true;
  });
});

Deno.test("PyDataset refuses to open a worker epoch inside a worker (no if (import.meta.main) guard)", async () => {
  await using dataset = new Startup("epoch");
  await assert.rejects(
    within(collect(dataset.epoch())),
    /Cannot start workers for Startup inside a dataset worker: put the top-level code .* under if \(import\.meta\.main\)/,
  );
});

Deno.test("PyDataset.close does not wait for workers that are still loading", async () => {
  const dataset = new Startup("slow", { workers: 2 });
  const pending = collect(dataset.epoch());
  await delay(50);
  await within(dataset.close(), 2_000, "close()");
  await assert.rejects(within(pending), /Startup was closed/);
});

Deno.test("PyDataset reports a worker that dies between batches, and replaces it", async () => {
  // The only worker dies outside getItem once batch 1 is made, before it
  // takes its next message (the jobs of batches 2 and 3, sent ahead). Its
  // report of the death follows batch 1 on the same channel, so batch 2 is
  // the one being fetched; a worker that posts batches only after a
  // microtask dies before batch 1 is sent.
  await using dataset = new Faulty(4, { 1: "throwAfter" }, 1, { useMultiprocessing: true });
  const { printed: reports } = await capturingErrors(async () => {
    const first = await within(readUntilError(dataset.epoch()));
    assert.equal(first.read.length, 4);
    const second = await within(readUntilError(dataset.epoch()));
    assert.equal(second.read.length, 4);
  });
  assert.equal(reports.length, 1);
  assert.match(
    String(reports[0]?.[0]),
    /A worker of Faulty died while fetching batch [12]; retrying the batch on a new worker/,
  );
  assert.match(String((reports[0]?.[1] as Error).message), /thrown after getItem at 1/);
});

Deno.test("PyDataset reports a worker failure at once, even while another batch hangs", async () => {
  // Batch 3 never ends; batch 2 fails: the workers are stopped, not awaited.
  const dataset = new Faulty(6, { 2: "throw", 3: "hang" }, Infinity, {
    workers: 2,
    useMultiprocessing: true,
  });
  const { read, error } = await within(readUntilError(dataset.epoch()), 5_000);
  assert.equal(read.length, 2);
  assert.ok(error instanceof BatchError);
  assert.equal(error.index, 2);
  // The next epoch starts fresh workers.
  dataset.faults = {};
  assert.equal((await within(readUntilError(dataset.epoch()))).read.length, 6);
  await dataset.close();
});

Deno.test("PyDataset bounds worker start-up by the timeout", async () => {
  await using dataset = new Startup("slow", { timeout: 300 });
  await assert.rejects(within(collect(dataset.epoch()), 5_000), {
    name: "TimeoutError",
    message: /The workers of Startup did not start within the timeout of 300 ms/,
  });
});

Deno.test("PyDataset explains that #private fields do not reach workers", async () => {
  await using dataset = new Private(2, { useMultiprocessing: true });
  const { error } = await within(readUntilError(dataset.epoch()));
  assert.ok(error instanceof BatchError);
  assert.match(error.message, /has no #private fields, since its constructor does not run there/);
});
