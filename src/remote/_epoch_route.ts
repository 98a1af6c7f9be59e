// GET /epoch: an epoch streamed as the wire format, on an instance of its
// own from the host's pool, which goes back idle once the epoch has ended.
// Hooks run as in a local epoch.

import { checkLength } from "../_validate.ts";
import { BatchError } from "../batch_error.ts";
import { ORDER_VERSION } from "../epoch/_order.ts";
import type { PyDataset } from "../py_dataset.ts";
import { MEDIA_TYPE } from "../wire/batch_response.ts";
import type { Batch } from "../wire/types.ts";
import { errorResponse, reportOf } from "./_error_response.ts";
import type { Host } from "./_host.ts";
import { type EpochQuery, parseEpochQuery } from "./_query.ts";
import { watchEpoch } from "./_watch_epoch.ts";

/** Answers `GET /epoch` (and `HEAD`, which opens no epoch). */
export function serveEpoch(url: URL, head: boolean, host: Host): Response {
  if (head) {
    const query = readQuery(url, host.pool.any());
    if (query instanceof Response) return query;
    return new Response(null, { headers: { ...headersOf(query), "content-type": MEDIA_TYPE } });
  }
  const refused = host.admission.enter("epoch", "/epoch");
  if (refused) return refused;
  let dataset: PyDataset<Batch> | undefined;
  let streaming = false;
  try {
    dataset = host.pool.take();
    const query = readQuery(url, dataset);
    if (query instanceof Response) return query;
    const response = openEpoch(dataset, query, host);
    streaming = true;
    return response;
  } finally {
    if (!streaming) {
      if (dataset) host.pool.give(dataset);
      host.admission.leave("epoch");
    }
  }
}

/** The query, or the 400 that says what is wrong with it. */
function readQuery(url: URL, dataset: PyDataset<Batch>): EpochQuery | Response {
  const length = checkLength(dataset.length, dataset.constructor.name);
  try {
    return parseEpochQuery(url, length);
  } catch (error) {
    return errorResponse(400, reportOf(error));
  }
}

function headersOf({ batches }: EpochQuery): Record<string, string> {
  return batches === Infinity ? {} : { "x-pydataset-batches": String(batches) };
}

/**
 * Opens the epoch and streams it, counting what it sends, fails and
 * fetches; once it has ended, the dataset goes back to the pool and the
 * place under the limit is given back.
 */
function openEpoch(dataset: PyDataset<Batch>, query: EpochQuery, host: Host): Response {
  const { epoch, shuffle, seed, shard, start } = query;
  // The order /batch?position reads too; a shuffled start needs it named.
  const orderVersion = ORDER_VERSION;
  const stream = dataset.epoch({ epoch, shuffle, seed, shard, start, orderVersion });
  const stats = dataset.stats!; // this epoch's, filled in as it runs
  let counted = 0;
  const fetched = () => {
    host.metrics.fetched(stats.getItemMs - counted);
    counted = stats.getItemMs;
  };
  return watchEpoch(stream, {
    sent() {
      host.metrics.served("epoch");
      fetched();
    },
    unencodable() {
      host.metrics.failed("epoch");
    },
    end(error) {
      fetched();
      const failed = stats.skipped.length + (error instanceof BatchError ? 1 : 0);
      if (failed > 0) host.metrics.failed("epoch", failed);
      host.pool.give(dataset);
      host.admission.leave("epoch");
    },
  }, { headers: headersOf(query) });
}
