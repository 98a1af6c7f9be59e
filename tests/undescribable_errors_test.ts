import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { lastThrown, type Place, Throwing, VALUES } from "./fixtures/throwing_values.ts";
import { capturingErrors, within } from "./_helpers.ts";

/** What a batch's error must say of each value in `VALUES`, by name. */
const SAYS: Record<string, RegExp> = {
  "toString and toJSON that throw":
    /a value that cannot be described \(its toString threw: toString broke\)/,
  "a Proxy that throws on every trap":
    /a value that cannot be described \(its toString threw: The proxy refuses get\)/,
  "a Proxy that throws itself":
    /a value that cannot be described \(its toString threw the value itself\)/,
  "a revoked Proxy":
    /a value that cannot be described \(its toString threw: Cannot perform 'get' on a proxy that has been revoked\)/,
  "a Symbol": /Symbol\(odd\)/,
  "a BigInt": /\b12\b/,
  "a null-prototype object with a cycle":
    /a value that cannot be described \(its toString threw: Cannot convert object to primitive value\)/,
  "an Error subclass whose message getter throws":
    /a value that cannot be described \(reading its message threw: message broke\)/,
  "an Error whose name getter throws": /the message/,
  "an Error whose stack getter throws": /the message/,
  "an Error whose cause getter throws": /the message/,
  "an Error whose message is a throwing Proxy":
    /a value that cannot be described \(its toString threw: proxy broke\)/,
  "a cause chain 10,000 deep": /the outermost/,
  "a cause cycle": /in a cycle/,
};

/** How each place's error begins, before what it says of the value. */
const PREFIX: Record<Place, RegExp> = {
  getItem: /^Cannot get batch 2 of Throwing: /,
  post: /^Cannot get batch 2 of Throwing: The batch cannot be sent from the worker: /,
  onWorkerStart: /^Cannot get batch 0 of Throwing: onWorkerStart threw in worker 0: /,
};

/** Reads an epoch of `dataset` to its error, with console.error captured. */
async function failure(dataset: Throwing): Promise<{ error: unknown; printed: unknown[][] }> {
  const { result: error, printed } = await capturingErrors(async () => {
    try {
      for await (const _ of dataset.epoch());
    } catch (error) {
      return error;
    }
    return undefined;
  });
  return { error, printed };
}

/** `error instanceof BatchError`, false where even that throws: a regression fails cleanly. */
function isBatchError(error: unknown): error is BatchError {
  try {
    return error instanceof BatchError;
  } catch {
    return false;
  }
}

async function checkFailure(dataset: Throwing, name: string): Promise<BatchError> {
  const { error, printed } = await within(failure(dataset));
  assert.ok(isBatchError(error), "the stream fails with a BatchError");
  assert.equal(error.index, dataset.place === "onWorkerStart" ? 0 : 2);
  assert.match(error.message, PREFIX[dataset.place]);
  assert.match(error.message, SAYS[name]!);
  assert.equal(printed.length, 0, "nothing is reported as a worker's death");
  return error;
}

Deno.test("The cases cover every value the fixture throws", () => {
  assert.deepEqual(Object.keys(SAYS), Object.keys(VALUES));
});

Deno.test("PyDataset fails the batch with a BatchError whatever getItem throws (main thread)", async (t) => {
  for (const name of Object.keys(SAYS)) {
    await t.step(name, async () => {
      await using dataset = new Throwing(4, 2, name, "getItem", { workers: 1 });
      const error = await checkFailure(dataset, name);
      assert.equal(error.cause, lastThrown(), "the cause is the value thrown");
      assert.equal(dataset.calls[2], 1, "getItem(2) ran once");
    });
  }
});

Deno.test("PyDataset fails the batch with a BatchError whatever getItem throws (workers)", async (t) => {
  for (const place of ["getItem", "post"] as const) {
    for (const name of Object.keys(SAYS)) {
      await t.step(`${name}, thrown in ${place}`, async () => {
        await using dataset = new Throwing(4, 2, name, place, {
          workers: 2,
          useMultiprocessing: true,
        });
        const error = await checkFailure(dataset, name);
        assert.ok(error.cause instanceof Error, "the cause is rebuilt as an Error");
        assert.equal(Atomics.load(dataset.calls, 2), 1, "getItem(2) ran once: no retry");
      });
    }
  }
});

Deno.test("PyDataset fails the batch with a BatchError whatever onWorkerStart throws", async (t) => {
  for (const name of Object.keys(SAYS)) {
    await t.step(name, async () => {
      await using dataset = new Throwing(4, 0, name, "onWorkerStart", {
        workers: 1,
        useMultiprocessing: true,
      });
      const error = await checkFailure(dataset, name);
      assert.ok(error.cause instanceof Error, "the cause is rebuilt as an Error");
      assert.equal(Atomics.load(dataset.calls, 4), 1, "onWorkerStart ran once: no retry");
      assert.equal(Atomics.load(dataset.calls, 0), 0, "getItem never ran");
    });
  }
});
