/**
 * Batches in `fetch` and `Deno.serve`: a `Response` that streams them, and
 * the batches read back from one.
 *
 * @module
 */

import { decodeBatches, type DecodeBatchesOptions } from "./decode_batches.ts";
import { encodeBatch, encodeError } from "./_encode.ts";
import { maxHeaderBytesOf } from "./_framing.ts";
import { readDocuments } from "./_read_documents.ts";
import type { Batch } from "./types.ts";

/**
 * The media type of a stream of safetensors documents, one per batch, back
 * to back: `application/vnd.pydataset.safetensors-stream`.
 *
 * @example Ask a server for it
 * ```ts
 * import { MEDIA_TYPE } from "@pydataset/pydataset/wire";
 *
 * const headers = { accept: MEDIA_TYPE };
 * ```
 */
export const MEDIA_TYPE = "application/vnd.pydataset.safetensors-stream";

/**
 * A `Response` whose body streams `batches` as safetensors documents, with
 * {@linkcode MEDIA_TYPE} as its `content-type`. It pulls batches as the
 * client reads: a slow client slows the source, and a client that goes
 * away cancels it. A source that fails ends the body with a document that
 * carries the error, so that the client reports it (a `BatchError` names its
 * batch) rather than a broken connection.
 *
 * @param batches The batches, such as an epoch of a `PyDataset`.
 * @param init Status and headers; `content-type` is set.
 * @returns The response.
 *
 * @example Stream two batches
 * ```ts
 * import { batchResponse, MEDIA_TYPE } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const response = batchResponse(ReadableStream.from([[Int32Array.of(1)], [Int32Array.of(2)]]));
 * assert.equal(response.headers.get("content-type"), MEDIA_TYPE);
 * await response.body?.cancel();
 * ```
 *
 * @example Serve an epoch per request
 * ```ts ignore
 * import { batchResponse } from "@pydataset/pydataset/wire";
 *
 * // A client that goes away cancels the body, and with it the epoch.
 * Deno.serve(() => batchResponse(dataset.epoch()));
 * ```
 */
export function batchResponse(batches: ReadableStream<Batch>, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("content-type", MEDIA_TYPE);
  return new Response(encodedBody(batches), { ...init, headers });
}

/**
 * The batches as documents, pulled one at a time as the body is sent. A
 * source that fails, or a batch that cannot be encoded, ends the body with
 * a document that carries the error (HTTP itself cannot say why a body
 * stops), which the reader raises.
 */
function encodedBody(batches: ReadableStream<Batch>): ReadableStream<Uint8Array> {
  const reader = batches.getReader();
  const end = (controller: ReadableStreamDefaultController<Uint8Array>, error: unknown) => {
    controller.enqueue(encodeError(error));
    controller.close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result;
      try {
        result = await reader.read();
      } catch (error) {
        return end(controller, error);
      }
      if (result.done) return controller.close();
      let chunks;
      try {
        chunks = encodeBatch(result.value);
      } catch (error) {
        reader.cancel(error).catch(() => {});
        return end(controller, error);
      }
      for (const chunk of chunks) controller.enqueue(chunk);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/**
 * The batches in a response's body, decoded as they arrive. They are typed
 * as `B`, which the caller names, as for {@linkcode decodeBatches}:
 * `batchesFromResponse<[NDArray, NDArray]>(response)` when the server sends
 * pairs. `B` is the caller's claim, not checked against what arrives; it
 * defaults to {@linkcode Batch}, everything a batch can be.
 *
 * A body that is a byte stream (what `fetch` gives) is read with a BYOB
 * reader, each batch straight into buffers of its own, so that no tensor is
 * copied a second time out of the chunks it arrived in; any other body goes
 * through {@linkcode decodeBatches}. Both give the same batches and errors.
 *
 * @typeParam B The type of one batch, as the server sent it.
 * @param response A response from {@linkcode batchResponse}, e.g. `await fetch(url)`.
 * @param options The header limit.
 * @returns The batches.
 * @throws {Error} The response is not ok (its status says why).
 * @throws {TypeError} The response has another media type, or no body.
 *
 * @example Read a response back
 * ```ts
 * import { batchesFromResponse, batchResponse } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const response = batchResponse(ReadableStream.from([{ id: 7, ok: true }]));
 * assert.deepEqual(await Array.fromAsync(batchesFromResponse(response)), [{ id: 7, ok: true }]);
 * ```
 *
 * @example Name the type of the batches
 * ```ts
 * import { type NDArray, ndarray } from "@pydataset/pydataset";
 * import { batchesFromResponse, batchResponse } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const sent = [ndarray(Float32Array.of(0.5, 1.5), [2, 1]), ndarray(Int32Array.of(1, 0), [2])];
 * const response = batchResponse(ReadableStream.from([sent]));
 * for await (const [x, y] of batchesFromResponse<[NDArray, NDArray]>(response)) {
 *   assert.deepEqual(x.shape, [2, 1]);
 *   assert.deepEqual(y.data, Int32Array.of(1, 0));
 * }
 * ```
 *
 * @example Train from a remote dataset
 * ```ts ignore
 * import type { NDArray } from "@pydataset/pydataset";
 * import { batchesFromResponse } from "@pydataset/pydataset/wire";
 * import { toTfDataset } from "@pydataset/pydataset/tfjs";
 *
 * const data = toTfDataset(async ({ signal }) =>
 *   batchesFromResponse<[NDArray, NDArray]>(
 *     await fetch("http://127.0.0.1:8000/batches?shuffle=1", { signal }),
 *   )
 * );
 * await model.fitDataset(data, { epochs: 5 });
 * ```
 */
export function batchesFromResponse<B = Batch>(
  response: Response,
  options: DecodeBatchesOptions = {},
): ReadableStream<B> {
  if (!response.ok) {
    response.body?.cancel().catch(() => {});
    throw new Error(
      `Cannot read batches from ${
        response.url || "the response"
      } as it failed: ${response.status} ${response.statusText}`,
    );
  }
  const type = response.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== MEDIA_TYPE) {
    response.body?.cancel().catch(() => {});
    throw new TypeError(
      `Cannot read batches from ${response.url || "the response"} as its content-type is ${
        JSON.stringify(type ?? null)
      }, not ${MEDIA_TYPE}`,
    );
  }
  if (!response.body) {
    throw new TypeError(
      `Cannot read batches from ${response.url || "the response"} as it has no body`,
    );
  }
  return readDocuments<B>(response.body, maxHeaderBytesOf(options)) ??
    response.body.pipeThrough(decodeBatches<B>(options));
}
