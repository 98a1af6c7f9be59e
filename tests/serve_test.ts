import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import type { ImageBatch } from "../examples/image_dataset.ts";
import { imageDatasets, serveEpochs } from "../examples/serve.ts";
import { listImages, makeShapes } from "../examples/shapes.ts";
import { BatchError } from "../mod.ts";
import { toTfDataset } from "../tfjs.ts";
import { type Batch, batchesFromResponse } from "../wire.ts";
import { Big, type BigBatch } from "./fixtures/big.ts";
import { Blobs } from "./fixtures/blobs.ts";
import { waitFor, waitUntilStill, within } from "./_helpers.ts";

/**
 * Serves `create`'s datasets at /data on a free loopback port. Disposing it
 * cancels the responses still open first, so a failing test cannot hang in
 * `shutdown()` waiting for a body nobody reads.
 */
function serve<D extends Big | Blobs>(create: () => D) {
  const made: D[] = [];
  const server = serveEpochs<Batch>({ data: () => made[made.length] = create() }, { port: 0 });
  const url = `http://127.0.0.1:${server.addr.port}/data`;
  const readers: ReadableStreamDefaultReader<Batch>[] = [];
  const read = async (query = "") => {
    const reader = batchesFromResponse(await fetch(`${url}${query}`)).getReader();
    readers.push(reader);
    return reader;
  };
  const dispose = async () => {
    await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
    await within(server.shutdown(), 10_000, "the server's shutdown");
  };
  return { server, url, made, read, [Symbol.asyncDispose]: dispose };
}

const labelsOf = (batches: unknown[]) => (batches as BigBatch[]).map(([, label]) => label[0]);

Deno.test("serveEpochs streams an epoch to fetch, in order, from either mode", async () => {
  for (const options of [{ workers: 2 }, { workers: 2, useMultiprocessing: true }]) {
    await using served = serve(() => new Big(6, 4096, options));
    const response = await fetch(served.url);
    assert.equal(response.headers.get("x-pydataset-batches"), "6");
    const batches = await within(Array.fromAsync(batchesFromResponse(response)));
    assert.deepEqual(labelsOf(batches), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual((batches[2] as BigBatch)[0].shape, [1, 1024]);
  }
});

for (const useMultiprocessing of [false, true]) {
  Deno.test(`serveEpochs: a paused client holds back the server's getItem calls (${useMultiprocessing ? "workers" : "main thread"})`, async () => {
    await using served = serve(() =>
      new Big(300, 1 << 20, { workers: 2, maxQueueSize: 2, useMultiprocessing })
    );
    const reader = await served.read();
    await within(reader.read());
    await within(reader.read());
    const dataset = served.made[0]!;
    // The client pauses: fetching fills the queue and the socket buffers, then stops.
    const paused = await waitUntilStill(() => Atomics.load(dataset.counts, 0), 200, 10_000);
    assert.ok(
      paused < 30,
      `only a few batches ahead of the client while it pauses: ${paused} of 300`,
    );
    let read = 2;
    while (!(await within(reader.read())).done) read++;
    assert.equal(read, 300);
    assert.equal(Atomics.load(dataset.counts, 0), 300);
  });
}

Deno.test("serveEpochs ends the epoch of a client that goes away", async () => {
  await using served = serve(() => new Big(300, 1 << 20, { workers: 2, maxQueueSize: 2 }));
  const reader = await served.read();
  await within(reader.read());
  await reader.cancel();
  const dataset = served.made[0]!;
  await waitFor(() => Atomics.load(dataset.counts, 1) === 1, 5_000, "the server's onEpochEnd");
  const calls = await waitUntilStill(() => Atomics.load(dataset.counts, 0), 100);
  assert.ok(calls < 30, `fetching stopped: ${calls} of 300`);
  // The dataset is free again for the next request.
  const again = await Array.fromAsync(
    batchesFromResponse(await fetch(`${served.url}?shard=0/100`)),
  );
  assert.equal(again.length, 3);
  assert.equal(served.made.length, 1);
});

Deno.test("serveEpochs splits an epoch into shards that trainers read at once", async () => {
  await using served = serve(() => new Big(11, 64));
  const query = "epoch=4&shuffle=1&seed=9";
  const shards = await Promise.all([0, 1, 2].map(async (index) => {
    const response = await fetch(`${served.url}?${query}&shard=${index}/3`);
    return labelsOf(await Array.fromAsync(batchesFromResponse(response)));
  }));
  assert.deepEqual(shards.flat().toSorted((a, b) => a! - b!), [...Array(11).keys()]);
  assert.deepEqual(shards.map((shard) => shard.length), [4, 4, 3]);
  // The same epoch number and seed give the same order again, from any dataset.
  const whole = labelsOf(
    await Array.fromAsync(batchesFromResponse(await fetch(`${served.url}?${query}`))),
  );
  assert.deepEqual(shards[0], whole.filter((_, position) => position % 3 === 0));
});

Deno.test("serveEpochs answers bad requests with a status and a reason", async () => {
  await using served = serve(() => new Big(3, 64));
  for (
    const [path, status, message] of [
      ["?shard=2/2", 400, /shard.index must be an integer from 0 to 1: current value is 2/],
      ["?shard=half", 400, /shard must be i\/n: current value is "half"/],
      ["?epoch=-1", 400, /epoch must be a non-negative integer: current value is -1/],
      ["?seed=x", 400, /seed must be an integer: current value is "x"/],
      ["?shuffle=yes", 400, /shuffle must be 0, 1, true or false: current value is "yes"/],
      ["?shufle=1", 400, /Unknown query parameter "shufle": use epoch, seed, shuffle and shard/],
    ] as const
  ) {
    const response = await fetch(`${served.url}${path}`);
    assert.equal(response.status, status, path);
    assert.match(await response.text(), message);
  }
  const missing = await fetch(served.url.replace("/data", "/nothing"));
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /try \/data/);
  assert.throws(() => batchesFromResponse(missing), /as it failed: 404/);
});

