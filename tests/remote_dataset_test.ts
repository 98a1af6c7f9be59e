// RemoteDataset against data hosts in child processes
// (tests/fixtures/remote_host.ts): spreading the load, losing a host
// mid-epoch, failures, slow, busy and closed hosts, connect's checks, and
// the core's promises (order, exactly once, shuffle, shard, resume, tfjs)
// through it, compared with the fixture's dataset read locally. A few
// hosts that misbehave on purpose are Deno.serve handlers in the test.

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { BatchError, ndarray } from "../mod.ts";
import { RemoteDataset, serveDataset } from "../remote.ts";
import { toTfDataset } from "../tfjs.ts";
import { batchResponse, MEDIA_TYPE } from "../wire.ts";
import { collect, readUntilError, within } from "./_helpers.ts";
import { startHosts } from "./fixtures/child_hosts.ts";
import { type HostBatch, HostData } from "./fixtures/remote_host.ts";

/** The index of each batch. */
const indices = (batches: HostBatch[]) => batches.map((batch) => batch.index[0]);

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A host in this process: a correct `/info` of `length` batches, and `/batch` answered by `batch`. */
function inTestHost(length: number, batch: (request: Request, index: number) => Response) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/info") {
      return Response.json({ protocol: 1, name: "InTest", length, mediaType: MEDIA_TYPE });
    }
    return batch(request, Number(url.searchParams.get("index")));
  });
  return { server, url: `http://127.0.0.1:${server.addr.port}` };
}

/** Batches per second of one epoch of `dataset`. */
async function rate(dataset: RemoteDataset<HostBatch>): Promise<number> {
  const started = performance.now();
  const batches = await within(collect(dataset.epoch()), 30_000);
  const seconds = (performance.now() - started) / 1_000;
  assert.deepEqual(indices(batches), range(dataset.length));
  return batches.length / seconds;
}

Deno.test("RemoteDataset over three hosts reads at least 1.8× the batches/s of one", async () => {
  const slow = ["--workers", "1", "--delay", "20", "--length", "90"];
  await using hosts = await startHosts(slow, slow, slow);
  await using one = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls.slice(0, 1) });
  await using three = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls });
  await rate(one); // warm: connections open, the hosts' datasets made
  const single = await rate(one);
  const spread = await rate(three);
  console.log(
    `one host: ${single.toFixed(1)} batches/s; three hosts: ${spread.toFixed(1)} batches/s; ratio ${
      (spread / single).toFixed(2)
    }`,
  );
  assert.ok(spread >= 1.8 * single, `${spread} vs ${single} batches/s`);
});

Deno.test("RemoteDataset: a host killed mid-epoch: the epoch completes, each batch once, in order, with the cursor right", async () => {
  const args = ["--delay", "20", "--length", "40"];
  await using hosts = await startHosts(args, args, args);
  await using remote = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls });
  const read: HostBatch[] = [];
  for await (const batch of remote.epoch({ epoch: 3, seed: 5 })) {
    read.push(batch);
    if (read.length === 10) hosts.hosts[1]!.child.kill("SIGKILL");
    if (read.length === 20) assert.equal(remote.cursor?.start, 20);
  }
  assert.deepEqual(indices(read), range(40));
  const local = new HostData(40);
  for (const [i, batch] of read.entries()) {
    assert.deepEqual(batch, await local.getBatch(i, { epoch: 3, seed: 5 }), `batch ${i}`);
  }
  assert.deepEqual([remote.cursor?.epoch, remote.cursor?.start], [4, 0], "the next epoch's start");
  assert.ok(remote.stats!.retries > 0, "the killed host's batches were tried again");
});

Deno.test("RemoteDataset: a batch a host fails once arrives from the retry", async () => {
  await using hosts = await startHosts(["--fail-once", "5", "--length", "8"]);
  await using remote = await RemoteDataset.connect<HostBatch>({
    hosts: hosts.urls,
    retryDelay: 10,
  });
  assert.deepEqual(indices(await within(collect(remote.epoch()))), range(8));
  assert.equal(remote.stats!.retries, 1);
});

