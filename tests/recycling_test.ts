// Buffers that come back: info.allocate and dataset.release, on the main
// thread and in workers.

import assert from "node:assert/strict";
import { BatchError, type BatchInfo, PyDataset } from "../mod.ts";
import { Recycled, type RecycledBatch } from "./fixtures/recycled.ts";

const MODES = [
  { name: "main thread", options: { workers: 2 } },
  { name: "workers", options: { workers: 2, useMultiprocessing: true } },
] as const;

/** Reads an epoch, copying each batch's arrays, and releasing each batch when `release`. */
async function read(
  dataset: Recycled,
  options: Parameters<Recycled["epoch"]>[0],
  release: boolean,
): Promise<{ x: Float32Array; y: Int32Array; before: Float64Array }[]> {
  const batches = [];
  for await (const batch of dataset.epoch(options)) {
    const [x, y, before] = batch;
    batches.push({ x: x.data.slice(), y: y.slice(), before: before.slice() });
    if (release) assert.equal(dataset.release(batch), 2);
  }
  return batches;
}

const TYPES = [
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
] as const;

/** Batch i is one array of each type, of length i + 1, from allocate. */
export class EveryType extends PyDataset<unknown[]> {
  constructor(options = {}) {
    super({ ...options, module: import.meta.url });
  }
  get length(): number {
    return 3;
  }
  getItem(index: number, info: BatchInfo): unknown[] {
    return TYPES.map((type) => info.allocate(type as typeof Float32Array, index + 1));
  }
}

for (const { name, options } of MODES) {
  Deno.test(`allocate returns arrays of the asked type and length (${name})`, async () => {
    await using dataset = new EveryType(options);
    let index = 0;
    for await (const batch of dataset.epoch()) {
      assert.equal(batch.length, TYPES.length);
      for (const [i, type] of TYPES.entries()) {
        assert.ok(batch[i] instanceof type, `part ${i} is a ${type.name}`);
        assert.equal((batch[i] as Float32Array).length, index + 1);
      }
      index++;
    }
    assert.equal(dataset.stats!.allocations, 3 * TYPES.length);
    assert.equal(dataset.stats!.recycled, 0);
  });

  Deno.test(`allocate refuses a bad type or length, naming it (${name})`, async () => {
    for (
      const [use, pattern] of [
        [
          "bad-type",
          /its type must be one of Float32Array, .*Uint32Array.*: current value is Array/,
        ],
        ["bad-length", /Float32Array as its length must be a non-negative integer.*64\.5/],
        ["huge-length", /Cannot allocate a Float64Array of 4503599627370496 elements/],
      ] as const
    ) {
      await using dataset = new Recycled(2, 64, use, options);
      const error = await dataset.getBatch(0).catch((error) => error);
      assert.ok(error instanceof BatchError, String(error));
      assert.match(error.message, /Cannot get batch 0 of Recycled/);
      assert.match(error.message, pattern);
    }
  });

  Deno.test(`released buffers make later batches (${name})`, async () => {
    const n = 40;
    await using dataset = new Recycled(n, 64, "allocate", { ...options, maxQueueSize: 4 });
    const batches = await read(dataset, {}, true);
    const { allocations, recycled } = dataset.stats!;
    assert.equal(allocations, 2 * n);
    // Only the batches made before the reader released its first are new:
    // at most the queue, the workers' running and lined-up batches, and
    // the one the reader holds.
    assert.ok(recycled >= allocations - 2 * (4 + 2 * 2 + 1), `${recycled} of ${allocations}`);
    // A recycled array holds what a released batch left in it (not zeroed):
    // the same memory came back.
    const made = new Set(batches.map(({ x, y }) => `${x[0]},${y[0]}`));
    const reused = batches.filter(({ before }) => before[0] !== 0);
    assert.ok(reused.length >= n - (4 + 2 * 2 + 1), `${reused.length} batches reused memory`);
    for (const { before } of reused) assert.ok(made.has(`${before[0]},${before[1]}`));
  });

  Deno.test(`a released array is detached and left for good (${name})`, async () => {
    await using dataset = new Recycled(4, 64, "allocate", options);
    const batch = await dataset.getBatch(1);
    const [x, y] = batch;
    assert.equal(x.data.length, 128);
    assert.equal(dataset.release(batch), 2);
    assert.equal((x.data.buffer as ArrayBuffer).detached, true);
    assert.equal((y.buffer as ArrayBuffer).detached, true);
    assert.equal(x.data.length, 0);
    assert.throws(() => y.fill(1), TypeError);
    // Released already: nothing left to hand back.
    assert.equal(dataset.release(batch), 0);
  });

  Deno.test(`release leaves alone what allocate did not make (${name})`, async () => {
    await using dataset = new Recycled(4, 64, "cached", options);
    const batch = await dataset.getBatch(2);
    const own = new Float32Array(16);
    assert.equal(dataset.release(batch), 0);
    assert.equal(dataset.release([own, { own }]), 0);
    assert.equal(batch[0].data.length, 128);
    assert.equal(batch[0].data[0], 7);
    assert.equal(own.length, 16);
    assert.throws(
      () => dataset.release(undefined as never),
      /Cannot release a batch of Recycled.*undefined/,
    );
  });

  Deno.test(`the pools stay within maxQueueSize + workers batches (${name})`, async () => {
    const n = 40;
    await using dataset = new Recycled(n, 64, "allocate", { ...options, maxQueueSize: 4 });
    const kept: RecycledBatch[] = [];
    for await (const batch of dataset.epoch()) kept.push(batch);
    // The reader hands back far more than the next epoch's first batches use.
    let released = 0;
    for (const batch of kept) released += dataset.release(batch);
    assert.equal(released, 2 * n);
    await read(dataset, {}, false);
    // The pools kept (4 + 2) batches' worth: exactly that many came back.
    assert.equal(dataset.stats!.recycled, 2 * (4 + 2));
  });

  Deno.test(`the pools let the oldest buffers go, so sizes no batch asks for leave (${name})`, async () => {
    await using dataset = new Recycled(20, 64, "allocate", { ...options, maxQueueSize: 4 });
    await read(dataset, {}, true);
    dataset.size = 128; // every buffer pooled so far is now the wrong size
    const kept: RecycledBatch[] = [];
    for await (const batch of dataset.epoch()) kept.push(batch);
    for (const batch of kept) dataset.release(batch);
    await read(dataset, {}, false);
    // The pools hold (4 + 2) batches of the new size: the old ones left.
    assert.equal(dataset.stats!.recycled, 2 * (4 + 2));
  });

  Deno.test(`recycled batches are bit-identical to fresh ones, shuffled, over epochs (${name})`, async () => {
    await using recycling = new Recycled(30, 200, "allocate", { ...options, maxQueueSize: 3 });
    await using fresh = new Recycled(30, 200, "allocate", { ...options, maxQueueSize: 3 });
    for (let epoch = 0; epoch < 3; epoch++) {
      const order = { shuffle: true, seed: 11, epoch };
      const a = await read(recycling, order, true);
      const b = await read(fresh, order, false);
      assert.ok(recycling.stats!.recycled > 30, `epoch ${epoch}: ${recycling.stats!.recycled}`);
      assert.equal(fresh.stats!.recycled, 0);
      assert.deepEqual(a.map(({ x, y }) => [x, y]), b.map(({ x, y }) => [x, y]));
    }
  });
}

