import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import { ndarray, PyDataset } from "../mod.ts";
import { assertValidDataset, inspectDataset } from "../testing.ts";
import { type Flaw, Flawed } from "./fixtures/flawed.ts";

const ids = (batch: unknown) => (batch as [unknown, Int32Array])[1];

/** Labels of a batch of two. */
const ids2 = () => Int32Array.of(0, 1);
/** Points of a batch of two. */
const points = () => ndarray(new Float32Array(4), [2, 2]);

/** A dataset of `length` batches made by `make`. */
class Made extends PyDataset<unknown> {
  constructor(readonly n: number, readonly make: (index: number) => unknown) {
    super();
  }
  get length(): number {
    return this.n;
  }
  getItem(index: number): unknown {
    return this.make(index);
  }
}

Deno.test("assertValidDataset passes a well-formed dataset, in both modes", async () => {
  await assertValidDataset(new Flawed([]), { sampleIds: ids, sampleCount: 23 });
  await using workers = new Flawed([], 6, { workers: 2, useMultiprocessing: true });
  await assertValidDataset(workers, { sampleIds: ids, sampleCount: 23 });
});

Deno.test("inspectDataset reports structure, shapes, dtypes, bytes and fetch times", async () => {
  const report = await inspectDataset(new Flawed([], 100), { maxBatches: 5 });
  assert.equal(report.name, "Flawed");
  assert.equal(report.length, 100);
  assert.deepEqual(report.checked, [0, 1, 2, 3, 4, 99], "the first batches and the last");
  assert.equal(report.structure, "[NDArray, Int32Array]");
  assert.deepEqual(report.parts, [
    { path: "0", dtype: "Float32Array", sampleShape: [2] },
    { path: "1", dtype: "Int32Array", sampleShape: [] },
  ]);
  assert.equal(report.batchSize, 4);
  assert.equal(report.bytesPerBatch, 4 * 2 * 4 + 4 * 4);
  assert.deepEqual(Object.keys(report.fetchMs).map(Number), [0, 1, 2, 3, 4, 99]);
  assert.deepEqual(report.problems, []);
});

