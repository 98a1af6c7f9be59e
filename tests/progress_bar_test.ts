// progressBar's lines, off a terminal and on one, with the loader wait of a
// PyDataset; the text is exact but for the speed and the time, which are
// matched as numbers. Trains a tiny model on the cpu backend.

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { type BatchInfo, PyDataset, type PyDatasetOptions } from "../mod.ts";
import {
  progressBar,
  type ProgressBarOptions,
  type TfDataset,
  toTfDataset,
  useBackend,
} from "../tfjs.ts";
import { type BlobBatch, Blobs } from "./fixtures/blobs.ts";
import { tinyModel } from "./fixtures/tiny_model.ts";
import { delay } from "./_helpers.ts";

await useBackend("cpu");

/** The batches of Blobs, which take 40 ms each in the epochs listed in `slow`. */
class SlowBlobs extends PyDataset<BlobBatch> {
  #blobs = new Blobs();

  constructor(public n: number, public slow: number[], options: PyDatasetOptions = {}) {
    super(options);
  }

  get length(): number {
    return this.n;
  }

  async getItem(index: number, info: BatchInfo): Promise<BlobBatch> {
    if (this.slow.includes(info.epoch)) await delay(40);
    return this.#blobs.getItem(index);
  }
}

/** The speed and time at the end of an epoch's line. */
const TIMING = /^\d+\.\d batches\/s {2}\d+\.\d s$/;

/** `epoch`, the batches, then the loss and accuracy that tfjs logged for the epoch. */
function fixedPart(history: tf.History, epoch: number, batches: string): string {
  const { loss, acc } = history.history as Record<string, number[]>;
  return `epoch ${epoch + 1}/2  ${batches}  loss ${loss![epoch]!.toFixed(4)}  acc ${
    acc![epoch]!.toFixed(4)
  }  `;
}

/** Trains `model` for 2 epochs with a progress bar that collects what it writes. */
async function train(
  model: tf.LayersModel,
  data: TfDataset,
  options: ProgressBarOptions,
  fit: Partial<tf.ModelFitDatasetArgs<unknown>> = {},
): Promise<{ written: string[]; history: tf.History }> {
  const written: string[] = [];
  const bar = progressBar({ terminal: false, write: (text) => written.push(text), ...options });
  const history = await model.fitDataset(data, { epochs: 2, verbose: 0, callbacks: bar, ...fit });
  return { written, history };
}

/** The loader wait in percent at the end of `line`. */
function loaderWait(line: string): number {
  const match = / {2}loader wait (\d+)%$/.exec(line);
  assert.ok(match, `no loader wait in: ${line}`);
  return Number(match[1]);
}

Deno.test("progressBar prints one line per epoch at its end off a terminal", async () => {
  await using blobs = new Blobs(4);
  const model = tinyModel();
  const { written, history } = await train(model, toTfDataset(blobs), {});
  assert.equal(written.length, 2);
  for (const [epoch, line] of written.entries()) {
    // No batches per epoch known: the count only.
    const fixed = fixedPart(history, epoch, "4 batches");
    assert.equal(line.slice(0, fixed.length), fixed);
    assert.match(line.slice(fixed.length), TIMING);
  }
  model.dispose();
});

