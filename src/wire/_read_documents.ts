// Documents read from a byte stream (a fetch body) with a BYOB reader: each
// part is read straight into a buffer of its own size, so no chunk is copied
// a second time to put a tensor together, as a chunked decoder must.
// Wire code imports only src/wire/, ../array_types.ts, ../_arrays.ts,
// ../_describe.ts and ../batch_error.ts, and no Deno API: it runs in browsers.

import { endedWithin, type Header, headerLength, parseHeader, tensorsOf } from "./_framing.ts";
import { rebuildBatch } from "./_structure.ts";

/**
 * The batches of the documents in `body`, or undefined when `body` is not
 * a byte stream (then it is left as it was).
 */
export function readDocuments<B>(
  body: ReadableStream<Uint8Array>,
  maxHeaderBytes: number,
): ReadableStream<B> | undefined {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
  let documents = 0;
  return new ReadableStream<B>({
    async pull(controller) {
      try {
        const batch = await readDocument(reader, maxHeaderBytes, documents);
        if (batch === END) return controller.close();
        documents++;
        controller.enqueue(batch as B);
      } catch (error) {
        reader.cancel(error).catch(() => {});
        throw error;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** What {@linkcode readDocument} gives when the stream ended between documents. */
const END: unique symbol = Symbol("end");

/** Reads document `document`, or finds the stream's end before it. */
async function readDocument(
  reader: ReadableStreamBYOBReader,
  maxHeaderBytes: number,
  document: number,
): Promise<unknown> {
  const prefix = await fill(reader, new ArrayBuffer(8));
  if (prefix.length === 0) return END;
  if (prefix.length < 8) throw endedWithin(document, prefix.length, undefined);
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const length = headerLength(view.getBigUint64(0, true), maxHeaderBytes, document);
  const head = await fill(reader, new ArrayBuffer(length));
  if (head.length < length) throw endedWithin(document, 8 + head.length, undefined);
  const header: Header = parseHeader(head, document);
  const data = await fill(reader, dataBuffer(header.dataLength, document));
  if (data.length < header.dataLength) throw endedWithin(document, data.length, header);
  return rebuildBatch(tensorsOf(header, data), header.metadata, document);
}

/** Fills `buffer` from the stream, or part of it where the stream ends first. */
async function fill(reader: ReadableStreamBYOBReader, buffer: ArrayBuffer): Promise<Uint8Array> {
  const length = buffer.byteLength;
  let filled = 0;
  while (filled < length) {
    const { done, value } = await reader.read(new Uint8Array(buffer, filled));
    if (value) buffer = value.buffer as ArrayBuffer;
    if (done) break;
    filled += value.byteLength;
  }
  return new Uint8Array(buffer, 0, filled);
}

/**
 * The buffer for a document's data, allocated before it arrives.
 *
 * @throws {RangeError} The header announces more than can be allocated.
 */
function dataBuffer(length: number, document: number): ArrayBuffer {
  try {
    return new ArrayBuffer(length);
  } catch (error) {
    throw new RangeError(
      `Cannot decode batch ${document} as its header announces ${length} bytes of data, more than can be allocated: ${
        (error as Error).message
      }`,
    );
  }
}
