import assert from "node:assert/strict";
import { BatchError, PyDataset } from "../mod.ts";
import { type DatasetHandler, serveDataset, type ServeDatasetOptions } from "../remote.ts";
import { batchesFromResponse, MEDIA_TYPE } from "../wire.ts";
import { collect, delay, readUntilError, waitFor, within } from "./_helpers.ts";
import { startHosts } from "./fixtures/child_hosts.ts";
import { type HostBatch, HostData, type HostDataOptions } from "./fixtures/remote_host.ts";

/** A handler of `HostData(length, options)` that counts and keeps what `make` made. */
function host(
  length: number,
  options: HostDataOptions = {},
  serveOptions?: ServeDatasetOptions,
): { handler: DatasetHandler; made: HostData[] } & AsyncDisposable {
  const made: HostData[] = [];
  const handler = serveDataset(() => {
    const dataset = new HostData(length, options);
    made.push(dataset);
    return dataset;
  }, serveOptions);
  return { handler, made, [Symbol.asyncDispose]: () => handler.close() };
}

function get(handler: DatasetHandler, path: string, init?: RequestInit): Promise<Response> {
  return handler(new Request(`http://host${path}`, init));
}

async function batchesOf(response: Response): Promise<HostBatch[]> {
  assert.equal(response.status, 200);
  return await within(collect(batchesFromResponse<HostBatch>(response)));
}

/** The value of one series of a /metrics text, such as `pydataset_open_epochs`. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((line) => line.startsWith(`${series} `));
  assert.ok(line !== undefined, `Expected ${series} in the metrics:\n${text}`);
  return Number(line.slice(series.length + 1));
}

async function metricsOf(handler: DatasetHandler): Promise<string> {
  return await (await get(handler, "/metrics")).text();
}

/** Polls /metrics until `series` has `value`, for at most `ms`. */
async function waitForSample(handler: DatasetHandler, series: string, value: number, ms = 10_000) {
  const deadline = performance.now() + ms;
  while (sample(await metricsOf(handler), series) !== value) {
    if (performance.now() > deadline) {
      throw new Error(`${series} did not reach ${value} in ${ms} ms`);
    }
    await delay(5);
  }
}

Deno.test("serveDataset /info describes the dataset, null length when infinite", async () => {
  for (const [length, expected] of [[6, 6], [Infinity, null]] as const) {
    await using served = host(length);
    const response = await get(served.handler, "/info");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(await response.json(), {
      protocol: 1,
      name: "HostData",
      length: expected,
      mediaType: MEDIA_TYPE,
    });
  }
});

Deno.test("serveDataset /healthz answers ok", async () => {
  await using served = host(3);
  const response = await get(served.handler, "/healthz");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type")!, /^text\/plain/);
  assert.equal(await response.text(), "ok\n");
});

Deno.test("serveDataset calls make only once a request needs a dataset", async () => {
  await using served = host(4);
  for (const path of ["/healthz", "/metrics", "/nowhere"]) {
    await (await get(served.handler, path)).body?.cancel();
  }
  await (await get(served.handler, "/info", { method: "POST" })).body?.cancel();
  assert.equal(served.made.length, 0);
  await (await get(served.handler, "/info")).json();
  assert.equal(served.made.length, 1);
  await batchesOf(await get(served.handler, "/batch?index=1&seed=2"));
  assert.equal(served.made.length, 1, "/batch uses the instance /info made");
  await batchesOf(await get(served.handler, "/epoch"));
  assert.equal(served.made.length, 2, "an epoch gets an instance of its own");
});

Deno.test("serveDataset /batch sends one document: getBatch(index, { epoch, seed }) of a local instance", async () => {
  await using served = host(6);
  await using local = new HostData(6);
  for (const [index, epoch, seed] of [[0, 0, 1], [5, 3, 7], [2, 9, -4]] as const) {
    const response = await get(served.handler, `/batch?index=${index}&epoch=${epoch}&seed=${seed}`);
    assert.equal(response.headers.get("content-type"), MEDIA_TYPE);
    assert.equal(response.headers.get("x-pydataset-index"), String(index));
    const batches = await batchesOf(response);
    assert.deepEqual(batches, [await local.getBatch(index, { epoch, seed })]);
  }
  // epoch defaults to 0.
  const [batch] = await batchesOf(await get(served.handler, "/batch?index=4&seed=7"));
  assert.deepEqual(batch, await local.getBatch(4, { epoch: 0, seed: 7 }));
});

