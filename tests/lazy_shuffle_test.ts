// A shuffle of any length: version 2 of the order is a keyed bijection
// computed per position (no allocation per batch), and every cursor
// records its order's version, so that a cursor of another version is
// refused, or resumed exactly in version 1, never read in another order.

import assert from "node:assert/strict";
import { PyDataset } from "../mod.ts";
import { epochOrder, shardOrder } from "../src/epoch/_order.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { collect, MODES, within } from "./_helpers.ts";

const firsts = (batches: [Float64Array, Int32Array][]) => batches.map(([x]) => x[0]!);

/** The first `count` positions of the order `epochOrder(length, options)`. */
function head(length: number, options: Parameters<typeof epochOrder>[1], count: number): number[] {
  const order = epochOrder(length, options);
  return Array.from({ length: Math.min(count, length) }, (_, position) => order.at(position));
}

const LONG = [2 ** 33, Number.MAX_SAFE_INTEGER];

Deno.test("epochOrder shuffles 2³³ and MAX_SAFE_INTEGER batches: distinct, in range, seeded", async (t) => {
  for (const length of LONG) {
    await t.step(`${length} batches`, () => {
      for (const epoch of [0, 1, 2 ** 40 + 1]) {
        const first = head(length, { shuffle: true, seed: 11, epoch }, 1000);
        assert.equal(new Set(first).size, 1000, `distinct, epoch ${epoch}`);
        assert.ok(first.every((i) => Number.isSafeInteger(i) && i >= 0 && i < length), "in range");
        assert.ok(first.filter((i) => i < length / 2).length > 400, "spread over the range");
        assert.ok(first.filter((i) => i >= length / 2).length > 400, "spread over the range");
        assert.deepEqual(head(length, { shuffle: true, seed: 11, epoch }, 1000), first, "seeded");
        assert.notDeepEqual(head(length, { shuffle: true, seed: 12, epoch }, 1000), first);
        const ten = first.slice(0, 10);
        assert.notDeepEqual(head(length, { shuffle: true, seed: 11, epoch: epoch + 1 }, 10), ten);
        assert.notDeepEqual(head(length - 1, { shuffle: true, seed: 11, epoch }, 10), ten);
      }
      const last = epochOrder(length, { shuffle: true, seed: 11 }).at(length - 1);
      assert.ok(Number.isSafeInteger(last) && last >= 0 && last < length, "the last position");
    });
  }
});

