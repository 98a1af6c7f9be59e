// retries and retryDelay: a failing batch is tried again, on its fetcher,
// after a doubling delay, in every mode, ordered or not.

import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { capturingErrors, collect, delay, MODES, readUntilError, within } from "./_helpers.ts";
import { Flaky } from "./fixtures/flaky.ts";
import { Unreplaceable } from "./fixtures/unreplaceable.ts";

for (const mode of MODES) {
  Deno.test(`retries: a batch that fails twice is delivered in its place with retries: 2 (${mode.name})`, async () => {
    for (const how of ["throw", "reject"] as const) {
      await using dataset = new Flaky(6, { 2: 2 }, how, {
        ...mode.options,
        retries: 2,
        retryDelay: 5,
      });
      const batches = await within(collect(dataset.epoch()));
      assert.deepEqual(batches.map((batch) => batch[0]), [0, 1, 2, 3, 4, 5]);
      assert.equal(batches[2]![1], 2, "getItem saw the third attempt as attempt 2");
      assert.deepEqual(dataset.attempts(2), [0, 1, 2]);
      assert.deepEqual(dataset.attempts(3), [0]);
      assert.equal(dataset.stats!.retries, 2);
    }
  });

  Deno.test(`retries: the last failure is a BatchError with attempts and the last error (${mode.name})`, async () => {
    await using dataset = new Flaky(5, { 3: 5 }, "throw", {
      ...mode.options,
      retries: 1,
      retryDelay: 5,
    });
    const { read, error } = await within(readUntilError(dataset.epoch()));
    assert.deepEqual(read.map((batch) => batch[0]), [0, 1, 2]);
    assert.ok(error instanceof BatchError);
    assert.equal(error.index, 3);
    assert.equal(error.attempts, 2);
    assert.match(error.message, /^Cannot get batch 3 of Flaky \(2 attempts failed\): /);
    assert.match((error.cause as Error).message, /flaky batch 3, attempt 1/);
  });

  Deno.test(`retries: an unordered epoch delivers a retried batch once (${mode.name})`, async () => {
    await using dataset = new Flaky(6, { 0: 1, 4: 2 }, "throw", {
      ...mode.options,
      ordered: false,
      retries: 2,
      retryDelay: 5,
    });
    const batches = await within(collect(dataset.epoch()));
    assert.deepEqual(batches.map((batch) => batch[0]).sort(), [0, 1, 2, 3, 4, 5]);
    assert.equal(dataset.stats!.retries, 3);
  });

  Deno.test(`retries: a batch past the timeout is tried again (${mode.name})`, async () => {
    const workers = "useMultiprocessing" in mode.options;
    // A worker may start late on a busy machine: room for that in worker mode.
    const timeout = workers ? 1_000 : 100;
    await using dataset = new Flaky(3, { 1: 1 }, "hang", { ...mode.options, timeout, retries: 1 });
    const batches = await within(collect(dataset.epoch()));
    assert.deepEqual(batches.map((batch) => batch[0]), [0, 1, 2]);
    assert.deepEqual(dataset.attempts(1), [0, 1]);
  });
}

Deno.test("retries: the delays double from retryDelay", async () => {
  await using dataset = new Flaky(2, { 1: 3 }, "throw", { retries: 3, retryDelay: 60 });
  assert.equal((await within(collect(dataset.epoch()))).length, 2);
  const gaps = dataset.gaps(1);
  assert.equal(gaps.length, 3);
  // Timers never fire early (1 ms of rounding); how late they fire is the machine's.
  for (const [k, gap] of gaps.entries()) {
    assert.ok(gap >= 60 * 2 ** k - 1, `retry ${k + 1} came ${gap} ms after the attempt before`);
  }
});

