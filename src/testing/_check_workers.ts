// The worker check: with useMultiprocessing, the batches read in the
// workers (through an epoch of the dataset) must equal the main thread's.

import type { PyDataset } from "../py_dataset.ts";
import { CHECK_EPOCH } from "./_check_epoch.ts";
import { firstDifference } from "./_first_difference.ts";
import { nameAndMessage } from "./_name_and_message.ts";
import type { DatasetProblem } from "./dataset_report.ts";

/** Reads batches 0 to `last` in the workers and compares them with the main thread's. */
export async function checkWorkers<B>(
  dataset: PyDataset<B>,
  batches: Map<number, B>,
  last: number,
  problems: DatasetProblem[],
): Promise<void> {
  if (last < 0) return;
  let index = 0;
  try {
    for await (const batch of dataset.epoch(CHECK_EPOCH)) {
      const expected = batches.get(index);
      if (expected !== undefined) {
        const difference = firstDifference(expected, batch);
        if (difference) {
          problems.push({
            index,
            kind: "workers-differ",
            message:
              `batch ${index}: the workers' batch differs from the main thread's (${difference}); state made outside the constructor's fields, #private fields or module-level state do not reach workers`,
          });
        }
      }
      if (++index > last) break;
    }
  } catch (error) {
    problems.push({
      index,
      kind: "throws",
      message: `batch ${index}: in the workers, ${nameAndMessage(error)}`,
    });
  }
}
