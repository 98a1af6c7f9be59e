import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { collect, MODES, within } from "./_helpers.ts";

const concurrent = MODES.filter((mode) => mode.options.workers > 1);

for (const mode of concurrent) {
  Deno.test(`ordered: false delivers batches as they arrive, each exactly once (${mode.name})`, async () => {
    // Batch 0 is slow: everything else comes out before it.
    await using dataset = new Numbers(16, { delay: { 0: 300 } }, {
      ...mode.options,
      ordered: false,
      maxQueueSize: 4,
    });
    const seen = (await within(collect(dataset.epoch())))
      .map(([x]) => x[0]!);
    assert.deepEqual(seen.toSorted((a, b) => a - b), [...Array(16).keys()]);
    assert.ok(seen.indexOf(0) > 8, `the slow batch held nothing back: ${seen}`);
  });

  Deno.test(`ordered: false fails with the failing batch after delivering what arrived before it (${mode.name})`, async () => {
    await using dataset = new Numbers(12, { delay: { 5: 40 }, throwAsync: [5] }, {
      ...mode.options,
      ordered: false,
    });
    const seen: number[] = [];
    const error = await within((async () => {
      for await (const [x] of dataset.epoch()) seen.push(x[0]!);
    })()).catch((error) => error);
    assert.ok(error instanceof BatchError, String(error));
    assert.equal(error.index, 5);
    assert.ok(!seen.includes(5));
    assert.equal(new Set(seen).size, seen.length, "no batch twice");
    assert.ok(seen.length >= 1, "batches that arrived first were delivered");
  });
}

Deno.test("ordered: true (the default) keeps epoch order behind a slow batch", async () => {
  await using dataset = new Numbers(8, { delay: { 0: 60 } }, { workers: 3 });
  const seen = (await within(collect(dataset.epoch()))).map(([x]) => x[0]!);
  assert.deepEqual(seen, [...Array(8).keys()]);
});

Deno.test("PyDataset rejects an ordered option that is not a boolean", () => {
  assert.throws(
    () => new Numbers(1, {}, { ordered: "no" as unknown as boolean }),
    new TypeError('Cannot create Numbers as ordered must be a boolean: current value is "no"'),
  );
});
