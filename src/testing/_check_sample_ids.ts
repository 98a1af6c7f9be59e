// The sample check: with sampleIds, every sample appears once across the
// checked batches, and an epoch checked whole holds sampleCount of them.

import { nameAndMessage } from "./_name_and_message.ts";
import type { DatasetProblem } from "./dataset_report.ts";

/**
 * Reports samples that appear twice in `batches`, a `sampleIds` that
 * throws, and (when the epoch was checked `whole`) a count other than
 * `sampleCount`.
 */
export function checkSampleIds<B>(
  batches: Map<number, B>,
  sampleIds: (batch: B) => Iterable<unknown>,
  sampleCount: number | undefined,
  whole: boolean,
  problems: DatasetProblem[],
): void {
  const seen = new Map<unknown, number>();
  for (const [index, batch] of batches) {
    let batchIds: Iterable<unknown>;
    try {
      batchIds = [...sampleIds(batch)];
    } catch (error) {
      problems.push({
        index,
        kind: "sample-ids",
        message: `batch ${index}: sampleIds threw ${nameAndMessage(error)}`,
      });
      continue;
    }
    for (const id of batchIds) {
      const key = typeof id === "bigint" ? `${id}n` : id;
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        problems.push({
          index,
          kind: "duplicate-sample",
          message: `batch ${index}: sample ${String(id)} appears again (first in batch ${earlier})`,
        });
      } else {
        seen.set(key, index);
      }
    }
  }
  if (whole && sampleCount !== undefined && seen.size !== sampleCount) {
    problems.push({
      kind: "sample-count",
      message: `the epoch holds ${seen.size} distinct samples, not ${sampleCount}`,
    });
  }
}
