// mergeCursors: the cursors of an epoch's shards merged into one cursor of
// the whole epoch, read again on another number of shards.

import assert from "node:assert/strict";
import { type EpochCursor, mergeCursors } from "../mod.ts";
import { leftOrder } from "../src/epoch/_consumed.ts";
import { epochOrder } from "../src/epoch/_order.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { collect, within } from "./_helpers.ts";

const firsts = (batches: [Float64Array, Int32Array][]) => batches.map(([x]) => x[0]!);

/** Reads `take` batches (all when null) of `options`' epoch; returns them and the cursor. */
async function read(
  length: number,
  options: Record<string, unknown>,
  take: number | null,
  ordered = true,
): Promise<{ read: number[]; cursor: EpochCursor }> {
  await using dataset = new Numbers(length, {}, { ordered, workers: 2 });
  const got: number[] = [];
  if (take === null) got.push(...firsts(await within(collect(dataset.epoch(options)))));
  else if (take === 0) await dataset.epoch(options).cancel();
  else {
    for await (const [x] of dataset.epoch(options)) {
      got.push(x[0]!);
      if (got.length === take) break;
    }
  }
  return { read: got, cursor: JSON.parse(JSON.stringify(dataset.cursor)) };
}

const base = { shuffle: true, seed: 7, epoch: 3, orderVersion: 2 };

Deno.test("mergeCursors records each shard's prefix and the first whole position left", async () => {
  const a = await read(10, { ...base, shard: { index: 0, count: 2 } }, 2); // whole 0, 2
  const b = await read(10, { ...base, shard: { index: 1, count: 2 } }, 1); // whole 1
  const merged = mergeCursors([a.cursor, b.cursor]);
  assert.deepEqual(merged, {
    scope: "epoch",
    epoch: 3,
    seed: 7,
    shuffle: true,
    orderVersion: 2,
    start: 3,
    consumed: [{ count: 2, starts: [2, 1] }],
  });
  const order = epochOrder(10, base);
  const rest: number[] = [];
  for (let index = 0; index < 3; index++) {
    rest.push(...(await read(10, { ...merged, shard: { index, count: 3 } }, null)).read);
  }
  const expected = [3, 4, 5, 6, 7, 8, 9].map((position) => order.at(position));
  assert.deepEqual(rest.toSorted((x, y) => x - y), expected.toSorted((x, y) => x - y));
});

Deno.test("mergeCursors: a shard read to its end counts whole; a padded repeat consumes nothing", async () => {
  // 7 batches over 3 padded shards: shard 1 and 2 have 2 real positions and one repeat.
  const shard = (index: number) => ({ ...base, shard: { index, count: 3, pad: true } });
  const done = await read(7, shard(2), null); // whole 2, 5, then the repeat of whole 0
  assert.equal(done.cursor.epoch, 4, "points at the next epoch");
  const first = await read(7, shard(0), 1); // whole 0
  const merged = mergeCursors([first.cursor, done.cursor]);
  assert.equal(merged.start, 1, "whole 0 read by shard 0; the repeat added nothing");
  const rest: number[] = [];
  for (let index = 0; index < 2; index++) {
    rest.push(...(await read(7, { ...merged, shard: { index, count: 2 } }, null)).read);
  }
  const order = epochOrder(7, base);
  const expected = [1, 3, 4, 6].map((position) => order.at(position));
  assert.deepEqual(rest.toSorted((x, y) => x - y), expected.toSorted((x, y) => x - y));
});

Deno.test("mergeCursors maps an unordered shard's later positions to whole positions", () => {
  const cursor = { ...base, shard: { index: 1, count: 3, pad: false }, start: 1, skip: [3, 4] };
  const merged = mergeCursors([cursor]);
  assert.deepEqual(merged.consumed, [{ count: 3, starts: [0, 1, 0], skip: [10, 13] }]);
  assert.equal(merged.start, 0);
});

Deno.test("mergeCursors: the new shards' cursors resume exactly and merge again", async () => {
  const a = await read(12, { ...base, shard: { index: 0, count: 2 } }, 3);
  const b = await read(12, { ...base, shard: { index: 1, count: 2 } }, 0);
  const merged = mergeCursors([a.cursor, b.cursor]);
  const seen = [...a.read];
  const cursors: EpochCursor[] = [];
  for (let index = 0; index < 3; index++) {
    const part = await read(12, { ...merged, shard: { index, count: 3 } }, 1, false);
    assert.equal(part.cursor.scope, "shard");
    assert.deepEqual(part.cursor.consumed, merged.consumed);
    seen.push(...part.read);
    cursors.push(part.cursor);
  }
  const again = mergeCursors(cursors);
  assert.equal(again.consumed!.length, 2, "a layer for each split");
  seen.push(...(await read(12, { ...again }, null)).read);
  assert.deepEqual(seen.toSorted((x, y) => x - y), Array.from({ length: 12 }, (_, i) => i));
});

