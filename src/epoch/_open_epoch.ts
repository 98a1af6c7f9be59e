// Opening one epoch: its fetchers' infos, its stats and cursor record, its
// order, and what the stream needs, wired to the dataset's fetcher under
// the per-batch policy.

import { describeError } from "../_describe.ts";
import { checkLength, checkStart, type ResolvedEpochOptions } from "../_validate.ts";
import type { EpochStats } from "../epoch_stats.ts";
import type { Fetcher } from "../fetch/_fetcher.ts";
import { BatchPolicy, type JobInfo } from "../fetch/_policy.ts";
import type { EpochInfo, PyDatasetHooks } from "../py_dataset_hooks.ts";
import type { EpochRecord } from "./_cursor.ts";
import { compactLayers, epochScopeLayers, leftOrder, wholeOf } from "./_consumed.ts";
import { createEpochStream } from "./_epoch_stream.ts";
import { epochOrder, ORDER_VERSION, resumeOrder, shardOrder, shardOrigin } from "./_order.ts";
import { batchSeed, workerInfo } from "./_seeds.ts";

/** What an epoch reads of its dataset. */
export interface EpochDataset extends PyDatasetHooks {
  readonly length: number;
}

/** One epoch to open: the dataset, the options, and where it runs. */
export interface EpochRequest<B> {
  dataset: EpochDataset;
  /** The dataset's class name, for messages. */
  name: string;
  workers: number;
  maxQueueSize: number;
  ordered: boolean;
  timeout: number | undefined;
  /** How many more attempts a failing batch gets, and the first delay. */
  retries: number;
  retryDelay: number;
  /** What a batch that still fails does, and how many may be skipped (unset: the default). */
  onError: "raise" | "skip";
  maxSkipped: number | undefined;
  /** The epoch's options, checked. */
  options: ResolvedEpochOptions;
  /** The epoch's number and seed. */
  epoch: number;
  seed: number;
  fetcher: Fetcher<B>;
  /** Aborted when the dataset closes: the epoch ends at once. */
  closing: AbortSignal;
  /** Called once, as the stream closes, errors or is cancelled. */
  release(): void;
}

/** An open epoch: its stream, and what it records as it runs. */
export interface OpenedEpoch<B> {
  stream: ReadableStream<B>;
  stats: EpochStats;
  record: EpochRecord;
}

/** Opens the epoch `request` describes. */
export function openEpoch<B>(request: EpochRequest<B>): OpenedEpoch<B> {
  const { workers, maxQueueSize, ordered, fetcher, closing, options } = request;
  const context = { seed: request.seed, epoch: request.epoch, shard: options.shard?.index ?? 0 };
  const infos = Array.from({ length: workers }, (_, id) => workerInfo(id, workers, context));
  const record = epochRecord(request);
  const stats = emptyStats(request.epoch);
  const policy = epochPolicy(request, record, stats);
  const { seed, epoch } = request;
  const info: JobInfo = (id, index, attempt) =>
    Object.freeze({ ...infos[id]!, batchSeed: batchSeed(seed, epoch, index), attempt });
  const noLongerNeeded = () => new DOMException("The batch is no longer needed", "AbortError");
  const { signal } = options;
  const stream = createEpochStream<B>({
    stats,
    progress: record.progress,
    workers,
    maxQueueSize,
    ordered,
    signal: signal ? AbortSignal.any([signal, closing]) : closing,
    force: closing,
    begin: () => hook(request.dataset, "onEpochBegin", { epoch, seed }),
    prepare: async (signal) => {
      decideOrder(request, record);
      stats.total = record.order!.length;
      const state = { ...request.dataset } as Record<string, unknown>;
      await fetcher.begin({ epoch: request.epoch, infos, state }, signal);
      return record.order!;
    },
    fetch: (batch) => policy.fetchOrSkip(batch, info),
    withdraw: (after) => policy.withdraw(after, noLongerNeeded()),
    abandon: (reason) => fetcher.abandon(reason),
    verify: () => fetcher.verify?.(),
    end: () => hook(request.dataset, "onEpochEnd", { epoch, seed }),
    release: () => {
      policy.withdraw(-Infinity, noLongerNeeded()); // a retry still waiting (the dataset closed)
      fetcher.end();
      request.release();
    },
  });
  return { stream, stats, record };
}