Deno.test("retries: a worker's death is retried once on top of retries", async () => {
  // Three deaths: the first is retried for free, the next two take the two retries.
  await using dataset = new Flaky(4, { 1: 3 }, "die", {
    workers: 2,
    useMultiprocessing: true,
    retries: 2,
    retryDelay: 5,
  });
  const { result, printed } = await capturingErrors(() => within(collect(dataset.epoch())));
  assert.deepEqual(result.map((batch) => batch[0]), [0, 1, 2, 3]);
  assert.deepEqual(dataset.attempts(1), [0, 1, 2, 3]);
  assert.equal(dataset.stats!.retries, 3);
  assert.match(String(printed[0]?.[0]), /died while fetching batch 1; retrying the batch/);

  await using fragile = new Flaky(4, { 1: 3 }, "die", {
    workers: 2,
    useMultiprocessing: true,
    retries: 1,
    retryDelay: 5,
  });
  const { result: { error } } = await capturingErrors(() =>
    within(readUntilError(fragile.epoch()))
  );
  assert.ok(error instanceof BatchError);
  assert.equal(error.attempts, 3);
  assert.match(
    error.message,
    /\(3 attempts failed\): The worker died 3 times while fetching batch 1/,
  );
});

Deno.test("retries: an epoch overrides the dataset's retries and retryDelay", async () => {
  await using dataset = new Flaky(3, { 0: 1 }, "throw");
  assert.ok((await within(readUntilError(dataset.epoch()))).error instanceof BatchError);
  const batches = await within(collect(dataset.epoch({ retries: 1, retryDelay: 0 })));
  assert.deepEqual(batches.map((batch) => batch[0]), [0, 1, 2]);
});

Deno.test("retries: a cancel while a retry waits starts no retry and leaves no timer", async () => {
  for (const options of [{}, { useMultiprocessing: true }]) {
    await using dataset = new Flaky(4, { 1: 1 }, "throw", {
      ...options,
      retries: 1,
      retryDelay: 60_000,
    });
    const reader = dataset.epoch().getReader();
    assert.equal((await within(reader.read())).value![0], 0);
    await within(waitForTries(dataset, 1));
    await within(reader.cancel(), 5_000);
    await delay(50);
    assert.equal(Atomics.load(dataset.tries, 1), 1, "the retry never ran");
  }
});

Deno.test("retries: close() stops a getBatch whose retry waits, and leaves no timer", async () => {
  for (const options of [{}, { useMultiprocessing: true }]) {
    await using dataset = new Flaky(2, { 0: 5 }, "throw", {
      ...options,
      retries: 3,
      retryDelay: 60_000,
    });
    const pending = dataset.getBatch(0);
    await within(waitForTries(dataset, 0));
    await dataset.close();
    await assert.rejects(within(pending, 2_000), /Flaky was closed/);
    assert.equal(Atomics.load(dataset.tries, 0), 1, "the retry never ran");
  }
});

Deno.test("retries: batches the pool refuses (no worker can start) are not retried", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using dataset = new Unreplaceable(`${dir}/died`, {
      workers: 1,
      retries: 4,
      retryDelay: 10_000,
    });
    const { result: { error } } = await capturingErrors(() =>
      within(readUntilError(dataset.epoch()), 5_000)
    );
    assert.ok(error instanceof BatchError);
    assert.equal(error.index, 1);
    assert.match(error.message, /a replacement worker cannot load this module/);
    assert.equal(dataset.stats!.retries, 1, "only the free retry after the death");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("retries: bad values are refused, naming them", () => {
  assert.throws(
    () => new Flaky(1, {}, "throw", { retries: -1 }),
    /retries must be a non-negative integer: current value is -1/,
  );
  assert.throws(() => new Flaky(1, {}, "throw", { retries: 1.5 }), RangeError);
  assert.throws(() => new Flaky(1, {}, "throw", { retries: "2" as unknown as number }), TypeError);
  assert.throws(
    () => new Flaky(1, {}, "throw", { retryDelay: -5 }),
    /retryDelay must be a non-negative number of milliseconds: current value is -5/,
  );
  assert.throws(() => new Flaky(1, {}, "throw", { retryDelay: Infinity }), RangeError);
  const dataset = new Flaky(1, {});
  assert.throws(() => dataset.epoch({ retries: -2 }), /Cannot open an epoch of Flaky as retries/);
  assert.throws(() => dataset.epoch({ retryDelay: NaN }), /retryDelay .*current value is NaN/);
});

async function waitForTries(dataset: Flaky, index: number): Promise<void> {
  while (Atomics.load(dataset.tries, index) < 1) await delay(2);
}
