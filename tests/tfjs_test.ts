import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { BatchError, ndarray } from "../mod.ts";
import { batchToTensors, toTfDataset } from "../tfjs.ts";
import { Blobs } from "./fixtures/blobs.ts";
import { tinyModel } from "./fixtures/tiny_model.ts";
import { within } from "./_helpers.ts";

const MODES = [
  { name: "main thread", options: { workers: 2 } },
  { name: "workers", options: { workers: 2, useMultiprocessing: true } },
] as const;

Deno.test("batchToTensors converts [x, y] and { xs, ys } batches with the documented dtypes", () => {
  const before = tf.memory().numTensors;
  const cases: [unknown, string][] = [
    [new Float32Array(2), "float32"],
    [new Float64Array(2), "float32"],
    [new Float16Array(2), "float32"],
    [new Int32Array(2), "int32"],
    [new Int16Array(2), "int32"],
    [new Int8Array(2), "int32"],
    [new Uint16Array(2), "int32"],
    [new Uint32Array(2), "int32"],
    [new Uint8Array(2), "int32"],
    [new Uint8ClampedArray(2), "int32"],
  ];
  for (const [data, dtype] of cases) {
    const { xs, ys } = batchToTensors([ndarray(data as Float32Array, [2, 1]), data]);
    assert.equal((xs as tf.Tensor).dtype, dtype, data!.constructor.name);
    assert.deepEqual((xs as tf.Tensor).shape, [2, 1]);
    assert.deepEqual((ys as tf.Tensor).shape, [2]);
    tf.dispose([xs as tf.Tensor, ys as tf.Tensor]);
  }
  const images = batchToTensors({ xs: Uint8Array.of(0, 255), ys: Float32Array.of(1, 0) }, {
    uint8: "float32",
  });
  assert.equal((images.xs as tf.Tensor).dtype, "float32");
  assert.deepEqual((images.xs as tf.Tensor).dataSync(), Float32Array.of(0, 255));
  tf.dispose([images.xs as tf.Tensor, images.ys as tf.Tensor]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("batchToTensors converts arrays and records of parts for multi-input models", () => {
  const own = tf.ones([3, 1]);
  const { xs, ys } = batchToTensors({
    xs: { image: ndarray(new Float32Array(12), [3, 2, 2]), meta: Int32Array.of(1, 2, 3) },
    ys: [ndarray(new Float32Array(3), [3, 1]), own],
  });
  const inputs = xs as Record<string, tf.Tensor>;
  const outputs = ys as tf.Tensor[];
  assert.deepEqual(Object.keys(inputs), ["image", "meta"]);
  assert.deepEqual(inputs.image!.shape, [3, 2, 2]);
  assert.equal(outputs[1], own, "a tensor in the batch is used as it is");
  tf.dispose([inputs.image!, inputs.meta!, ...outputs]);
});

Deno.test("batchToTensors names the part that is wrong, and leaks nothing", async (t) => {
  const before = tf.memory().numTensors;
  const cases: [string, unknown, ErrorConstructor, RegExp][] = [
    [
      "batch sizes",
      [ndarray(new Float32Array(6), [3, 2]), Float32Array.of(1, 2)],
      TypeError,
      /parts disagree on the batch size: xs has 3, ys has 2/,
    ],
    [
      "data does not fill its shape",
      { xs: { data: new Float32Array(5), shape: [2, 3] }, ys: Float32Array.of(1, 2) },
      TypeError,
      /Cannot convert xs to a tensor as its shape \[2, 3\] needs 6 values, but data has 5/,
    ],
    [
      "nested part",
      {
        xs: [Float32Array.of(1), { data: new Float32Array(3), shape: [2] }],
        ys: Float32Array.of(1),
      },
      TypeError,
      /Cannot convert xs\[1\] to a tensor as its shape \[2\] needs 2 values, but data has 3/,
    ],
    [
      "record part",
      { xs: { a: "text" }, ys: Float32Array.of(1) },
      TypeError,
      /Cannot convert xs\.a to a tensor as it is not an NDArray, a typed array or a tensor/,
    ],
    [
      "layout",
      [1, 2, 3],
      TypeError,
      /neither \[x, y\] nor \{ xs, ys \}: current value is an array of 3 \(map other layouts with the toTensors option\)/,
    ],
    [
      "no batch dimension",
      [{ data: Float32Array.of(1), shape: [] }, Float32Array.of(1)],
      TypeError,
      /xs to a tensor of a batch as it has no batch dimension/,
    ],
    [
      "uint32 overflow",
      [Uint32Array.of(1, 4_000_000_000), Float32Array.of(1, 2)],
      RangeError,
      /xs to an int32 tensor as its value 4000000000 at 1 is above 2147483647/,
    ],
  ];
  await t.step("tensors handed in are disposed with a rejected batch", () => {
    const handed = [tf.ones([2, 1]), tf.ones([3, 1])];
    assert.throws(() => batchToTensors(handed), /xs has 2, ys has 3/);
    assert.ok(handed.every((tensor) => tensor.isDisposed));
  });
  for (const [name, batch, type, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => batchToTensors(batch), (error) => {
        assert.ok(error instanceof type, String(error));
        assert.match((error as Error).message, message);
        return true;
      });
    });
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("toTfDataset hands fitDataset fresh { xs, ys } tensors for every batch", async () => {
  await using blobs = new Blobs(3);
  const dataset = toTfDataset(blobs);
  const iterator = await dataset.iterator();
  const seen: tf.Tensor[] = [];
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
    assert.deepEqual(Object.keys(r.value), ["xs", "ys"]);
    const { xs, ys } = r.value as { xs: tf.Tensor; ys: tf.Tensor };
    assert.ok(!seen.includes(xs) && !seen.includes(ys), "a new tensor per batch");
    assert.deepEqual(xs.shape, [8, 2]);
    seen.push(xs, ys);
  }
  assert.equal(seen.length, 6);
  assert.ok(seen.every((tensor) => !tensor.isDisposed));
  tf.dispose(seen);
  // fitDataset trains on them and disposes them itself.
  const model = tinyModel();
  const before = tf.memory().numTensors;
  await model.fitDataset(dataset, { epochs: 1, verbose: 0 });
  const weights = tf.memory().numTensors - before; // optimizer slots made in the first step
  await model.fitDataset(dataset, { epochs: 1, verbose: 0 });
  assert.equal(tf.memory().numTensors - before, weights);
  model.dispose();
});

Deno.test("toTfDataset opens exactly one epoch per trained epoch", async () => {
  await using blobs = new Blobs(4);
  const model = tinyModel();
  let iterators = 0;
  const dataset = toTfDataset(blobs);
  const counting = Object.assign(Object.create(dataset), {
    iterator() {
      iterators++;
      return dataset.iterator();
    },
  });
  await model.fitDataset(counting, { epochs: 3, verbose: 0 });
  assert.equal(iterators, 4, "fitDataset asks for one iterator more than it trains epochs");
  assert.equal(blobs.begins, 3);
  assert.equal(blobs.ends, 3);
  assert.equal(blobs.fetched().length, 12, "no batch fetched for the unread iterator");
  model.dispose();
});

Deno.test("toTfDataset cancels a pass that fitDataset abandons before opening the next", async (t) => {
  await t.step("batchesPerEpoch", async () => {
    await using blobs = new Blobs(50, 8, { maxQueueSize: 2, workers: 1 });
    const model = tinyModel();
    const dataset = toTfDataset(blobs);
    await model.fitDataset(dataset, { epochs: 2, batchesPerEpoch: 3, verbose: 0 });
    assert.equal(blobs.begins, 1, "one iterator serves every epoch with batchesPerEpoch");
    assert.ok(blobs.fetched().length <= 6 + 2 + 1, `fetched ${blobs.fetched().length}`);
    assert.equal(blobs.ends, 0, "the pass is still open after training");
    await model.fitDataset(dataset, { epochs: 1, batchesPerEpoch: 2, verbose: 0 });
    assert.equal(blobs.ends, 1, "the abandoned pass ended before the next opened");
    assert.equal(blobs.begins, 2);
    await blobs.close();
    assert.equal(blobs.ends, 2, "close() ends the pass left over");
    model.dispose();
  });
  await t.step("stopTraining", async () => {
    await using blobs = new Blobs(50, 8, { maxQueueSize: 2 });
    const model = tinyModel();
    const dataset = toTfDataset(blobs);
    let steps = 0;
    await model.fitDataset(dataset, {
      epochs: 3,
      verbose: 0,
      callbacks: {
        onBatchEnd() {
          if (++steps === 2) model.stopTraining = true;
        },
      },
    });
    assert.equal(blobs.begins, 1);
    const log: string[] = [];
    Object.assign(blobs, {
      onEpochBegin: () => log.push("begin"),
      onEpochEnd: () => log.push("end"),
    });
    await model.fitDataset(dataset, { epochs: 1, verbose: 0 });
    assert.deepEqual(log, ["end", "begin", "end"]);
    model.dispose();
  });
});

for (const mode of MODES) {
  Deno.test(`toTfDataset leaks no tensor over 5 epochs (${mode.name})`, async () => {
    await using blobs = new Blobs(5, 8, mode.options);
    const model = tinyModel();
    const dataset = toTfDataset(blobs, { shuffle: true, seed: 1 });
    await model.fitDataset(dataset, { epochs: 1, verbose: 0 }); // warm-up: optimizer slots
    const counts: number[] = [];
    const history = await within(
      model.fitDataset(dataset, {
        epochs: 5,
        verbose: 0,
        callbacks: { onEpochEnd: () => void counts.push(tf.memory().numTensors) },
      }),
      30_000,
    );
    counts.push(tf.memory().numTensors);
    assert.equal(new Set(counts).size, 1, `tensors at each epoch end: ${counts}`);
    assert.equal(history.history.loss?.length, 5);
    assert.ok(
      (history.history.acc as number[]).at(-1)! > 0.9,
      `it learns: accuracy ${history.history.acc}, loss ${history.history.loss}`,
    );
    model.dispose();
  });
}

Deno.test("toTfDataset runs the hooks once per trained epoch and shuffles reproducibly", async () => {
  const orders = async (seed: number) => {
    // One worker fetches in epoch order, so the fetch log shows the order.
    await using blobs = new Blobs(6, 8, { workers: 1, useMultiprocessing: true });
    const model = tinyModel();
    await model.fitDataset(toTfDataset(blobs, { shuffle: true, seed }), { epochs: 3, verbose: 0 });
    model.dispose();
    assert.equal(blobs.begins, 3);
    assert.equal(blobs.ends, 3);
    const fetched = blobs.fetched();
    return [fetched.slice(0, 6), fetched.slice(6, 12), fetched.slice(12, 18)];
  };
  const first = await orders(11);
  for (const order of first) assert.deepEqual(order.toSorted(), [0, 1, 2, 3, 4, 5]);
  assert.notDeepEqual(first[0], first[1]);
  assert.notDeepEqual(first[1], first[2]);
  assert.deepEqual(await orders(11), first, "the same seed, the same orders");
});

Deno.test("toTfDataset reads its shard of each epoch, in the order the whole epoch has", async () => {
  const options = { shuffle: true, seed: 3 };
  // One fetcher fetches in epoch order, so the fetch log shows the order.
  await using whole = new Blobs(7, 8, { workers: 1 });
  for await (const _ of whole.epoch(options));
  await using blobs = new Blobs(7, 8, { workers: 1 });
  const shard = toTfDataset(blobs, { ...options, shard: { index: 1, count: 3 } });
  let elements = 0;
  await shard.forEachAsync((element) => {
    elements++;
    tf.dispose(element as unknown as tf.TensorContainer);
  });
  assert.equal(elements, 2);
  assert.deepEqual(blobs.fetched(), whole.fetched().filter((_, position) => position % 3 === 1));
});

Deno.test("toTfDataset fails fitDataset with the BatchError that names the batch", async () => {
  for (const mode of MODES) {
    await using blobs = new Blobs(5, 8, mode.options);
    blobs.failAt = 3;
    const model = tinyModel();
    await assert.rejects(
      model.fitDataset(toTfDataset(blobs), { epochs: 2, verbose: 0 }),
      (error) => {
        assert.ok(error instanceof BatchError, String(error));
        assert.equal(error.index, 3);
        assert.match(error.message, /no batch 3 today/);
        return true;
      },
    );
    assert.equal(blobs.ends, 1);
    model.dispose();
  }
});

Deno.test("toTfDataset takes validation data from a second PyDataset", async () => {
  await using train = new Blobs(4);
  await using validation = new Blobs(2, 8, { workers: 2, useMultiprocessing: true });
  const model = tinyModel();
  const history = await model.fitDataset(toTfDataset(train), {
    epochs: 3,
    verbose: 0,
    validationData: toTfDataset(validation),
  });
  assert.equal(history.history.val_loss?.length, 3);
  assert.equal(validation.begins, 3);
  assert.equal(validation.ends, 3);
  model.dispose();
});

Deno.test("toTfDataset reads any stream of batches, and maps other layouts", async () => {
  await using blobs = new Blobs(3);
  const opened: AbortSignal[] = [];
  const dataset = toTfDataset(
    ({ signal }) => {
      opened.push(signal);
      // A stream of { features, target } objects, as another program might send.
      return blobs.epoch().pipeThrough(
        new TransformStream({
          transform: ([x, y], controller) => controller.enqueue({ features: x, target: y }),
        }),
      );
    },
    { toTensors: ({ features, target }) => ({ xs: features, ys: target }) },
  );
  const model = tinyModel();
  const history = await model.fitDataset(dataset, { epochs: 2, verbose: 0 });
  assert.equal(history.history.loss?.length, 2);
  assert.equal(opened.length, 2);
  assert.equal(blobs.begins, 2);
  model.dispose();
});

Deno.test("toTfDataset stops on its signal", async () => {
  await using blobs = new Blobs(5);
  const controller = new AbortController();
  const model = tinyModel();
  controller.abort(new Error("stop training"));
  await assert.rejects(
    model.fitDataset(toTfDataset(blobs, { signal: controller.signal }), { epochs: 1, verbose: 0 }),
    /stop training/,
  );
  assert.equal(blobs.fetched().length, 0);
  model.dispose();
});

class TwoInputs extends Blobs {
  override getItem(index: number) {
    const [x, y] = super.getItem(index);
    const first = ndarray(x.data.filter((_, i) => i % 2 === 0), [this.batchSize, 1]);
    const second = ndarray(x.data.filter((_, i) => i % 2 === 1), [this.batchSize, 1]);
    // Inputs keyed by the model's input names; outputs as an array in output order.
    return [{ left: first, right: second }, [y]] as unknown as ReturnType<Blobs["getItem"]>;
  }
}

Deno.test("toTfDataset feeds a multi-input model by input names", async () => {
  const left = tf.input({ shape: [1], name: "left" });
  const right = tf.input({ shape: [1], name: "right" });
  const joined = tf.layers.concatenate().apply([left, right]) as tf.SymbolicTensor;
  const hidden = tf.layers.dense({ units: 4, activation: "relu" }).apply(joined);
  const output = tf.layers.dense({ units: 1, activation: "sigmoid", name: "label" })
    .apply(hidden) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [left, right], outputs: output });
  model.compile({ optimizer: tf.train.adam(0.05), loss: "binaryCrossentropy" });
  await using data = new TwoInputs(4);
  const history = await model.fitDataset(toTfDataset(data), { epochs: 2, verbose: 0 });
  assert.equal(history.history.loss?.length, 2);
  model.dispose();
});

Deno.test("toTfDataset ends a pass abandoned through another toTfDataset of the same source", async () => {
  for (const mode of MODES) {
    await using blobs = new Blobs(50, 8, { ...mode.options, maxQueueSize: 2 });
    const model = tinyModel();
    let steps = 0;
    await model.fitDataset(toTfDataset(blobs), {
      epochs: 2,
      verbose: 0,
      callbacks: {
        onBatchEnd() {
          if (++steps === 2) model.stopTraining = true;
        },
      },
    });
    assert.equal(blobs.ends, 0, "abandoned by fitDataset, still open");
    await model.evaluateDataset(toTfDataset(blobs), {});
    assert.equal(blobs.begins, 2);
    assert.equal(blobs.ends, 2, "the abandoned pass ended, then the evaluation's");
    model.dispose();
  }
});

Deno.test("toTfDataset's dataset, disposed, ends a pass that fitDataset left open", async () => {
  const events: string[] = [];
  const source = ({ signal }: { signal: AbortSignal }) => {
    signal.addEventListener("abort", () => events.push("aborted"));
    let index = 0;
    return new ReadableStream({
      pull(controller) {
        controller.enqueue([
          ndarray(new Float32Array(16), [8, 2]),
          ndarray(new Float32Array(8), [8, 1]),
        ]);
        index++;
      },
      cancel() {
        events.push(`cancelled after ${index}`);
      },
    }, { highWaterMark: 0 });
  };
  const model = tinyModel();
  {
    await using dataset = toTfDataset(source);
    await model.fitDataset(dataset, { epochs: 1, batchesPerEpoch: 3, verbose: 0 });
    assert.deepEqual(events, []);
  }
  assert.deepEqual(events, ["cancelled after 3", "aborted"]);
  model.dispose();
});

Deno.test("toTfDataset stops fitDataset when its signal aborts mid-pass", async () => {
  for (const mode of MODES) {
    await using blobs = new Blobs(40, 8, mode.options);
    const controller = new AbortController();
    const model = tinyModel();
    let steps = 0;
    await assert.rejects(
      model.fitDataset(toTfDataset(blobs, { signal: controller.signal }), {
        epochs: 2,
        verbose: 0,
        callbacks: {
          onBatchEnd() {
            if (++steps === 3) controller.abort(new Error("user stop"));
          },
        },
      }),
      /user stop/,
    );
    assert.ok(steps < 40, `stopped after ${steps} steps`);
    assert.equal(blobs.ends, 1);
    model.dispose();
  }
});

Deno.test("toTfDataset rejects options that cannot apply", () => {
  const stream = () => new ReadableStream();
  assert.throws(() => toTfDataset(stream, { shuffle: true }), {
    name: "TypeError",
    message: /shuffle, seed or shard from a function source/,
  });
  assert.throws(() => toTfDataset(new Blobs(1), { uint8: "float64" as "float32" }), {
    name: "TypeError",
    message: /uint8 must be "int32" or "float32": current value is "float64"/,
  });
  assert.throws(() => toTfDataset(42 as unknown as typeof stream), {
    name: "TypeError",
    message: /source must be a PyDataset or a function that opens a stream: current value is 42/,
  });
});