Deno.test("progressBar shows the batches per epoch from total, batchesPerEpoch or the dataset", async (t) => {
  await t.step("total", async () => {
    await using blobs = new Blobs(4);
    const model = tinyModel();
    const { written, history } = await train(model, toTfDataset(blobs), { total: 4 });
    for (const [epoch, line] of written.entries()) {
      const fixed = fixedPart(history, epoch, "4/4 batches");
      assert.equal(line.slice(0, fixed.length), fixed);
      assert.match(line.slice(fixed.length), TIMING);
    }
    model.dispose();
  });
  await t.step("total as a function, asked once an epoch has begun", async () => {
    await using blobs = new Blobs(4);
    const model = tinyModel();
    let known: number | undefined;
    const data = toTfDataset(() => {
      known = 4;
      return blobs.epoch();
    });
    const { written } = await train(model, data, { total: () => known });
    assert.deepEqual(written.map((line) => line.split("  ")[1]), ["4/4 batches", "4/4 batches"]);
    model.dispose();
  });
  await t.step("a shard's batches, from the dataset's stats, before its length", async () => {
    await using blobs = new Blobs(5);
    const model = tinyModel();
    const data = toTfDataset(blobs, { shard: { index: 1, count: 2 } });
    const { written } = await train(model, data, { dataset: blobs });
    assert.deepEqual(written.map((line) => line.split("  ")[1]), ["2/2 batches", "2/2 batches"]);
    model.dispose();
  });
  await t.step("batchesPerEpoch, before the dataset's length", async () => {
    await using blobs = new Blobs(50, 8, { maxQueueSize: 2, workers: 1 });
    const model = tinyModel();
    const { written, history } = await train(model, toTfDataset(blobs), { dataset: blobs }, {
      batchesPerEpoch: 3,
    });
    for (const [epoch, line] of written.entries()) {
      const fixed = fixedPart(history, epoch, "3/3 batches");
      assert.equal(line.slice(0, fixed.length), fixed);
      // One PyDataset epoch serves both: each shows what it added.
      const wait = loaderWait(line);
      assert.ok(wait >= 0 && wait <= 100, line);
    }
    model.dispose();
  });
});

Deno.test("progressBar shows the loader wait of a PyDataset, as a share of each epoch", async () => {
  await using blobs = new SlowBlobs(4, [1], { workers: 1 });
  const model = tinyModel();
  const { written, history } = await train(model, toTfDataset(blobs), { dataset: blobs });
  assert.equal(written.length, 2);
  const waits = written.map((line, epoch) => {
    const fixed = fixedPart(history, epoch, "4/4 batches");
    assert.equal(line.slice(0, fixed.length), fixed);
    const [timing, wait] = line.slice(fixed.length).split(/ {2}(?=loader wait)/);
    assert.match(timing!, TIMING);
    assert.match(`  ${wait}`, / {2}loader wait \d+%$/);
    return loaderWait(line);
  });
  assert.ok(waits.every((wait) => wait >= 0 && wait <= 100), `${waits}`);
  // The second epoch's batches take 40 ms, a training step about 1 ms.
  assert.ok(waits[0]! < 50 && waits[1]! >= 50, `the epochs' loader waits: ${waits}`);
  model.dispose();
});

Deno.test("progressBar's loader wait leaves out a validation pass over the same dataset", async () => {
  // PyDataset epochs 0 and 2 train, 1 and 3 validate, slowly.
  await using blobs = new SlowBlobs(4, [1, 3], { workers: 1 });
  const model = tinyModel();
  const { written, history } = await train(model, toTfDataset(blobs), { dataset: blobs }, {
    validationData: toTfDataset(blobs),
  });
  const waits = written.map(loaderWait);
  assert.ok(waits.every((wait) => wait < 50), `the epochs' loader waits: ${waits}`);
  // What the stats say at an epoch's end: the slow validation pass's.
  const { epoch, waitMs, elapsedMs } = blobs.stats!;
  assert.equal(epoch, 3);
  assert.ok(waitMs / elapsedMs >= 0.5, `validation waited ${waitMs} of ${elapsedMs} ms`);
  // The validation logs follow the training ones.
  const { val_loss, val_acc } = history.history as Record<string, number[]>;
  for (const [epoch, line] of written.entries()) {
    const fixed = fixedPart(history, epoch, "4/4 batches") +
      `val_loss ${val_loss![epoch]!.toFixed(4)}  val_acc ${val_acc![epoch]!.toFixed(4)}  `;
    assert.equal(line.slice(0, fixed.length), fixed);
  }
  model.dispose();
});