Deno.test("serveDataset /batch gives the same bytes from two hosts", async () => {
  await using one = host(5);
  await using two = host(5, { workers: 3 });
  for (
    const path of ["/batch?index=3&epoch=2&seed=11", "/batch?position=4&shuffle=1&epoch=1&seed=5"]
  ) {
    const [a, b] = await Promise.all(
      [one, two].map(async ({ handler }) =>
        new Uint8Array(await (await get(handler, path)).arrayBuffer())
      ),
    );
    assert.ok(a!.length > 0);
    assert.deepEqual(a, b);
  }
});

Deno.test("serveDataset /batch?position walks the order of a local epoch with that seed and epoch", async () => {
  const length = 9;
  await using served = host(length);
  for (const [shuffle, epoch, seed] of [[true, 3, 5], [true, 4, 5], [false, 3, 5]] as const) {
    await using local = new HostData(length);
    const expected = await collect(local.epoch({ shuffle, epoch, seed }));
    const served_: HostBatch[] = [];
    const indices: number[] = [];
    for (let position = 0; position < length; position++) {
      const query = `position=${position}&epoch=${epoch}&seed=${seed}${
        shuffle ? "&shuffle=1" : ""
      }`;
      const response = await get(served.handler, `/batch?${query}`);
      indices.push(Number(response.headers.get("x-pydataset-index")));
      served_.push(...await batchesOf(response));
    }
    assert.deepEqual(indices, expected.map((batch) => batch.index[0]));
    assert.deepEqual(served_, expected);
    if (shuffle) assert.notDeepEqual(indices, [...indices].sort((a, b) => a - b));
  }
});

Deno.test("serveDataset /epoch serves a shard from start, as a local epoch, with x-pydataset-batches", async () => {
  await using served = host(10);
  for (
    const [query, options] of [
      ["?seed=3", { seed: 3 }],
      ["?epoch=2&shuffle=1&seed=4", { epoch: 2, shuffle: true, seed: 4 }],
      ["?epoch=2&shuffle=true&seed=4&shard=1/3&start=1", {
        epoch: 2,
        shuffle: true,
        seed: 4,
        shard: { index: 1, count: 3 },
        start: 1,
        orderVersion: 2,
      }],
      ["?seed=0&shard=0/3&start=4", { seed: 0, shard: { index: 0, count: 3 }, start: 4 }],
    ] as const
  ) {
    await using local = new HostData(10);
    const expected = await collect(local.epoch({ epoch: 0, ...options }));
    const response = await get(served.handler, `/epoch${query}`);
    assert.equal(response.headers.get("content-type"), MEDIA_TYPE);
    assert.equal(response.headers.get("x-pydataset-batches"), String(expected.length), query);
    assert.deepEqual(await batchesOf(response), expected, query);
  }
  // Without a seed, the instance's own: the order and epoch number hold, not the batch seeds.
  const unseeded = await batchesOf(await get(served.handler, "/epoch"));
  assert.deepEqual(
    unseeded.map((batch) => [batch.index[0], batch.seed[1]]),
    [...Array(10).keys()].map((i) => [i, 0]),
  );
});

Deno.test("serveDataset /epoch of an infinite dataset has no x-pydataset-batches", async () => {
  await using served = host(Infinity);
  const response = await get(served.handler, "/epoch?shard=1/2");
  assert.equal(response.headers.get("x-pydataset-batches"), null);
  const reader = batchesFromResponse<HostBatch>(response).getReader();
  assert.deepEqual((await within(reader.read())).value?.index, Int32Array.of(1));
  assert.deepEqual((await within(reader.read())).value?.index, Int32Array.of(3));
  await reader.cancel();
});

