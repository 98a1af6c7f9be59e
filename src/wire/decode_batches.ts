/**
 * {@linkcode decodeBatches}: a stream of safetensors documents → batches.
 *
 * @module
 */

import { Bytes } from "./_byte_queue.ts";
import {
  endedWithin,
  type Header,
  headerLength,
  maxHeaderBytesOf,
  parseHeader,
  tensorsOf,
} from "./_framing.ts";
import { rebuildBatch } from "./_structure.ts";
import type { Batch } from "./types.ts";

/**
 * Options for {@linkcode decodeBatches}.
 *
 * @example Refuse headers over 1 KiB
 * ```ts
 * import { decodeBatches, type DecodeBatchesOptions } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const options: DecodeBatchesOptions = { maxHeaderBytes: 1024 };
 * const length = new Uint8Array(8);
 * new DataView(length.buffer).setBigUint64(0, 2048n, true);
 * await assert.rejects(
 *   Array.fromAsync(ReadableStream.from([length]).pipeThrough(decodeBatches(options))),
 *   RangeError,
 * );
 * ```
 */
export interface DecodeBatchesOptions {
  /**
   * The longest header accepted, in bytes: a longer one errors the stream
   * rather than allocating it.
   *
   * @default {100_000_000}
   */
  maxHeaderBytes?: number;
}

/**
 * Streams to pipe through, as through a `TransformStream`, that read
 * safetensors documents, back to back, from bytes in chunks of any size, and
 * rebuild each batch: the structure that {@linkcode encodeBatches} recorded,
 * or, for documents from elsewhere, the structure their names describe
 * (`"0"`, `"1"` make an array, `.` nests), with `NDArray` tensors and the
 * `__metadata__` values at their names. Typed arrays are views of the
 * received bytes when those are aligned for their type, and copies only when
 * not.
 *
 * A truncated stream, bad JSON, an unknown dtype, or offsets outside the
 * document (or with holes or overlaps), or names that nest deeper than 256
 * levels error the stream with a `TypeError` that says what and where; a
 * header over `maxHeaderBytes`, with a `RangeError`. A document that carries
 * the writer's error (see `batchResponse`) errors it with that error: a
 * `BatchError` when it names its batch. Either way the reader gets the
 * batches before the error first, and the input is cancelled at once.
 *
 * The decoder cannot know what a batch holds, so the batches it gives are
 * typed as `B`, which the caller names: `decodeBatches<[NDArray, Int32Array]>()`
 * when the writer sent pairs. `B` is the caller's claim, not checked against
 * what arrives; it defaults to {@linkcode Batch}, everything a batch can be.
 *
 * @typeParam B The type of one batch, as the writer sent it.
 * @param options The header limit.
 * @returns Streams from bytes to batches.
 *
 * @example Read a document written elsewhere
 * ```ts
 * import { decodeBatches } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const header = new TextEncoder().encode(
 *   JSON.stringify({ x: { dtype: "U8", shape: [2], data_offsets: [0, 2] } }),
 * );
 * const document = new Uint8Array(8 + header.length + 2);
 * new DataView(document.buffer).setBigUint64(0, BigInt(header.length), true);
 * document.set(header, 8);
 * document.set([7, 9], 8 + header.length);
 * const [batch] = await Array.fromAsync(ReadableStream.from([document]).pipeThrough(decodeBatches()));
 * assert.deepEqual(batch, { x: { data: Uint8Array.of(7, 9), shape: [2] } });
 * ```
 *
 * @example Name the type of the batches
 * ```ts
 * import { type NDArray, ndarray } from "@pydataset/pydataset";
 * import { decodeBatches, encodeBatches } from "@pydataset/pydataset/wire";
 * import assert from "node:assert/strict";
 *
 * const sent = [ndarray(Float32Array.of(0.5, 1.5), [2, 1]), ndarray(Int32Array.of(1, 0), [2])];
 * const pairs = ReadableStream.from([sent])
 *   .pipeThrough(encodeBatches())
 *   .pipeThrough(decodeBatches<[NDArray, NDArray]>());
 * for await (const [x, y] of pairs) {
 *   assert.deepEqual(x.shape, [2, 1]);
 *   assert.deepEqual(y.data, Int32Array.of(1, 0));
 * }
 * ```
 */
export function decodeBatches<B = Batch>(
  options: DecodeBatchesOptions = {},
): ReadableWritablePair<B, Uint8Array> {
  const reader = new DocumentReader(maxHeaderBytesOf(options));
  const decoder = new TransformStream<Uint8Array, Batch | Failure>({
    transform(chunk, controller) {
      const step = () => reader.read(chunk, (batch) => controller.enqueue(batch));
      // Terminating closes the readable side after what it holds, and cancels the input.
      if (failed(controller, step)) controller.terminate();
    },
    flush(controller) {
      failed(controller, () => reader.finish());
    },
  });
  const readable = decoder.readable.pipeThrough(raiseFailure());
  return { writable: decoder.writable, readable: readable as ReadableStream<B> };
}

/**
 * Documents read from chunks as they come: the bytes not yet decoded, and a
 * header read ahead of its data.
 */
class DocumentReader {
  readonly #maxHeaderBytes: number;
  readonly #input = new Bytes();
  /** The documents decoded so far: the index of the next. */
  #documents = 0;
  #header: Header | undefined;

  constructor(maxHeaderBytes: number) {
    this.#maxHeaderBytes = maxHeaderBytes;
  }

  /** Takes in a chunk and hands each batch it completes to `enqueue`. */
  read(chunk: Uint8Array, enqueue: (batch: Batch) => void): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot decode batches from a chunk that is not a Uint8Array: current value is ${typeof chunk}`,
      );
    }
    const input = this.#input;
    input.push(chunk);
    while (true) {
      if (!this.#header) {
        if (input.length < 8) return;
        const length = headerLength(input.peekLength(), this.#maxHeaderBytes, this.#documents);
        if (input.length < 8 + length) return;
        input.take(8);
        this.#header = parseHeader(input.take(length), this.#documents);
      }
      if (input.length < this.#header.dataLength) return;
      const tensors = tensorsOf(this.#header, input.take(this.#header.dataLength));
      enqueue(rebuildBatch(tensors, this.#header.metadata, this.#documents));
      this.#header = undefined;
      this.#documents++;
    }
  }

  /** Checks that the stream ended between documents. */
  finish(): void {
    const header = this.#header;
    if (header || this.#input.length > 0) {
      throw endedWithin(this.#documents, this.#input.length, header);
    }
  }
}

/** An error on its way to the reader, queued behind the batches decoded before it. */
class Failure {
  constructor(readonly error: unknown) {}
}

/**
 * Runs `step`, and whether it threw: if so, its error is queued as a
 * `Failure`, since erroring the stream here would drop the batches still
 * queued before it.
 */
function failed(
  controller: TransformStreamDefaultController<Batch | Failure>,
  step: () => void,
): boolean {
  try {
    step();
    return false;
  } catch (error) {
    controller.enqueue(new Failure(error));
    return true;
  }
}

/**
 * Passes batches on and raises a `Failure`'s error. Its readable side's
 * highWaterMark is 0, so it takes the failure only when the reader asks
 * for what follows the last batch: every batch is delivered first, and a
 * reader that stops early leaves nothing running, not even a timer.
 */
function raiseFailure(): TransformStream<Batch | Failure, Batch> {
  return new TransformStream({
    transform(item, controller) {
      if (item instanceof Failure) throw item.error;
      controller.enqueue(item);
    },
  });
}
