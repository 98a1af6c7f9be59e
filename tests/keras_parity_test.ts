// The behaviours Keras's own PyDataset tests check, ported.

import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { type SampleBatch, Samples } from "./fixtures/samples.ts";
import { collect, MODES, within } from "./_helpers.ts";

const featureIds = (batch: SampleBatch) => {
  const x = Array.isArray(batch) ? batch[0] : batch.x;
  return [...x].filter((_, i) => i % 4 === 0);
};

for (const mode of MODES) {
  for (const infinite of [false, true]) {
    for (const shuffle of [false, true]) {
      Deno.test(`Keras basic flow: ${mode.name}, ${infinite ? "infinite" : "finite"}, shuffle ${shuffle}`, async () => {
        await using dataset = new Samples(64, 16, infinite, false, 0, mode.options);
        const seen: number[] = [];
        for await (const batch of dataset.epoch({ shuffle, seed: 5 })) {
          const [x, y] = batch as [Float32Array, Float32Array];
          assert.equal(x.length, 16 * 4);
          assert.equal(y.length, 16);
          seen.push(...featureIds(batch));
          if (seen.length === 64) break; // an infinite dataset goes on
        }
        assert.deepEqual(seen.toSorted((a, b) => a - b), [...Array(64).keys()]);
        if (infinite || !shuffle) assert.deepEqual(seen, [...Array(64).keys()]);
      });
    }
  }
}

Deno.test("Keras: an exception in getItem is reported on the third batch", async () => {
  for (const mode of MODES) {
    await using dataset = new Numbers(6, { throwSync: [2] }, mode.options);
    const seen: number[] = [];
    await assert.rejects(
      within((async () => {
        for await (const [x] of dataset.epoch()) seen.push(x[0]!);
      })()),
      (error) => error instanceof BatchError && error.index === 2,
    );
    assert.deepEqual(seen, [0, 1]);
  }
});

Deno.test("Keras: sleeping batches are fetched by 4 workers at once", async () => {
  // Keras asserts a speed-up; here the concurrency itself is observed.
  for (const useMultiprocessing of [false, true]) {
    await using dataset = new Numbers(16, { delay: 50 }, { workers: 4, useMultiprocessing });
    await within(collect(dataset.epoch()));
    assert.equal(Atomics.load(dataset.calls, 2), 4);
  }
});

Deno.test("Keras: dict batches", async () => {
  for (const mode of MODES) {
    await using dataset = new Samples(64, 16, false, true, 0, mode.options);
    const batches = await collect(dataset.epoch());
    assert.equal(batches.length, 4);
    const first = batches[0] as { x: Float32Array; y: Float32Array; ids: Int32Array };
    assert.deepEqual(Object.keys(first), ["x", "y", "ids"]);
    assert.deepEqual([...first.ids], [...Array(16).keys()]);
    assert.equal(first.y[3], 30);
  }
});

Deno.test("Keras: batches of different shapes (a short last batch)", async () => {
  for (const mode of MODES) {
    await using dataset = new Samples(50, 16, false, false, 0, mode.options);
    const sizes = (await collect(dataset.epoch())).map((b) =>
      (b as [Float32Array, Float32Array])[1].length
    );
    assert.deepEqual(sizes, [16, 16, 16, 2]);
  }
});

Deno.test("Keras: iterating the dataset directly, finite and infinite", async () => {
  await using finite = new Samples(64, 16);
  const batches: SampleBatch[] = [];
  for await (const batch of finite) batches.push(batch);
  assert.equal(batches.length, 4);

  await using infinite = new Samples(64, 16, true);
  let count = 0;
  for await (const _ of infinite) {
    if (++count === 10) break;
  }
  assert.equal(count, 10);
});