Deno.test("serveDataset HEAD answers with the headers only, fetching nothing", async () => {
  await using served = host(10);
  const epoch = await get(served.handler, "/epoch?shard=1/3", { method: "HEAD" });
  assert.equal(epoch.status, 200);
  assert.equal(epoch.headers.get("x-pydataset-batches"), "3");
  assert.equal(epoch.headers.get("content-type"), MEDIA_TYPE);
  const batch = await get(served.handler, "/batch?index=4&seed=1", { method: "HEAD" });
  assert.equal(batch.headers.get("x-pydataset-index"), "4");
  assert.equal(epoch.body, null);
  assert.equal(batch.body, null);
  assert.equal(Atomics.load(served.made[0]!.calls, 0), 0);
});

Deno.test("serveDataset maxConcurrent 1: an open epoch makes the next request a 503 until it ends", async () => {
  await using served = host(4, {}, { maxConcurrent: 1, retryAfter: 3 });
  const open = await get(served.handler, "/epoch");
  assert.equal(open.status, 200);
  for (const path of ["/batch?index=0&seed=1", "/epoch"]) {
    const refused = await get(served.handler, path);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "3");
    const body = await refused.json();
    assert.equal(body.name, "BusyError");
    assert.match(body.message, /maxConcurrent: current value is 1$/);
  }
  await open.body!.cancel();
  assert.equal((await batchesOf(await get(served.handler, "/batch?index=0&seed=1"))).length, 1);
});

Deno.test("serveDataset maxConcurrent 1: a slow /batch makes the next request a 503 until it ends", async () => {
  await using served = host(4, { delay: 200 }, { maxConcurrent: 1 });
  const pending = get(served.handler, "/batch?index=1&seed=1");
  const refused = await get(served.handler, "/epoch");
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1");
  await refused.body?.cancel();
  assert.equal((await batchesOf(await within(pending))).length, 1);
  assert.equal((await batchesOf(await get(served.handler, "/epoch?start=3"))).length, 1);
});

Deno.test("serveDataset answers a malformed query with a 400 that names the value", async (t) => {
  await using served = host(6);
  const cases: [string, RegExp][] = [
    [
      "/batch?index=1&seed=1&foo=2",
      /"foo" is not one of its query parameters, index, position, epoch, seed and shuffle/,
    ],
    [
      "/epoch?bar=1",
      /"bar" is not one of its query parameters, epoch, shuffle, seed, shard and start/,
    ],
    ["/batch?index=1", /seed is required.*current query is "\?index=1"/],
    ["/batch?index=6&seed=1", /index must be less than the length, 6: current value is 6/],
    [
      "/batch?position=7&seed=1&shuffle=1",
      /position must be less than the length, 6: current value is 7/,
    ],
    ["/batch?index=1&position=2&seed=1", /exactly one of index and position: current query is/],
    ["/batch?seed=1", /exactly one of index and position/],
    ["/batch?index=abc&seed=1", /index must be a non-negative integer: current value is "abc"/],
    ["/batch?index=1&seed=1.5", /seed must be an integer: current value is "1.5"/],
    [
      "/batch?index=1&seed=1&shuffle=yes",
      /shuffle must be 0, 1, true or false: current value is "yes"/,
    ],
    ["/epoch?shard=2/1", /shard must be i\/n with 0 ≤ i < n: current value is "2\/1"/],
    ["/epoch?shard=1/0", /current value is "1\/0"/],
    ["/epoch?epoch=-1", /epoch must be a non-negative integer: current value is "-1"/],
    ["/epoch?epoch=abc", /current value is "abc"/],
    ["/epoch?epoch=1&epoch=2", /epoch is given 2 times: current value is \["1", "2"\]/],
    [
      "/epoch?shard=0/2&start=4",
      /start must be at most the 3 batches of the shard: current value is 4/,
    ],
    ["/info?x=1", /Cannot serve \/info as it takes no query parameters: current query is "\?x=1"/],
    ["/healthz?x=1", /Cannot serve \/healthz as it takes no query parameters/],
    ["/metrics?junk", /Cannot serve \/metrics as it takes no query parameters/],
  ];
  for (const [path, message] of cases) {
    await t.step(path, async () => {
      const response = await get(served.handler, path);
      assert.equal(response.status, 400);
      assert.match(response.headers.get("content-type")!, /^application\/json/);
      const body = await response.json();
      assert.equal(body.name, "RangeError");
      assert.match(body.message, message);
    });
  }
  assert.equal(sample(await metricsOf(served.handler), "pydataset_open_epochs"), 0);
});