Deno.test("mergeCursors: the rest of a huge epoch is found without listing it", () => {
  const length = Number.MAX_SAFE_INTEGER;
  const merged = mergeCursors([
    { ...base, shard: { index: 0, count: 3 }, start: 2 ** 40 },
    { ...base, shard: { index: 2, count: 3 }, start: 5, skip: [7] },
  ]);
  const left = leftOrder({ length, at: (position) => position }, merged.consumed!);
  assert.equal(left.length, length - 2 ** 40 - 6);
  assert.equal(left.at(0), 1);
  assert.equal(left.at(4), 13); // 1, 4, 7, 10, 13: shard 1's, as shard 0's 2⁴⁰ come first
  assert.equal(left.at(left.length - 1), length - 1);
});

Deno.test("mergeCursors refuses cursors that are not of one epoch, naming the difference", async (t) => {
  const cursor = { ...base, shard: { index: 0, count: 2 }, start: 1 };
  const cases: [string, EpochCursor, RegExp][] = [
    ["seed", { ...cursor, seed: 8 }, /one seed: current value is 8 in cursor 1 and 7/],
    ["shuffle", { ...cursor, shuffle: false }, /one shuffle: current value is false/],
    ["orderVersion", { ...cursor, orderVersion: 1 }, /one orderVersion: current value is 1/],
    ["epoch", { ...cursor, epoch: 5 }, /one epoch .*current value is epoch 5/],
    ["count", { ...cursor, shard: { index: 1, count: 3 } }, /shard.count is 3/],
  ];
  for (const [name, other, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => mergeCursors([cursor, other]), { name: "TypeError", message });
    });
  }
  await t.step("none", () => assert.throws(() => mergeCursors([]), TypeError));
});

Deno.test("PyDataset.epoch checks a merged cursor's fields", async (t) => {
  await using dataset = new Numbers(4);
  const merged = { ...base, scope: "epoch" as const, start: 0 };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "scope",
      { ...merged, scope: "all" },
      /scope must be "shard" or "epoch": current value is "all"/,
    ],
    ["consumed", { ...merged, consumed: 3 }, /consumed must be an array/],
    ["count", { ...merged, consumed: [{ count: 0, starts: [] }] }, /count must be a positive/],
    [
      "starts",
      { ...merged, consumed: [{ count: 2, starts: [1] }] },
      /starts must be an array of 2/,
    ],
    [
      "skip",
      { ...merged, consumed: [{ count: 1, starts: [2], skip: [1] }] },
      /outside the prefixes/,
    ],
    ["no scope", { ...base, start: 0, consumed: [{ count: 1, starts: [1] }] }, /needs a scope/],
  ];
  for (const [name, options, message] of cases) {
    await t.step(name, () => assert.throws(() => dataset.epoch(options), message));
  }
  await t.step("a shuffled merged cursor needs its orderVersion", () => {
    const { orderVersion: _, ...old } = { ...merged, consumed: [{ count: 1, starts: [1] }] };
    assert.throws(() => dataset.epoch(old), /needs its orderVersion/);
  });
});

Deno.test("mergeCursors refuses shards given twice, and finished shards alone with shards missing", async () => {
  const cursors: EpochCursor[] = [];
  for (const index of [0, 1, 2]) {
    await using dataset = new Numbers(7);
    let read = 0;
    for await (const _ of dataset.epoch({ seed: 1, epoch: 2, shard: { index, count: 3 } })) {
      if (index !== 1 && ++read === 1) break; // shard 1 is read to its end
    }
    cursors.push(dataset.cursor!);
  }
  // Shard 1's cursor alone is the start of epoch 3, as a fresh cursor of epoch 3 would be.
  assert.throws(
    () => mergeCursors([cursors[1]!]),
    /give the cursors of every shard .*missing: shards 0, 2/,
  );
  assert.throws(
    () => mergeCursors([cursors[0]!, cursors[0]!]),
    /each shard may come once: .*shard 0 in cursor 0 and in cursor 1/,
  );
  const merged = mergeCursors(cursors);
  const rest: number[] = [];
  for (const index of [0, 1]) {
    await using dataset = new Numbers(7);
    for await (const batch of dataset.epoch({ ...merged, shard: { index, count: 2 } })) {
      rest.push(batch[0][0]!);
    }
  }
  assert.deepEqual(rest.toSorted((a, b) => a - b), [3, 5, 6]);
});
