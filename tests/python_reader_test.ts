// The Python package in python/ (pydataset_reader) against the TypeScript
// side: it reads what encodeBatches and data hosts write, and rebuilds the
// same batches as decodeBatches and dataset.epoch. Each case runs a script of
// python/tests/ in a python3 with numpy (torch too, for the DataLoader case),
// and compares the JSON lines it prints (python/tests/_canonical.py) with the
// same form of the TypeScript batches.

import assert from "node:assert/strict";
import { BatchError, type EpochOptions, ndarray } from "../mod.ts";
import { serveDataset } from "../remote.ts";
import { type Batch, batchResponse, decodeBatches } from "../wire.ts";
import { HostData, type HostDataOptions } from "./fixtures/remote_host.ts";
import { EVERY_DTYPE } from "./fixtures/wire_documents.ts";

const PYTHON_DIR = decodeURIComponent(new URL("../python/", import.meta.url).pathname);
const SCRIPTS = `${PYTHON_DIR}tests/`;

/** The first python3 here that imports `modules`, if any. */
async function pythonWith(modules: string): Promise<string | undefined> {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const { success } = await new Deno.Command(python, {
        args: ["-c", `import ${modules}`],
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return python;
    } catch {
      // not installed
    }
  }
  return undefined;
}

const PYTHON = await pythonWith("numpy");
const TORCH_PYTHON = PYTHON && await pythonWith("numpy, torch");
const NO_PYTHON = "no python3 with numpy on this machine (apt-get install python3-numpy)";
const NO_TORCH = "no python3 with numpy and torch on this machine (apt-get install python3-torch)";
if (!PYTHON) console.warn(`Skipped the Python reader tests: ${NO_PYTHON}`);
else if (!TORCH_PYTHON) console.warn(`Skipped the torch test: ${NO_TORCH}`);

/**
 * Runs a Python script with `PYTHONPATH=python`; its stdout's JSON lines.
 * The signal kills a child that hangs: the test fails rather than hangs.
 */
