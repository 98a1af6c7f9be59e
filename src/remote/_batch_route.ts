// GET /batch: one batch, fetched with getBatch on the host's /batch
// instance (no hooks run), sent as one document of the wire format.

import { checkLength } from "../_validate.ts";
import { BatchError } from "../batch_error.ts";
import { encodeBatch } from "../wire/_encode.ts";
import { MEDIA_TYPE } from "../wire/batch_response.ts";
import type { Batch } from "../wire/types.ts";
import { errorResponse, reportOf } from "./_error_response.ts";
import type { Host } from "./_host.ts";
import { type BatchQuery, parseBatchQuery } from "./_query.ts";

/** Answers `GET /batch` (and `HEAD`, which fetches nothing). */
export async function serveBatch(url: URL, head: boolean, host: Host): Promise<Response> {
  const dataset = host.pool.single();
  const name = dataset.constructor.name;
  const length = checkLength(dataset.length, name);
  let query: BatchQuery;
  try {
    query = parseBatchQuery(url, length, name);
  } catch (error) {
    return errorResponse(400, reportOf(error));
  }
  const headers = { "content-type": MEDIA_TYPE, "x-pydataset-index": String(query.index) };
  if (head) return new Response(null, { headers });
  const refused = host.admission.enter("batch", "/batch");
  if (refused) return refused;
  const { index, epoch, seed } = query;
  let batch: Batch;
  const began = performance.now();
  try {
    batch = await dataset.getBatch(index, { epoch, seed });
  } catch (error) {
    // Closed meanwhile: the client should go to another host, not report a failed batch.
    if (host.pool.closed) return host.admission.closed("/batch");
    if (error instanceof BatchError) host.metrics.failed("batch");
    return errorResponse(500, reportOf(error, index));
  } finally {
    host.metrics.fetched(performance.now() - began);
    host.admission.leave("batch");
  }
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = concat(encodeBatch(batch));
  } catch (error) {
    host.metrics.failed("batch");
    return errorResponse(500, reportOf(error, index));
  } finally {
    dataset.release(batch); // copied into the body: its buffers make later batches
  }
  host.metrics.served("batch");
  return new Response(body, { headers });
}

/** The document's chunks as one buffer, so the response has a content-length. */
function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