Deno.test("RemoteDataset: a host past the timeout is avoided, and the epoch completes from the others", async () => {
  await using hosts = await startHosts(
    ["--delay", "2000", "--length", "20"],
    ["--length", "20"],
  );
  await using remote = await RemoteDataset.connect<HostBatch>({
    hosts: hosts.urls,
    timeout: 300,
    retryDelay: 10,
  });
  const started = performance.now();
  assert.deepEqual(indices(await within(collect(remote.epoch()))), range(20));
  const { retries } = remote.stats!;
  // Only the requests sent to it before its first timeout: then it is avoided.
  assert.ok(retries >= 1 && retries <= remote.workers, `${retries} retries`);
  assert.ok(performance.now() - started < 2_000, "no batch waited for the slow host");
});

Deno.test("RemoteDataset.connect refuses hosts whose lengths differ, naming both", async () => {
  await using hosts = await startHosts(["--length", "10"], ["--length", "12"]);
  const [a, b] = hosts.urls;
  await assert.rejects(
    RemoteDataset.connect({ hosts: hosts.urls }),
    (error: Error) => {
      assert.equal(
        error.message,
        `Cannot connect RemoteDataset as its hosts must serve the same number of batches: ${a} has 10, ${b} has 12`,
      );
      return true;
    },
  );
});

Deno.test("RemoteDataset.connect names a host that cannot be reached", async () => {
  await using hosts = await startHosts(["--length", "4"]);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  await assert.rejects(
    RemoteDataset.connect({ hosts: [...hosts.urls, closed] }),
    new RegExp(`^Error: Cannot connect RemoteDataset as ${closed} cannot be reached: `),
  );
});

Deno.test("RemoteDataset: a host at maxConcurrent answers 503, and both readers get every batch; the wait is not counted against the timeout", async () => {
  await using hosts = await startHosts(["--max-concurrent", "1", "--delay", "30", "--length", "8"]);
  // The reader refused waits a Retry-After of 1 s (or two), past the timeout of 500 ms.
  const options = { hosts: hosts.urls, workers: 1, timeout: 500, retries: 0 };
  await using first = await RemoteDataset.connect<HostBatch>(options);
  await using second = await RemoteDataset.connect<HostBatch>(options);
  const both = await within(
    Promise.all([collect(first.epoch()), collect(second.epoch())]),
    30_000,
  );
  for (const batches of both) assert.deepEqual(indices(batches), range(8));
  assert.equal(first.stats!.retries + second.stats!.retries, 0, "no batch failed");
  const metrics = await (await fetch(`${hosts.urls[0]}/metrics`)).text();
  const refused = /^pydataset_\w*refused\w* (\d+)/m.exec(metrics);
  assert.ok(refused && Number(refused[1]) > 0, `no 503 was answered:\n${metrics}`);
});

Deno.test("RemoteDataset: a batch that fails on every host is a BatchError naming the index, the host and the server's message", async () => {
  await using hosts = await startHosts(
    ["--fail", "3", "--length", "6"],
    ["--fail", "3", "--length", "6"],
  );
  await using remote = await RemoteDataset.connect<HostBatch>({
    hosts: hosts.urls,
    retryDelay: 10,
  });
  const read: HostBatch[] = [];
  const error = await within(
    (async () => {
      for await (const batch of remote.epoch()) read.push(batch);
    })().catch((error) => error),
  );
  assert.deepEqual(indices(read), [0, 1, 2]);
  assert.ok(error instanceof BatchError, String(error));
  assert.equal(error.index, 3);
  assert.equal(error.attempts, 3);
  assert.match(
    error.message,
    /^Cannot get batch 3 of RemoteDataset \(3 attempts failed\): http:\/\/127\.0\.0\.1:\d+ answered 500: BatchError: .*batch 3 always fails/,
  );
  console.log(error.message);
});