async function runPython(python: string, args: string[]): Promise<Record<string, unknown>[]> {
  const { code, stdout, stderr } = await new Deno.Command(python, {
    args,
    cwd: SCRIPTS,
    env: { PYTHONPATH: PYTHON_DIR, PYTHONDONTWRITEBYTECODE: "1" },
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, `${args.join(" ")} failed:\n${text}\n${new TextDecoder().decode(stderr)}`);
  return text.trim().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/** The kind and item size numpy gives each typed array, as _canonical.py writes it. */
const KINDS: [new (length: number) => ArrayBufferView, string][] = [
  [Float64Array, "f8"],
  [BigInt64Array, "i8"],
  [BigUint64Array, "u8"],
  [Float32Array, "f4"],
  [Int32Array, "i4"],
  [Uint32Array, "u4"],
  [Float16Array, "f2"],
  [Int16Array, "i2"],
  [Uint16Array, "u2"],
  [Int8Array, "i1"],
  [Uint8Array, "u1"],
  [Uint8ClampedArray, "u1"],
];

function tensor(data: ArrayBufferView, shape: number[]): unknown {
  const kind = KINDS.find(([type]) => data instanceof type)?.[1];
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return ["t", kind, shape, hex];
}

/**
 * A batch in the form python/tests/_canonical.py prints: what both sides
 * can say (a plain typed array is a 1-D tensor, `undefined` is `null`).
 */
function canonical(value: Batch): unknown {
  if (ArrayBuffer.isView(value)) return tensor(value, [(value as Uint8Array).length]);
  if (Array.isArray(value)) return ["a", value.map(canonical)];
  if (typeof value === "object" && value !== null) {
    const { data, shape } = value as { data?: unknown; shape?: unknown };
    if (Object.keys(value).length === 2 && ArrayBuffer.isView(data) && Array.isArray(shape)) {
      return tensor(data, shape);
    }
    return ["o", Object.entries(value).map(([key, item]) => [key, canonical(item)])];
  }
  if (typeof value === "bigint") return ["int", String(value)];
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return ["n", String(value)];
    return Number.isInteger(value) ? ["int", String(value)] : ["f", value];
  }
  return ["v", value ?? null];
}

/** A stream of `batches` that then fails with `error`, as a failing epoch does. */
function failingAfter(batches: Batch[], error: Error): ReadableStream<Batch> {
  let next = 0;
  return new ReadableStream<Batch>({
    pull(controller) {
      if (next < batches.length) controller.enqueue(batches[next++]!);
      else controller.error(error);
    },
  }, { highWaterMark: 0 });
}

/** What decodeBatches reads from `bytes`: the batches, then the error that ended them. */
async function decodeAll(bytes: Uint8Array): Promise<{ batches: Batch[]; error: unknown }> {
  const batches: Batch[] = [];
  try {
    for await (const batch of ReadableStream.from([bytes]).pipeThrough(decodeBatches())) {
      batches.push(batch);
    }
  } catch (error) {
    return { batches, error };
  }
  return { batches, error: undefined };
}

const BATCHES: Batch[] = [
  EVERY_DTYPE,
  [ndarray(new Float32Array(6).fill(0.25), [2, 3]), Int32Array.of(1, 0)],
  {
    xs: { image: ndarray(new Uint8Array(8).fill(3), [2, 2, 2]) },
    ys: [Int32Array.of(3, 4)],
    b: 1,
    "1": "an index key, listed first",
  },
  [
    { "0": "a key like an index", label: "cat", weight: 0.5, ok: true, none: null },
    [[Int16Array.of(1)], []],
    { nan: NaN, inf: Infinity, ninf: -Infinity, big: 12345678901234567890n, missing: undefined },
    {},
  ],
  ndarray(Float32Array.of(1, 2, 3, 4), [2, 2]),
  7,
];

Deno.test("pydataset_reader rebuilds each batch of a stream as decodeBatches does, and raises its error", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  const failures: [string, Error, Record<string, unknown>][] = [
    [
      "an error that names its batch",
      new BatchError(6, "Cannot get batch 6 of Remote: disk on fire", {
        cause: new Error("disk on fire"),
      }),
      { class: "RemoteBatchError", index: 6, name: "BatchError", cause: "disk on fire" },
    ],
    [
      "an error without a batch",
      new TypeError("the source broke"),
      { class: "RemoteError", index: null, name: "TypeError" },
    ],
  ];
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, failure, expected] of failures) {
      await t.step(name, async () => {
        const body = new Uint8Array(
          await batchResponse(failingAfter(BATCHES, failure)).arrayBuffer(),
        );
        await Deno.writeFile(`${dir}/epoch.bin`, body);
        const lines = await runPython(PYTHON, ["dump_file.py", `${dir}/epoch.bin`]);
        const decoded = await decodeAll(body);
        assert.deepEqual(decoded.batches, BATCHES, "TypeScript reads the batches back");
        assert.deepEqual(
          lines.slice(0, -1),
          decoded.batches.map((batch) => ({ batch: canonical(batch) })),
        );
        const error = lines.at(-1)?.error as Record<string, unknown>;
        assert.ok(error, `the last line is the error: ${JSON.stringify(lines.at(-1))}`);
        assert.equal(
          error.message,
          (decoded.error as Error).message,
          "the message TypeScript gives",
        );
        for (const [key, value] of Object.entries(expected)) {
          assert.deepEqual(error[key], value, key);
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pydataset_reader passes its own tests (python/tests/test_*.py)", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  // The torch tests skip themselves without torch: run them where it is, too.
  for (const python of new Set([PYTHON, TORCH_PYTHON ?? PYTHON])) {
    await t.step(python, async () => {
      const { code, stderr } = await new Deno.Command(python, {
        args: ["-m", "unittest", "discover", "-s", SCRIPTS, "-p", "test_*.py"],
        env: { PYTHONPATH: PYTHON_DIR, PYTHONDONTWRITEBYTECODE: "1" },
        signal: AbortSignal.timeout(120_000),
      }).output();
      const report = new TextDecoder().decode(stderr);
      assert.equal(code, 0, report);
      assert.match(report, /^Ran \d+ tests in .*\n\nOK/m);
    });
  }
});

interface HostSpec {
  length: number;
  options?: HostDataOptions;
  maxConcurrent?: number;
}

/**
 * Data hosts of HostData, in this process on 127.0.0.1, with the datasets
 * each has made; disposing closes them.
 */
function serveHosts(specs: HostSpec[]): { urls: string[]; made: HostData[][] } & AsyncDisposable {
  const hosts = specs.map(({ length, options, maxConcurrent }) => {
    const made: HostData[] = [];
    const make = () => {
      made.push(new HostData(length, options));
      return made.at(-1)!;
    };
    const handler = serveDataset(make, { maxConcurrent });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    return { handler, server, made, url: `http://127.0.0.1:${server.addr.port}` };
  });
  return {
    urls: hosts.map(({ url }) => url),
    made: hosts.map(({ made }) => made),
    async [Symbol.asyncDispose]() {
      for (const { handler, server } of hosts) {
        await handler.close();
        await server.shutdown();
      }
    },
  };
}

/** The batches of a local epoch of HostData, as the hosts compute them. */
async function localEpoch(length: number, options: EpochOptions): Promise<Batch[]> {
  await using dataset = new HostData(length);
  return await Array.fromAsync(dataset.epoch(options));
}

Deno.test("read_response streams a served /epoch, and reads a /batch set in order", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  await using hosts = serveHosts([{ length: 12 }]);
  const [host] = hosts.urls as [string];
  await t.step("/epoch, shuffled", async () => {
    const lines = await runPython(PYTHON, [
      "remote_cases.py",
      "response",
      `${host}/epoch?epoch=3&shuffle=1&seed=7`,
    ]);
    const expected = await localEpoch(12, { epoch: 3, shuffle: true, seed: 7 });
    assert.deepEqual(lines, [
      { batches_header: "12" },
      ...expected.map((batch) => ({ batch: canonical(batch) })),
    ]);
  });
  await t.step("/batch?index=0..11", async () => {
    const lines = await runPython(PYTHON, ["remote_cases.py", "batches", host, "12", "2", "5"]);
    await using dataset = new HostData(12);
    const expected = [];
    for (let index = 0; index < 12; index++) {
      const batch = await dataset.getBatch(index, { epoch: 2, seed: 5 });
      expected.push({ served: String(index) }, { batch: canonical(batch) });
    }
    assert.deepEqual(lines, expected);
  });
});

Deno.test("read_response reads a response as it arrives: a reader that stops leaves the rest unsent", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  await using hosts = serveHosts([{ length: 200, options: { bytes: 1 << 20 } }]);
  const lines = await runPython(PYTHON, [
    "remote_cases.py",
    "first",
    `${hosts.urls[0]}/epoch?seed=1`,
  ]);
  assert.deepEqual(lines, [{ shape: [1 << 18] }]);
  const fetched = hosts.made[0]!.reduce((sum, { calls }) => sum + calls[0]!, 0);
  assert.ok(fetched < 40, `the host fetched ${fetched} of 200 batches of 1 MiB`);
});

