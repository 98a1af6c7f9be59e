import assert from "node:assert/strict";
import { BatchError, PyDataset } from "../mod.ts";
import { epochOrder } from "../src/epoch/_order.ts";
import { CountedNumbers, Numbers } from "./fixtures/numbers.ts";
import { collect, delay, MODES, within } from "./_helpers.ts";

const firsts = (batches: [Float64Array, Int32Array][]) => batches.map(([x]) => x[0]!);

Deno.test("PyDataset.epoch delivers every batch once, in index order", async () => {
  for (const mode of MODES) {
    await using dataset = new Numbers(17, { delay: { 0: 12, 4: 6, 9: 3 } }, mode.options);
    assert.deepEqual(firsts(await within(collect(dataset.epoch()))), [...Array(17).keys()]);
  }
});

Deno.test("PyDataset.epoch never serves batches of a cancelled epoch in the next one", async () => {
  for (const mode of MODES) {
    await using dataset = new Numbers(12, { delay: 2 }, { ...mode.options, maxQueueSize: 4 });
    const reader = dataset.epoch({ shuffle: true, seed: 3 }).getReader();
    await reader.read();
    await reader.read();
    await delay(20); // let prefetched batches pile up
    await within(reader.cancel());
    const next = firsts(await within(collect(dataset.epoch({ shuffle: true, seed: 3 }))));
    assert.deepEqual(next.toSorted((a, b) => a - b), [...Array(12).keys()], mode.name);
    const second = epochOrder(12, { shuffle: true, seed: 3, epoch: 1 });
    assert.deepEqual(next, Array.from({ length: 12 }, (_, i) => second.at(i)), "epoch 1's order");
  }
});

Deno.test("PyDataset.epoch shuffles with a seed: the same order in every run and mode", async () => {
  const orders: number[][][] = [];
  for (const mode of MODES) {
    await using dataset = new Numbers(20, {}, mode.options);
    const epochs = [];
    for (let e = 0; e < 3; e++) {
      epochs.push(firsts(await collect(dataset.epoch({ shuffle: true, seed: 42 }))));
    }
    orders.push(epochs);
  }
  assert.deepEqual(orders[1], orders[0]);
  assert.deepEqual(orders[2], orders[0]);
  const [first, second, third] = orders[0]!;
  assert.notDeepEqual(first, [...Array(20).keys()], "shuffled");
  assert.notDeepEqual(first, second, "consecutive epochs differ");
  assert.notDeepEqual(second, third, "consecutive epochs differ");
  for (const order of orders[0]!) {
    assert.deepEqual(order.toSorted((a, b) => a - b), [...Array(20).keys()]);
  }
  // A fresh dataset repeats the sequence of orders.
  await using again = new Numbers(20);
  assert.deepEqual(firsts(await collect(again.epoch({ shuffle: true, seed: 42 }))), first);
  // Another seed gives another order.
  await using other = new Numbers(20);
  assert.notDeepEqual(firsts(await collect(other.epoch({ shuffle: true, seed: 43 }))), first);
});

Deno.test("PyDataset.epoch shuffles without a seed, differently per epoch", async () => {
  await using dataset = new Numbers(30);
  const a = firsts(await collect(dataset.epoch({ shuffle: true })));
  const b = firsts(await collect(dataset.epoch({ shuffle: true })));
  assert.notDeepEqual(a, b);
  assert.deepEqual(a.toSorted((x, y) => x - y), [...Array(30).keys()]);
});

class Endless extends PyDataset<number> {
  get length(): number {
    return Infinity;
  }
  getItem(index: number): number {
    return index;
  }
}

Deno.test("PyDataset.epoch never shuffles an infinite dataset", async () => {
  await using dataset = new Endless({ workers: 2 });
  const seen: number[] = [];
  for await (const index of dataset.epoch({ shuffle: true, seed: 1 })) {
    seen.push(index);
    if (seen.length === 25) break;
  }
  assert.deepEqual(seen, [...Array(25).keys()]);
});