Deno.test("inspectDataset catches each kind of problem and names the batch", async (t) => {
  const cases: [Flaw, number, string, RegExp][] = [
    ["throws", 2, "throws", /batch 2: getItem threw Error: corrupt record/],
    ["empty", 2, "empty", /batch 2: getItem returned undefined/],
    ["dtype", 3, "structure", /batch 3: part 0 is a Float64Array, but a Float32Array in batch 0/],
    ["shape", 3, "structure", /batch 3: part 0 has samples of shape \[1,2\], but \[2\] in batch 0/],
    [
      "structure",
      3,
      "structure",
      /batch 3: its structure \{ xs: NDArray, ys: Int32Array \} differs from batch 0's \[NDArray, Int32Array\]/,
    ],
    [
      "batch-size",
      2,
      "batch-size",
      /batch 2: its parts disagree on the batch size: part 0 has 4, part 1 has 3/,
    ],
    [
      "short",
      1,
      "short-batch",
      /batch 1: it holds 3 samples, fewer than batch 0's 4, and is not the last batch/,
    ],
    [
      "random",
      0,
      "nondeterministic",
      /batch 0: getItem\(0\) gave different batches on two calls \(part 0 at \[0,0\] is/,
    ],
    ["duplicates", 3, "duplicate-sample", /batch 3: sample 0 appears again \(first in batch 0\)/],
  ];
  for (const [flaw, index, kind, message] of cases) {
    await t.step(flaw, async () => {
      const { problems } = await inspectDataset(new Flawed([flaw]), { sampleIds: ids });
      const found = problems.find((problem) => problem.kind === kind);
      assert.ok(found, `${flaw}: ${JSON.stringify(problems)}`);
      assert.equal(found.index, index);
      assert.match(found.message, message);
    });
  }
});

Deno.test("inspectDataset catches worker batches that differ from the main thread's", async () => {
  await using dataset = new Flawed(["module-state"], 4, { workers: 2, useMultiprocessing: true });
  const { problems } = await inspectDataset(dataset);
  assert.deepEqual(problems.map((problem) => [problem.kind, problem.index]), [
    ["workers-differ", 0],
    ["workers-differ", 1],
    ["workers-differ", 2],
    ["workers-differ", 3],
  ]);
  assert.match(
    problems[1]!.message,
    /batch 1: the workers' batch differs from the main thread's \(part 0 at \[0,0\] is 100, then 10\)/,
  );
});

Deno.test("inspectDataset reports a bad length and a wrong sample count", async () => {
  class Negative extends PyDataset<number> {
    get length(): number {
      return -1;
    }
    getItem(): number {
      return 0;
    }
  }
  const { problems } = await inspectDataset(new Negative());
  assert.equal(problems[0]?.kind, "length");
  assert.match(
    problems[0]!.message,
    /length must be a non-negative integer or Infinity: current value is -1/,
  );

  const counted = await inspectDataset(new Flawed([]), { sampleIds: ids, sampleCount: 30 });
  assert.deepEqual(counted.problems.map((problem) => problem.message), [
    "the epoch holds 23 distinct samples, not 30",
  ]);
});

Deno.test("assertValidDataset lists every problem, not just the first", async () => {
  await assert.rejects(
    assertValidDataset(new Flawed(["throws", "dtype", "short"]), { sampleIds: ids }),
    (error) => {
      assert.ok(error instanceof AssertionError);
      const lines = error.message.split("\n");
      assert.equal(lines[0], "Flawed has 3 problems in 6 checked batches:");
      assert.match(lines[1]!, /^- batch 1: it holds 3 samples/);
      assert.match(lines[2]!, /^- batch 2: getItem threw/);
      assert.match(lines[3]!, /^- batch 3: part 0 is a Float64Array/);
      return true;
    },
  );
});

Deno.test("inspectDataset bounds its work on a large or infinite dataset", async () => {
  let calls = 0;
  class Endless extends PyDataset<Int32Array> {
    get length(): number {
      return Infinity;
    }
    getItem(index: number): Int32Array {
      calls++;
      return Int32Array.of(index);
    }
  }
  const report = await inspectDataset(new Endless(), { maxBatches: 10, sample: 3 });
  assert.equal(report.checked.length, 10);
  assert.equal(calls, 13, "10 batches, and 3 fetched again");
  assert.deepEqual(report.problems, []);
});

Deno.test("inspectDataset names a batch's parts as part 0, part 1, … in its messages", async (t) => {
  let calls = 0;
  const cases: [string, number, (index: number) => unknown, string][] = [
    [
      "dtype of part 1",
      3,
      (i) => [points(), ndarray(i === 1 ? Float64Array.of(0, 1) : ids2(), [2])],
      "batch 1: part 1 is a Float64Array, but an Int32Array in batch 0",
    ],
    [
      "batch size of part 0 and part 1",
      3,
      (i) => [points(), i === 1 ? Int32Array.of(0) : ids2()],
      "batch 1: its parts disagree on the batch size: part 0 has 2, part 1 has 1",
    ],
    [
      "shape of a part in records",
      3,
      (i) => ({ xs: { image: ndarray(new Float32Array(4), i === 1 ? [2, 1, 2] : [2, 2]) } }),
      "batch 1: part xs.image has samples of shape [1,2], but [2] in batch 0",
    ],
    [
      "a batch that is one array",
      3,
      (i) => ndarray(i === 1 ? Float32Array.of(0, 1) : ids2(), [2]),
      "batch 1: the batch is a Float32Array, but an Int32Array in batch 0",
    ],
    [
      "a value that changes, at its index in the part",
      1,
      () => [ndarray(Float32Array.of(0, 0, 0, ++calls), [2, 2]), ids2()],
      "batch 0: getItem(0) gave different batches on two calls (part 0 at [1,1] is 1, then 2)",
    ],
    [
      "a plain value that changes",
      1,
      () => ({ x: ids2(), note: `call ${++calls}` }),
      'batch 0: getItem(0) gave different batches on two calls (part note is "call 1", then "call 2")',
    ],
  ];
  for (const [name, length, getItem, message] of cases) {
    await t.step(name, async () => {
      calls = 0;
      const { problems } = await inspectDataset(new Made(length, getItem));
      assert.deepEqual(problems.map((problem) => problem.message), [message]);
    });
  }
});

Deno.test("inspectDataset rounds fetch times: to 0.01 ms below 10 ms, whole ms from 10 ms", async () => {
  const took = [
    33.555612,
    9.358042,
    12.919051,
    4.673027,
    0.0049,
    0.0051,
    9.994,
    9.996,
    10.49,
    10.51,
  ];
  let clock = 1000;
  const dataset = new Made(took.length, (index) => {
    clock += took[index]!;
    return Int32Array.of(index);
  });
  // A clock the test sets: the times are exactly what getItem took.
  performance.now = () => clock;
  try {
    const { fetchMs } = await inspectDataset(dataset, { sample: 0 });
    assert.deepEqual(Object.values(fetchMs), [34, 9.36, 13, 4.67, 0, 0.01, 9.99, 10, 10, 11]);
  } finally {
    delete (performance as { now?: unknown }).now;
  }
  assert.ok(!Object.hasOwn(performance, "now"), "the platform's clock is back");
});