Deno.test("read_response raises the host's JSON error for a non-2xx answer, and checks the media type", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  await using hosts = serveHosts([{ length: 4 }]);
  const [host] = hosts.urls as [string];
  const lines = await runPython(PYTHON, ["remote_cases.py", "failures", host]);
  const byPath = Object.fromEntries(lines.map(({ path, error }) => [path, error])) as Record<
    string,
    Record<string, unknown>
  >;
  assert.deepEqual(Object.keys(byPath), [
    "/batch?index=1",
    "/batch?index=999&seed=1",
    "/nope",
    "/info",
    "unreachable",
  ]);
  const missingSeed = byPath["/batch?index=1"]!;
  assert.equal(missingSeed.class, "RemoteError");
  assert.equal(missingSeed.status, 400);
  assert.match(String(missingSeed.message), /as it failed: 400 Bad Request: .*seed/);
  assert.equal(byPath["/batch?index=999&seed=1"]!.status, 400);
  assert.match(String(byPath["/batch?index=999&seed=1"]!.message), /999/);
  assert.equal(byPath["/nope"]!.status, 404);
  assert.equal(byPath["/nope"]!.name, "NotFoundError");
  assert.equal(byPath["/info"]!.class, "ValueError");
  assert.match(
    String(byPath["/info"]!.message),
    /content-type is "application\/json", not application\/vnd\.pydataset\.safetensors-stream/,
  );
  assert.equal(byPath.unreachable!.class, "URLError");
});

