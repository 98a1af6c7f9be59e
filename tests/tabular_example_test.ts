// The tabular example: a CSV parsed, standardised, and trained on from an
// ArrayDataset through toTfDataset.

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { parseTable, trainTabular } from "../examples/tabular.ts";

const csv = new URL("../examples/data/synthetic_penguins.csv", import.meta.url);

Deno.test("The tabular example learns the species from a CSV file, the same in every run", async () => {
  await tf.setBackend("cpu");
  const first = await trainTabular(csv);
  assert.deepEqual(first.classes, ["adelie", "chinstrap", "gentoo"]);
  assert.ok(first.accuracy >= 0.9, `held-out accuracy ${first.accuracy}`);
  assert.equal((await trainTabular(csv)).accuracy, first.accuracy);
});

Deno.test("The tabular example names a cell that is not a number", () => {
  assert.throws(
    () =>
      parseTable("bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,species\n1,2,x,4,a\n"),
    { name: "TypeError", message: /Row 2's flipper_length_mm is not a number: current value is x/ },
  );
});
