// The serving examples: examples/serve.ts (data hosts of ./remote mounted
// under /train and /test) and examples/train_remote.ts, and what they rely
// on over a real socket that tests/serve_dataset_test.ts, which calls the
// handler directly, does not check: backpressure end to end, a client that
// goes away, training through fetch.

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import type { ImageBatch } from "../examples/image_dataset.ts";
import { imageDatasets, mount } from "../examples/serve.ts";
import { listImages, makeShapes } from "../examples/shapes.ts";
import { type DatasetHandler, RemoteDataset, serveDataset } from "../remote.ts";
import { toTfDataset, useBackend } from "../tfjs.ts";
import { batchesFromResponse } from "../wire.ts";
import { Big, type BigBatch } from "./fixtures/big.ts";
import { Blobs } from "./fixtures/blobs.ts";
import { collect, waitFor, waitUntilStill, within } from "./_helpers.ts";

/**
 * Serves `handlers` (mounted by the example's `mount`) on a free loopback
 * port. Disposing it cancels the responses still being read, closes the
 * handlers, then shuts the server down, so that a failing test cannot hang
 * in `shutdown()` waiting for a body nobody reads.
 */
function listen(handlers: Record<string, DatasetHandler>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, mount(handlers));
  const url = `http://127.0.0.1:${server.addr.port}`;
  const readers: ReadableStreamDefaultReader<unknown>[] = [];
  const read = async <B>(path: string) => {
    const reader = batchesFromResponse<B>(await fetch(`${url}${path}`)).getReader();
    readers.push(reader);
    return reader;
  };
  /** Every batch of the response to `path`. */
  const readAll = async <B>(path: string) => {
    const reader = await read<B>(path);
    const batches: B[] = [];
    for (let r = await within(reader.read()); !r.done; r = await within(reader.read())) {
      batches.push(r.value);
    }
    return batches;
  };
  const dispose = async () => {
    await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
    await Promise.all(Object.values(handlers).map((handler) => handler.close()));
    await within(server.shutdown(), 10_000, "the server's shutdown");
  };
  return { url, read, readAll, [Symbol.asyncDispose]: dispose };
}

/** A handler of `make`'s datasets, which it keeps in `made`. */
function hostOf<D extends Big | Blobs>(make: () => D): { handler: DatasetHandler; made: D[] } {
  const made: D[] = [];
  return { handler: serveDataset(() => made[made.length] = make()), made };
}

Deno.test("mount hands /name/… to that handler as /…, query and method kept, and 404s the rest", async () => {
  const four = hostOf(() => new Blobs(4));
  const six = hostOf(() => new Blobs(6));
  const handler = mount({ four: four.handler, six: six.handler });
  const get = (path: string, init?: RequestInit) =>
    handler(new Request(`http://host${path}`, init));
  try {
    assert.equal((await (await get("/four/info")).json()).length, 4);
    assert.equal((await (await get("/six/info")).json()).length, 6);
    const epoch = await get("/six/epoch?shard=1/4");
    assert.equal(epoch.headers.get("x-pydataset-batches"), "2");
    assert.equal((await collect(batchesFromResponse(epoch))).length, 2);
    const head = await get("/four/epoch", { method: "HEAD" });
    assert.equal(head.headers.get("x-pydataset-batches"), "4");
    assert.equal(head.body, null);
    const post = await get("/four/epoch", { method: "POST" });
    assert.equal(post.status, 405, "the handler saw the method");
    await post.body?.cancel();
    // The handler's own 404 for its root; the mount's for any other name.
    const root = await get("/four");
    assert.equal(root.status, 404);
    assert.match((await root.json()).message, /"\/".*\/info, \/healthz/);
    for (const path of ["/", "/five/info", "/info"]) {
      const missing = await get(path);
      assert.equal(missing.status, 404, path);
      assert.match(missing.headers.get("content-type")!, /^application\/json/);
      assert.deepEqual(await missing.json(), {
        name: "NotFoundError",
        message: `Cannot serve "${path}" as no dataset is there: use /four/… or /six/…`,
      });
    }
  } finally {
    await Promise.all([four.handler.close(), six.handler.close()]);
  }
});

