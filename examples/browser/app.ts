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
import { classifier, toTensors } from "../_model.ts";
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
  state: "loading" | "ready" | "training" | "paused" | "done" | "failed";
  backend: string;
  epochs: EpochRecord[];
  batches: number;
  /** Time the page waited for the next batch to arrive. */
  waitedMs: number;
  heldOutAccuracy?: number;
  error?: string;
}

const demo: Demo = { state: "loading", backend: "", epochs: [], batches: 0, waitedMs: 0 };
Object.assign(globalThis, { demo });

const $ = <E extends Element = HTMLElement>(selector: string) =>
  document.querySelector(selector) as unknown as E;
const query = new URL(location.href).searchParams;
const epochs = Number(query.get("epochs") ?? 5);

/** Paused, the page stops reading its response: the server stops with it. */
class Gate {
  #resume: PromiseWithResolvers<void> | undefined;
  get closed(): boolean {
    return this.#resume !== undefined;
  }
  close(): void {
    this.#resume ??= Promise.withResolvers();
  }
  open(): void {
    this.#resume?.resolve();
    this.#resume = undefined;
  }
  async pass(): Promise<void> {
    while (this.#resume) await this.#resume.promise;
  }
}
const gate = new Gate();

/** Passes an epoch's batches on, counting them and timing the waits. */
function watched(stream: ReadableStream<ImageBatch>, record: EpochRecord) {
  const reader = stream.getReader();
  return new ReadableStream<ImageBatch>({
    async pull(controller) {
      await gate.pass();
      const started = performance.now();
      const { done, value } = await reader.read();
      demo.waitedMs += performance.now() - started;
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

const losses: number[] = [];
const accuracies: number[] = [];
let startedAt = 0;
let drawing = false;

/** Redraws the figures and the chart, at most once a frame. */
function render(): void {
  if (drawing) return;
  drawing = true;
  requestAnimationFrame(() => {
    drawing = false;
    const current = demo.epochs.at(-1);
    $("#status").textContent = demo.state === "failed" ? "failed" : demo.state;
    $("#epoch").textContent = current ? `${current.epoch + 1} of ${epochs}` : "–";
    $("#batches").textContent = current
      ? `${demo.batches} (this epoch ${current.received} of ${current.expected})`
      : "0";
    const seconds = (performance.now() - startedAt) / 1000;
    if (startedAt) $("#rate").textContent = (demo.batches / seconds).toFixed(1);
    if (startedAt) $("#waited").textContent = `${(demo.waitedMs / 1000).toFixed(2)} s`;
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

function fail(error: unknown): void {
  demo.state = "failed";
  demo.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  $("#error").textContent = demo.error;
  $<HTMLButtonElement>("#train").disabled = false;
  $<HTMLButtonElement>("#pause").disabled = true;
  render();
}

addEventListener("error", (event) => fail(event.error ?? event.message));
addEventListener("unhandledrejection", (event) => fail(event.reason));

async function train(size: number, classes: number): Promise<void> {
  Object.assign(demo, { state: "training", epochs: [], batches: 0, waitedMs: 0 });
  delete demo.error;
  delete demo.heldOutAccuracy;
  losses.length = accuracies.length = 0;
  $("#error").textContent = "";
  startedAt = performance.now();
  const model = classifier(size, classes);
  // Each pass asks for the next epoch number: its shuffled order.
  let epoch = 0;
  const data = toTfDataset(async ({ signal }) => {
    const record: EpochRecord = { epoch: epoch++, expected: 0, received: 0 };
    const response = await fetch(`/train?epoch=${record.epoch}&shuffle=1&seed=1`, { signal });
    record.expected = Number(response.headers.get("x-pydataset-batches"));
    demo.epochs.push(record);
    return watched(batchesFromResponse(response) as ReadableStream<ImageBatch>, record);
  }, { toTensors });
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
  const heldOut = toTfDataset(
    async ({ signal }) =>
      batchesFromResponse(await fetch("/test", { signal })) as ReadableStream<ImageBatch>,
    { toTensors },
  );
  const [loss, accuracy] = await model.evaluateDataset(heldOut, {}) as tf.Scalar[];
  demo.heldOutAccuracy = (await accuracy!.data())[0];
  tf.dispose([loss!, accuracy!]);
  model.dispose();
  demo.state = "done";
  render();
}

async function main(): Promise<void> {
  const backend = query.get("backend");
  if (backend && !(await tf.setBackend(backend))) {
    throw new Error(`The TensorFlow.js backend ${backend} is not available in this browser`);
  }
  await tf.ready();
  demo.backend = tf.getBackend();
  const info = await (await fetch("/info")).json() as { size: number; classes: string[] };
  const trainButton = $<HTMLButtonElement>("#train");
  const pauseButton = $<HTMLButtonElement>("#pause");
  trainButton.onclick = () => {
    trainButton.disabled = true;
    pauseButton.disabled = false;
    train(info.size, info.classes.length).then(() => {
      trainButton.disabled = false;
      pauseButton.disabled = true;
    }, fail);
  };
  pauseButton.onclick = () => {
    if (gate.closed) {
      gate.open();
      demo.state = "training";
      pauseButton.textContent = "Pause";
    } else {
      gate.close();
      demo.state = "paused";
      pauseButton.textContent = "Resume";
    }
    render();
  };
  demo.state = "ready";
  $("#status").textContent = `ready: ${
    info.classes.join(", ")
  }, ${info.size}×${info.size} images, ${demo.backend} backend`;
  trainButton.disabled = false;
}

main().catch(fail);