Deno.test("serveDataset answers an unknown path with a 404 and another method with a 405", async () => {
  await using served = host(3);
  const missing = await get(served.handler, "/data");
  assert.equal(missing.status, 404);
  assert.match(
    (await missing.json()).message,
    /"\/data".*\/info, \/healthz, \/batch, \/epoch, \/metrics/,
  );
  for (const method of ["POST", "DELETE", "OPTIONS"]) {
    const refused = await get(served.handler, "/batch?index=0&seed=1", { method });
    assert.equal(refused.status, 405);
    assert.equal(refused.headers.get("allow"), "GET, HEAD");
    const body = await refused.json();
    assert.match(body.message, new RegExp(`current method is ${method}$`));
  }
  assert.equal(served.made.length, 0);
});

Deno.test("serveDataset /batch answers a failed batch with a 500 naming it; /epoch ends with the error", async () => {
  await using served = host(4, { fail: [2] });
  const response = await get(served.handler, "/batch?index=2&seed=1");
  assert.equal(response.status, 500);
  const body = await response.json();
  assert.equal(body.name, "BatchError");
  assert.equal(body.index, 2);
  assert.match(body.message, /batch 2 always fails/);
  const { read, error } = await within(
    readUntilError(batchesFromResponse<HostBatch>(await get(served.handler, "/epoch"))),
  );
  assert.deepEqual(read.map((batch) => batch.index[0]), [0, 1]);
  assert.ok(error instanceof BatchError);
  assert.equal(error.index, 2);
  // The failed epoch gave its instance back.
  assert.equal((await batchesOf(await get(served.handler, "/epoch?start=3"))).length, 1);
  assert.equal(served.made.length, 2);
});