Deno.test("RemoteDataset: shuffle, shard and resume read what the dataset reads locally", async () => {
  await using hosts = await startHosts(["--length", "23"], ["--length", "23"]);
  await using remote = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls });
  const local = new HostData(23, { workers: 2 });
  const options = { shuffle: true, seed: 11, epoch: 2, shard: { index: 1, count: 3 } };
  const whole = await collect(local.epoch(options));
  const head: HostBatch[] = [];
  for await (const batch of remote.epoch(options)) {
    head.push(batch);
    if (head.length === 3) break;
  }
  const cursor = remote.cursor!;
  assert.equal(cursor.start, 3);
  const rest = await within(collect(remote.epoch(cursor)));
  assert.deepEqual([...head, ...rest], whole);
  assert.deepEqual(remote.cursor, local.cursor, "both point at the same next epoch");
  await local.close();
});

Deno.test("RemoteDataset: getItem, getBatch and for await fetch through the hosts", async () => {
  await using hosts = await startHosts(["--length", "5"]);
  await using remote = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls });
  const local = new HostData(5);
  const expected = await local.getBatch(4, { epoch: 6, seed: 9 });
  assert.deepEqual(await remote.getBatch(4, { epoch: 6, seed: 9 }), expected);
  const info = { id: 0, count: 1, seed: 0, epoch: 6, epochSeed: 9, batchSeed: 0, attempt: 0 };
  assert.deepEqual(
    await remote.getItem(4, { ...info, allocate: () => new Float32Array() as never }),
    expected,
  );
  const iterated: HostBatch[] = [];
  for await (const batch of remote) iterated.push(batch);
  assert.deepEqual(indices(iterated), range(5));
  assert.equal(remote.length, 5);
  assert.equal(remote.remoteName, "HostData");
  assert.deepEqual(remote.hosts, hosts.urls);
  await local.close();
});

Deno.test("RemoteDataset: for await tries a failing batch as often as an epoch does, not retries × retries", async () => {
  await using hosts = await startHosts(["--length", "5", "--fail", "2"]);
  await using remote = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls, retryDelay: 1 });
  const iterated: HostBatch[] = [];
  const error = await within(
    (async () => {
      for await (const batch of remote) iterated.push(batch);
    })().catch((error) => error),
  );
  assert.deepEqual(indices(iterated), [0, 1]);
  assert.ok(error instanceof BatchError, String(error));
  assert.equal(error.attempts, 3, error.message);
  const metrics = await (await fetch(`${hosts.urls[0]}/metrics`)).text();
  assert.match(metrics, /pydataset_failed_batches_total\{route="batch"\} 3\b/);
});

Deno.test("RemoteDataset through toTfDataset trains a pass", async () => {
  await using hosts = await startHosts(["--length", "6", "--bytes", "8"]);
  await using remote = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls });
  const data = toTfDataset(remote, {
    toTensors: ({ x, index }) => ({
      xs: ndarray(x, [1, 2]),
      ys: ndarray(Float32Array.of(index[0]! % 2), [1, 1]),
    }),
  });
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
  model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
  const history = await within(model.fitDataset(data, { epochs: 1, verbose: 0 }), 30_000);
  assert.equal(history.history.loss!.length, 1);
  assert.equal(remote.stats!.batches, 6);
  model.dispose();
});

Deno.test("RemoteDataset.close in the middle of an epoch leaves no request, body or timer behind", async () => {
  await using hosts = await startHosts(["--delay", "2000", "--length", "4"]);
  const remote = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls });
  const reading = collect(remote.epoch()).catch((error) => error);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = performance.now();
  await within(remote.close());
  assert.ok(performance.now() - started < 1_000, "close did not wait for the host");
  assert.match(String(await within(reading)), /RemoteDataset was closed/);
});

