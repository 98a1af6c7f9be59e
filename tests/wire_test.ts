import assert from "node:assert/strict";
import { type NDArray, ndarray } from "../mod.ts";
import { within } from "./_helpers.ts";
import {
  type Batch,
  batchesFromResponse,
  batchResponse,
  decodeBatches,
  MEDIA_TYPE,
} from "../wire.ts";
import { document, encode, malformed, STRUCTURES } from "./fixtures/wire_documents.ts";

/** Decodes bytes that arrive in the given chunks. */
function decode(chunks: Uint8Array[], options = {}): Promise<Batch[]> {
  return Array.fromAsync(ReadableStream.from(chunks).pipeThrough(decodeBatches(options)));
}

Deno.test("encodeBatches and decodeBatches round-trip every dtype and structure", async (t) => {
  for (const [name, batch] of STRUCTURES) {
    await t.step(name, async () => {
      const [decoded] = await decode([await encode([batch])]);
      assert.deepEqual(decoded, batch);
    });
  }
});

Deno.test("encodeBatches writes safetensors: header length, JSON header, aligned data", async () => {
  const bytes = await encode([[ndarray(Float64Array.of(1, 2), [2, 1]), Uint8Array.of(5, 6)]]);
  const view = new DataView(bytes.buffer);
  const length = Number(view.getBigUint64(0, true));
  assert.equal((8 + length) % 8, 0, "the data starts 8-byte aligned");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  assert.deepEqual(header["0"], { dtype: "F64", shape: [2, 1], data_offsets: [0, 16] });
  assert.deepEqual(header["1"], { dtype: "U8", shape: [2], data_offsets: [16, 18] });
  assert.equal(typeof header.__metadata__["pydataset.structure"], "string");
  assert.equal(bytes.length, 8 + length + 18, "the document ends where its header says");
  assert.equal(view.getFloat64(8 + length + 8, true), 2);
});

Deno.test("decodeBatches reads a stream split at every byte", async () => {
  const batches = STRUCTURES.slice(1, 4).map(([, batch]) => batch);
  const bytes = await encode(batches);
  for (let split = 0; split <= bytes.length; split++) {
    const decoded = await decode([bytes.slice(0, split), bytes.slice(split)]);
    assert.deepEqual(decoded, batches, `split at ${split}`);
  }
  const bytewise = await decode([...bytes].map((byte) => Uint8Array.of(byte)));
  assert.deepEqual(bytewise, batches, "one byte per chunk");
});

Deno.test("decodeBatches makes views of aligned bytes and copies only misaligned ones", async () => {
  const batch = [ndarray(Float32Array.of(1, 2, 3), [3]), ndarray(Float64Array.of(4), [1])];
  const document = await encode([batch]);
  const [aligned] = await decode([document]) as [[{ data: Float32Array }, { data: Float64Array }]];
  assert.equal(aligned[0].data.buffer, document.buffer, "a view of the received chunk");
  assert.equal(aligned[1].data.buffer, document.buffer);
  // The same bytes, one byte later in their buffer: misaligned, so copied.
  const shifted = new Uint8Array(document.length + 1);
  shifted.set(document, 1);
  const [copied] = await decode([shifted.subarray(1)]) as [[{ data: Float32Array }]];
  assert.notEqual(copied[0].data.buffer, shifted.buffer);
  assert.equal(copied[0].data.byteOffset % 4, 0);
  assert.deepEqual(copied, batch);
});

Deno.test("decodeBatches errors the stream on malformed input, saying what", async (t) => {
  for (const [name, chunks, message, options] of await malformed()) {
    await t.step(name, async () => {
      await assert.rejects(decode(chunks, options), (error) => {
        const type = /over the limit/.test(String(error)) ? RangeError : TypeError;
        assert.ok(error instanceof type, String(error));
        assert.match((error as Error).message, message);
        return true;
      });
    });
  }
});

