import assert from "node:assert/strict";
import type { EpochCursor } from "../mod.ts";
import { epochOrder } from "../src/epoch/_order.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { collect, MODES, within } from "./_helpers.ts";

const firsts = (batches: [Float64Array, Int32Array][]) => batches.map(([x]) => x[0]!);

/** Reads `take` batches of `stream`, then stops reading (cancels). */
async function readSome(
  stream: ReadableStream<[Float64Array, Int32Array]>,
  take: number,
): Promise<number[]> {
  const read: number[] = [];
  for await (const [x] of stream) {
    read.push(x[0]!);
    if (read.length === take) break;
  }
  return read;
}

for (const mode of MODES) {
  Deno.test(`PyDataset.epoch({ start }) reads the order from position start (${mode.name})`, async () => {
    await using dataset = new Numbers(10, {}, mode.options);
    // A shuffled resume names its order's version (a cursor records it).
    const options = { shuffle: true, seed: 3, epoch: 2, orderVersion: 2 };
    const order = epochOrder(10, options);
    const all = Array.from({ length: 10 }, (_, i) => order.at(i));
    for (const start of [0, 1, 7, 10]) {
      const read = firsts(await within(collect(dataset.epoch({ ...options, start }))));
      assert.deepEqual(read, all.slice(start), `start ${start}`);
    }
  });

  Deno.test(`PyDataset.cursor resumes an epoch exactly where its reader stopped (${mode.name})`, async () => {
    await using dataset = new Numbers(23, { delay: { 3: 5 } }, mode.options);
    const full = firsts(await within(collect(dataset.epoch({ shuffle: true, seed: 9, epoch: 4 }))));
    const next = { epoch: 5, seed: 9, shuffle: true, orderVersion: 2, start: 0 };
    assert.deepEqual(dataset.cursor, next, "next epoch");

    const first = await within(readSome(dataset.epoch({ shuffle: true, seed: 9, epoch: 4 }), 7));
    const cursor = dataset.cursor!;
    assert.deepEqual(cursor, { epoch: 4, seed: 9, shuffle: true, orderVersion: 2, start: 7 });
    const saved: EpochCursor = JSON.parse(JSON.stringify(cursor));
    await using fresh = new Numbers(23, {}, mode.options);
    const rest = firsts(await within(collect(fresh.epoch(saved))));
    assert.deepEqual([...first, ...rest], full, "the same order, nothing lost or repeated");
    assert.deepEqual(fresh.cursor, next);
  });
}

Deno.test("PyDataset.cursor carries a drawn seed and a shard", async () => {
  await using dataset = new Numbers(11);
  const shard = { index: 1, count: 3 };
  const first = await within(readSome(dataset.epoch({ shuffle: true, shard }), 2));
  const cursor = dataset.cursor!;
  assert.equal(typeof cursor.seed, "number");
  assert.deepEqual(cursor.shard, { index: 1, count: 3, pad: false });
  assert.equal(cursor.start, 2);
  const rest = firsts(await within(collect(new Numbers(11).epoch(cursor))));
  const whole = firsts(
    await within(
      collect(new Numbers(11).epoch({ shuffle: true, seed: cursor.seed, epoch: 0, shard })),
    ),
  );
  assert.deepEqual([...first, ...rest], whole);
});

Deno.test("PyDataset.cursor of an unordered epoch skips what came out of order", async () => {
  // Batch 0 is slow, so later batches come out first; the reader stops
  // before batch 0 arrives.
  const options = { workers: 3, ordered: false, maxQueueSize: 2 };
  await using dataset = new Numbers(12, { delay: { 0: 200 } }, options);
  const first = await within(readSome(dataset.epoch(), 4));
  assert.ok(!first.includes(0), `batch 0 was still on its way: ${first}`);
  const cursor = dataset.cursor!;
  assert.equal(cursor.start, 0);
  assert.deepEqual(cursor.skip, first.toSorted((a, b) => a - b));
  await using fresh = new Numbers(12, {}, options);
  const rest = firsts(await within(collect(fresh.epoch(JSON.parse(JSON.stringify(cursor))))));
  assert.deepEqual([...first, ...rest].toSorted((a, b) => a - b), [...Array(12).keys()]);
  assert.equal(rest.length, 8, "nothing read twice");
});

Deno.test("PyDataset.cursor resumes in a new process", async () => {
  const child = new URL("./fixtures/resume_child.ts", import.meta.url);
  for (const options of [{ workers: 1 }, { workers: 2, useMultiprocessing: true }]) {
    const { success, stdout, stderr } = await within(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", child.pathname, "17", "6", JSON.stringify(options)],
        stdout: "piped",
        stderr: "piped",
      }).output(),
      20_000,
    );
    assert.ok(success, new TextDecoder().decode(stderr));
    const { read, cursor } = JSON.parse(new TextDecoder().decode(stdout)) as {
      read: number[];
      cursor: EpochCursor;
    };
    assert.equal(read.length, 6);
    await using here = new Numbers(17, {}, options);
    const rest = firsts(await within(collect(here.epoch(cursor))));
    const whole = firsts(
      await within(collect(here.epoch({ shuffle: true, seed: cursor.seed, epoch: 0 }))),
    );
    assert.deepEqual([...read, ...rest], whole, JSON.stringify(options));
  }
});

Deno.test("PyDataset.epoch rejects a start or skip out of range, naming the value", async () => {
  assert.throws(
    () => new Numbers(3).epoch({ start: -1 }),
    new RangeError(
      "Cannot open an epoch of Numbers as start must be a non-negative integer: current value is -1",
    ),
  );
  assert.throws(
    () => new Numbers(3).epoch({ start: 1, skip: [1] }),
    /skip must hold ascending integers greater than start \(1\): current value is \[1\]/,
  );
  await assert.rejects(
    collect(new Numbers(3).epoch({ start: 4 })),
    /start \(4\) and skip \(\[\]\) must lie within its 3 batches: current value of start is 4/,
  );
});
