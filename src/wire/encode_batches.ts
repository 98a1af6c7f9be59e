/**
 * {@linkcode encodeBatches}: batches → a stream of safetensors documents.
 *
 * @module
 */

import { encodeBatch } from "./_encode.ts";
import type { Batch } from "./types.ts";

/**
 * A `TransformStream` that writes each batch as one safetensors document:
 * an 8-byte little-endian header length, the UTF-8 JSON header, then the
 * tensors' bytes. Documents follow each other with nothing between them.
 *
 * Tensors are named by their place in the batch: array positions `"0"`,
 * `"1"`, record keys by name, nested places joined with `.` (`"0.image"`);
 * a batch that is one tensor is named `"batch"`. Other values go into the
 * header's `__metadata__` under their place's name, as JSON text, and the
 * whole structure under `"pydataset.structure"`, so {@linkcode decodeBatches}
 * rebuilds the batch exactly while any safetensors reader can read it.
 *
 * The header is padded with spaces so that the data starts 8-byte aligned,
 * and tensors are laid out widest dtype first, so each starts aligned to
 * its element size within its document. Tensor bytes are written as they
 * are, not copied: do not change a batch's arrays after handing it over.
 *
 * @returns A stream from batches to bytes.
 * @throws {TypeError} (in the stream) A batch that holds a value this format
 * cannot carry (a function, a class instance), an NDArray whose data does
 * not fill its shape, two places with the same name, or places nested
 * deeper than 256 levels (as in a batch that holds itself).
 *
 * @example Encode and decode a batch
 * ```ts
 * import { ndarray } from "@pydataset/pydataset";
 * import { decodeBatches, encodeBatches } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const batch = [ndarray(Float32Array.of(1, 2, 3, 4), [2, 2]), Int32Array.of(0, 1)];
 * const decoded = await Array.fromAsync(
 *   ReadableStream.from([batch]).pipeThrough(encodeBatches()).pipeThrough(decodeBatches()),
 * );
 * assert.deepEqual(decoded, [batch]);
 * ```
 */
export function encodeBatches(): TransformStream<Batch, Uint8Array> {
  return new TransformStream<Batch, Uint8Array>({
    transform(batch, controller) {
      for (const chunk of encodeBatch(batch)) controller.enqueue(chunk);
    },
  });
}
