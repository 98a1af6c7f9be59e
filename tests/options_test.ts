import assert from "node:assert/strict";
import { PyDataset, type PyDatasetOptions } from "../mod.ts";
import { collect } from "./_helpers.ts";

class Plain extends PyDataset<number> {
  constructor(options?: PyDatasetOptions, public size: unknown = 3) {
    super(options);
  }
  get length(): number {
    return this.size as number;
  }
  getItem(index: number): number {
    return index;
  }
}

Deno.test("PyDataset stores Keras's settings, read-only", () => {
  const dataset = new Plain({ workers: 3, useMultiprocessing: false, maxQueueSize: 7 }, 9);
  assert.equal(dataset.workers, 3);
  assert.equal(dataset.useMultiprocessing, false);
  assert.equal(dataset.maxQueueSize, 7);
  assert.equal(dataset.numBatches, 9);
  assert.throws(() => {
    (dataset as unknown as { workers: number }).workers = 5;
  }, TypeError);
  const defaults = new Plain();
  assert.deepEqual(
    [defaults.workers, defaults.useMultiprocessing, defaults.maxQueueSize],
    [1, false, 10],
  );
  assert.equal(new Plain({}, Infinity).numBatches, Infinity);
  for (const idleTimeout of [0, 0.5, 30_000, Infinity]) {
    assert.doesNotThrow(() => new Plain({ idleTimeout }), `idleTimeout ${idleTimeout}`);
  }
});

Deno.test("PyDataset rejects bad options with the current value in the message", async (t) => {
  const cases: [string, unknown, ErrorConstructor, RegExp][] = [
    [
      "workers 0",
      { workers: 0 },
      RangeError,
      /workers must be a positive integer: current value is 0/,
    ],
    ["workers -2", { workers: -2 }, RangeError, /current value is -2/],
    [
      "workers 1.5",
      { workers: 1.5 },
      RangeError,
      /workers must be a positive integer: current value is 1.5/,
    ],
    ["workers NaN", { workers: NaN }, RangeError, /current value is NaN/],
    ["workers Infinity", { workers: Infinity }, RangeError, /current value is Infinity/],
    [
      "workers string",
      { workers: "2" },
      TypeError,
      /workers must be a positive integer: current value is "2"/,
    ],
    [
      "maxQueueSize 0",
      { maxQueueSize: 0 },
      RangeError,
      /maxQueueSize must be a positive integer: current value is 0/,
    ],
    ["maxQueueSize -1", { maxQueueSize: -1 }, RangeError, /current value is -1/],
    [
      "useMultiprocessing string",
      { useMultiprocessing: "yes" },
      TypeError,
      /useMultiprocessing must be a boolean: current value is "yes"/,
    ],
    [
      "useMultiprocessing without module",
      { useMultiprocessing: true },
      TypeError,
      /useMultiprocessing needs module.*current value is undefined/,
    ],
    [
      "module not a URL",
      { module: "not a url" },
      TypeError,
      /module must be an absolute URL.*current value is "not a url"/,
    ],
    ["module a number", { module: 3 }, TypeError, /module must be a URL.*current value is 3/],
    [
      "permissions unknown word",
      { permissions: "all" },
      TypeError,
      /permissions must be "none", "inherit" or an object.*current value is "all"/,
    ],
    [
      "permissions unknown name",
      { permissions: { disk: true } },
      TypeError,
      /unknown permission "disk"/,
    ],
    [
      "permissions bad value",
      { permissions: { read: "yes" } },
      TypeError,
      /permissions.read must be.*current value is "yes"/,
    ],
    [
      "permissions read scoped, write anywhere",
      { permissions: { read: ["./data"], write: true } },
      TypeError,
      /permissions.read is scoped to folders, but permissions.write is true: a worker that may write anywhere can move any file into a read folder/,
    ],
    [
      "permissions read scoped, write inherited",
      { permissions: { read: ["./data"], write: "inherit" } },
      TypeError,
      /permissions.write is "inherit"/,
    ],
    [
      "timeout 0",
      { timeout: 0 },
      RangeError,
      /timeout must be a positive finite number.*current value is 0/,
    ],
    [
      "timeout string",
      { timeout: "5" },
      TypeError,
      /timeout must be a number.*current value is "5"/,
    ],
    [
      "idleTimeout -1",
      { idleTimeout: -1 },
      RangeError,
      /idleTimeout must be a non-negative number of milliseconds or Infinity: current value is -1/,
    ],
    ["idleTimeout -Infinity", { idleTimeout: -Infinity }, RangeError, /current value is -Infinity/],
    [
      "idleTimeout NaN",
      { idleTimeout: NaN },
      RangeError,
      /idleTimeout must be a non-negative number.*current value is NaN/,
    ],
    [
      "idleTimeout string",
      { idleTimeout: "5000" },
      TypeError,
      /idleTimeout must be a non-negative number.*current value is "5000"/,
    ],
    [
      "idleTimeout null",
      { idleTimeout: null },
      TypeError,
      /idleTimeout must be a non-negative number.*current value is null/,
    ],
    ["options null", null, TypeError, /options must be an object: current value is null/],
  ];
  for (const [name, options, type, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => new Plain(options as PyDatasetOptions), (error) => {
        assert.ok(error instanceof type, `${name}: ${error}`);
        assert.match((error as Error).message, /^Cannot create Plain as /);
        assert.match((error as Error).message, message);
        return true;
      });
    });
  }
});