Deno.test("serveDataset /metrics counts batches, fetch time, failures, refusals and gauges", async () => {
  await using served = host(4, { delay: 5, fail: [3] }, { maxConcurrent: 1 });
  const before = await get(served.handler, "/metrics");
  assert.equal(before.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await before.text();
  for (
    const name of [
      "batches_served_total",
      "get_item_seconds_total",
      "failed_batches_total",
      "open_epochs",
      "batch_requests_in_flight",
      "refused_requests_total",
      "datasets",
    ]
  ) {
    const type = name.endsWith("_total") ? "counter" : "gauge";
    assert.match(text, new RegExp(`^# HELP pydataset_${name} \\S`, "m"));
    assert.match(text, new RegExp(`^# TYPE pydataset_${name} ${type}$`, "m"));
  }
  assert.equal(sample(text, 'pydataset_batches_served_total{route="batch"}'), 0);
  assert.equal(sample(text, "pydataset_datasets"), 0);

  await batchesOf(await get(served.handler, "/batch?index=0&seed=1"));
  await batchesOf(await get(served.handler, "/batch?index=1&seed=1"));
  await (await get(served.handler, "/batch?index=3&seed=1")).body?.cancel();
  const batchSeconds = sample(await metricsOf(served.handler), "pydataset_get_item_seconds_total");
  // Three getBatch calls of at least about 5 ms each.
  assert.ok(batchSeconds >= 0.012, `${batchSeconds}`);
  const open = await get(served.handler, "/epoch?shard=0/2");
  let now = await metricsOf(served.handler);
  assert.equal(sample(now, "pydataset_open_epochs"), 1);
  assert.equal(sample(now, "pydataset_datasets"), 2);
  await (await get(served.handler, "/batch?index=0&seed=1")).body?.cancel(); // refused
  assert.equal((await batchesOf(open)).length, 2);

  now = await metricsOf(served.handler);
  assert.equal(sample(now, 'pydataset_batches_served_total{route="batch"}'), 2);
  assert.equal(sample(now, 'pydataset_batches_served_total{route="epoch"}'), 2);
  assert.equal(sample(now, 'pydataset_failed_batches_total{route="batch"}'), 1);
  assert.equal(sample(now, 'pydataset_failed_batches_total{route="epoch"}'), 0);
  assert.equal(sample(now, "pydataset_refused_requests_total"), 1);
  assert.equal(sample(now, "pydataset_open_epochs"), 0);
  assert.equal(sample(now, "pydataset_batch_requests_in_flight"), 0);
  // And two batches of the epoch.
  const seconds = sample(now, "pydataset_get_item_seconds_total");
  assert.ok(seconds - batchSeconds >= 0.008, `${batchSeconds} then ${seconds}`);
});

Deno.test("serveDataset: a client that goes away mid-epoch frees its instance for the next epoch", async () => {
  await using served = host(200, { bytes: 1 << 18, maxQueueSize: 2 });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    served.handler,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const reader = batchesFromResponse<HostBatch>(await fetch(`${url}/epoch`)).getReader();
  try {
    assert.deepEqual((await within(reader.read())).value?.index, Int32Array.of(0));
    assert.deepEqual((await within(reader.read())).value?.index, Int32Array.of(1));
  } finally {
    await reader.cancel();
  }
  await waitForSample(served.handler, "pydataset_open_epochs", 0);
  const left = await metricsOf(served.handler);
  assert.equal(sample(left, 'pydataset_failed_batches_total{route="epoch"}'), 0);
  const calls = Atomics.load(served.made[0]!.calls, 0);
  assert.ok(calls < 200, `the epoch stopped fetching: ${calls} of 200`);
  const again = await batchesOf(await fetch(`${url}/epoch?start=195`));
  assert.deepEqual(again.map((batch) => batch.index[0]), [195, 196, 197, 198, 199]);
  assert.equal(served.made.length, 1, "the next epoch reused the instance");
});

/** Batches that wait for `open()`: an epoch cancelled meanwhile cannot end before. */
class Gated extends PyDataset<Int32Array> {
  #gate = Promise.withResolvers<void>();
  /** getItem calls begun. */
  begun = 0;
  get length(): number {
    return 4;
  }
  async getItem(index: number): Promise<Int32Array> {
    this.begun++;
    await this.#gate.promise;
    return Int32Array.of(index);
  }
  open(): void {
    this.#gate.resolve();
  }
}

Deno.test("serveDataset gives an instance back only once its cancelled epoch has ended", async () => {
  const made: Gated[] = [];
  await using handler = serveDataset(() => made[made.length] = new Gated());
  const reader = (await get(handler, "/epoch")).body!.getReader();
  const reading = reader.read(); // waits for batch 0, whose getItem waits for the gate
  await waitFor(() => made[0]!.begun > 0, 5_000, "the first getItem");
  const cancelling = reader.cancel();
  assert.equal((await within(reading)).done, true);
  await delay(10); // lets a wrongly early release happen
  assert.equal(sample(await metricsOf(handler), "pydataset_open_epochs"), 1);
  const meanwhile = await get(handler, "/epoch?start=3");
  made[0]!.open();
  await within(cancelling);
  assert.equal(made.length, 2, "the epoch still ending kept its instance");
  made[1]!.open();
  assert.equal((await collect(batchesFromResponse(meanwhile))).length, 1);
  assert.equal(sample(await metricsOf(handler), "pydataset_open_epochs"), 0);
  assert.equal(
    (await collect(batchesFromResponse(await get(handler, "/epoch?start=2")))).length,
    2,
  );
  assert.equal(made.length, 2);
});

Deno.test("serveDataset sends CORS headers to allowed origins only, and answers a preflight", async (t) => {
  const origin = "http://page.test";
  const expose = "x-pydataset-batches, x-pydataset-index, retry-after";
  await t.step("a listed origin", async () => {
    await using served = host(2, {}, { cors: [origin] });
    const allowed = await get(served.handler, "/info", { headers: { origin } });
    assert.equal(allowed.headers.get("access-control-allow-origin"), origin);
    assert.equal(allowed.headers.get("access-control-expose-headers"), expose);
    assert.match(allowed.headers.get("vary")!, /origin/);
    await allowed.body?.cancel();
    const other = await get(served.handler, "/info", { headers: { origin: "http://else.test" } });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    await other.body?.cancel();
    const none = await get(served.handler, "/nowhere");
    assert.equal(none.headers.get("access-control-allow-origin"), null);
    await none.body?.cancel();
    const preflight = await get(served.handler, "/epoch", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "GET" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), origin);
    assert.equal(preflight.headers.get("access-control-allow-methods"), "GET");
    const post = await get(served.handler, "/info", { method: "POST", headers: { origin } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD, OPTIONS");
    assert.equal(
      post.headers.get("access-control-allow-origin"),
      origin,
      "errors are readable too",
    );
    await post.body?.cancel();
  });
  await t.step('"*"', async () => {
    await using served = host(2, {}, { cors: "*" });
    const response = await get(served.handler, "/healthz", { headers: { origin } });
    assert.equal(response.headers.get("access-control-allow-origin"), origin);
    await response.body?.cancel();
  });
  await t.step("no cors", async () => {
    await using served = host(2);
    const response = await get(served.handler, "/healthz", { headers: { origin } });
    assert.equal(response.headers.get("access-control-allow-origin"), null);
    assert.equal(response.headers.get("vary"), null);
    await response.body?.cancel();
  });
});

Deno.test("serveDataset answers a preflight with the headers it asks for, to an allowed origin only", async () => {
  const origin = "http://page.test";
  await using served = host(2, {}, { cors: [origin] });
  const ask = (path: string, from: string) =>
    get(served.handler, path, {
      method: "OPTIONS",
      headers: {
        origin: from,
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization, x-trace",
      },
    });
  const allowed = await ask("/batch?index=0&seed=1", origin);
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get("access-control-allow-origin"), origin);
  assert.equal(allowed.headers.get("access-control-allow-methods"), "GET");
  assert.equal(allowed.headers.get("access-control-allow-headers"), "authorization, x-trace");
  assert.equal(allowed.headers.get("access-control-max-age"), "600");
  assert.match(allowed.headers.get("vary")!, /access-control-request-headers/);

  const other = await ask("/batch?index=0&seed=1", "http://else.test");
  assert.equal(other.status, 204);
  const cors = [...other.headers.keys()].filter((name) => name.startsWith("access-control-"));
  assert.deepEqual(cors, []);

  const missing = await ask("/nowhere", origin);
  const got = await get(served.handler, "/nowhere", { headers: { origin } });
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), await got.json());
  assert.equal(missing.headers.get("access-control-allow-headers"), null);
});

