// ArrayDataset: batches cut from arrays in memory, the sample shuffle, the
// remainder, bad input, and the same batches in every mode.

import assert from "node:assert/strict";
import { ArrayDataset, type NDArray, ndarray } from "../mod.ts";
import { within } from "./_helpers.ts";

/** 10 samples: x row i is [i, i + 0.25, i + 0.5]; y[i] = i. */
function parts(samples = 10): [NDArray<Float32Array>, Int32Array] {
  const x = Float32Array.from({ length: samples * 3 }, (_, k) => Math.floor(k / 3) + (k % 3) / 4);
  return [ndarray(x, [samples, 3]), Int32Array.from({ length: samples }, (_, i) => i)];
}

async function read(data: ArrayDataset, options = {}): Promise<NDArray[][]> {
  return await within(Array.fromAsync(data.epoch(options)));
}

/** Each batch's sample ids (its y), checking that every x row goes with its y. */
function samplesOf(batches: NDArray[][]): number[][] {
  return batches.map(([x, y]) => {
    const ids = [...y!.data];
    ids.forEach((id, k) => assert.equal(x!.data[k * 3], id, `x row ${k} goes with y ${id}`));
    return ids;
  });
}

Deno.test("ArrayDataset cuts batches of batchSize samples, the last one smaller, as views", async () => {
  const [x, y] = parts();
  await using data = new ArrayDataset([x, y], { batchSize: 4 });
  assert.equal(data.length, 3);
  const batches = await read(data);
  assert.deepEqual(batches.map(([bx, by]) => [bx!.shape, by!.shape]), [
    [[4, 3], [4]],
    [[4, 3], [4]],
    [[2, 3], [2]],
  ]);
  assert.deepEqual(samplesOf(batches), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  // Unshuffled, on the main thread: views of the arrays given.
  assert.equal(batches[1]![0]!.data.buffer, x.data.buffer);
  assert.equal(batches[1]![1]!.data.buffer, y.buffer);
});

Deno.test("ArrayDataset with dropRemainder leaves out the smaller last batch", async () => {
  await using data = new ArrayDataset(parts(), { batchSize: 4, dropRemainder: true });
  assert.equal(data.length, 2);
  assert.deepEqual(samplesOf(await read(data)), [[0, 1, 2, 3], [4, 5, 6, 7]]);
  await using exact = new ArrayDataset(parts(8), { batchSize: 4, dropRemainder: true });
  assert.equal(exact.length, 2);
});

Deno.test("ArrayDataset shuffleSamples reshuffles across batches each epoch, from the epoch's seed", async () => {
  await using data = new ArrayDataset(parts(), { batchSize: 4, shuffleSamples: true });
  await using twin = new ArrayDataset(parts(), { batchSize: 4, shuffleSamples: true });
  const epoch0 = samplesOf(await read(data, { seed: 7, epoch: 0 }));
  const epoch1 = samplesOf(await read(data, { seed: 7, epoch: 1 }));
  assert.deepEqual(epoch0.flat().toSorted((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(epoch0.map((batch) => batch.length), [4, 4, 2]);
  assert.notDeepEqual(epoch0, epoch1, "each epoch reshuffles");
  assert.deepEqual(
    samplesOf(await read(twin, { seed: 7, epoch: 0 })),
    epoch0,
    "the same in every run",
  );
  assert.notDeepEqual(samplesOf(await read(twin, { seed: 8, epoch: 0 })), epoch0);
  // Shuffled batches are copies: the arrays given are never handed out.
  const bx = (await read(data, { seed: 7 }))[0]![0];
  assert.notEqual(bx!.data.buffer, data.parts[0]!.data.buffer);
});

Deno.test("ArrayDataset resumes a shuffled epoch with the same samples", async () => {
  await using data = new ArrayDataset(parts(), { batchSize: 3, shuffleSamples: true });
  const whole = samplesOf(await read(data, { seed: 3, epoch: 2 }));
  const reader = data.epoch({ seed: 3, epoch: 2 }).getReader();
  await within(reader.read());
  await within(reader.cancel());
  assert.deepEqual(samplesOf(await read(data, data.cursor!)), whole.slice(1));
});

Deno.test("ArrayDataset gives the same batches on the main thread and in workers, sharing its arrays", async () => {
  const options = { batchSize: 3, shuffleSamples: true };
  await using main = new ArrayDataset(parts(), { ...options, workers: 2 });
  await using workers = new ArrayDataset(parts(), {
    ...options,
    workers: 2,
    useMultiprocessing: true,
  });
  // Worker mode holds the parts in shared memory: no epoch copies them into the workers.
  for (const part of workers.parts) assert.ok(part.data.buffer instanceof SharedArrayBuffer);
  for (const epoch of [0, 1]) {
    const expected = await read(main, { seed: 11, epoch });
    const got = await read(workers, { seed: 11, epoch });
    assert.deepEqual(
      got.map((batch) => batch.map(({ data, shape }) => [[...data], shape])),
      expected.map((batch) => batch.map(({ data, shape }) => [[...data], shape])),
    );
  }
  // Unshuffled too, where a worker's batch is a view of shared memory, sent as a copy.
  workers.shuffleSamples = main.shuffleSamples = false;
  assert.deepEqual(samplesOf(await read(workers)), samplesOf(await read(main)));
});

Deno.test("ArrayDataset refuses parts that disagree on the sample count, naming both", () => {
  const [x] = parts(10);
  assert.throws(() => new ArrayDataset([x, new Int32Array(9)], { batchSize: 2 }), {
    name: "TypeError",
    message: /disagree on the sample count: part 0 has 10 samples, part 1 has 9/,
  });
});

Deno.test("ArrayDataset refuses bad parts and options, naming the value", () => {
  const [x, y] = parts();
  const cases: [() => unknown, string, RegExp][] = [
    [
      () => new ArrayDataset([], { batchSize: 2 }),
      "TypeError",
      /non-empty array .* current value is \[\]/,
    ],
    [
      () => new ArrayDataset([x, [1, 2]] as never, { batchSize: 2 }),
      "TypeError",
      /part 1 is not an NDArray or a typed array: current value is \[1, 2\]/,
    ],
    [
      () => new ArrayDataset([{ data: new Float32Array(5), shape: [2, 3] }], { batchSize: 2 }),
      "TypeError",
      /part 0's shape \[2, 3\] needs 6 values, but data has 5/,
    ],
    [
      () => new ArrayDataset([x, y], { batchSize: 0 }),
      "RangeError",
      /batchSize must be a positive integer: current value is 0/,
    ],
    [() => new ArrayDataset([x, y], { batchSize: 2.5 }), "RangeError", /current value is 2\.5/],
    [
      () => new ArrayDataset([x, y], { batchSize: "4" } as never),
      "TypeError",
      /batchSize must be a number: current value is "4"/,
    ],
    [
      () => new ArrayDataset([x, y], {} as never),
      "TypeError",
      /batchSize must be a number: current value is undefined/,
    ],
    [
      () => new ArrayDataset([x, y], { batchSize: 2, shuffleSamples: 1 } as never),
      "TypeError",
      /shuffleSamples must be a boolean: current value is 1/,
    ],
    [() => new ArrayDataset([x, y], { batchSize: 2, workers: 0 }), "RangeError", /workers/],
  ];
  for (const [make, name, message] of cases) assert.throws(make, { name, message });
});