Deno.test("RemoteDataset.connect checks its options, naming the value", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ["no hosts", { hosts: [] }, /hosts must be a non-empty array .*: current value is \[\]/],
    [
      "a bad URL",
      { hosts: ["not a url"] },
      /hosts\[0\] must be an http or https URL .*: current value is "not a url"/,
    ],
    [
      "another scheme",
      { hosts: ["ftp://127.0.0.1/"] },
      /hosts\[0\] must be an http or https URL.*: current value is "ftp:\/\/127\.0\.0\.1\/"/,
    ],
    [
      "a host twice",
      { hosts: ["http://127.0.0.1:1", "http://127.0.0.1:1/"] },
      /hosts\[1\] repeats hosts\[0\]: current value is "http:\/\/127\.0\.0\.1:1\/"/,
    ],
    [
      "useMultiprocessing",
      { hosts: ["http://127.0.0.1:1"], useMultiprocessing: true },
      /useMultiprocessing is not one of its options.*current value is true/,
    ],
    [
      "module",
      { hosts: ["http://127.0.0.1:1"], module: import.meta.url },
      /module is not one of its options/,
    ],
    [
      "permissions",
      { hosts: ["http://127.0.0.1:1"], permissions: "inherit" },
      /permissions is not one of its options/,
    ],
    [
      "a user name and password, which the message masks",
      { hosts: ["http://user:secret@127.0.0.1:1"] },
      /^TypeError: Cannot connect RemoteDataset as hosts\[0\] must have no user name or password: send credentials with the headers option .*: current value is "http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:1\/"$/,
    ],
    [
      "an empty query",
      { hosts: ["http://127.0.0.1:1/?"] },
      /hosts\[0\] must have no query or fragment: current value is "http:\/\/127\.0\.0\.1:1\/\?"/,
    ],
    [
      "an empty fragment",
      { hosts: ["http://127.0.0.1:1/#"] },
      /hosts\[0\] must have no query or fragment: current value is "http:\/\/127\.0\.0\.1:1\/#"/,
    ],
    [
      "avoidFor",
      { hosts: ["http://127.0.0.1:1"], avoidFor: "soon" },
      /avoidFor must be a non-negative number of milliseconds: current value is "soon"/,
    ],
  ];
  for (const [what, options, message] of cases) {
    await t.step(what, async () => {
      await assert.rejects(RemoteDataset.connect(options as never), TypeError);
      await assert.rejects(RemoteDataset.connect(options as never), message);
    });
  }
  await t.step("a PyDataset option out of range", async () => {
    await assert.rejects(
      RemoteDataset.connect({ hosts: ["http://127.0.0.1:1"], workers: 0 }),
      /Cannot create RemoteDataset as workers must be a positive integer: current value is 0/,
    );
  });
});

Deno.test("RemoteDataset: hosts at maxConcurrent 1 under 12 requests in flight, one killed mid-epoch: every batch once, as locally", async () => {
  const args = ["--delay", "5", "--length", "60", "--max-concurrent", "1"];
  await using hosts = await startHosts(args, args, args);
  await using remote = await RemoteDataset.connect<HostBatch>({
    hosts: hosts.urls,
    workers: 12,
    ordered: false,
    timeout: 2_000,
  });
  const options = { shuffle: true, seed: 9, epoch: 2 };
  const read: HostBatch[] = [];
  await within(
    (async () => {
      for await (const batch of remote.epoch(options)) {
        read.push(batch);
        // The killed host is avoided while the live ones are only busy or full.
        if (read.length === 20) hosts.hosts[2]!.child.kill("SIGKILL");
      }
    })(),
    30_000,
  );
  assert.deepEqual(indices(read).toSorted((a, b) => a! - b!), range(60));
  const local = new HostData(60);
  for (const batch of read) {
    assert.deepEqual(batch, await local.getBatch(batch.index[0]!, options));
  }
  await local.close();
});