Deno.test("serveDataset serves /batch requests at once through the workers", async () => {
  await using served = host(8, { workers: 2, useMultiprocessing: true, delay: 100 });
  await using local = new HostData(8);
  // Each request its own epoch and seed, though they overlap in the same workers.
  const requests = [0, 1, 2, 3, 4, 5].map((index) => ({
    index,
    epoch: index % 3,
    seed: 9 + index,
  }));
  const responses = await within(
    Promise.all(
      requests.map(({ index, epoch, seed }) =>
        get(served.handler, `/batch?index=${index}&epoch=${epoch}&seed=${seed}`)
      ),
    ),
  );
  const batches = await Promise.all(responses.map(batchesOf));
  for (const [i, { index, epoch, seed }] of requests.entries()) {
    assert.deepEqual(batches[i], [await local.getBatch(index, { epoch, seed })]);
  }
  const dataset = served.made[0]!;
  assert.equal(dataset.useMultiprocessing, true);
  assert.equal(Atomics.load(dataset.calls, 2), 2, "both workers fetched at once");
});

/** Counts its epoch hooks. */
class Hooked extends PyDataset<Int32Array> {
  begins = 0;
  ends = 0;
  get length(): number {
    return 3;
  }
  getItem(index: number): Int32Array {
    return Int32Array.of(index);
  }
  onEpochBegin(): void {
    this.begins++;
  }
  onEpochEnd(): void {
    this.ends++;
  }
}

Deno.test("serveDataset runs no hooks for /batch, and an epoch's hooks for /epoch", async () => {
  const made: Hooked[] = [];
  await using handler = serveDataset(() => made[made.length] = new Hooked());
  await collect(batchesFromResponse(await get(handler, "/batch?index=1&seed=0")));
  assert.deepEqual(made.map(({ begins, ends }) => [begins, ends]), [[0, 0]]);
  await collect(batchesFromResponse(await get(handler, "/epoch")));
  assert.deepEqual(made.map(({ begins, ends }) => [begins, ends]), [[0, 0], [1, 1]]);
});

