/**
 * A trainer that reads its batches over HTTP from `examples/serve.ts`:
 * `toTfDataset(() => batchesFromResponse(await fetch(url)))` and
 * `model.fitDataset`, the same API as with a local `PyDataset`.
 *
 * ```sh
 * deno task serve &          # the data server
 * deno task train-remote     # this trainer
 * deno task train-remote --shard 0/2 & deno task train-remote --shard 1/2   # two trainers split each epoch
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { toTfDataset, useBackend } from "../tfjs.ts";
import { batchesFromResponse } from "../wire.ts";
import { integer, run } from "./_flags.ts";
import { classifier, timed, type Waits } from "./_model.ts";
import { fit, summarize } from "./_training.ts";
import type { ImageBatch } from "./image_dataset.ts";

const HELP = `Trains a small TensorFlow.js model on batches served over HTTP.

Usage: deno task train-remote [options]

  --url URL             the server (default http://127.0.0.1:8000)
  --epochs N            epochs to train (default 8)
  --shard i/n           read shard i of n of each epoch (default: all of it)
  --size N              the served images' size (default 16)
  --backend NAME        TensorFlow.js backend: wasm or cpu (default wasm)
  --help                this text`;

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string", default: "http://127.0.0.1:8000" },
      epochs: { type: "string" },
      shard: { type: "string" },
      size: { type: "string" },
      backend: { type: "string", default: "wasm" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.backend !== "wasm" && values.backend !== "cpu") {
    throw new RangeError(`--backend must be wasm or cpu: current value is ${values.backend}`);
  }
  await useBackend(values.backend);
  const epochs = integer(values.epochs, "epochs", 8);
  const size = integer(values.size, "size", 16);
  const shard = values.shard ? `&shard=${encodeURIComponent(values.shard)}` : "";

  // Each pass asks for the next epoch number, so every trainer (and shard)
  // gets the same shuffled order for it.
  let epoch = 0;
  let batches = 0;
  const waits: Waits = { ms: 0 };
  const open = async ({ signal }: { signal: AbortSignal }) => {
    const response = await fetch(`${values.url}/train?epoch=${epoch++}&shuffle=1&seed=1${shard}`, {
      signal,
    });
    batches = Number(response.headers.get("x-pydataset-batches"));
    return batchesFromResponse<ImageBatch>(response);
  };
  const heldOut = async ({ signal }: { signal: AbortSignal }) =>
    batchesFromResponse<ImageBatch>(await fetch(`${values.url}/test`, { signal }));

  const classes = 4;
  const net = classifier(size, classes);
  console.log(
    `training from ${values.url}/train${
      shard ? ` (shard ${values.shard})` : ""
    }; tfjs ${tf.getBackend()}`,
  );
  let before = 0;
  const report = await fit(net, toTfDataset(timed(open, waits)), {
    epochs,
    // Known once a pass has its response: the server's x-pydataset-batches.
    total: () => batches || undefined,
    epochWaitMs: () => {
      const waited = waits.ms - before;
      before = waits.ms;
      return waited;
    },
  });
  await summarize(net, toTfDataset(heldOut), classes, report);
  net.dispose();
}

if (import.meta.main) await run(main, HELP);