Deno.test("toTfDataset trains from a remote dataset through fetch", async () => {
  await using served = serve(() => new Blobs(4));
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 1, activation: "sigmoid" })],
  });
  model.compile({ optimizer: "adam", loss: "binaryCrossentropy" });
  let passes = 0;
  const data = toTfDataset(async ({ signal }) => {
    passes++;
    return batchesFromResponse(await fetch(served.url, { signal }));
  });
  const history = await model.fitDataset(data, { epochs: 3, verbose: 0 });
  assert.equal(history.history.loss?.length, 3);
  assert.equal(passes, 3, "one request per trained epoch");
  assert.equal(served.made[0]!.ends, 3);
  model.dispose();
});

Deno.test("The example server gives every trainer the same batches for an epoch and shard", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeShapes(dir, 10, 8);
    const { x, y } = await listImages(dir);
    const server = serveEpochs(imageDatasets(dir, x, y, { batchSize: 3, size: 4, workers: 1 }), {
      port: 0,
    });
    const url = `http://127.0.0.1:${server.addr.port}/train?epoch=2&shuffle=1&seed=5`;
    // Each image as a key: its label and pixels.
    const images = async (query: string) => {
      const batches = await Array.fromAsync(
        batchesFromResponse(await fetch(`${url}${query}`)),
      ) as unknown as ImageBatch[];
      return batches.flatMap(([pixels, labels]) =>
        [...labels.data].map((label, i) =>
          `${label}:${pixels.data.subarray(i * 48, (i + 1) * 48).join()}`
        )
      );
    };
    try {
      // Two trainers at once (so two datasets), then again one after the other.
      const [first, second] = await Promise.all([images("&shard=0/2"), images("&shard=1/2")]);
      const all = await images("");
      assert.deepEqual([...first, ...second].sort(), [...all].sort(), "the shards cover the epoch");
      assert.equal(new Set(all).size, 32, "every training image once");
      assert.deepEqual(await images("&shard=0/2"), first, "the same shard again, from any dataset");
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveEpochs tells the client which batch failed, in the stream", async () => {
  await using served = serve(() => {
    const blobs = new Blobs(6);
    blobs.failAt = 3;
    return blobs;
  });
  const reader = await served.read();
  const seen: unknown[] = [];
  await assert.rejects(
    within((async () => {
      for (let r = await reader.read(); !r.done; r = await reader.read()) seen.push(r.value);
    })()),
    (error) => {
      assert.ok(error instanceof BatchError, String(error));
      assert.equal(error.index, 3);
      assert.match(error.message, /Cannot get batch 3 of Blobs: no batch 3 today/);
      assert.equal((error.cause as Error).message, "no batch 3 today");
      return true;
    },
  );
  assert.equal(seen.length, 3, "every batch before the failure arrived");
});
