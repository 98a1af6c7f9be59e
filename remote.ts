/**
 * Datasets over HTTP: {@linkcode serveDataset} makes a data host, a
 * web-standard handler for `Deno.serve` that serves a `PyDataset`'s
 * batches one at a time (`/batch`) and whole epochs as streams (`/epoch`),
 * with `/info`, `/healthz` and Prometheus `/metrics`; trainers elsewhere
 * (another Deno process, a browser, Python) read them in the wire format
 * of `./wire`.
 *
 * @example Serve a dataset and read an epoch from it
 * ```ts
 * import { PyDataset } from "@pydataset/pydataset";
 * import { serveDataset } from "@pydataset/pydataset/remote";
 * import { batchesFromResponse } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * class Squares extends PyDataset<Float32Array> {
 *   get length(): number {
 *     return 4;
 *   }
 *   getItem(index: number): Float32Array {
 *     return Float32Array.of(index * index);
 *   }
 * }
 *
 * await using handler = serveDataset(() => new Squares());
 * const response = await handler(new Request("http://host/epoch?shard=1/2"));
 * assert.equal(response.headers.get("x-pydataset-batches"), "2");
 * const batches = await Array.fromAsync(batchesFromResponse<Float32Array>(response));
 * assert.deepEqual(batches, [Float32Array.of(1), Float32Array.of(9)]);
 * ```
 *
 * @module
 */

export * from "./src/remote/serve_dataset.ts";
export * from "./src/remote/remote_dataset.ts";