Deno.test("an epoch's stats count only its own allocate calls", async () => {
  await using dataset = new Recycled(4, 16, "allocate", { workers: 2 });
  const reader = dataset.epoch().getReader();
  await reader.read();
  // Batches read outside the epoch meanwhile, on this thread, one at a time.
  for await (const batch of dataset) dataset.release(batch);
  while (!(await reader.read()).done);
  assert.equal(dataset.stats!.allocations, 2 * 4);
  await dataset.getBatch(1); // after the epoch: not its
  assert.equal(dataset.stats!.allocations, 2 * 4);
});

/** Keeps its allocated arrays in a field, as the rules forbid: released, they are detached. */
class Keeping extends PyDataset<Float32Array> {
  kept: Float32Array[] = [];
  get length(): number {
    return 2;
  }
  getItem(index: number, info: BatchInfo): Float32Array {
    return this.kept[index] ??= info.allocate(Float32Array, 8).fill(index);
  }
}

Deno.test("a batch that holds a released array fails, naming why, never reads as empty", async () => {
  await using dataset = new Keeping();
  for await (const batch of dataset.epoch()) dataset.release(batch);
  const error = await dataset.getBatch(0).catch((error) => error);
  assert.ok(error instanceof BatchError, String(error));
  assert.match(
    error.message,
    /Cannot get batch 0 of Keeping: .*detached ArrayBuffer.*info\.allocate/,
  );
});

Deno.test("a closed dataset drops its pools", async () => {
  const dataset = new Recycled(10, 64, "allocate", { workers: 1 });
  for await (const batch of dataset.epoch()) dataset.release(batch);
  assert.ok(dataset.stats!.recycled > 0);
  await dataset.close();
  await read(dataset, {}, false);
  assert.equal(dataset.stats!.recycled, 0);
  await dataset.close();
});