/** A value of a host's `/metrics`, such as `pydataset_refused_requests_total`. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((line) => line.startsWith(`${name} `));
  assert.ok(line, `${url}/metrics has ${name}`);
  return Number(line.slice(name.length + 1));
}

Deno.test("read_epoch over two hosts yields the batches of dataset.epoch, in its order", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  const failed = 'pydataset_failed_batches_total{route="batch"}';
  const cases: [string, HostSpec[], string[], ((urls: string[]) => Promise<void>)?][] = [
    ["shuffled, from two hosts", [{ length: 23 }, { length: 23 }], ["--workers", "4"]],
    ["one request and one batch ahead at a time", [{ length: 23 }, { length: 23 }], [
      "--workers",
      "1",
      "--lookahead",
      "1",
    ]],
    [
      "batches that fail once on each host, tried on the other host, then again",
      [{ length: 23, options: { failOnce: [2, 9] } }, {
        length: 23,
        options: { failOnce: [2, 9] },
      }],
      ["--workers", "4"],
      async ([a, b]) => {
        assert.deepEqual([await metric(a!, failed), await metric(b!, failed)], [2, 2]);
      },
    ],
    [
      "a host that answers 503 while busy, avoided until its Retry-After",
      [{ length: 23, options: { delay: 20 }, maxConcurrent: 1 }, { length: 23 }],
      ["--workers", "6"],
      async ([busy]) => {
        assert.ok(await metric(busy!, "pydataset_refused_requests_total") > 0, "some 503s");
      },
    ],
    [
      "one host at its limit, retries 0: a busy 503 uses no try",
      [{ length: 23, options: { delay: 5 }, maxConcurrent: 1 }],
      ["--workers", "3", "--retries", "0"],
      async ([busy]) => {
        assert.ok(await metric(busy!, "pydataset_refused_requests_total") > 0, "some 503s");
      },
    ],
  ];
  const expected = (await localEpoch(23, { epoch: 4, shuffle: true, seed: 11 })).map((batch) => ({
    batch: canonical(batch),
  }));
  for (const [name, specs, flags, check] of cases) {
    await t.step(name, async () => {
      await using hosts = serveHosts(specs);
      const args = ["remote_cases.py", "epoch", "--seed", "11", "--epoch", "4", "--shuffle"];
      const lines = await runPython(PYTHON, [...args, ...flags, ...hosts.urls]);
      assert.deepEqual(lines, expected);
      await check?.(hosts.urls);
    });
  }
});

Deno.test("read_epoch keeps at most `workers` requests in flight and `lookahead` batches ahead", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  await t.step("workers: 3", async () => {
    await using hosts = serveHosts([{ length: 12, options: { delay: 50, workers: 8 } }]);
    const args = ["remote_cases.py", "epoch", "--seed", "1", "--workers", "3", "--lookahead", "10"];
    const lines = await runPython(PYTHON, [...args, ...hosts.urls]);
    assert.equal(lines.length, 12);
    const most = Math.max(...hosts.made[0]!.map(({ calls }) => calls[2]!));
    assert.ok(most <= 3 && most >= 2, `at most 3 getItem calls ran at once: ${most}`);
  });
  await t.step("lookahead: 4, with a reader that stops after one batch", async () => {
    await using hosts = serveHosts([{ length: 40 }, { length: 40 }]);
    const lines = await runPython(PYTHON, [
      "remote_cases.py",
      "stall",
      "--lookahead",
      "4",
      ...hosts.urls,
    ]);
    assert.equal(lines.length, 1);
    const requests = hosts.made.flat().reduce((sum, { calls }) => sum + calls[0]!, 0);
    assert.ok(requests <= 5 && requests >= 2, `the batch taken and 4 ahead, of 40: ${requests}`);
  });
});

Deno.test("read_epoch raises a batch that failed on the hosts, naming it, after the batches before it", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  const options = { fail: [5] };
  await using hosts = serveHosts([{ length: 9, options }, { length: 9, options }]);
  const lines = await runPython(PYTHON, [
    "remote_cases.py",
    "epoch",
    "--seed",
    "3",
    ...hosts.urls,
  ]);
  const expected = (await localEpoch(9, { seed: 3 })).slice(0, 5);
  assert.deepEqual(lines.slice(0, -1), expected.map((batch) => ({ batch: canonical(batch) })));
  const error = lines.at(-1)?.error as Record<string, unknown>;
  assert.equal(error.class, "RemoteBatchError");
  assert.equal(error.index, 5);
  assert.equal(error.position, 5);
  assert.equal(error.attempts, 3, "tried on each host, then once more");
  assert.equal(error.status, 500);
  assert.match(
    String(error.message),
    /^Cannot read batch 5 \(position 5 of epoch 0\) after 3 attempts: .*500.*batch 5 always fails/,
  );
});

Deno.test("read_epoch refuses hosts whose /info disagree, naming them", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  await using hosts = serveHosts([{ length: 4 }, { length: 5 }]);
  const [a, b] = hosts.urls as [string, string];
  const lines = await runPython(PYTHON, ["remote_cases.py", "epoch", "--seed", "1", a, b]);
  assert.deepEqual(lines, [{
    error: {
      class: "RemoteError",
      message:
        `Cannot read an epoch from ${a}, ${b} as their lengths differ: ${a} has 4, ${b} has 5`,
      name: "Error",
      index: null,
      status: null,
    },
  }]);
});

Deno.test("RemoteIterableDataset: two DataLoader workers on each of two ranks read every position once", async (t) => {
  if (!TORCH_PYTHON) {
    return void await t.step({
      name: `skipped: ${PYTHON ? NO_TORCH : NO_PYTHON}`,
      ignore: true,
      fn() {},
    });
  }
  await using hosts = serveHosts([{ length: 19 }, { length: 19 }]);
  const lines = await runPython(TORCH_PYTHON, [
    "torch_cases.py",
    "--seed",
    "5",
    "--epoch",
    "2",
    "--shuffle",
    "--world-size",
    "2",
    "--num-workers",
    "2",
    ...hosts.urls,
  ]);
  const epoch = await localEpoch(19, { epoch: 2, shuffle: true, seed: 5 }) as {
    x: Float32Array;
    seed: Uint32Array;
    index: Int32Array;
  }[];
  // Rank r reads positions r, r + 2, ...: with its workers interleaved, in order.
  const expected = epoch.map(({ x, seed, index }, position) => ({
    rank: position % 2,
    tensors: true,
    index: [...index],
    seed: [...seed],
    x: [...x],
  })).sort((a, b) => a.rank - b.rank);
  assert.deepEqual(lines, expected);
  const indices = lines.map(({ index }) => (index as number[])[0]).sort((a, b) => a! - b!);
  assert.deepEqual(indices, Array.from({ length: 19 }, (_, i) => i), "every position once");
});

Deno.test("docs/scaling.md: the Python example runs against two data hosts", async (t) => {
  if (!PYTHON) return void await t.step({ name: `skipped: ${NO_PYTHON}`, ignore: true, fn() {} });
  const page = await Deno.readTextFile(new URL("../docs/scaling.md", import.meta.url));
  const snippet = /```python\n([\s\S]*?)```/.exec(page)?.[1];
  assert.ok(snippet, "docs/scaling.md shows the Python reader");
  const cases: [string, HostDataOptions, RegExp][] = [
    [
      "hosts that serve every batch",
      {},
      /^6 batches from \/epoch\n6 batches from \/batch on 2 hosts$/,
    ],
    [
      "hosts that fail batch 4",
      { fail: [4] },
      /^6 batches from \/epoch\nbatch 4 failed: Cannot get batch 4 .*batch 4 always fails$/,
    ],
  ];
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/read.py`, snippet);
    for (const [name, options, output] of cases) {
      await t.step(name, async () => {
        await using hosts = serveHosts([{ length: 6, options }, { length: 6, options }]);
        const { code, stdout, stderr } = await new Deno.Command(PYTHON, {
          args: [`${dir}/read.py`, ...hosts.urls],
          env: { PYTHONPATH: PYTHON_DIR, PYTHONDONTWRITEBYTECODE: "1" },
          signal: AbortSignal.timeout(120_000),
        }).output();
        assert.equal(code, 0, new TextDecoder().decode(stderr));
        assert.match(new TextDecoder().decode(stdout).trim(), output);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