Deno.test("epochOrder reads 2⁵³ - 1 batches in flat memory", () => {
  const length = Number.MAX_SAFE_INTEGER;
  head(length, { shuffle: true, seed: 1, epoch: 1 }, 1000); // compiled, as a run has it
  const before = Deno.memoryUsage().rss;
  const orders = [3, 4, 5].map((epoch) => epochOrder(length, { shuffle: true, seed: 2, epoch }));
  const read = orders.map((order) => Array.from({ length: 1000 }, (_, i) => order.at(i)));
  const grown = Deno.memoryUsage().rss - before;
  for (const indices of read) assert.equal(new Set(indices).size, 1000);
  // Fisher–Yates would need 32 PiB; the lazy order holds 16 round keys.
  assert.ok(grown < 16 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
});

Deno.test("epochOrder is a bijection on [0, length), checked exhaustively for small lengths", () => {
  const lengths = [...Array(301).keys()];
  for (const power of [4 ** 5, 4 ** 6, 2 ** 13]) lengths.push(power - 1, power, power + 1);
  for (const length of lengths) {
    for (const seed of [0, 7]) {
      for (const epoch of [0, 1, 6]) {
        const seen = new Uint8Array(length);
        const order = epochOrder(length, { shuffle: true, seed, epoch });
        for (let position = 0; position < length; position++) {
          const index = order.at(position);
          assert.ok(index >= 0 && index < length && seen[index] === 0, `${length}, ${seed}`);
          seen[index] = 1;
        }
      }
    }
  }
});

Deno.test("epochOrder never gives consecutive epochs the same order, at any length", async (t) => {
  for (const length of [2, 3, 4, 64, 65, 1000, ...LONG]) {
    await t.step(`${length} batches`, () => {
      for (const seed of [0, 5]) {
        let previous = head(length, { shuffle: true, seed, epoch: 0 }, 64);
        for (let epoch = 1; epoch < 40; epoch++) {
          const order = head(length, { shuffle: true, seed, epoch }, 64);
          assert.notDeepEqual(order, previous, `seed ${seed}, epoch ${epoch}`);
          if (length === 2) assert.deepEqual(order, previous.toReversed(), "alternating");
          previous = order;
        }
      }
    });
  }
});

Deno.test("shardOrder strides exactly over 2⁵³ - 1 batches, padded or not", () => {
  const length = Number.MAX_SAFE_INTEGER; // 3 × 3002399751580330 + 1
  const rows = 3002399751580330;
  const order = epochOrder(length, { shuffle: true, seed: 4, epoch: 2 });
  for (const pad of [false, true]) {
    const shards = [0, 1, 2].map((index) => shardOrder(order, { index, count: 3, pad }));
    const lengths = pad ? [rows + 1, rows + 1, rows + 1] : [rows + 1, rows, rows];
    assert.deepEqual(shards.map((shard) => shard.length), lengths);
    for (const [index, shard] of shards.entries()) {
      assert.equal(shard.at(5), order.at(15 + index));
      assert.equal(shard.at(rows - 1), order.at(length - 4 + index));
    }
    assert.equal(shards[0]!.at(rows), order.at(length - 1), "the last batch");
    if (pad) {
      assert.equal(shards[1]!.at(rows), order.at(0), "padded from the order's start");
      assert.equal(shards[2]!.at(rows), order.at(1), "padded from the order's start");
    }
  }
});

for (const mode of MODES) {
  Deno.test(`PyDataset.epoch shuffles 2⁵³ - 1 batches and resumes them from a cursor (${mode.name})`, async () => {
    const length = Number.MAX_SAFE_INTEGER;
    const order = epochOrder(length, { shuffle: true, seed: 21, epoch: 0 });
    const expected = Array.from({ length: 16 }, (_, position) => order.at(position));
    await using dataset = new Numbers(length, {}, mode.options);
    const first: number[] = [];
    for await (const [x] of dataset.epoch({ shuffle: true, seed: 21 })) {
      first.push(x[0]!);
      if (first.length === 8) break;
    }
    assert.deepEqual(first, expected.slice(0, 8));
    const cursor = JSON.parse(JSON.stringify(dataset.cursor));
    assert.deepEqual(cursor, { epoch: 0, seed: 21, shuffle: true, orderVersion: 2, start: 8 });
    await using fresh = new Numbers(length, {}, mode.options);
    const rest: number[] = [];
    for await (const [x] of fresh.epoch(cursor)) {
      rest.push(x[0]!);
      if (rest.length === 8) break;
    }
    assert.deepEqual(rest, expected.slice(8));
  });
}

class Indices extends PyDataset<number> {
  constructor(public n: number) {
    super();
  }
  get length(): number {
    return this.n;
  }
  getItem(index: number): number {
    return index;
  }
}

const PREFIX = "Cannot open an epoch of Indices as";

Deno.test("PyDataset.epoch refuses an orderVersion it does not read, naming it", async (t) => {
  const cases: [unknown, Error | RegExp][] = [
    [
      3,
      new RangeError(
        `${PREFIX} orderVersion must be 1 or 2, the versions of the shuffled order this build reads: current value is 3`,
      ),
    ],
    [0, /must be 1 or 2, the versions .+: current value is 0$/],
    [2.5, /must be 1 or 2, the versions .+: current value is 2\.5$/],
    [NaN, /must be 1 or 2, the versions .+: current value is NaN$/],
    ["2", new TypeError(`${PREFIX} orderVersion must be 1 or 2: current value is "2"`)],
    [null, new TypeError(`${PREFIX} orderVersion must be 1 or 2: current value is null`)],
  ];
  for (const [orderVersion, error] of cases) {
    await t.step(Deno.inspect(orderVersion), () => {
      const cursor = { epoch: 2, seed: 3, shuffle: true, start: 4, orderVersion };
      assert.throws(() => new Indices(10).epoch(cursor as { orderVersion: number }), error);
      const fresh = { shuffle: false, orderVersion } as { orderVersion: number };
      assert.throws(() => new Indices(10).epoch(fresh), error, "unshuffled too");
    });
  }
});

Deno.test("PyDataset.epoch refuses a shuffled resume without orderVersion, naming the versions", async () => {
  // A cursor saved before orderVersion existed: version 1, but it does not say so.
  assert.throws(
    () => new Indices(10).epoch({ epoch: 2, seed: 3, shuffle: true, start: 4 }),
    new TypeError(
      `${PREFIX} resuming a shuffled order (start 4) needs its orderVersion, 1 or 2: current value is undefined (a cursor saved before orderVersion existed resumes exactly with orderVersion: 1)`,
    ),
  );
  assert.throws(
    () => new Indices(10).epoch({ seed: 3, shuffle: true, start: 0, skip: [2, 5] }),
    /resuming a shuffled order \(start 0, skip \[2,5\]\) needs its orderVersion, 1 or 2/,
  );
  // What needs no version: a shuffled epoch from its start, and an unshuffled resume.
  const dataset = new Indices(6);
  const shuffled = await within(collect(dataset.epoch({ shuffle: true, seed: 3, epoch: 4 })));
  assert.deepEqual(shuffled, head(6, { shuffle: true, seed: 3, epoch: 4 }, 6), "version 2");
  assert.equal(dataset.cursor?.orderVersion, 2);
  assert.deepEqual(await within(collect(dataset.epoch({ start: 3 }))), [3, 4, 5]);
  assert.equal(dataset.cursor?.orderVersion, 2);
});

// Orders as the build before orderVersion shuffled them: [length, seed, epoch, order].
const VERSION_1: [number, number, number, number[]][] = [
  [10, 3, 1, [3, 7, 4, 5, 0, 2, 9, 8, 1, 6]],
  [10, 3, 2, [3, 5, 7, 9, 1, 4, 8, 0, 6, 2]],
  [12, 7, 5, [5, 8, 4, 3, 1, 9, 7, 0, 11, 10, 6, 2]],
  [3, 7, 5, [2, 1, 0]],
  [2, 1, 1, [1, 0]],
];

Deno.test("epochOrder keeps version 1, the Fisher–Yates order of earlier builds", () => {
  for (const [length, seed, epoch, order] of VERSION_1) {
    assert.deepEqual(head(length, { shuffle: true, seed, epoch, orderVersion: 1 }, length), order);
  }
  const [, , , tenOfEpoch2] = VERSION_1[1]!;
  assert.notDeepEqual(head(10, { shuffle: true, seed: 3, epoch: 2 }, 10), tenOfEpoch2, "v2");
});

for (const mode of MODES) {
  Deno.test(`PyDataset.epoch resumes a cursor saved before orderVersion exactly with orderVersion: 1 (${mode.name})`, async () => {
    await using dataset = new Numbers(10, {}, mode.options);
    const old = { epoch: 2, seed: 3, shuffle: true, start: 4 };
    const rest = firsts(await within(collect(dataset.epoch({ ...old, orderVersion: 1 }))));
    assert.deepEqual(rest, VERSION_1[1]![3].slice(4));
    const next = { epoch: 3, seed: 3, shuffle: true, orderVersion: 1, start: 0 };
    assert.deepEqual(dataset.cursor, next, "the run goes on in version 1");
    const third = firsts(await within(collect(dataset.epoch(next))));
    assert.deepEqual(third, head(10, { shuffle: true, seed: 3, epoch: 3, orderVersion: 1 }, 10));
    assert.notDeepEqual(third, VERSION_1[1]![3]);
  });
}

Deno.test("orderVersion 1 refuses 2³² batches or more, naming both versions", async () => {
  const error = new RangeError(
    `${PREFIX} orderVersion 1 (the Fisher–Yates order of cursors saved before orderVersion 2) shuffles fewer than 4294967296 batches, and version 2 any number: current length is 4294967296`,
  );
  await assert.rejects(
    collect(new Indices(2 ** 32).epoch({ shuffle: true, orderVersion: 1 })),
    error,
  );
  const old = { epoch: 0, seed: 1, shuffle: true, start: 5, orderVersion: 1 };
  await assert.rejects(collect(new Indices(2 ** 33).epoch(old)), /current length is 8589934592$/);
});

Deno.test("PyDataset.epoch reads an unshuffled order the same in every version, of any length", async () => {
  for (const orderVersion of [1, 2]) {
    const read: number[] = [];
    for await (const index of new Indices(2 ** 33).epoch({ start: 2 ** 32, orderVersion })) {
      read.push(index);
      if (read.length === 3) break;
    }
    assert.deepEqual(read, [2 ** 32, 2 ** 32 + 1, 2 ** 32 + 2]);
  }
});
