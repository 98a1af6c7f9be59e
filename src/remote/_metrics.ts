// What a data host has done, as counters, and its gauges, written in the
// Prometheus text exposition format (version 0.0.4) for GET /metrics.

/** The routes that serve batches, as the `route` label has them. */
export type BatchRoute = "batch" | "epoch";

/** What the host is doing now, read when /metrics is asked. */
export interface Gauges {
  /** `/epoch` responses still streaming. */
  openEpochs: number;
  /** `/batch` requests waiting for their batch. */
  batchRequests: number;
  /** Requests answered with a 503, busy or closed, over the host's life (a counter). */
  refused: number;
  /** Dataset instances made. */
  datasets: number;
}

/** The host's counters. */
export class ServeMetrics {
  #served: Record<BatchRoute, number> = { batch: 0, epoch: 0 };
  #failed: Record<BatchRoute, number> = { batch: 0, epoch: 0 };
  #getItemMs = 0;

  /** Counts `count` batches sent by `route`: encoded, and their bytes handed on. */
  served(route: BatchRoute, count = 1): void {
    this.#served[route] += count;
  }

  /**
   * Counts `count` batches that failed on `route`: a `BatchError`, one
   * skipped, or one that could not be encoded.
   */
  failed(route: BatchRoute, count = 1): void {
    this.#failed[route] += count;
  }

  /** Adds time spent fetching batches. */
  fetched(ms: number): void {
    this.#getItemMs += ms;
  }

  /** The exposition of the counters and `gauges`. */
  text(gauges: Gauges): string {
    const byRoute = (values: Record<BatchRoute, number>) =>
      (["batch", "epoch"] as const).map((route) => [`{route="${route}"}`, values[route]] as const);
    return [
      metric("batches_served_total", "counter", "Batches sent, by route.", byRoute(this.#served)),
      metric(
        "get_item_seconds_total",
        "counter",
        "Seconds spent fetching the batches: getBatch calls of /batch, stats.getItemMs of each /epoch.",
        [["", this.#getItemMs / 1000]],
      ),
      metric(
        "failed_batches_total",
        "counter",
        "Batches that failed (a BatchError, skipped by onError, or not encodable), by route.",
        byRoute(this.#failed),
      ),
      metric("open_epochs", "gauge", "/epoch responses streaming now.", [["", gauges.openEpochs]]),
      metric("batch_requests_in_flight", "gauge", "/batch requests being fetched now.", [
        ["", gauges.batchRequests],
      ]),
      metric("refused_requests_total", "counter", "Requests refused with a 503: busy or closed.", [
        ["", gauges.refused],
      ]),
      metric(
        "datasets",
        "gauge",
        "Dataset instances made (one for /batch, one per concurrent /epoch).",
        [
          ["", gauges.datasets],
        ],
      ),
    ].join("");
  }
}

function metric(
  name: string,
  type: "counter" | "gauge",
  help: string,
  samples: readonly (readonly [labels: string, value: number])[],
): string {
  const full = `pydataset_${name}`;
  const lines = [`# HELP ${full} ${help}`, `# TYPE ${full} ${type}`];
  for (const [labels, value] of samples) lines.push(`${full}${labels} ${value}`);
  return lines.join("\n") + "\n";
}