Deno.test("progressBar redraws the line in place on a terminal", async () => {
  await using blobs = new Blobs(4);
  const model = tinyModel();
  const { written, history } = await train(model, toTfDataset(blobs), {
    terminal: true,
    total: 4,
  });
  assert.ok(
    written.every((text) => text.startsWith("\r")),
    "every text returns to the row's start",
  );
  const ends = written.filter((text) => text.endsWith("\n"));
  assert.equal(ends.length, 2, "a line break after each epoch's last line");
  for (const [epoch, text] of ends.entries()) {
    const fixed = `\r${fixedPart(history, epoch, "4/4 batches")}`.replace(
      "/2  4/4",
      `/2 [${"#".repeat(24)}] 4/4`,
    );
    assert.equal(text.slice(0, fixed.length), fixed);
    assert.ok(text.endsWith("\x1b[K\n"));
    assert.match(text.slice(fixed.length, -"\x1b[K\n".length), TIMING);
  }
  // The first batch of each epoch is always drawn, with the time left.
  const firsts = written.filter((text) => / 1\/4 batches/.test(text));
  assert.equal(firsts.length, 2);
  for (const [epoch, text] of firsts.entries()) {
    assert.match(
      text,
      new RegExp(
        `^\\repoch ${
          epoch + 1
        }/2 \\[######\\.{18}\\] 1/4 batches {2}loss \\d\\.\\d{4} {2}acc \\d\\.\\d{4} {2}\\d+\\.\\d batches/s {2}\\d+\\.\\d s left\\x1b\\[K$`,
      ),
    );
  }
  model.dispose();
});

Deno.test("progressBar joins other callbacks, first in an array or called by a CustomCallback", async (t) => {
  await t.step("first, with a tf.CustomCallback", async () => {
    await using blobs = new Blobs(4);
    const model = tinyModel();
    const lines: string[] = [];
    let ends = 0;
    await model.fitDataset(toTfDataset(blobs), {
      epochs: 2,
      verbose: 0,
      callbacks: [
        progressBar({ terminal: false, write: (line) => lines.push(line) }),
        new tf.CustomCallback({ onEpochEnd: () => void ends++ }),
      ],
    });
    assert.equal(ends, 2);
    assert.deepEqual(lines.map((line) => line.split("  ")[0]), ["epoch 1/2", "epoch 2/2"]);
    model.dispose();
  });
  await t.step("after a plain object: tfjs wraps it, and epochs are not known", async () => {
    await using blobs = new Blobs(4);
    const model = tinyModel();
    const lines: string[] = [];
    let ends = 0;
    await model.fitDataset(toTfDataset(blobs), {
      epochs: 2,
      verbose: 0,
      callbacks: [
        { onEpochEnd: () => void ends++ },
        progressBar({ terminal: false, write: (line) => lines.push(line) }),
      ],
    });
    assert.equal(ends, 2);
    assert.deepEqual(lines.map((line) => line.split("  ").slice(0, 2)), [
      ["epoch 1", "4 batches"],
      ["epoch 2", "4 batches"],
    ]);
    model.dispose();
  });
});

Deno.test("progressBar rejects bad options, naming the value", async (t) => {
  const cases: [string, unknown, ErrorConstructor, RegExp][] = [
    ["options", null, TypeError, /options must be an object: current value is null$/],
    ["dataset", { dataset: {} }, TypeError, /dataset must be a PyDataset: current value is \{\}$/],
    [
      "write",
      { write: "stderr" },
      TypeError,
      /write must be a function: current value is "stderr"$/,
    ],
    ["terminal", { terminal: 1 }, TypeError, /terminal must be a boolean: current value is 1$/],
    [
      "total's type",
      { total: "4" },
      TypeError,
      /total must be a number or a function: current value is "4"$/,
    ],
    ["total 0", { total: 0 }, RangeError, /total must be a positive integer: current value is 0$/],
    ["total 1.5", { total: 1.5 }, RangeError, /a positive integer: current value is 1\.5$/],
  ];
  for (const [name, options, type, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => progressBar(options as ProgressBarOptions), (error) => {
        assert.ok(error instanceof type, String(error));
        assert.match((error as Error).message, /^Cannot make a progress bar as /);
        assert.match((error as Error).message, message);
        return true;
      });
    });
  }
});
