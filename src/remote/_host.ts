// What the routes of one host share.

import type { Admission } from "./_admission.ts";
import type { ServeMetrics } from "./_metrics.ts";
import type { DatasetPool } from "./_pool.ts";

/** The state of one host: its instances, its counters and its limit. */
export interface Host {
  pool: DatasetPool;
  metrics: ServeMetrics;
  admission: Admission;
}
