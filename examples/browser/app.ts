/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The page's script: trains a TensorFlow.js model in the browser on epochs
 * streamed by the Deno server (`examples/browser/server.ts`), with the same
 * API as in Deno — `toTfDataset(() => batchesFromResponse(await fetch(...)))`
 * and `model.fitDataset`. The server bundles it for the browser.
 *
 * Query: `epochs=N` (default 5), `backend=cpu|webgl` (default: TensorFlow.js
 * picks). What the page shows is also in `globalThis.demo`, for tests.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { toTfDataset } from "../../tfjs.ts";
import { batchesFromResponse } from "../../wire.ts";
import { classifier, timed, type Waits } from "../_model.ts";
import type { ImageBatch } from "../image_dataset.ts";
import { drawChart, smooth } from "./chart.ts";

/** One trained epoch, as the page saw it. */
interface EpochRecord {
  epoch: number;
  /** Batches the server said the epoch has (`x-pydataset-batches`). */
  expected: number;
  /** Batches the page received. */
  received: number;
  /** The epoch's mean training loss and accuracy, once it has ended. */
  loss?: number;
  accuracy?: number;
  /** Loss and accuracy on the held-out images (`/test/epoch`) after the epoch. */
  heldOutLoss?: number;
  heldOutAccuracy?: number;
  /** Set once the epoch and its evaluation have ended. */
  finished?: boolean;
}

/** Everything the page shows. */
interface Demo {
  state: "loading" | "ready" | "training" | "paused" | "evaluating" | "done" | "failed";
  backend: string;
  epochs: EpochRecord[];
  batches: number;
  /** Time the page waited for its responses and their batches, pauses left out. */
  waitedMs: number;
  /** The training loss of each batch, and its moving average (see `SMOOTHING` in chart.ts). */
  losses: number[];
  smoothedLosses: number[];
  /** The held-out accuracy after the last finished epoch. */
  heldOutAccuracy?: number;
  error?: string;
}

const demo: Demo = {
  state: "loading",
  backend: "",
  epochs: [],
  batches: 0,
  waitedMs: 0,
  losses: [],
  smoothedLosses: [],
};
Object.assign(globalThis, { demo });

/** The page's element for `selector`. */
const $ = <E extends Element = HTMLElement>(selector: string) =>
  document.querySelector(selector) as unknown as E;
const trainButton = $<HTMLButtonElement>("#train");
const pauseButton = $<HTMLButtonElement>("#pause");

/** Paused, the page stops reading its response: the server stops with it. */
class Gate {
  #resume: PromiseWithResolvers<void> | undefined;
  #since = 0;
  /** Time spent paused, for the batches/s figure. */
  pausedMs = 0;

  get closed(): boolean {
    return this.#resume !== undefined;
  }