for (const useMultiprocessing of [false, true]) {
  const mode = useMultiprocessing ? "workers" : "main thread";
  Deno.test(`serveDataset /epoch over a socket: a paused client holds back the server's getItem calls (${mode})`, async () => {
    const host = hostOf(() =>
      new Big(300, 1 << 20, { workers: 2, maxQueueSize: 2, useMultiprocessing })
    );
    await using served = listen({ data: host.handler });
    const reader = await served.read<BigBatch>("/data/epoch");
    const labels = [(await within(reader.read())).value![1][0]];
    labels.push((await within(reader.read())).value![1][0]);
    const dataset = host.made[0]!;
    // The client pauses: fetching fills the queue and the socket buffers, then stops.
    const paused = await waitUntilStill(() => Atomics.load(dataset.counts, 0), 200, 10_000);
    assert.ok(
      paused < 30,
      `only a few batches ahead of the client while it pauses: ${paused} of 300`,
    );
    for (let r = await within(reader.read()); !r.done; r = await within(reader.read())) {
      labels.push(r.value[1][0]!);
    }
    assert.deepEqual(labels, [...Array(300).keys()], "every batch, in order");
    assert.equal(Atomics.load(dataset.counts, 0), 300);
  });
}

Deno.test("serveDataset over a socket: a client that goes away ends its epoch in the workers, which stay for the next", async () => {
  const host = hostOf(() =>
    new Big(300, 1 << 20, { workers: 2, maxQueueSize: 2, useMultiprocessing: true })
  );
  await using served = listen({ data: host.handler });
  const reader = await served.read<BigBatch>("/data/epoch");
  await within(reader.read());
  await reader.cancel();
  const dataset = host.made[0]!;
  await waitFor(() => Atomics.load(dataset.counts, 1) === 1, 5_000, "the server's onEpochEnd");
  const calls = await waitUntilStill(() => Atomics.load(dataset.counts, 0), 100);
  assert.ok(calls < 30, `fetching stopped: ${calls} of 300`);
  const again = await served.readAll<BigBatch>("/data/epoch?start=297");
  assert.deepEqual(again.map(([, label]) => label[0]), [297, 298, 299]);
  assert.equal(host.made.length, 1, "the same dataset, and its workers, served the next epoch");
  assert.equal(Atomics.load(dataset.counts, 1), 2);
});

Deno.test("toTfDataset trains from served epochs through fetch, one request per trained epoch", async () => {
  const host = hostOf(() => new Blobs(4));
  await using served = listen({ data: host.handler });
  await useBackend("cpu"); // not the banner that asks for tfjs-node
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 1, activation: "sigmoid" })],
  });
  model.compile({ optimizer: "adam", loss: "binaryCrossentropy" });
  const epochs: number[] = [];
  const data = toTfDataset(async ({ signal, epoch }) => {
    epochs.push(epoch);
    const url = `${served.url}/data/epoch?epoch=${epoch}&shuffle=1&seed=3`;
    return batchesFromResponse(await fetch(url, { signal }));
  });
  try {
    const history = await within(model.fitDataset(data, { epochs: 3, verbose: 0 }), 30_000);
    assert.equal(history.history.loss?.length, 3);
    assert.deepEqual(epochs, [0, 1, 2]);
    assert.equal(host.made.length, 1);
    assert.equal(host.made[0]!.ends, 3, "each epoch served to its end");
  } finally {
    model.dispose();
  }
});

