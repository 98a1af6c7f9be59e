// The determinism check: getItem called twice for the same index on the
// main thread must give equal batches.

import type { PyDataset } from "../py_dataset.ts";
import { infoFor } from "./_check_epoch.ts";
import { firstDifference } from "./_first_difference.ts";
import { nameAndMessage } from "./_name_and_message.ts";
import type { DatasetProblem } from "./dataset_report.ts";

/** Fetches the `sampled` batches again and compares them with the first fetch. */
export async function checkDeterminism<B>(
  dataset: PyDataset<B>,
  batches: Map<number, B>,
  sampled: number[],
  problems: DatasetProblem[],
): Promise<void> {
  for (const index of sampled) {
    let again: B;
    try {
      again = await dataset.getItem(index, infoFor(dataset, index));
    } catch (error) {
      problems.push({
        index,
        kind: "throws",
        message: `batch ${index}: getItem threw on a second call ${nameAndMessage(error)}`,
      });
      continue;
    }
    const difference = firstDifference(batches.get(index), again);
    if (difference) {
      problems.push({
        index,
        kind: "nondeterministic",
        message:
          `batch ${index}: getItem(${index}) gave different batches on two calls (${difference})`,
      });
    }
  }
}