function epochRecord({ epoch, seed, options, ordered }: EpochRequest<unknown>): EpochRecord {
  const { shuffle, shard, orderVersion = ORDER_VERSION, consumed = [] } = options;
  // Whole-epoch start and skip join the consumed layers; the shards split the rest.
  const whole = options.scope === "epoch";
  return {
    epoch,
    seed,
    shuffle,
    orderVersion,
    shard,
    layers: whole
      ? epochScopeLayers(consumed, options.start, options.skip)
      : compactLayers(consumed),
    start: whole ? 0 : options.start,
    skip: whole ? [] : options.skip,
    ordered,
    progress: { taken: 0, delivered: [], skipped: [] },
  };
}

/**
 * The epoch's per-batch policy: its retries counted in the stats, its
 * skips recorded there (by position in the whole epoch) and said on
 * `console.warn`.
 */
function epochPolicy<B>(
  request: EpochRequest<B>,
  record: EpochRecord,
  stats: EpochStats,
): BatchPolicy<B> {
  const { name, maxSkipped } = request;
  return new BatchPolicy(request.fetcher, {
    ...request,
    tally: stats,
    onRetry: () => stats.retries++,
    maxSkipped: () => maxSkipped ?? defaultMaxSkipped(record.order!.length),
    onSkip: ({ index, position }, error, skipped) => {
      const whole = wholePosition(record, record.order!.origin(position));
      const at = stats.skipped.findIndex((other) => other.position > whole);
      stats.skipped.splice(at < 0 ? stats.skipped.length : at, 0, {
        index,
        position: whole,
        error,
      });
      const budget = maxSkipped ?? defaultMaxSkipped(record.order!.length);
      console.warn(
        `Skipped batch ${index} of ${name} (${skipped} of at most ${budget} this epoch): ${
          describeError(error.cause)
        }`,
      );
    },
  });
}

/**
 * The default `maxSkipped`: a tenth of the epoch, rounded up, but fewer
 * than all of its batches, so that an epoch in which every batch fails
 * fails; 100 for an infinite epoch.
 */
function defaultMaxSkipped(length: number): number {
  if (length === Infinity) return 100;
  return Math.max(0, Math.min(Math.ceil(length / 10), length - 1));
}

/** The place in the whole epoch's order (before sharding) of `position` of the sharded one. */
function wholePosition({ shard, leftLength, layers }: EpochRecord, position: number): number {
  const left = shard ? shardOrigin(position, shard, leftLength!) : position;
  return layers.length > 0 ? wholeOf(layers, left) : left;
}

/** Decides the epoch's order, once `onEpochBegin` has run (it may change `length`). */
function decideOrder({ dataset, name }: EpochRequest<unknown>, record: EpochRecord): void {
  const { epoch, seed, shuffle, orderVersion, shard, start, skip, layers } = record;
  const length = checkLength(dataset.length, name);
  const full = epochOrder(length, { shuffle, seed, epoch, orderVersion, name });
  const left = layers.length > 0 ? leftOrder(full, layers) : full;
  const sharded = shard ? shardOrder(left, shard) : left;
  record.order = resumeOrder(sharded, checkStart(start, skip, sharded.length, name), skip);
  record.length = sharded.length;
  record.fullLength = length;
  record.leftLength = left.length;
}

async function hook(
  dataset: EpochDataset,
  name: "onEpochBegin" | "onEpochEnd",
  info: EpochInfo,
): Promise<void> {
  const hook = dataset[name];
  if (typeof hook === "function") await hook.call(dataset, info);
}

function emptyStats(epoch: number): EpochStats {
  return {
    epoch,
    batches: 0,
    getItemMs: 0,
    waitMs: 0,
    meanQueueDepth: 0,
    maxQueueDepth: 0,
    elapsedMs: 0,
    ended: false,
    retries: 0,
    skipped: [],
    allocations: 0,
    recycled: 0,
  };
}

/** The info of batches fetched alone: as an unshuffled, unsharded epoch gives it. */
export function singleBatchInfo(
  count: number,
  { seed, epoch }: { seed: number; epoch: number },
): JobInfo {
  return (id, index, attempt) =>
    Object.freeze({
      ...workerInfo(id, count, { seed, epoch, shard: 0 }),
      batchSeed: batchSeed(seed, epoch, index),
      attempt,
    });
}
