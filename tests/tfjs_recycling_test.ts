// toTfDataset recycles a PyDataset's batches by itself, and safely: a
// tensor it handed out never changes, on a backend that copies (wasm) or
// one that keeps the typed arrays (cpu), also when a caller keeps tensors
// (and reshapes, clones, casts of them) across batches.

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { toTfDataset } from "../tfjs.ts";
import { useBackend } from "../examples/_training.ts";
import { Recycled, type RecycledBatch } from "./fixtures/recycled.ts";

const BACKENDS = ["cpu", "wasm"] as const;
const MODES = [
  { name: "main thread", options: { workers: 2 } },
  { name: "workers", options: { workers: 2, useMultiprocessing: true } },
] as const;

/** The fixture's [x, y] as the element; its third part is not trained on. */
const toTensors = ([x, y]: RecycledBatch) => ({ xs: x, ys: y });

interface Kept {
  tensor: tf.Tensor;
  values: tf.TypedArray;
  batch: number;
}

for (const backend of BACKENDS) {
  for (const { name, options } of MODES) {
    Deno.test(`toTfDataset's tensors never change once handed out, kept 20 batches (${backend}, ${name})`, async () => {
      await useBackend(backend);
      const before = tf.memory().numTensors;
      const n = 60;
      await using dataset = new Recycled(n, 32, "allocate", { ...options, maxQueueSize: 3 });
      await using data = toTfDataset(dataset, { toTensors });
      const iterator = await data.iterator();
      const kept: Kept[] = [];
      const check = ({ tensor, values, batch }: Kept) =>
        assert.deepEqual(tensor.dataSync(), values, `a tensor of batch ${batch} changed`);
      for (let batch = 0; batch < n; batch++) {
        const { value } = await iterator.next();
        const { xs, ys } = value as { xs: tf.Tensor; ys: tf.Tensor };
        // What a caller might keep: a reshape, a clone, a same-dtype cast
        // (all share the data id on cpu), a slice or one of an unstack
        // (views of the values on cpu, under new data ids), or the tensor.
        const keep = [
          () => xs.reshape([-1]),
          () => tf.clone(ys),
          () => xs.cast("float32"),
          () => xs.slice([1, 0], [2, 2]),
          () => {
            const rows = tf.unstack(xs);
            tf.dispose(rows.slice(1));
            return rows[0]!;
          },
          () => ys,
        ][batch % 6]!();
        kept.push({ tensor: keep, values: keep.dataSync().slice(), batch });
        if (keep !== ys) tf.dispose([xs, ys]);
        else xs.dispose();
        for (const entry of kept) check(entry);
        if (kept.length > 20) kept.shift()!.tensor.dispose();
      }
      assert.equal((await iterator.next()).done, true);
      for (const entry of kept.splice(0)) {
        check(entry);
        entry.tensor.dispose();
      }
      // Recycling did happen: batches came back once nothing held them.
      assert.ok(dataset.stats!.recycled > 0, `recycled ${dataset.stats!.recycled}`);
      assert.equal(tf.memory().numTensors, before, "no tensor leaked");
    });
  }

  Deno.test(`fitDataset recycles the batches it trained on (${backend})`, async () => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    await using dataset = new Recycled(30, 16, "allocate", { workers: 2, maxQueueSize: 2 });
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [2], units: 1 })],
    });
    model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
    const data = toTfDataset(dataset, {
      toTensors: ([x, y]) => ({ xs: x, ys: { data: Float32Array.from(y), shape: [y.length, 1] } }),
    });
    await model.fitDataset(data, { epochs: 2, verbose: 0 });
    const { allocations, recycled } = dataset.stats!;
    assert.equal(allocations, 60);
    // All but the first few: the queue, the fetchers and the step's batch.
    assert.ok(recycled >= allocations - 2 * (2 + 2 + 2), `${recycled} of ${allocations}`);
    model.dispose();
    await data[Symbol.asyncDispose]();
    assert.equal(tf.memory().numTensors, before, "no tensor leaked");
  });
}

Deno.test("toTfDataset's batches survive tf.data's map and batch over slices (cpu)", async () => {
  await useBackend("cpu");
  const before = tf.memory().numTensors;
  await using dataset = new Recycled(24, 8, "allocate", { workers: 2, maxQueueSize: 2 });
  // map disposes its input, so the slices outlive the element they view.
  const data = toTfDataset(dataset, { toTensors }).map((element) => {
    const { xs, ys } = element as { xs: tf.Tensor; ys: tf.Tensor };
    return { xs: xs.slice([0, 0], [4, 2]), ys: ys.slice([0], [4]) };
  }).batch(3);
  const seen: number[][] = [];
  await data.forEachAsync((element) => {
    const { ys } = element as { ys: tf.Tensor };
    seen.push([...ys.dataSync()].filter((_, i) => i % 4 === 0));
    tf.dispose(element as unknown as tf.Tensor[]);
  });
  // Batch i's y is filled with i + 1: every slice still read its own batch.
  assert.deepEqual(seen.flat(), Array.from({ length: 24 }, (_, i) => i + 1));
  assert.equal(tf.memory().numTensors, before, "no tensor leaked");
});

Deno.test("toTfDataset leaves batches that getItem did not allocate alone", async () => {
  await useBackend("cpu");
  await using dataset = new Recycled(6, 16, "cached", { workers: 1 });
  const data = toTfDataset(dataset, { toTensors });
  const elements = await (await data.iterator()).next();
  const { xs, ys } = elements.value as { xs: tf.Tensor; ys: tf.Tensor };
  assert.deepEqual([...xs.dataSync().slice(0, 2)], [7, 7]);
  tf.dispose([xs, ys]);
  await data[Symbol.asyncDispose]();
  assert.equal(dataset.stats!.recycled, 0);
});
