// batchesFromResponse reads a fetch body (a byte stream) with a BYOB reader
// of its own, not the chunked decoder: held here to the chunked decoder's
// batches and errors, over a real loopback fetch.

import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import {
  type Batch,
  batchesFromResponse,
  batchResponse,
  decodeBatches,
  MEDIA_TYPE,
} from "../wire.ts";
import { readUntilError, waitFor, within } from "./_helpers.ts";
import {
  document as documentOf,
  encode,
  malformed,
  STRUCTURES,
} from "./fixtures/wire_documents.ts";

/** Serves `respond()` on loopback for the length of `use`. */
async function serving<T>(
  respond: () => Response,
  use: (url: string) => Promise<T>,
): Promise<T> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, respond);
  try {
    return await use(`http://127.0.0.1:${server.addr.port}/`);
  } finally {
    await server.shutdown();
  }
}

/** A response that sends `chunks` as they are. */
function bytesResponse(chunks: Uint8Array[]): Response {
  return new Response(ReadableStream.from(chunks), { headers: { "content-type": MEDIA_TYPE } });
}

/** Splits `bytes` into chunks of `size`. */
function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.slice(at, at + size));
  return chunks;
}

/** What the chunked decoder makes of `chunks`: the batches, then the error. */
function chunked(chunks: Uint8Array[], options = {}) {
  return readUntilError(ReadableStream.from(chunks).pipeThrough(decodeBatches(options)));
}

/** What batchesFromResponse makes of `chunks` served over a fetch. */
function fetched(chunks: Uint8Array[], options = {}) {
  return serving(() => bytesResponse(chunks), async (url) => {
    return await readUntilError(batchesFromResponse(await fetch(url), options));
  });
}

Deno.test("batchesFromResponse reads a fetch body's batches as the chunked decoder does", async (t) => {
  for (const [name, batch] of STRUCTURES) {
    const bytes = await encode([batch, batch]);
    for (const size of [3, 64, bytes.length]) {
      await t.step(`${name}, in chunks of ${size} bytes`, async () => {
        const got = await within(fetched(split(bytes, size)));
        assert.equal(got.error, undefined);
        assert.deepEqual(got.read, (await chunked([bytes])).read);
      });
    }
  }
});

Deno.test("batchesFromResponse gives a fetch body's malformed input the chunked decoder's errors", async (t) => {
  for (const [name, chunks, message, options] of await malformed()) {
    await t.step(name, async () => {
      const expected = await chunked(chunks, options);
      const got = await within(fetched(chunks, options));
      assert.match(String((got.error as Error)?.message), message);
      assert.equal((got.error as Error).constructor, (expected.error as Error).constructor);
      assert.equal((got.error as Error).message, (expected.error as Error).message);
      assert.deepEqual(got.read, expected.read);
    });
  }
});

Deno.test("batchesFromResponse raises a fetch body's error document after the batches before it", async () => {
  let pulls = 0;
  const failing = new ReadableStream<Batch>({
    pull(controller) {
      if (++pulls > 2) throw new BatchError(2, "Cannot get batch 2 of Served: boom");
      controller.enqueue([Float32Array.of(pulls)]);
    },
  }, { highWaterMark: 0 });
  const got = await within(serving(() => batchResponse(failing), async (url) => {
    return await readUntilError(batchesFromResponse(await fetch(url)));
  }));
  assert.deepEqual(got.read, [[Float32Array.of(1)], [Float32Array.of(2)]]);
  assert.ok(got.error instanceof BatchError, String(got.error));
  assert.equal(got.error.index, 2);
  assert.match(got.error.message, /Cannot get batch 2 of Served: boom/);
});

Deno.test("batchesFromResponse reads each batch of a fetch body into buffers of its own", async () => {
  // Two documents in one chunk: the chunked decoder would make views of that chunk.
  const bytes = await encode([[Float32Array.of(1, 2)], [Float64Array.of(3)]]);
  const got = await within(fetched([bytes]));
  const buffers = (got.read as [Float32Array | Float64Array][]).map(([x]) => x.buffer.byteLength);
  assert.deepEqual(buffers, [8, 8]);
});

Deno.test("batchesFromResponse cancels a fetch body once its reader cancels", async () => {
  const document = await encode([[Float32Array.of(7)]]);
  let cancelled = false;
  const endless = () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(document),
        cancel: () => {
          cancelled = true;
        },
      }),
      { headers: { "content-type": MEDIA_TYPE } },
    );
  await serving(endless, async (url) => {
    const reader = batchesFromResponse(await fetch(url)).getReader();
    assert.deepEqual((await within(reader.read())).value, [Float32Array.of(7)]);
    await within(reader.cancel(new Error("enough")));
    await waitFor(() => cancelled, 10_000, "the server's stream being cancelled");
  });
});

Deno.test("batchesFromResponse refuses a fetch body whose header announces more data than can be allocated", async () => {
  const bytes = 2 ** 50; // past the 128 TiB a process can address: never allocated
  const document = documentOf({ x: { dtype: "U8", shape: [bytes], data_offsets: [0, bytes] } });
  const got = await within(fetched([document]));
  assert.ok(got.error instanceof RangeError, String(got.error));
  assert.match(
    got.error.message,
    /^Cannot decode batch 0 as its header announces 1125899906842624 bytes of data, more than can be allocated/,
  );
});