Deno.test("The example server gives every trainer the same batches for an epoch and shard", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeShapes(dir, 10, 8);
    const { x, y } = await listImages(dir);
    const datasets = imageDatasets(dir, x, y, { batchSize: 3, size: 4, workers: 1 });
    await using served = listen({
      train: serveDataset(datasets.train),
      test: serveDataset(datasets.test),
    });
    const query = "epoch=2&shuffle=1&seed=5";
    // Each image as a key: its label and pixels.
    const keys = (batches: ImageBatch[]) =>
      batches.flatMap(([pixels, labels]) =>
        [...labels.data].map((label, i) =>
          `${label}:${pixels.data.subarray(i * 48, (i + 1) * 48).join()}`
        )
      );
    const images = async (extra: string) =>
      keys(await served.readAll<ImageBatch>(`/train/epoch?${query}${extra}`));
    // Two trainers at once (so two datasets), then again one after the other.
    const [first, second] = await Promise.all([images("&shard=0/2"), images("&shard=1/2")]);
    const all = await images("");
    assert.deepEqual([...first, ...second].sort(), [...all].sort(), "the shards cover the epoch");
    assert.equal(new Set(all).size, 32, "every training image once");
    assert.deepEqual(await images("&shard=0/2"), first, "the same shard again, from any dataset");
    // A RemoteDataset at /train (train_remote.ts) reads that shard too, batch by batch.
    await using remote = await RemoteDataset.connect<ImageBatch>({
      hosts: [`${served.url}/train`],
    });
    const shard = { index: 0, count: 2 };
    const read = await within(collect(remote.epoch({ epoch: 2, shuffle: true, seed: 5, shard })));
    assert.deepEqual(keys(read), first);
    const heldOut = await served.readAll<ImageBatch>("/test/epoch");
    assert.equal(keys(heldOut).length, 8, "every fifth image is held out");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `deno run` of an example, its output collected. */
function runExample(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = { stdout: "", stderr: "" };
  const drain = async (stream: Deno.ChildProcess["stdout"], key: keyof typeof output) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) output[key] += text;
  };
  const drained = Promise.all([drain(child.stdout, "stdout"), drain(child.stderr, "stderr")]);
  let exited = false;
  const status = child.status.then(async (status) => {
    exited = true;
    await drained;
    return status;
  });
  return {
    output,
    /** Resolves once the child has exited and its output is read, within `ms`. */
    finished: (ms: number, what: string) => within(status, ms, what),
    /** Stops a child still running with `signal`, and waits for it. */
    stop: async (signal: Deno.Signal = "SIGKILL") => {
      if (!exited) child.kill(signal);
      return await within(status, 10_000, "the example's exit");
    },
  };
}

Deno.test("examples/train_remote.ts trains against examples/serve.ts, each in its own process", async () => {
  const dir = await Deno.makeTempDir();
  const serve = new URL("../examples/serve.ts", import.meta.url).pathname;
  const train = new URL("../examples/train_remote.ts", import.meta.url).pathname;
  try {
    await makeShapes(dir, 10, 8); // 32 images to train on, 8 held out
    const server = runExample([
      "--unstable-worker-options",
      "--allow-read",
      "--allow-net=127.0.0.1",
      serve,
      ...["--data", dir, "--port", "0", "--workers", "1", "--batch-size", "8", "--size", "8"],
    ]);
    try {
      const listening = /at (http:\/\/127\.0\.0\.1:\d+)\/train and \/test\n/;
      await waitFor(() => listening.test(server.output.stdout), 30_000, "the listening line")
        .catch((error) => {
          throw new Error(`${error.message}: ${JSON.stringify(server.output)}`);
        });
      const url = listening.exec(server.output.stdout)![1];
      const trainer = runExample([
        "--allow-read",
        "--allow-net=127.0.0.1",
        train,
        ...["--hosts", `${url}/train`, "--epochs", "1", "--size", "8", "--backend", "cpu"],
      ]);
      let status;
      try {
        status = await trainer.finished(60_000, "the trainer");
      } finally {
        await trainer.stop();
      }
      const { stdout, stderr } = trainer.output;
      assert.equal(status.code, 0, `the trainer failed:\n${stdout}\n${stderr}`);
      assert.match(stdout, new RegExp(`^training from ${url}/train \\(ImageFiles, 4 batches\\)`));
      assert.match(stderr, /^epoch 1\/1 {2}4\/4 batches {2}loss \d.*loader wait \d+%$/m);
      assert.match(stdout, /^held-out accuracy \d+\.\d% \(chance 25\.0%\), loss \d/m);
      assert.match(stdout, /^training waited on the loader /m);
      // Ctrl-C: the server closes its hosts and shuts down.
      const stopped = await server.stop("SIGINT");
      assert.equal(stopped.code, 130, `the server's exit: ${JSON.stringify(server.output)}`);
      assert.equal(server.output.stderr, "");
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
