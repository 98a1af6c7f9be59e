// What the Deno training examples share: fitting with the library's
// progress bar, and the summary (the model and the wait timer, which the
// browser page shares too, are in _model.ts).

import * as tf from "@tensorflow/tfjs";
import { progressBar, type ProgressBarOptions, type TfDataset } from "../tfjs.ts";
import type { PyDataset } from "../mod.ts";

// tests/tfjs_recycling_test.ts and bench/table.ts import it from here.
export { useBackend } from "../tfjs.ts";

/** What {@linkcode fit} measured. */
export interface FitReport {
  epochSeconds: number[];
  epochWaits: number[];
}

/**
 * Trains `model` on `data` for `epochs`, with the library's progress bar on
 * stderr (and, given the `PyDataset` read, its loader wait), and reports
 * epoch times and waits.
 */
export async function fit(
  model: tf.LayersModel,
  data: TfDataset,
  { epochs, dataset, total, epochWaitMs }: {
    epochs: number;
    /** The dataset `data` reads, if it is a `PyDataset`. */
    dataset?: PyDataset;
    /** Batches per epoch, when `dataset` does not tell. */
    total?: ProgressBarOptions["total"];
    /** Milliseconds the model waited for batches in the epoch that just ended. */
    epochWaitMs: () => number;
  },
): Promise<FitReport> {
  const report: FitReport = { epochSeconds: [], epochWaits: [] };
  let started = 0;
  await model.fitDataset(data, {
    epochs,
    verbose: 0,
    callbacks: [
      progressBar({ dataset, total }),
      new tf.CustomCallback({
        onEpochBegin: () => {
          started = performance.now();
        },
        onEpochEnd: () => {
          report.epochSeconds.push((performance.now() - started) / 1000);
          report.epochWaits.push(epochWaitMs() / 1000);
        },
      }),
    ],
  });
  return report;
}

/** Prints held-out accuracy, epoch times and the time training waited. */
export async function summarize(
  model: tf.LayersModel,
  heldOut: TfDataset,
  classes: number,
  { epochSeconds, epochWaits }: FitReport,
): Promise<void> {
  const [loss, accuracy] = await model.evaluateDataset(heldOut, {}) as [tf.Scalar, tf.Scalar];
  const total = epochSeconds.reduce((a, b) => a + b, 0);
  const waited = epochWaits.reduce((a, b) => a + b, 0);
  console.log(
    `held-out accuracy ${((await accuracy.data())[0]! * 100).toFixed(1)}% (chance ${
      (100 / classes).toFixed(1)
    }%), loss ${(await loss.data())[0]!.toFixed(3)}`,
  );
  console.log(`epoch times: ${epochSeconds.map((s) => `${s.toFixed(1)} s`).join(", ")}`);
  console.log(
    `training waited on the loader ${waited.toFixed(1)} s of ${total.toFixed(1)} s (${
      (100 * waited / total).toFixed(0)
    }%; ${epochWaits.map((s) => s.toFixed(2)).join(", ")} s per epoch)`,
  );
  tf.dispose([loss, accuracy]);
}
