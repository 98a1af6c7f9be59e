// What a newcomer to the tfjs adapter trips on: Int32Array class labels with
// a sparse loss, a function source that needs the epoch number, an empty
// dataset, a batch that cannot become tensors, and fitDataset's
// batchesPerEpoch, which reads one iterator across trained epochs.

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { type NDArray, ndarray, PyDataset } from "../mod.ts";
import { batchToTensors, toTfDataset } from "../tfjs.ts";

/** Batch i: 8 points of 2 features, labelled with one of 3 classes by the larger feature. */
class ThreeClasses extends PyDataset {
  constructor(public batches: number, public broken = -1) {
    super();
  }

  get length(): number {
    return this.batches;
  }

  getItem(index: number) {
    if (index === this.broken) return [ndarray(new Float32Array(16), [8, 2])]; // no ys
    const x = Float32Array.from({ length: 16 }, (_, i) => ((index * 16 + i) * 7919 % 100) / 100);
    const labels = Int32Array.from({ length: 8 }, (_, i) => {
      const [a, b] = [x[2 * i]!, x[2 * i + 1]!];
      return a > b + 0.2 ? 2 : b > a + 0.2 ? 1 : 0;
    });
    return [ndarray(x, [8, 2]), labels];
  }
}

function sparseModel(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [2],
        units: 3,
        activation: "softmax",
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      }),
    ],
  });
  model.compile({
    optimizer: tf.train.adam(0.05),
    loss: "sparseCategoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return model;
}

Deno.test("toTfDataset trains a sparse-loss model from Int32Array labels", async () => {
  await using data = new ThreeClasses(4);
  const model = sparseModel();
  const history = await model.fitDataset(toTfDataset(data), { epochs: 2, verbose: 0 });
  const losses = history.history.loss as number[];
  assert.equal(losses.length, 2);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  model.dispose();
});

Deno.test("batchToTensors makes integer ys float32 labels, unless labels is keep", () => {
  const x = ndarray(new Float32Array(4), [2, 2]);
  for (const labels of [Int32Array.of(0, 2), Uint8Array.of(1, 0), Int16Array.of(-3, 7)]) {
    const { xs, ys } = batchToTensors([x, labels]);
    assert.equal((ys as tf.Tensor).dtype, "float32", labels.constructor.name);
    assert.deepEqual([...(ys as tf.Tensor).dataSync()], [...labels]);
    tf.dispose([xs as tf.Tensor, ys as tf.Tensor]);
  }
  const kept = batchToTensors([x, Int32Array.of(0, 2)], { labels: "keep" });
  assert.equal((kept.ys as tf.Tensor).dtype, "int32");
  tf.dispose([kept.xs as tf.Tensor, kept.ys as tf.Tensor]);
  // xs are not labels: they keep their documented dtype.
  const ints = batchToTensors([Int32Array.of(1, 2), Float32Array.of(0, 1)]);
  assert.equal((ints.xs as tf.Tensor).dtype, "int32");
  tf.dispose([ints.xs as tf.Tensor, ints.ys as tf.Tensor]);
});

Deno.test("batchToTensors refuses labels that float32 cannot hold exactly, naming the part", () => {
  const before = tf.memory().numTensors;
  assert.throws(
    () => batchToTensors({ xs: new Float32Array(2), ys: { id: Int32Array.of(1, 16_777_217) } }),
    {
      name: "RangeError",
      message:
        /Cannot convert ys\.id to float32 labels as its value 16777217 at 1 is beyond ±16777216.*labels: "keep"/,
    },
  );
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("toTfDataset rejects a labels option it does not know, naming it", () => {
  assert.throws(() => toTfDataset(new ThreeClasses(1), { labels: "int32" as "keep" }), {
    name: "TypeError",
    message: /labels must be "float32" or "keep": current value is "int32"/,
  });
});

Deno.test("toTfDataset gives a function source the epoch number of each pass", async () => {
  await using data = new ThreeClasses(2);
  const epochs: number[] = [];
  const dataset = toTfDataset(({ epoch }) => {
    epochs.push(epoch);
    return data.epoch();
  });
  const model = sparseModel();
  await model.fitDataset(dataset, { epochs: 3, verbose: 0 });
  assert.deepEqual(epochs, [0, 1, 2]);
  model.dispose();
});

Deno.test("toTfDataset fails fitDataset on an empty PyDataset, as Keras does", async () => {
  await using empty = new ThreeClasses(0);
  const model = sparseModel();
  await assert.rejects(model.fitDataset(toTfDataset(empty), { epochs: 1, verbose: 0 }), {
    name: "RangeError",
    message: /Cannot train on ThreeClasses as its length is 0/,
  });
  model.dispose();
});

Deno.test("toTfDataset names the batch that cannot become tensors", async () => {
  await using data = new ThreeClasses(4, 2);
  const model = sparseModel();
  await assert.rejects(model.fitDataset(toTfDataset(data), { epochs: 1, verbose: 0 }), {
    name: "TypeError",
    message: /neither \[x, y\] nor \{ xs, ys \}.* \(batch 2\)$/,
  });
  // Shuffled, its index is not known here: its place in the pass is.
  await assert.rejects(
    model.fitDataset(toTfDataset(data, { shuffle: true, seed: 1 }), { epochs: 1, verbose: 0 }),
    { message: /\(the batch at position \d of the pass\)$/ },
  );
  model.dispose();
});

/** Batch i holds the number of epochs that had ended when it was fetched. */
class Versioned extends PyDataset<[NDArray, Float32Array]> {
  ended = 0;

  get length(): number {
    return 3;
  }

  getItem(): [NDArray, Float32Array] {
    return [ndarray(Float32Array.of(this.ended), [1, 1]), Float32Array.of(0)];
  }

  onEpochEnd(): void {
    this.ended++;
  }
}

Deno.test("toTfDataset with batchesPerEpoch runs the hooks per PyDataset epoch, never serving a batch across one", async () => {
  // fitDataset reads one iterator across trained epochs; .repeat() opens a
  // pass (a PyDataset epoch) after each: 3 trained epochs of 2 batches read 2 passes.
  await using data = new Versioned({ maxQueueSize: 4 });
  const seen: number[] = [];
  const dataset = toTfDataset(data, {
    toTensors: ([x, y]) => {
      seen.push(x.data[0]!);
      return { xs: x, ys: y };
    },
  }).repeat();
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 1 })] });
  model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
  await model.fitDataset(dataset, { epochs: 3, batchesPerEpoch: 2, verbose: 0 });
  assert.deepEqual(seen, [0, 0, 0, 1, 1, 1]);
  model.dispose();
});