Deno.test("PyDataset iteration with for await is sequential, unshuffled and hook-free", async () => {
  await using dataset = new Numbers(5, {}, { workers: 4 });
  let hooks = 0;
  Object.assign(dataset, { onEpochBegin: () => hooks++, onEpochEnd: () => hooks++ });
  const seen: number[] = [];
  for await (const [x] of dataset) seen.push(x[0]!);
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  assert.equal(hooks, 0);
  assert.equal(Atomics.load(dataset.calls, 2), 1, "one getItem at a time");

  await using endless = new Endless();
  const first: number[] = [];
  for await (const index of endless) {
    first.push(index);
    if (first.length === 5) break;
  }
  assert.deepEqual(first, [0, 1, 2, 3, 4]);
});

/** A small seeded generator for the randomized test below. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

for (const mode of [MODES[1], MODES[2]]) {
  Deno.test(`PyDataset.epoch stays exact and never hangs under random timing (${mode.name}, seeded)`, async () => {
    const next = random(mode.options.workers * 7919);
    const pick = (n: number) => Math.floor(next() * n);
    // One dataset for all runs, so that worker mode reuses its workers.
    await using dataset = new CountedNumbers(0, {}, {
      useMultiprocessing: "useMultiprocessing" in mode.options,
      workers: 4,
    });
    const runs = "useMultiprocessing" in mode.options ? 25 : 80;
    for (let run = 0; run < runs; run++) {
      const n = pick(14);
      const maxQueueSize = 1 + pick(5);
      const delayOf: Record<number, number> = {};
      for (let i = 0; i < n; i++) delayOf[i] = pick(4);
      const failing = next() < 0.3 && n > 0 ? [pick(n), pick(n)] : [];
      const cancelAfter = next() < 0.3 ? pick(n + 1) : Infinity;
      const shuffle = next() < 0.5;
      const readerPause = pick(3);
      dataset.n = n;
      dataset.plan = { delay: delayOf, throwAsync: failing };
      const callsBefore = Atomics.load(dataset.calls, 0);
      const { begins, ends } = dataset;
      const epoch = dataset.begins; // epochs opened so far: the shuffle's epoch number
      const drawn = epochOrder(n, { shuffle, seed: run, epoch });
      const order = Array.from({ length: n }, (_, i) => drawn.at(i));
      const firstFailure = order.findIndex((index) => failing.includes(index));
      const seen: number[] = [];
      let error: unknown;
      let fetchedAhead = 0;
      const read = async () => {
        const reader = dataset.epoch({ shuffle, seed: run }).getReader();
        try {
          while (true) {
            if (seen.length === cancelAfter) {
              await reader.cancel();
              return;
            }
            const { done, value } = await reader.read();
            if (done) return;
            seen.push(value[0][0]!);
            fetchedAhead = Math.max(
              fetchedAhead,
              Atomics.load(dataset.calls, 0) - callsBefore - seen.length,
            );
            if (readerPause) await delay(readerPause);
          }
        } catch (e) {
          error = e;
        }
      };
      const label = JSON.stringify({ run, n, maxQueueSize, failing, cancelAfter, shuffle });
      await within(read(), 10_000, label);
      const stop = Math.min(cancelAfter, firstFailure === -1 ? n : firstFailure);
      assert.deepEqual(seen, order.slice(0, stop), label);
      if (firstFailure !== -1 && cancelAfter > firstFailure) {
        assert.ok(error instanceof BatchError, label);
        assert.equal(error.index, order[firstFailure], label);
      } else {
        assert.equal(error, undefined, label);
      }
      assert.equal(dataset.begins, begins + 1, label);
      assert.equal(dataset.ends, ends + 1, label);
      assert.ok(fetchedAhead <= dataset.maxQueueSize + dataset.workers, label);
    }
  });
}

Deno.test("PyDataset.epoch never repeats the previous epoch's shuffled order", async () => {
  for (const length of [2, 3, 4]) {
    for (const seed of [7, 42, 0]) {
      await using dataset = new Numbers(length);
      let previous: number[] | undefined;
      for (let epoch = 0; epoch < 12; epoch++) {
        const order = firsts(await collect(dataset.epoch({ shuffle: true, seed })));
        assert.deepEqual(order.toSorted((a, b) => a - b), [...Array(length).keys()]);
        if (previous) {
          assert.notDeepEqual(order, previous, `length ${length}, seed ${seed}, epoch ${epoch}`);
        }
        previous = order;
      }
    }
  }
});

Deno.test("PyDataset.epoch reproduces an epoch's order from its number, in any instance", async () => {
  await using first = new Numbers(9);
  const orders = [];
  for (let e = 0; e < 4; e++) {
    orders.push(firsts(await collect(first.epoch({ shuffle: true, seed: 5 }))));
  }
  await using other = new Numbers(9, {}, { workers: 2, useMultiprocessing: true });
  assert.deepEqual(
    firsts(await collect(other.epoch({ shuffle: true, seed: 5, epoch: 2 }))),
    orders[2],
  );
  // The count goes on from the number given.
  assert.deepEqual(firsts(await collect(other.epoch({ shuffle: true, seed: 5 }))), orders[3]);
});

Deno.test("PyDataset.epoch shards cover every batch of an epoch exactly once", async () => {
  for (const length of [0, 1, 5, 12, 13]) {
    for (const count of [1, 2, 3, 4]) {
      const shards: number[][] = [];
      for (let index = 0; index < count; index++) {
        // One dataset per trainer, as on separate machines.
        await using dataset = new Numbers(length);
        shards.push(
          firsts(
            await collect(
              dataset.epoch({ shuffle: true, seed: 8, epoch: 3, shard: { index, count } }),
            ),
          ),
        );
      }
      const all = shards.flat();
      assert.deepEqual(
        all.toSorted((a, b) => a - b),
        [...Array(length).keys()],
        `${length} in ${count}`,
      );
      const sizes = shards.map((shard) => shard.length);
      assert.ok(
        Math.max(...sizes) - Math.min(...sizes) <= 1,
        "no padding, sizes differ by one at most",
      );
      // Strided over the epoch's order: shard i holds positions i, i + count, ...
      const order = epochOrder(length, { shuffle: true, seed: 8, epoch: 3 });
      assert.deepEqual(shards[0], Array.from({ length: sizes[0]! }, (_, k) => order.at(k * count)));
    }
  }
});

Deno.test("epochOrder never gives consecutive epoch numbers the same order", () => {
  for (const length of [2, 3, 4, 5]) {
    for (const seed of [0, 7, 42, 1234]) {
      let previous: number[] | undefined;
      for (let epoch = 0; epoch < 30; epoch++) {
        const order = epochOrder(length, { shuffle: true, seed, epoch });
        const indices = Array.from({ length }, (_, i) => order.at(i));
        assert.deepEqual(indices.toSorted((a, b) => a - b), [...Array(length).keys()]);
        if (previous) {
          assert.notDeepEqual(indices, previous, `length ${length}, seed ${seed}, epoch ${epoch}`);
        }
        previous = indices;
      }
    }
  }
});

Deno.test("PyDataset.epoch pads shards to equal length when asked, as DistributedSampler", async () => {
  for (const length of [1, 5, 12, 13]) {
    for (const count of [2, 3, 4]) {
      const options = { shuffle: true, seed: 8, epoch: 1 };
      const shards: number[][] = [];
      for (let index = 0; index < count; index++) {
        await using dataset = new Numbers(length);
        const shard = { index, count, pad: true };
        shards.push(firsts(await collect(dataset.epoch({ ...options, shard }))));
      }
      const each = Math.ceil(length / count);
      assert.ok(shards.every((shard) => shard.length === each), `${length} in ${count}`);
      // The order extended by its own start, then strided.
      const order = epochOrder(length, options);
      const padded = Array.from({ length: each * count }, (_, k) => order.at(k % length));
      shards.forEach((shard, index) => {
        assert.deepEqual(shard, padded.filter((_, k) => k % count === index));
      });
      assert.deepEqual(new Set(shards.flat()).size, length, "every batch at least once");
    }
  }
});

Deno.test("PyDataset.epoch rejects a bad shard.pad", () => {
  assert.throws(
    () => new Numbers(3).epoch({ shard: { index: 0, count: 2, pad: 1 as unknown as boolean } }),
    new TypeError(
      "Cannot open an epoch of Numbers as shard.pad must be a boolean: current value is 1",
    ),
  );
});
