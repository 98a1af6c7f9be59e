// The shape checks: every checked batch against batch 0 (structure, dtypes,
// per-sample shapes, batch size), and the parts of each batch against each
// other. Also fills in the report's account of batch 0.

import { aDtype, type BatchParts, batchSizeOf, type Part, partsOf } from "./_batch_parts.ts";
import type { DatasetProblem, DatasetReport } from "./dataset_report.ts";

/**
 * Describes batch 0 in `report` and checks every other batch at `indices`
 * against it, adding what differs to `report.problems`.
 */
export function checkShapes<B>(
  batches: Map<number, B>,
  indices: number[],
  length: number,
  report: DatasetReport,
): void {
  const { problems } = report;
  const first = batches.get(0);
  if (first === undefined) return;
  const reference = partsOf(first);
  reportBatchZero(reference, report);
  const last = length === Infinity ? undefined : length - 1;

  for (const index of indices) {
    const batch = batches.get(index);
    if (batch === undefined) continue;
    const found = partsOf(batch);
    checkBatchSize(index, found.parts, problems);
    if (index === 0) continue;
    if (!checkStructure(index, found, reference, problems)) continue;
    if (index !== last) checkShortBatch(index, found.parts, report);
  }
}

/** Fills in the structure, parts, bytes and batch size of batch 0. */
function reportBatchZero(reference: BatchParts, report: DatasetReport): void {
  report.structure = reference.structure;
  report.parts = reference.parts.map(({ path, data, shape }) => ({
    path,
    dtype: data.constructor.name,
    sampleShape: shape.slice(1),
  }));
  report.bytesPerBatch = reference.parts.reduce((sum, { data }) => sum + data.byteLength, 0);
  report.batchSize = batchSizeOf(reference.parts);
}

/** The parts of one batch must agree on the batch size. */
function checkBatchSize(index: number, parts: Part[], problems: DatasetProblem[]): void {
  const sizes = parts.map((part) => `${part.name} has ${part.shape[0]}`);
  if (new Set(parts.map((part) => part.shape[0])).size > 1) {
    problems.push({
      index,
      kind: "batch-size",
      message: `batch ${index}: its parts disagree on the batch size: ${sizes.join(", ")}`,
    });
  }
}

/**
 * Checks a batch's structure, dtypes and per-sample shapes against batch
 * 0's; false when the structure differs, and its parts cannot be compared.
 */
function checkStructure(
  index: number,
  found: BatchParts,
  reference: BatchParts,
  problems: DatasetProblem[],
): boolean {
  const where = `batch ${index}`;
  if (found.structure !== reference.structure) {
    problems.push({
      index,
      kind: "structure",
      message:
        `${where}: its structure ${found.structure} differs from batch 0's ${reference.structure}`,
    });
    return false;
  }
  for (const [i, part] of found.parts.entries()) {
    const expected = reference.parts[i]!;
    const dtype = part.data.constructor.name;
    if (dtype !== expected.data.constructor.name) {
      problems.push({
        index,
        kind: "structure",
        message: `${where}: ${part.name} is ${aDtype(dtype)}, but ${
          aDtype(expected.data.constructor.name)
        } in batch 0`,
      });
    }
    const sampleShape = JSON.stringify(part.shape.slice(1));
    if (sampleShape !== JSON.stringify(expected.shape.slice(1))) {
      problems.push({
        index,
        kind: "structure",
        message: `${where}: ${part.name} has samples of shape ${sampleShape}, but ${
          JSON.stringify(expected.shape.slice(1))
        } in batch 0`,
      });
    }
  }
  return true;
}

/** A batch other than the last must not be smaller than batch 0. */
function checkShortBatch(index: number, parts: Part[], report: DatasetReport): void {
  const batchSize = batchSizeOf(parts);
  if (batchSize !== undefined && report.batchSize !== undefined && batchSize < report.batchSize) {
    report.problems.push({
      index,
      kind: "short-batch",
      message:
        `batch ${index}: it holds ${batchSize} samples, fewer than batch 0's ${report.batchSize}, and is not the last batch`,
    });
  }
}