Deno.test("serveDataset close() closes every dataset it made, ends open epochs, and refuses later requests", async () => {
  const served = host(50, { workers: 2, useMultiprocessing: true, maxQueueSize: 2 });
  try {
    await batchesOf(await get(served.handler, "/batch?index=1&seed=1"));
    const open = batchesFromResponse<HostBatch>(await get(served.handler, "/epoch")).getReader();
    assert.deepEqual((await within(open.read())).value?.index, Int32Array.of(0));
    await within(served.handler.close());
    await assert.rejects(async () => {
      while (!(await within(open.read())).done);
    }, /HostData was closed/);
    assert.deepEqual(served.made.map((dataset) => dataset.closes), [1, 1]);
    const refused = await get(served.handler, "/batch?index=1&seed=1");
    assert.equal(refused.status, 503);
    assert.match((await refused.json()).message, /closed/);
  } finally {
    await served.handler.close();
  }
});

Deno.test("serveDataset answers every route of a closed host with a 503 without Retry-After, and counts it", async () => {
  await using served = host(4);
  await batchesOf(await get(served.handler, "/batch?index=0&seed=1"));
  await served.handler.close();
  const paths = ["/info", "/healthz", "/batch?index=0&seed=1", "/epoch", "/epoch?start=1"];
  for (const path of paths) {
    for (const method of ["GET", "HEAD"]) {
      const response = await get(served.handler, path, { method });
      assert.equal(response.status, 503, `${method} ${path}`);
      assert.equal(response.headers.get("retry-after"), null, `${method} ${path}`);
      if (method === "HEAD") continue;
      const body = await response.json();
      assert.equal(body.name, "ClosedError");
      assert.equal(
        body.message,
        `Cannot serve ${new URL(path, "http://host").pathname} as the host was closed`,
      );
    }
  }
  const metrics = await get(served.handler, "/metrics");
  assert.equal(metrics.status, 200, "the counters are still readable");
  assert.equal(sample(await metrics.text(), "pydataset_refused_requests_total"), paths.length * 2);
});

Deno.test("serveDataset answers a /batch running when the host closes with a 503 without Retry-After", async () => {
  const made: Gated[] = [];
  const handler = serveDataset(() => made[made.length] = new Gated());
  const pending = get(handler, "/batch?index=1&seed=1");
  await waitFor(() => made[0]?.begun === 1, 5_000, "the getItem");
  const closing = handler.close();
  made[0]!.open(); // lets the getItem settle, however close() treats it
  await within(closing);
  const response = await within(pending);
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), null);
  assert.equal((await response.json()).name, "ClosedError");
  assert.equal(
    sample(await metricsOf(handler), 'pydataset_failed_batches_total{route="batch"}'),
    0,
  );
});

Deno.test("serveDataset checks its options", () => {
  const make = () => new HostData(1);
  assert.throws(() => serveDataset("nope" as never), TypeError);
  assert.throws(
    () => serveDataset(make, { maxConcurrent: 0 }),
    { name: "RangeError", message: /maxConcurrent must be a positive integer: current value is 0/ },
  );
  assert.throws(
    () => serveDataset(make, { retryAfter: 1.5 }),
    { name: "RangeError", message: /retryAfter must be a positive integer: current value is 1.5/ },
  );
  assert.throws(
    () => serveDataset(make, { maxConcurrent: "2" as never }),
    { name: "TypeError", message: /current value is "2"/ },
  );
  assert.throws(
    () => serveDataset(make, { cors: "http://page.test" as never }),
    {
      name: "TypeError",
      message: /cors must be an array of origins or "\*": current value is "http:\/\/page.test"/,
    },
  );
});

Deno.test("serveDataset answers a 500 when make does not return a dataset", async () => {
  await using handler = serveDataset(() => ({}) as never);
  const response = await get(handler, "/info");
  assert.equal(response.status, 500);
  assert.deepEqual(await response.json(), {
    name: "TypeError",
    message: "Cannot serve the dataset as make must return a PyDataset: current value is {}",
  });
});

Deno.test("serveDataset answers a 500 when make returns an instance it returned before", async () => {
  const shared = new HostData(3);
  await using handler = serveDataset(() => shared);
  assert.equal((await batchesOf(await get(handler, "/batch?index=1&seed=1"))).length, 1);
  for (const path of ["/epoch", "/epoch?start=2"]) {
    const response = await get(handler, path);
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), {
      name: "TypeError",
      message:
        "Cannot serve the dataset as make must build a new instance on each call: it returned the same HostData again",
    });
  }
  const now = await metricsOf(handler);
  assert.equal(
    sample(now, "pydataset_open_epochs"),
    0,
    "the refused epochs gave their places back",
  );
  assert.equal(sample(now, "pydataset_datasets"), 1);
});

