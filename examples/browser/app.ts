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
import { classifier, timed, toTensors, type Waits } from "../_model.ts";
import type { ImageBatch } from "../image_dataset.ts";

/** One trained epoch, as the page saw it. */
interface EpochRecord {
  epoch: number;
  /** Batches the server said the epoch has (`x-pydataset-batches`). */
  expected: number;
  /** Batches the page received. */
  received: number;
  loss?: number;
  accuracy?: number;
}

/** Everything the page shows. */
interface Demo {
  state: "loading" | "ready" | "training" | "paused" | "evaluating" | "done" | "failed";
  backend: string;
  epochs: EpochRecord[];
  batches: number;
  /** Time the page waited for its responses and their batches, pauses left out. */
  waitedMs: number;
  heldOutAccuracy?: number;
  error?: string;
}

const demo: Demo = { state: "loading", backend: "", epochs: [], batches: 0, waitedMs: 0 };
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
        controller.close();
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

const losses: number[] = [];
const accuracies: number[] = [];
const waits: Waits = { ms: 0 };
let epochs = 5;
let startedAt = 0;
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
      const seconds = (performance.now() - startedAt - gate.pausedMs) / 1000;
      $("#rate").textContent = (demo.batches / seconds).toFixed(1);
      $("#waited").textContent = `${(waits.ms / 1000).toFixed(2)} s`;
    }
    const last = losses.length - 1;
    if (last >= 0) {
      $("#metrics").textContent = `${losses[last]!.toFixed(3)}, ${accuracies[last]!.toFixed(3)}`;
    }
    if (demo.heldOutAccuracy !== undefined) {
      $("#held-out").textContent = `${(demo.heldOutAccuracy * 100).toFixed(1)}%`;
    }
    plot();
  });
}

/** Loss (scaled to its largest value) and accuracy per batch, as polylines. */
function plot(): void {
  const total = Math.max(1, epochs * (demo.epochs[0]?.expected ?? 1));
  const x = (i: number) => ((i + 0.5) / total * 600).toFixed(1);
  const y = (value: number) => (230 - Math.min(Math.max(value, 0), 1) * 190).toFixed(1);
  const top = losses.reduce((a, b) => Math.max(a, b), 0) || 1;
  $("polyline.loss").setAttribute(
    "points",
    losses.map((loss, i) => `${x(i)},${y(loss / top)}`).join(" "),
  );
  $("polyline.accuracy").setAttribute(
    "points",
    accuracies.map((accuracy, i) => `${x(i)},${y(accuracy)}`).join(" "),
  );
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

/** Trains a new model for `epochs` epochs, then evaluates it on held-out batches. */
async function train(size: number, classes: number): Promise<void> {
  Object.assign(demo, { state: "training", epochs: [], batches: 0 });
  delete demo.error;
  delete demo.heldOutAccuracy;
  losses.length = accuracies.length = 0;
  waits.ms = 0;
  gate.pausedMs = 0;
  $("#error").textContent = "";
  startedAt = performance.now();
  const model = classifier(size, classes);
  try {
    // Each pass asks for the next epoch number: its shuffled order.
    let epoch = 0;
    const open = timed(async ({ signal }) => {
      const record: EpochRecord = { epoch: epoch++, expected: 0, received: 0 };
      const url = `/train?epoch=${record.epoch}&shuffle=1&seed=1`;
      const response = await fetchOk(url, signal);
      record.expected = Number(response.headers.get("x-pydataset-batches"));
      demo.epochs.push(record);
      return batchesFromResponse(response) as ReadableStream<ImageBatch>;
    }, waits);
    // The gate is outside the timer: a pause is not time spent waiting.
    const data = toTfDataset(
      async (options) => watched(await open(options), demo.epochs.at(-1)!),
      { toTensors },
    );
    await model.fitDataset(data, {
      epochs,
      callbacks: {
        onBatchEnd: (_batch, logs) => {
          losses.push(logs?.loss ?? NaN);
          accuracies.push(logs?.acc ?? NaN);
          render();
        },
        onEpochEnd: (_epoch, logs) => {
          Object.assign(demo.epochs.at(-1)!, { loss: logs?.loss, accuracy: logs?.acc });
        },
      },
    });
    setPaused(false);
    pauseButton.disabled = true;
    demo.state = "evaluating";
    render();
    const heldOut = toTfDataset(
      async ({ signal }) =>
        batchesFromResponse(await fetchOk("/test", signal)) as ReadableStream<ImageBatch>,
      { toTensors },
    );
    const [loss, accuracy] = await model.evaluateDataset(heldOut, {}) as tf.Scalar[];
    demo.heldOutAccuracy = (await accuracy!.data())[0];
    tf.dispose([loss!, accuracy!]);
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
