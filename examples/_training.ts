// What the Deno training examples share: the backend and the progress bar
// (the model and the wait timer, which the browser page shares too, are in
// _model.ts).

import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { TfDataset } from "../tfjs.ts";

/** Selects a TensorFlow.js backend; `wasm` finds its .wasm files in the npm package. */
export async function useBackend(backend: "wasm" | "cpu"): Promise<void> {
  tf.env().set("PROD", true); // no banner about tfjs-node, which Deno cannot load
  if (backend === "wasm") {
    setWasmPaths(new URL(".", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).href);
  }
  await tf.setBackend(backend);
  await tf.ready();
}

/**
 * A progress bar per epoch on stderr, with the epoch's mean loss and
 * accuracy so far; one line per epoch when stderr is not a terminal.
 */
export class Progress {
  #encoder = new TextEncoder();
  #live = Deno.stderr.isTerminal();
  #started = 0;
  #losses = 0;
  #accuracies = 0;

  begin(): void {
    this.#started = performance.now();
    this.#losses = 0;
    this.#accuracies = 0;
  }

  update(
    epoch: string,
    done: number,
    total: number,
    batchLoss: number,
    batchAccuracy: number,
  ): void {
    this.#losses += batchLoss;
    this.#accuracies += batchAccuracy;
    const loss = this.#losses / done;
    const accuracy = this.#accuracies / done;
    if (!this.#live && done < total) return;
    const seconds = (performance.now() - this.#started) / 1000;
    const rate = done / seconds;
    const width = 24;
    const filled = Math.round((done / total) * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const left = done < total
      ? `${((total - done) / rate).toFixed(1)} s left`
      : `${seconds.toFixed(1)} s`;
    const line = `${epoch} [${bar}] ${done}/${total} batches  loss ${loss.toFixed(3)}  acc ${
      accuracy.toFixed(3)
    }  ${rate.toFixed(0)} batches/s  ${left}`;
    Deno.stderr.writeSync(this.#encoder.encode(this.#live ? `\r${line}\x1b[K` : `${line}\n`));
    if (this.#live && done === total) Deno.stderr.writeSync(this.#encoder.encode("\n"));
  }
}

/** What {@linkcode fit} measured. */
export interface FitReport {
  epochSeconds: number[];
  epochWaits: number[];
}

/**
 * Trains `model` on `data` for `epochs`, drawing a progress bar of
 * `batches()` steps per epoch, and reports epoch times and waits.
 */
export async function fit(
  model: tf.LayersModel,
  data: TfDataset,
  { epochs, batches, epochWaitMs }: {
    epochs: number;
    batches: () => number;
    /** Milliseconds the model waited for batches in the epoch that just ended. */
    epochWaitMs: () => number;
  },
): Promise<FitReport> {
  const progress = new Progress();
  const report: FitReport = { epochSeconds: [], epochWaits: [] };
  let started = 0;
  await model.fitDataset(data, {
    epochs,
    verbose: 0,
    callbacks: {
      onEpochBegin: () => {
        started = performance.now();
        progress.begin();
      },
      onBatchEnd: (batch, logs) => {
        const label = `epoch ${report.epochSeconds.length + 1}/${epochs}`;
        progress.update(label, batch + 1, batches(), logs?.loss ?? NaN, logs?.acc ?? NaN);
      },
      onEpochEnd: () => {
        report.epochSeconds.push((performance.now() - started) / 1000);
        report.epochWaits.push(epochWaitMs() / 1000);
      },
    },
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
