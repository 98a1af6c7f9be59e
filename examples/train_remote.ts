/**
 * A trainer that reads its batches over HTTP from `examples/serve.ts`:
 * `RemoteDataset.connect({ hosts })` is a `PyDataset` whose batches come
 * from the hosts' `/batch`, trained with `toTfDataset` and
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
import type { Shard } from "../mod.ts";
import { RemoteDataset } from "../remote.ts";
import { toTfDataset, useBackend } from "../tfjs.ts";
import { integer, run } from "./_flags.ts";
import { classifier } from "./_model.ts";
import { fit, summarize } from "./_training.ts";
import type { ImageBatch } from "./image_dataset.ts";

const HELP = `Trains a small TensorFlow.js model on batches served over HTTP.

Usage: deno task train-remote [options]

  --hosts URL,URL       the training set's hosts (default http://127.0.0.1:8000/train)
  --test-hosts URL,URL  the held-out set's hosts (default: --hosts, with /train → /test)
  --workers N           batch requests in flight (default 8: the demo's host answers 8 at once)
  --epochs N            epochs to train (default 8)
  --shard i/n           read shard i of n of each epoch (default: all of it)
  --size N              the served images' size (default 16)
  --backend NAME        TensorFlow.js backend: wasm or cpu (default wasm)
  --help                this text`;

/** `--shard i/n`; PyDataset.epoch checks its range. */
function parseShard(text: string | undefined): Shard | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match) throw new RangeError(`--shard must be i/n: current value is ${text}`);
  return { index: Number(match[1]), count: Number(match[2]) };
}

/** The held-out set's hosts: `--test-hosts`, or each of `hosts` with its `/train` made `/test`. */
function testHosts(text: string | undefined, hosts: string[]): string[] {
  if (text !== undefined) return text.split(",");
  return hosts.map((host) => {
    const url = new URL(host);
    if (!/\/train\/?$/.test(url.pathname)) {
      throw new RangeError(`--test-hosts is needed as a host does not end in /train: ${host}`);
    }
    url.pathname = url.pathname.replace(/\/train(\/?)$/, "/test$1");
    return url.href;
  });
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      hosts: { type: "string", default: "http://127.0.0.1:8000/train" },
      "test-hosts": { type: "string" },
      workers: { type: "string" },
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
  const hosts = values.hosts.split(",");
  const epochs = integer(values.epochs, "epochs", 8);
  const size = integer(values.size, "size", 16);
  const shard = parseShard(values.shard);
  const workers = { workers: integer(values.workers, "workers", 8) };
  await useBackend(values.backend);
  await using train = await RemoteDataset.connect<ImageBatch>({ hosts, ...workers });
  await using test = await RemoteDataset.connect<ImageBatch>({
    hosts: testHosts(values["test-hosts"], hosts),
    ...workers,
  });

  const classes = 4;
  const net = classifier(size, classes);
  console.log(
    `training from ${train.hosts.join(", ")} (${train.remoteName}, ${train.length} batches${
      shard ? `, shard ${shard.index}/${shard.count}` : ""
    }); tfjs ${tf.getBackend()}`,
  );
  // Each pass is the dataset's next epoch (0, 1, …) of seed 1, so every
  // trainer computes the same order for it, and the shards split it.
  const data = toTfDataset(train, { shuffle: true, seed: 1, shard });
  const report = await fit(net, data, {
    epochs,
    dataset: train, // the progress bar counts the shard's batches and shows the loader wait
    epochWaitMs: () => train.stats?.waitMs ?? 0,
  });
  await summarize(net, toTfDataset(test), classes, report);
  net.dispose();
}

if (import.meta.main) await run(main, HELP);
