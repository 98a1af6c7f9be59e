// info.batchSeed: one seed per batch of an epoch, whatever fetches it; and
// the { epoch, seed } the epoch hooks get.

import assert from "node:assert/strict";
import { collect, within } from "./_helpers.ts";
import { BatchSeeds } from "./fixtures/batch_seeds.ts";

/** Batch index → batchSeed, from the batches read. */
function seedsOf(batches: Float64Array[]): Map<number, number> {
  return new Map(batches.map((batch) => [batch[0]!, batch[1]!]));
}

async function read(
  workers: number,
  useMultiprocessing: boolean,
  options: Parameters<BatchSeeds["epoch"]>[0],
): Promise<Float64Array[]> {
  await using dataset = new BatchSeeds(12, { workers, useMultiprocessing });
  return await within(collect(dataset.epoch(options)));
}

Deno.test("info.batchSeed is the same for a batch with 1, 2 or 4 workers, in both modes", async () => {
  const options = { shuffle: true, seed: 11, epoch: 2 };
  const reference = seedsOf(await read(1, false, options));
  assert.equal(reference.size, 12);
  assert.equal(new Set(reference.values()).size, 12, "batches get different seeds");
  for (const useMultiprocessing of [false, true]) {
    for (const workers of [1, 2, 4]) {
      const batches = await read(workers, useMultiprocessing, options);
      assert.deepEqual(seedsOf(batches), reference, `${workers} workers, ${useMultiprocessing}`);
      if (workers > 1) {
        const fetcherSeeds = new Set(batches.map((batch) => batch[2]));
        assert.ok(fetcherSeeds.size > 1, "info.seed still differs between fetchers");
      }
    }
  }
});

Deno.test("info.batchSeed is the same for a batch in a shard, after a resume, and from getBatch", async () => {
  const options = { shuffle: true, seed: 11, epoch: 2 };
  const reference = seedsOf(await read(1, false, options));
  for (const index of [0, 1, 2]) {
    const shard = { index, count: 3 };
    for (const [batch, seed] of seedsOf(await read(2, false, { ...options, shard }))) {
      assert.equal(seed, reference.get(batch), `batch ${batch} in shard ${index}`);
    }
  }
  for (
    const [batch, seed] of seedsOf(await read(3, true, { ...options, start: 7, orderVersion: 2 }))
  ) {
    assert.equal(seed, reference.get(batch), `batch ${batch} after a resume`);
  }
  await using dataset = new BatchSeeds(12, { workers: 2 });
  const single = await within(dataset.getBatch(5, { epoch: 2, seed: 11 }));
  assert.equal(single[1], reference.get(5));
});

Deno.test("info.batchSeed differs between epochs and between seeds", async () => {
  const base = seedsOf(await read(2, false, { seed: 11, epoch: 2 }));
  const nextEpoch = seedsOf(await read(2, false, { seed: 11, epoch: 3 }));
  const otherSeed = seedsOf(await read(2, false, { seed: 12, epoch: 2 }));
  for (let index = 0; index < 12; index++) {
    assert.notEqual(nextEpoch.get(index), base.get(index), `batch ${index}, next epoch`);
    assert.notEqual(otherSeed.get(index), base.get(index), `batch ${index}, other seed`);
  }
});

Deno.test("onEpochBegin and onEpochEnd get the epoch's number and seed", async () => {
  await using dataset = new BatchSeeds(3);
  await within(collect(dataset.epoch({ epoch: 4, seed: 9 })));
  await within(collect(dataset.epoch({ seed: 9 })));
  assert.deepEqual(dataset.began, [{ epoch: 4, seed: 9 }, { epoch: 5, seed: 9 }]);
  assert.deepEqual(dataset.ended, dataset.began);
  await within(collect(dataset.epoch()));
  const drawn = dataset.began[2]!;
  assert.equal(drawn.epoch, 6);
  assert.ok(Number.isSafeInteger(drawn.seed), "the dataset's own seed when none is given");
  assert.equal(dataset.cursor!.seed, drawn.seed);
});