  close(): void {
    if (this.#resume) return;
    this.#resume = Promise.withResolvers();
    this.#since = performance.now();
  }

  open(): void {
    if (!this.#resume) return;
    this.pausedMs += performance.now() - this.#since;
    this.#resume.resolve();
    this.#resume = undefined;
  }

  /** Resolves at once, or when the gate opens. */
  async pass(): Promise<void> {
    while (this.#resume) await this.#resume.promise;
  }
}
const gate = new Gate();

/** Passes an epoch's batches on once the gate lets it, counting them. */
function watched(stream: ReadableStream<ImageBatch>, record: EpochRecord) {
  const reader = stream.getReader();
  return new ReadableStream<ImageBatch>({
    async pull(controller) {
      await gate.pass();
      const { done, value } = await reader.read();
      if (done) {
        // The epoch's batches are trained: fitDataset now evaluates the
        // held-out images (its validationData), until onEpochEnd.
        demo.state = "evaluating";
        evaluatingSince = performance.now();
        if (record.epoch === epochs - 1) pauseButton.disabled = true;
        controller.close();
        render();
        return;
      }
      record.received++;
      demo.batches++;
      controller.enqueue(value);
      render();
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** The response of `url`, or an error with the server's reason. */
async function fetchOk(url: string, signal?: AbortSignal): Promise<Response> {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response;
}

/** The training accuracy of the last batch. */
let accuracy = NaN;
const waits: Waits = { ms: 0 };
let epochs = 5;
let startedAt = 0;
/** Time spent evaluating, left out of batches/s as pauses are. */
let evaluatingMs = 0;
let evaluatingSince = 0;
let drawing = false;

/** Redraws the figures and the chart, at most once a frame. */
function render(): void {
  if (drawing) return;
  drawing = true;
  requestAnimationFrame(() => {
    drawing = false;
    demo.waitedMs = waits.ms;
    const current = demo.epochs.at(-1);
    $("#status").textContent = demo.state === "ready"
      ? `ready (TensorFlow.js ${demo.backend} backend)`
      : demo.state;
    $("#epoch").textContent = current ? `${current.epoch + 1} of ${epochs}` : "–";
    $("#batches").textContent = current
      ? `${demo.batches} (this epoch ${current.received} of ${current.expected})`
      : "0";
    if (startedAt) {
      const seconds = (performance.now() - startedAt - gate.pausedMs - evaluatingMs) / 1000;
      $("#rate").textContent = (demo.batches / seconds).toFixed(1);
      $("#waited").textContent = `${(waits.ms / 1000).toFixed(2)} s`;
    }
    const loss = demo.losses.at(-1);
    $("#metrics").textContent = loss === undefined
      ? "–"
      : `${loss.toFixed(3)}, ${accuracy.toFixed(3)}`;
    const finished = demo.epochs.filter((epoch) => epoch.finished);
    $("#held-out").textContent = demo.heldOutAccuracy === undefined
      ? "–"
      : `${(demo.heldOutAccuracy * 100).toFixed(1)}% after epoch ${finished.length}`;
    plot(finished);
  });
}

/** The chart: the loss per batch, raw and smoothed, and the finished epochs. */
function plot(finished: EpochRecord[]): void {
  let endBatch = 0;
  drawChart($<SVGSVGElement>("#chart"), {
    losses: demo.losses,
    smoothed: demo.smoothedLosses,
    totalBatches: epochs * (demo.epochs[0]?.expected ?? 0),
    epochs: finished.map((epoch) => ({
      endBatch: endBatch += epoch.received,
      heldOutAccuracy: epoch.heldOutAccuracy,
    })),
  });
}

/** Shows an error; Train is offered again once no training runs. */
function fail(error: unknown): void {
  demo.state = "failed";
  demo.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  $("#error").textContent = demo.error;
  render();
}

addEventListener("error", (event) => fail(event.error ?? event.message));
addEventListener("unhandledrejection", (event) => fail(event.reason));

/** Trains a new model for `epochs` epochs, evaluating it on held-out batches after each. */
async function train(size: number, classes: number): Promise<void> {
  Object.assign(demo, {
    state: "training",
    epochs: [],
    batches: 0,
    losses: [],
    smoothedLosses: [],
  });
  delete demo.error;
  delete demo.heldOutAccuracy;
  accuracy = NaN;
  waits.ms = 0;
  gate.pausedMs = 0;
  evaluatingMs = 0;
  $("#error").textContent = "";
  startedAt = performance.now();
  const model = classifier(size, classes);
  try {
    // Each pass asks for the next epoch number: its shuffled order.
    let epoch = 0;
    const open = timed(async ({ signal }) => {
      const record: EpochRecord = { epoch: epoch++, expected: 0, received: 0 };
      const url = `/train/epoch?epoch=${record.epoch}&shuffle=1&seed=1`;
      const response = await fetchOk(url, signal);
      record.expected = Number(response.headers.get("x-pydataset-batches"));
      demo.epochs.push(record);
      return batchesFromResponse<ImageBatch>(response);
    }, waits);
    // The gate is outside the timer: a pause is not time spent waiting.
    const data = toTfDataset(async (options) => watched(await open(options), demo.epochs.at(-1)!));
    // The held-out images, read anew after each epoch.
    const heldOut = toTfDataset(
      async ({ signal }) => batchesFromResponse<ImageBatch>(await fetchOk("/test/epoch", signal)),
    );
    await model.fitDataset(data, {
      epochs,
      validationData: heldOut,
      callbacks: {
        onBatchEnd: (_batch, logs) => {
          const loss = logs?.loss ?? NaN;
          demo.smoothedLosses.push(smooth(demo.smoothedLosses.at(-1), loss));
          demo.losses.push(loss);
          accuracy = logs?.acc ?? NaN;
          render();
        },
        onEpochEnd: (epoch, logs) => {
          Object.assign(demo.epochs.at(-1)!, {
            loss: logs?.loss,
            accuracy: logs?.acc,
            heldOutLoss: logs?.val_loss,
            heldOutAccuracy: logs?.val_acc,
            finished: true,
          });
          demo.heldOutAccuracy = logs?.val_acc;
          evaluatingMs += performance.now() - evaluatingSince;
          if (epoch < epochs - 1) demo.state = gate.closed ? "paused" : "training";
          render();
        },
      },
    });
    setPaused(false);
    pauseButton.disabled = true;
    demo.state = "done";
    render();
  } finally {
    model.dispose();
  }
}

/** Pauses or resumes the reading of the epoch. */
function setPaused(paused: boolean): void {
  if (paused) gate.close();
  else gate.open();
  pauseButton.textContent = paused ? "Resume" : "Pause";
  if (demo.state === "training" || demo.state === "paused") {
    demo.state = paused ? "paused" : "training";
  }
  render();
}

async function main(): Promise<void> {
  const epochsText = new URL(location.href).searchParams.get("epochs") ?? "5";
  epochs = Number(epochsText);
  if (!(Number.isSafeInteger(epochs) && epochs >= 1)) {
    throw new RangeError(`?epochs must be a positive integer: current value is ${epochsText}`);
  }
  const backend = new URL(location.href).searchParams.get("backend");
  if (backend && !(await tf.setBackend(backend))) {
    throw new Error(`The TensorFlow.js backend ${backend} is not available in this browser`);
  }
  await tf.ready();
  demo.backend = tf.getBackend();
  const info = await (await fetchOk("/info")).json() as { size: number; classes: string[] };
  trainButton.onclick = () => {
    trainButton.disabled = true;
    pauseButton.disabled = false;
    setPaused(false);
    train(info.size, info.classes.length).catch(fail).finally(() => {
      setPaused(false);
      trainButton.disabled = false;
      pauseButton.disabled = true;
    });
  };
  pauseButton.onclick = () => setPaused(!gate.closed);
  demo.state = "ready";
  render();
  trainButton.disabled = false;
}

main().catch(fail);