Deno.test("PyDataset rejects a length that is not a non-negative integer or Infinity", async (t) => {
  const cases: [unknown, ErrorConstructor, RegExp][] = [
    [-1, RangeError, /length must be a non-negative integer or Infinity: current value is -1/],
    [2.5, RangeError, /current value is 2.5/],
    [NaN, RangeError, /current value is NaN/],
    [-Infinity, RangeError, /current value is -Infinity/],
    ["3", TypeError, /length must be a number of batches: current value is "3"/],
    [undefined, TypeError, /current value is undefined/],
  ];
  for (const [length, type, message] of cases) {
    await t.step(String(length), async () => {
      const dataset = new Plain();
      dataset.size = length;
      assert.throws(() => dataset.epoch(), type);
      assert.throws(() => dataset.epoch(), message);
      await assert.rejects(async () => {
        for await (const _ of dataset);
      }, type);
    });
  }
  assert.deepEqual(await collect(new Plain({}, 0).epoch()), []);
});

Deno.test("PyDataset.epoch rejects bad epoch options", () => {
  const dataset = new Plain();
  assert.throws(() => dataset.epoch({ shuffle: "yes" as unknown as boolean }), {
    name: "TypeError",
    message: /shuffle must be a boolean: current value is "yes"/,
  });
  assert.throws(() => dataset.epoch({ seed: 1.5 }), {
    name: "RangeError",
    message: /seed must be a safe integer: current value is 1.5/,
  });
  assert.throws(() => dataset.epoch({ seed: "7" as unknown as number }), {
    name: "TypeError",
    message: /seed must be an integer: current value is "7"/,
  });
  assert.throws(() => dataset.epoch({ epoch: -1 }), {
    name: "RangeError",
    message: /epoch must be a non-negative integer: current value is -1/,
  });
  assert.throws(() => dataset.epoch({ shard: { index: 2, count: 2 } }), {
    name: "RangeError",
    message: /shard.index must be an integer from 0 to 1: current value is 2/,
  });
  assert.throws(() => dataset.epoch({ shard: { index: 0, count: 0 } }), {
    name: "RangeError",
    message: /shard.count must be a positive integer: current value is 0/,
  });
  assert.throws(
    () => dataset.epoch({ shard: "0/2" as unknown as { index: number; count: number } }),
    {
      name: "TypeError",
      message: /shard must be \{ index, count \}: current value is "0\/2"/,
    },
  );
  assert.throws(() => dataset.epoch({ signal: {} as AbortSignal }), {
    name: "TypeError",
    message: /signal must be an AbortSignal/,
  });
});

Deno.test("PyDataset fails with a TypeError when module does not export the class", async () => {
  class Hidden extends PyDataset<number> {
    get length(): number {
      return 2;
    }
    getItem(index: number): number {
      return index;
    }
  }
  const module = new URL("./fixtures/numbers.ts", import.meta.url);
  await using dataset = new Hidden({ useMultiprocessing: true, module });
  await assert.rejects(collect(dataset.epoch()), (error) => {
    assert.ok(error instanceof TypeError);
    assert.match(
      error.message,
      /Cannot start a worker for Hidden from file:.*numbers\.ts as it does not export a class named Hidden: it exports CountedNumbers, Numbers/,
    );
    return true;
  });
});