Deno.test("encodeBatches errors the stream on batches it cannot carry", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ["a function", { f: () => 1 }, /Cannot encode f as it is a function/],
    ["a class instance", [new Date()], /Cannot encode 0 as it is a Date/],
    [
      "data that does not fill its shape",
      { x: { data: new Float32Array(3), shape: [2, 2] } },
      /Cannot encode x as its shape \[2, 2\] needs 4 values, but data has 3/,
    ],
    ["colliding names", { "a.b": 1, a: { b: 2 } }, /two of its places are named "a.b"/],
    [
      "a batch 100,000 levels deep",
      nested(100_000),
      /Cannot encode "0\.0\.0[.0]*…" as it nests 257 levels deep, deeper than the limit of 256/,
    ],
    [
      "a batch that holds itself",
      cyclic(),
      /Cannot encode "self\.self[.self]*…" as it nests 257 levels deep, deeper than the limit of 256/,
    ],
  ];
  for (const [name, batch, message] of cases) {
    await t.step(name, async () => {
      await assert.rejects(encode([batch as Batch]), { name: "TypeError", message });
    });
  }
});

/** A batch of `depth` arrays, one in the other, around a number. */
function nested(depth: number): Batch {
  let batch: Batch = 1;
  for (let i = 0; i < depth; i++) batch = [batch];
  return batch;
}

function cyclic(): Batch {
  const batch: Record<string, Batch> = {};
  batch.self = batch;
  return batch;
}

/** `parts` dotted parts: "a.a.a…", a name that nests `parts` levels deep. */
function dotted(parts: number): string {
  return Array(parts).fill("a").join(".");
}

Deno.test("decodeBatches errors on names nested deeper than the structure may nest", async (t) => {
  const name = dotted(100_000);
  const cases: [string, Uint8Array][] = [
    [
      "tensor name",
      document({ [name]: { dtype: "U8", shape: [1], data_offsets: [0, 1] } }, Uint8Array.of(1)),
    ],
    ["__metadata__ key", document({ __metadata__: { [name]: "1" } })],
  ];
  for (const [kind, bytes] of cases) {
    await t.step(`a ${kind} of 100,000 parts`, async () => {
      await assert.rejects(decode([bytes]), {
        name: "TypeError",
        message: new RegExp(
          `^Cannot decode batch 0 as the ${kind} "a\\.a[.a]*…" nests 100000 levels deep, deeper than the limit of 256$`,
        ),
      });
    });
  }
});

Deno.test("decodeBatches reads names and structures as deep as the limit, 256 levels", async () => {
  const [byName] = await decode([document({ __metadata__: { [dotted(256)]: "1" } })]);
  let node = byName;
  for (let depth = 0; depth < 256; depth++) node = (node as Record<string, Batch>).a;
  assert.equal(node, 1);
  assert.deepEqual(await decode([await encode([nested(256)])]), [nested(256)]);
});

Deno.test("decodeBatches rebuilds the structure of other writers' documents from their names", async () => {
  const bytes = document(
    {
      __metadata__: { "1.label": '"cat"', "1.note": "plain text", toString: "kept" },
      "0": { dtype: "F32", shape: [1, 1], data_offsets: [0, 4] },
      "1.ids": { dtype: "I64", shape: [2, 1], data_offsets: [8, 24] },
      ["__proto__"]: { dtype: "U8", shape: [1], data_offsets: [4, 5] },
      pad: { dtype: "U8", shape: [3], data_offsets: [5, 8] },
    },
    new Uint8Array(24),
  );
  const [batch] = await decode([bytes]);
  assert.deepEqual(Object.keys(batch as object).sort(), ["0", "1", "__proto__", "pad", "toString"]);
  const named = batch as Record<string, Batch>;
  assert.deepEqual(named["1"], {
    ids: { data: new BigInt64Array(2), shape: [2, 1] },
    label: "cat",
    note: "plain text",
  });
  assert.equal(Object.getOwnPropertyDescriptor(batch, "toString")?.value, "kept");
  assert.deepEqual(Object.getOwnPropertyDescriptor(batch, "__proto__")?.value, {
    data: Uint8Array.of(0),
    shape: [1],
  });
  // Names "0" and "1" alone make an array, as an [x, y] batch.
  const pair = document({
    "0": { dtype: "F32", shape: [1], data_offsets: [0, 4] },
    "1": { dtype: "F32", shape: [1], data_offsets: [4, 8] },
  }, new Uint8Array(8));
  assert.ok(Array.isArray((await decode([pair]))[0]));
});

