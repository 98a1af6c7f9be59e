// The first fetch of the checked batches, on the main thread: times each
// (rounded as the report gives times), and reports a getItem that throws or
// returns nothing.

import { show } from "../_describe.ts";
import type { PyDataset } from "../py_dataset.ts";
import { infoFor } from "./_check_epoch.ts";
import { nameAndMessage } from "./_name_and_message.ts";
import type { DatasetReport } from "./dataset_report.ts";

/**
 * Fetches the batches at `indices`, recording their fetch times and their
 * problems in `report`; the batches that came, by index.
 */
export async function fetchBatches<B>(
  dataset: PyDataset<B>,
  indices: number[],
  report: DatasetReport,
): Promise<Map<number, B>> {
  const { problems } = report;
  const batches = new Map<number, B>();
  for (const index of indices) {
    const started = performance.now();
    try {
      const batch = await dataset.getItem(index, infoFor(dataset, index));
      report.fetchMs[index] = roundMs(performance.now() - started);
      if (batch === undefined || batch === null) {
        problems.push({
          index,
          kind: "empty",
          message: `batch ${index}: getItem returned ${show(batch)}`,
        });
      } else {
        batches.set(index, batch);
      }
    } catch (error) {
      problems.push({
        index,
        kind: "throws",
        message: `batch ${index}: getItem threw ${nameAndMessage(error)}`,
      });
    }
  }
  return batches;
}

/**
 * A time as the report gives it: to 0.01 ms below 10 ms (`4.673027` →
 * `4.67`), to the millisecond from 10 ms (`33.555612` → `34`). Finer
 * digits are noise: a batch's fetch time varies more from one fetch to
 * the next.
 */
function roundMs(ms: number): number {
  return ms < 10 ? Math.round(ms * 100) / 100 : Math.round(ms);
}
