/**
 * Batches over HTTP: an epoch as a stream of safetensors documents (one per
 * batch, back to back, media type `application/vnd.pydataset.safetensors-stream`),
 * written with {@linkcode encodeBatches} or {@linkcode batchResponse} and read
 * with {@linkcode decodeBatches} or {@linkcode batchesFromResponse}. Web
 * standards only, so it runs in browsers too; any safetensors reader (Python
 * with `json` and `numpy`) can read the documents.
 *
 * @example Round trip through a Response
 * ```ts
 * import { ndarray } from "@pydataset/pydataset";
 * import { batchesFromResponse, batchResponse } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const batches = [[ndarray(Float32Array.of(0.5, 1.5), [2, 1]), Int32Array.of(3, 4)]];
 * const response = batchResponse(ReadableStream.from(batches));
 * assert.deepEqual(await Array.fromAsync(batchesFromResponse(response)), batches);
 * ```
 *
 * @module
 */

export * from "./src/wire/batch_response.ts";
export * from "./src/wire/decode_batches.ts";
export * from "./src/wire/encode_batches.ts";
export * from "./src/wire/types.ts";
