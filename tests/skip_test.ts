// onError: "skip" and maxSkipped: a batch that still fails is left out,
// recorded and said, within a budget, in every mode, ordered or not.

import assert from "node:assert/strict";
import { BatchError, type EpochCursor } from "../mod.ts";
import { collect, MODES, readUntilError, waitFor, within } from "./_helpers.ts";
import { Flaky } from "./fixtures/flaky.ts";

/** Runs `fn` with `console.warn` captured; returns what it printed, a line a call. */
async function capturingWarnings<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    return { result: await fn(), lines };
  } finally {
    console.warn = original;
  }
}

/** Reads an epoch of Flaky: the batch indices read, and the error that ended it. */
async function readAll(stream: ReadableStream<Int32Array>) {
  const { read, error } = await readUntilError(stream);
  return { read: read.map((batch) => batch[0]!), error };
}

/** Fails forever: more failures than any attempt count. */
const ALWAYS = 1_000;

for (const mode of MODES) {
  for (const ordered of [true, false]) {
    const name = `${mode.name}, ${ordered ? "ordered" : "unordered"}`;

    Deno.test(`onError: "skip" leaves out failing batches, records and says them (${name})`, async () => {
      await using dataset = new Flaky(10, { 6: ALWAYS, 3: ALWAYS }, "throw", {
        ...mode.options,
        ordered,
        onError: "skip",
        maxSkipped: 2,
      });
      const { result, lines } = await capturingWarnings(() => within(readAll(dataset.epoch())));
      assert.equal(result.error, undefined);
      const expected = [0, 1, 2, 4, 5, 7, 8, 9];
      assert.deepEqual(ordered ? result.read : result.read.toSorted((a, b) => a - b), expected);
      const { skipped } = dataset.stats!;
      assert.deepEqual(skipped.map(({ index, position }) => [index, position]), [[3, 3], [6, 6]]);
      for (const { error, index } of skipped) {
        assert.ok(error instanceof BatchError);
        assert.equal(error.index, index);
      }
      assert.equal(lines.length, 2);
      for (const index of [3, 6]) {
        assert.ok(
          lines.some((line) =>
            line.includes(`batch ${index} `) && line.includes(`flaky batch ${index}`)
          ),
          `a warning names batch ${index} and its error: ${lines.join(" | ")}`,
        );
      }
    });

    Deno.test(`maxSkipped: the batch past the budget fails the epoch, saying so (${name})`, async () => {
      await using dataset = new Flaky(10, { 2: ALWAYS, 5: ALWAYS }, "throw", {
        ...mode.options,
        ordered,
        onError: "skip",
        maxSkipped: 1,
      });
      const { result } = await capturingWarnings(() => within(readAll(dataset.epoch())));
      assert.ok(result.error instanceof BatchError);
      assert.match(
        result.error.message,
        /would exceed maxSkipped: 1 batches of this epoch were skipped/,
      );
      assert.equal(dataset.stats!.skipped.length, 1);
    });

    Deno.test(`the default budget fails an epoch in which every batch fails (${name})`, async () => {
      const failures = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [i, ALWAYS]));
      await using dataset = new Flaky(5, failures, "throw", {
        ...mode.options,
        ordered,
        onError: "skip",
      });
      const { result } = await capturingWarnings(() => within(readAll(dataset.epoch())));
      assert.deepEqual(result.read, []);
      assert.ok(result.error instanceof BatchError, "not a silently empty epoch");
      assert.ok(dataset.stats!.skipped.length < 5);
    });
  }
}

Deno.test("a skipped batch counts as consumed for the cursor (ordered)", async () => {
  await using dataset = new Flaky(8, { 3: ALWAYS }, "throw", { onError: "skip" });
  const { lines } = await capturingWarnings(async () => {
    const reader = dataset.epoch().getReader();
    for (const expected of [0, 1, 2]) {
      assert.equal((await within(reader.read())).value![0], expected);
    }
    await within(waitFor(() => dataset.stats!.skipped.length === 1));
    await within(reader.cancel());
  });
  assert.equal(lines.length, 1);
  const cursor = dataset.cursor!;
  assert.equal(cursor.start, 4, "the skipped position 3 is behind the cursor");
  const tries = Atomics.load(dataset.tries, 3);
  const rest = await within(collect(dataset.epoch(cursor)));
  assert.deepEqual(rest.map((batch) => batch[0]), [4, 5, 6, 7]);
  assert.equal(Atomics.load(dataset.tries, 3), tries, "a resume does not try it again");
});

Deno.test("a skipped batch counts as consumed for the cursor (unordered)", async () => {
  await using dataset = new Flaky(8, { 1: ALWAYS }, "throw", {
    onError: "skip",
    ordered: false,
    workers: 2,
  });
  const read: number[] = [];
  let cursor: EpochCursor | undefined;
  await capturingWarnings(async () => {
    const reader = dataset.epoch().getReader();
    for (let i = 0; i < 3; i++) read.push((await within(reader.read())).value![0]!);
    await within(waitFor(() => dataset.stats!.skipped.length === 1));
    await within(reader.cancel());
    cursor = dataset.cursor;
  });
  const tries = Atomics.load(dataset.tries, 1);
  const rest = await within(collect(dataset.epoch(cursor!)));
  for (const batch of rest) read.push(batch[0]!);
  assert.deepEqual(
    read.toSorted((a, b) => a - b),
    [0, 2, 3, 4, 5, 6, 7],
    "each batch once, but the skipped one",
  );
  assert.equal(Atomics.load(dataset.tries, 1), tries, "a resume does not try it again");
});

Deno.test("stats.skipped gives positions in the whole epoch's order, before sharding", async () => {
  await using dataset = new Flaky(10, { 5: ALWAYS }, "throw", { onError: "skip" });
  await capturingWarnings(() => within(collect(dataset.epoch({ shard: { index: 1, count: 2 } }))));
  assert.deepEqual(dataset.stats!.skipped.map(({ index, position }) => [index, position]), [[
    5,
    5,
  ]]);
});

Deno.test("a skipped batch was retried first: its error counts the attempts", async () => {
  await using dataset = new Flaky(4, { 2: ALWAYS }, "throw", {
    onError: "skip",
    retries: 2,
    retryDelay: 1,
  });
  const { result } = await capturingWarnings(() => within(readAll(dataset.epoch())));
  assert.deepEqual(result.read, [0, 1, 3]);
  assert.equal(dataset.stats!.skipped[0]!.error.attempts, 3);
  assert.equal(Atomics.load(dataset.tries, 2), 3);
});

Deno.test("onError and maxSkipped are validated, and an epoch overrides them", async () => {
  assert.throws(
    () => new Flaky(1, {}, "throw", { onError: "ignore" as "skip" }),
    /onError must be "raise" or "skip": current value is "ignore"/,
  );
  assert.throws(
    () => new Flaky(1, {}, "throw", { maxSkipped: -1 }),
    /maxSkipped must be a non-negative integer: current value is -1/,
  );
  const dataset = new Flaky(4, { 1: ALWAYS });
  assert.throws(() => dataset.epoch({ maxSkipped: 0.5 }), RangeError);
  const { result } = await capturingWarnings(() =>
    within(readAll(dataset.epoch({ onError: "skip", maxSkipped: 1 })))
  );
  assert.deepEqual(result.read, [0, 2, 3]);
  assert.ok(
    (await within(readAll(dataset.epoch()))).error instanceof BatchError,
    "raise again by default",
  );
});
