// An epoch sent as a response's body (the wire format, by batchResponse),
// telling the host of each batch sent, of a batch that cannot be encoded,
// and, once, of the epoch's end: read to the end, failed, or cancelled by a
// client that went away (the server cancels the body). It pulls only when
// the response does, so backpressure holds.
//
// batchResponse asks for the next batch only once the last one is encoded
// and its bytes taken, so a batch counts as sent then. It cancels the
// batches itself only when one cannot be encoded: a cancel that did not
// come through the body is that.

import { batchResponse } from "../wire/batch_response.ts";
import type { Batch } from "../wire/types.ts";

/** What the host is told about an epoch it streams. */
export interface EpochWatcher {
  /** A batch was encoded and its bytes taken by the server. */
  sent(): void;
  /** A batch could not be encoded: the body ends with its error document. */
  unencodable(): void;
  /**
   * The epoch has ended (its dataset can open another): `error` is why
   * it failed, undefined when it was read to the end or cancelled.
   */
  end(error: unknown): void;
}

/** Whether the client went away: the server cancelled the body. */
interface Client {
  left: boolean;
}

/** A response whose body streams `stream` as `batchResponse` does, reporting to `watcher`. */
export function watchEpoch(
  stream: ReadableStream<Batch>,
  watcher: EpochWatcher,
  init: ResponseInit,
): Response {
  const client: Client = { left: false };
  const response = batchResponse(watchBatches(stream, watcher, client), init);
  return new Response(watchBody(response.body!, client), {
    status: response.status,
    headers: response.headers,
  });
}

/** `stream`, for batchResponse to pull from. */
function watchBatches(
  stream: ReadableStream<Batch>,
  watcher: EpochWatcher,
  client: Client,
): ReadableStream<Batch> {
  const reader = stream.getReader();
  let ended = false;
  let cancelled = false;
  let unsent = false; // a batch handed on, not yet known to be encoded and taken
  const end = (error: unknown) => {
    if (!ended) watcher.end(error);
    ended = true;
  };
  return new ReadableStream<Batch>({
    async pull(controller) {
      if (unsent) watcher.sent(); // asked for the next one: the last one was sent
      unsent = false;
      let result: ReadableStreamReadResult<Batch>;
      try {
        result = await reader.read();
      } catch (error) {
        if (!cancelled) end(error);
        throw error;
      }
      // A cancel ends a pending read at once, long before the epoch has ended: cancel() tells.
      if (cancelled) return;
      if (result.done) {
        end(undefined);
        controller.close();
      } else {
        unsent = true;
        controller.enqueue(result.value);
      }
    },
    async cancel(reason) {
      cancelled = true;
      // A batch cut off by a client that left was not sent, nor did it fail.
      if (unsent && !client.left) watcher.unencodable();
      unsent = false;
      try {
        // Resolves once the epoch has ended: running getItem calls settled, onEpochEnd ran.
        await reader.cancel(reason);
      } finally {
        end(undefined);
      }
    },
  }, { highWaterMark: 0 });
}

/** The encoded `body`, noting when the server cancels it. */
function watchBody(body: ReadableStream<Uint8Array>, client: Client): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      client.left = true;
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