/** Batch 1 holds a function, which the wire format cannot carry. */
class Unencodable extends PyDataset<unknown> {
  get length(): number {
    return 3;
  }
  getItem(index: number): unknown {
    return index === 1 ? { f: () => 1 } : Int32Array.of(index);
  }
}

Deno.test("serveDataset counts a batch that cannot be encoded as failed, not served, on both routes", async () => {
  await using handler = serveDataset(() => new Unencodable() as never, {
    maxConcurrent: 1,
  });
  const failed = await get(handler, "/batch?index=1&seed=1");
  assert.equal(failed.status, 500);
  assert.deepEqual(await failed.json(), {
    name: "TypeError",
    message:
      "Cannot encode f as it is a function: a batch holds NDArrays, typed arrays, arrays, plain objects and plain values",
    index: 1,
  });
  const { read, error } = await within(
    readUntilError(batchesFromResponse(await get(handler, "/epoch"))),
  );
  assert.deepEqual(read, [Int32Array.of(0)]);
  assert.match(String(error), /Cannot encode f as it is a function/);
  const now = await metricsOf(handler);
  assert.equal(sample(now, 'pydataset_batches_served_total{route="batch"}'), 0);
  assert.equal(sample(now, 'pydataset_failed_batches_total{route="batch"}'), 1);
  assert.equal(sample(now, 'pydataset_batches_served_total{route="epoch"}'), 1);
  assert.equal(sample(now, 'pydataset_failed_batches_total{route="epoch"}'), 1);
  assert.equal(sample(now, "pydataset_open_epochs"), 0);
  // The place under maxConcurrent came back.
  assert.deepEqual(await batchesOf(await get(handler, "/epoch?start=2")), [Int32Array.of(2)]);
});

Deno.test("serveDataset counts a batch cut off by a client that went away as neither served nor failed", async () => {
  await using served = host(10);
  const reader = (await get(served.handler, "/epoch")).body!.getReader();
  assert.equal((await within(reader.read())).done, false); // the first chunk of batch 0
  await within(reader.cancel());
  await waitForSample(served.handler, "pydataset_open_epochs", 0);
  const now = await metricsOf(served.handler);
  assert.equal(sample(now, 'pydataset_batches_served_total{route="epoch"}'), 0);
  assert.equal(sample(now, 'pydataset_failed_batches_total{route="epoch"}'), 0);
});

Deno.test("The remote_host fixture serves the same bytes from two processes and exits on SIGTERM", async () => {
  await using started = await startHosts(
    ["--length", "8", "--bytes", "64", "--fail-once", "2"],
    ["--length", "8", "--bytes", "64", "--workers", "2", "--multiprocessing"],
  );
  const { hosts } = started;
  {
    for (
      const path of [
        "/batch?position=5&shuffle=1&epoch=3&seed=11",
        "/epoch?shuffle=1&epoch=3&seed=11&shard=1/2",
      ]
    ) {
      const [a, b] = await Promise.all(
        hosts.map(async ({ url }) =>
          new Uint8Array(await (await fetch(`${url}${path}`)).arrayBuffer())
        ),
      );
      assert.ok(a!.length > 0);
      assert.deepEqual(a, b, path);
    }
    const info = await (await fetch(`${hosts[0]!.url}/info`)).json();
    assert.equal(info.length, 8);
    const failed = await fetch(`${hosts[0]!.url}/batch?index=2&seed=1`);
    assert.equal(failed.status, 500);
    assert.match((await failed.json()).message, /batch 2 fails once/);
    const [batch] = await batchesOf(await fetch(`${hosts[0]!.url}/batch?index=2&seed=1`));
    assert.equal(batch!.x.length, 16);
  }
  for (const { child } of hosts) child.kill("SIGTERM");
  const statuses = await within(Promise.all(hosts.map(({ child }) => child.status)), 20_000);
  assert.deepEqual(statuses.map(({ code }) => code), [0, 0]);
});