Deno.test("RemoteDataset: more requests in flight than a host's maxConcurrent wait for a place, not for Retry-After", async () => {
  await using hosts = await startHosts(
    ["--max-concurrent", "2", "--workers", "2", "--delay", "10", "--length", "40"],
  );
  await using remote = await RemoteDataset.connect<HostBatch>({ hosts: hosts.urls, workers: 6 });
  const started = performance.now();
  assert.deepEqual(indices(await within(collect(remote.epoch()), 60_000)), range(40));
  const ms = performance.now() - started;
  console.log(`40 batches of 10 ms, 2 at a time, 6 asked for at a time: ${Math.round(ms)} ms`);
  // About 200 ms at the host's pace; a Retry-After of 1 s at each 503 made it seconds.
  assert.ok(ms < 5_000, `${ms} ms`);
});

Deno.test("RemoteDataset: a closed host (503 without Retry-After) is avoided, and the epoch completes from the other", async () => {
  await using hosts = await startHosts(["--length", "8"]);
  const handler = serveDataset(() => new HostData(8));
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const closed = `http://127.0.0.1:${server.addr.port}`;
  const options = { retryDelay: 1, timeout: 2_000 };
  await using both = await RemoteDataset.connect<HostBatch>({
    hosts: [closed, ...hosts.urls],
    ...options,
  });
  await using alone = await RemoteDataset.connect<HostBatch>({ hosts: [closed], ...options });
  await handler.close();
  assert.deepEqual(indices(await within(collect(both.epoch()))), range(8));
  assert.ok(both.stats!.retries >= 1, "the closed host's first batch was tried again");
  const error = await within(collect(alone.epoch()).catch((error) => error));
  assert.ok(error instanceof BatchError, String(error));
  assert.match(
    error.message,
    /^Cannot get batch 0 of RemoteDataset \(3 attempts failed\): http:\/\/127\.0\.0\.1:\d+ answered 503 without Retry-After, as a host that is going away does: /,
  );
});

Deno.test("RemoteDataset: a host that stays busy past the timeout is waited for, and the epoch's signal ends the wait", async () => {
  let refusals = 2;
  const host = inTestHost(
    3,
    (_, index) =>
      index === 1 && refusals-- > 0
        ? Response.json({ name: "Busy", message: "full" }, {
          status: 503,
          headers: { "retry-after": "1" },
        })
        : batchResponse(ReadableStream.from([Float32Array.of(index)]), {
          headers: { "x-pydataset-index": String(index) },
        }),
  );
  await using _server = host.server;
  await using remote = await RemoteDataset.connect<Float32Array>({
    hosts: [host.url],
    workers: 1,
    timeout: 300,
    retries: 0,
  });
  // Batch 1 waits two Retry-Afters of 1 s, far past the timeout: not counted, not failed.
  const read = await within(collect(remote.epoch()), 10_000);
  assert.deepEqual(read, [Float32Array.of(0), Float32Array.of(1), Float32Array.of(2)]);
  assert.equal(remote.stats!.retries, 0);
  refusals = Infinity;
  const reason = new Error("training stopped");
  const stop = new AbortController();
  setTimeout(() => stop.abort(reason), 1_500);
  const { read: before, error } = await within(
    readUntilError(remote.epoch({ signal: stop.signal })),
    10_000,
  );
  assert.deepEqual(before, [Float32Array.of(0)]);
  assert.equal(error, reason);
});

Deno.test("RemoteDataset.connect: a host whose /info redirects, or sends an endless error, is refused, named", async (t) => {
  await t.step("a redirect is not followed", async () => {
    const target = inTestHost(4, () => new Response(null, { status: 500 }));
    await using _target = target.server;
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => Response.redirect(`${target.url}/info`, 302),
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    await assert.rejects(
      within(RemoteDataset.connect({ hosts: [url] })),
      new RegExp(`^Error: Cannot connect RemoteDataset as ${url} cannot be reached: .*redirect`),
    );
  });
  await t.step("an error's body is read only so far", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16_384));
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () =>
        new Response(new ReadableStream({ pull: (controller) => controller.enqueue(chunk) }), {
          status: 500,
        }),
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    await assert.rejects(
      within(RemoteDataset.connect({ hosts: [url] })),
      new RegExp(`^Error: Cannot connect RemoteDataset as ${url} answered 500: x{200}$`),
    );
  });
});