Deno.test("encodeBatches keeps NDArrays of 64-bit integers as shaped I64 tensors", async () => {
  const batch = { ids: { data: BigInt64Array.of(1n, -2n, 3n, 4n, 5n, 6n), shape: [2, 3] } };
  const bytes = await encode([batch]);
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  assert.deepEqual(header.ids, { dtype: "I64", shape: [2, 3], data_offsets: [0, 48] });
  assert.deepEqual(await decode([bytes]), [batch]);
});

Deno.test("decodeBatches takes linear time over many tiny chunks", async () => {
  const batch = [ndarray(new Float32Array(1 << 17).fill(1), [1 << 17])]; // 512 KiB
  const bytes = await encode([batch]);
  const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  // Quadratic bookkeeping took minutes here; linear takes about a second.
  assert.deepEqual(await within(decode(chunks), 15_000, "decoding 512 KiB in 1-byte chunks"), [
    batch,
  ]);
});

Deno.test("decodeBatches reads documents from other safetensors writers by name", async () => {
  const bytes = document(
    {
      __metadata__: { format: "pt" },
      weight: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      bias: { dtype: "U8", shape: [1], data_offsets: [8, 9] },
    },
    Uint8Array.of(0, 0, 128, 63, 0, 0, 0, 64, 7),
  );
  assert.deepEqual(await decode([bytes]), [{
    weight: { data: Float32Array.of(1, 2), shape: [2] },
    bias: { data: Uint8Array.of(7), shape: [1] },
    format: "pt",
  }]);
});

Deno.test("batchResponse and batchesFromResponse carry batches in a Response", async () => {
  const batches: Batch[] = [[ndarray(Float32Array.of(1), [1, 1]), Int32Array.of(2)], { n: 3 }];
  const response = batchResponse(ReadableStream.from(batches), {
    status: 201,
    headers: { "x-epoch": "4" },
  });
  assert.equal(response.headers.get("content-type"), MEDIA_TYPE);
  assert.equal(response.headers.get("x-epoch"), "4");
  assert.equal(response.status, 201);
  assert.deepEqual(await Array.fromAsync(batchesFromResponse(response)), batches);
});

/** True when `A` and `B` are the same type. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;

/**
 * The decoders' types, for `deno check` (never called): each line fails to
 * compile unless `B` is a type parameter that sets the batches' type, with
 * `Batch` as its default.
 */
function _decodedBatchTypes(response: Response, bytes: ReadableStream<Uint8Array>): void {
  const pairs: ReadableStream<[NDArray, NDArray]> = batchesFromResponse<[NDArray, NDArray]>(
    response,
  );
  const decoded: ReadableStream<[NDArray, NDArray]> = bytes.pipeThrough(
    decodeBatches<[NDArray, NDArray]>(),
  );
  const inferred: ReadableStream<[NDArray, NDArray]> = batchesFromResponse(response);
  // @ts-expect-error batches named as pairs are not strings
  const strings: ReadableStream<string> = batchesFromResponse<[NDArray, NDArray]>(response);
  const loose = batchesFromResponse(response);
  const looseDecoded = bytes.pipeThrough(decodeBatches());
  const defaults: [
    Equals<typeof loose, ReadableStream<Batch>>,
    Equals<typeof looseDecoded, ReadableStream<Batch>>,
  ] = [true, true];
  // @ts-expect-error a Batch is not necessarily a pair
  const pair: ReadableStream<[NDArray, NDArray]> = loose;
  void [pairs, decoded, inferred, strings, defaults, pair];
}

Deno.test("batchesFromResponse and decodeBatches give batches of the type the caller names", async () => {
  const sent = [ndarray(Float32Array.of(0.5, 1.5), [2, 1]), ndarray(Int32Array.of(1, 0), [2])];
  const shapes = [];
  const response = batchResponse(ReadableStream.from([sent, sent]));
  for await (const [x, y] of batchesFromResponse<[NDArray, NDArray]>(response)) {
    shapes.push([x.shape, y.data.length]);
  }
  assert.deepEqual(shapes, [[[2, 1], 2], [[2, 1], 2]]);
  const bytes = ReadableStream.from([await encode([sent])]);
  const [batch] = await Array.fromAsync(bytes.pipeThrough(decodeBatches<[NDArray, NDArray]>()));
  assert.ok(batch);
  const [x, y] = batch;
  assert.deepEqual([x.data, y.data], [sent[0]!.data, sent[1]!.data]);
});

Deno.test("batchesFromResponse refuses a failed response or another media type", () => {
  assert.throws(
    () => batchesFromResponse(new Response("nope", { status: 404, statusText: "Not Found" })),
    {
      name: "Error",
      message: /as it failed: 404 Not Found/,
    },
  );
  assert.throws(
    () =>
      batchesFromResponse(new Response("{}", { headers: { "content-type": "application/json" } })),
    {
      name: "TypeError",
      message:
        /its content-type is "application\/json", not application\/vnd\.pydataset\.safetensors-stream/,
    },
  );
});

Deno.test("The ./wire entry runs without the Deno namespace or Float16Array, as in a browser", async () => {
  const wire = new URL("../wire.ts", import.meta.url).href;
  const mod = new URL("../mod.ts", import.meta.url).href;
  const script = `
delete globalThis.Deno;
delete globalThis.Float16Array; // older browsers lack it
const { batchesFromResponse, batchResponse } = await import(${JSON.stringify(wire)});
const { ndarray } = await import(${JSON.stringify(mod)});
const batch = [ndarray(Float32Array.of(1, 2), [2, 1]), { label: "x", ids: BigInt64Array.of(3n) }];
const response = batchResponse(ReadableStream.from([batch, batch]));
const back = await Array.fromAsync(batchesFromResponse(response));
console.log(typeof globalThis.Deno, back.length, back[1][0].data[1], back[1][1].label);
`;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(new TextDecoder().decode(stdout).trim(), "undefined 2 2 x");
});

Deno.test("decodeBatches delivers every whole batch before the error that follows them", async () => {
  const good = await encode([[Float32Array.of(1)], [Float32Array.of(2)]]);
  const cut = new Uint8Array(good.length + 5);
  cut.set(good);
  cut.set([9, 0, 0], good.length); // a third document cut short, in the same chunk
  const seen: Batch[] = [];
  await assert.rejects(
    (async () => {
      for await (const batch of ReadableStream.from([cut]).pipeThrough(decodeBatches())) {
        seen.push(batch);
      }
    })(),
    /Cannot decode batch 2 as the stream ended within it/,
  );
  assert.deepEqual(seen, [[Float32Array.of(1)], [Float32Array.of(2)]]);
});

Deno.test("decodeBatches leaves nothing running once its reader stops before an error", async (t) => {
  const fixture = new URL("./fixtures/wire_stopped_reader.ts", import.meta.url).href;
  for (const [how, what] of [["release", "releases its lock"], ["cancel", "cancels"]] as const) {
    await t.step(`the reader ${what}`, async () => {
      const started = performance.now();
      // The signal kills a child that would never exit: the test fails rather than hangs.
      const { code, signal, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", fixture, how],
        signal: AbortSignal.timeout(10_000),
      }).output();
      const elapsed = Math.round(performance.now() - started);
      assert.equal(
        code,
        0,
        `the child ended by ${signal ?? "itself"} after ${elapsed} ms: ${
          new TextDecoder().decode(stderr)
        }`,
      );
      assert.equal(new TextDecoder().decode(stdout).trim(), "read 1");
      assert.ok(elapsed < 5_000, `the child took ${elapsed} ms to exit`);
    });
  }
});
