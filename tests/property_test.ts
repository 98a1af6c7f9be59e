// Property tests: random epochs (fetchers, modes, queue sizes, delays, a
// failing batch, a cancel point, shards, resume points, ordered or not),
// each checked against what the loader promises. `deno task test` runs a
// fixed seed and count; `deno task fuzz` runs many more from a new seed
// (FUZZ_SEED=<n> FUZZ_RUNS=<n> to choose; a failure prints its seed and a
// shrunk counterexample). Elastic cases split an epoch over random shard
// counts, stop each shard at random, merge the cursors and read the rest on
// another count, with batches that fail and are skipped.

import assert from "node:assert/strict";
import fc from "fast-check";
import { BatchError, type EpochCursor, type EpochOptions, mergeCursors } from "../mod.ts";
import { epochOrder, resumeOrder, shardOrder } from "../src/epoch/_order.ts";
import { CountedNumbers, type NumbersBatch } from "./fixtures/numbers.ts";
import { waitUntilStill, within } from "./_helpers.ts";

interface Scenario {
  length: number;
  workers: number;
  useMultiprocessing: boolean;
  maxQueueSize: number;
  ordered: boolean;
  shuffle: boolean;
  seed: number;
  delays: number[];
  fail: number | null;
  failSync: boolean;
  cancelAfter: number | null;
  shard: { index: number; count: number; pad: boolean } | null;
  start: number;
}

const scenarios: fc.Arbitrary<Scenario> = fc.record({
  length: fc.integer({ min: 0, max: 20 }),
  workers: fc.integer({ min: 1, max: 4 }),
  useMultiprocessing: fc.boolean(),
  maxQueueSize: fc.integer({ min: 1, max: 16 }),
  ordered: fc.boolean(),
  shuffle: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
  delays: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 20 }),
  fail: fc.option(fc.nat(24)),
  failSync: fc.boolean(),
  cancelAfter: fc.option(fc.nat(24)),
  shard: fc.option(
    fc.integer({ min: 1, max: 3 }).chain((count) =>
      fc.record({ index: fc.nat(count - 1), count: fc.constant(count), pad: fc.boolean() })
    ),
  ),
  start: fc.nat(24),
});

/** The batch indices the epoch of `scenario` should deliver, in order. */
function expectedOrder(scenario: Scenario): number[] {
  const { length, shuffle, seed, shard } = scenario;
  const full = epochOrder(length, { shuffle, seed, epoch: 0 });
  const sharded = shard ? shardOrder(full, shard) : full;
  const order = resumeOrder(sharded, Math.min(scenario.start, sharded.length));
  return Array.from({ length: order.length }, (_, position) => order.at(position));
}

function options(scenario: Scenario): EpochOptions {
  const { shuffle, seed, shard, start } = scenario;
  const sharded = expectedOrder({ ...scenario, start: 0 }).length;
  return {
    shuffle,
    seed,
    epoch: 0,
    ...(shard ? { shard } : {}),
    start: Math.min(start, sharded),
    orderVersion: 2,
  };
}

function dataset(scenario: Scenario, fail = true): CountedNumbers {
  const delay = Object.fromEntries(scenario.delays.map((ms, index) => [index, ms]));
  const failing = fail && scenario.fail !== null ? [scenario.fail] : [];
  return new CountedNumbers(
    scenario.length,
    { delay, ...(scenario.failSync ? { throwSync: failing } : { throwAsync: failing }) },
    {
      workers: scenario.workers,
      useMultiprocessing: scenario.useMultiprocessing,
      maxQueueSize: scenario.maxQueueSize,
      ordered: scenario.ordered,
    },
  );
}

/** Reads the epoch, stopping after `cancelAfter` batches; returns what came. */
async function run(
  data: CountedNumbers,
  epoch: EpochOptions,
  cancelAfter: number | null,
): Promise<{ delivered: number[]; error: unknown }> {
  const delivered: number[] = [];
  try {
    if (cancelAfter === 0) {
      await data.epoch(epoch).cancel();
    } else {
      for await (const [x] of data.epoch(epoch) as ReadableStream<NumbersBatch>) {
        delivered.push(x[0]!);
        if (delivered.length === cancelAfter) break;
      }
    }
    return { delivered, error: undefined };
  } catch (error) {
    return { delivered, error };
  }
}

async function check(scenario: Scenario): Promise<void> {
  const expected = expectedOrder(scenario);
  const failAt = scenario.fail === null ? -1 : expected.indexOf(scenario.fail);
  const cancel = scenario.cancelAfter;
  // Ordered, the reader reaches the failure unless it cancels first.
  const stopsAtFailure = failAt >= 0 && (cancel === null || cancel > failAt);
  const data = dataset(scenario);
  try {
    const { delivered, error } = await within(run(data, options(scenario), cancel), 20_000);
    const label = JSON.stringify({ scenario, delivered, error: String(error) });
    assert.equal(data.begins, 1, `onEpochBegin once: ${label}`);
    assert.equal(data.ends, 1, `onEpochEnd once: ${label}`);
    assert.equal(new Set(delivered).size, delivered.length, `no batch twice: ${label}`);
    if (scenario.ordered) {
      const end = stopsAtFailure ? failAt : Math.min(cancel ?? Infinity, expected.length);
      assert.deepEqual(delivered, expected.slice(0, end), `the epoch's order: ${label}`);
    } else {
      for (const index of delivered) assert.ok(expected.includes(index), `in the epoch: ${label}`);
      if (failAt < 0 && (cancel === null || cancel >= expected.length)) {
        assert.equal(delivered.length, expected.length, `every batch: ${label}`);
      }
    }
    if (error !== undefined) {
      assert.ok(error instanceof BatchError, `a BatchError: ${label}`);
      assert.equal(error.index, scenario.fail, `the failing batch: ${label}`);
    } else if (scenario.ordered) {
      assert.ok(!stopsAtFailure, `the failure was reported: ${label}`);
    } else if (failAt >= 0 && cancel === null) {
      assert.fail(`the failure was reported: ${label}`);
    }
    if (error === undefined && cancel !== null && cancel < expected.length) {
      await checkResume(scenario, expected, delivered, data);
    }
  } finally {
    await data.close();
    const calls = await waitUntilStill(() => Atomics.load(data.calls, 0), 30, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(Atomics.load(data.calls, 0), calls, "close() left a getItem running");
  }
}

/** The cursor after a cancel resumes the rest, in a fresh dataset. */
async function checkResume(
  scenario: Scenario,
  expected: number[],
  delivered: number[],
  data: CountedNumbers,
): Promise<void> {
  const cursor = JSON.parse(JSON.stringify(data.cursor));
  await using again = dataset(scenario, false);
  const { delivered: rest, error } = await within(run(again, cursor, null), 20_000);
  const label = JSON.stringify({ scenario, delivered, cursor, rest });
  assert.equal(error, undefined, label);
  if (scenario.ordered) {
    assert.deepEqual([...delivered, ...rest], expected, `resumed in order: ${label}`);
  } else {
    const all = [...delivered, ...rest];
    assert.equal(new Set(all).size, all.length, `resumed without repeats: ${label}`);
    assert.deepEqual(all.toSorted((a, b) => a - b), expected.toSorted((a, b) => a - b), label);
  }
}

const seedText = Deno.env.get("FUZZ_SEED") ?? "20261124";
const seed = seedText === "random" ? Date.now() % 2 ** 31 : Number(seedText);
const numRuns = Number(Deno.env.get("FUZZ_RUNS") ?? 60);

Deno.test(`Random epochs keep every promise (fast-check, seed ${seed}, ${numRuns} runs)`, async () => {
  await fc.assert(fc.asyncProperty(scenarios, check), { seed, numRuns, endOnFailure: true });
});

interface ElasticScenario {
  length: number;
  workers: number;
  maxQueueSize: number;
  ordered: boolean;
  shuffle: boolean;
  seed: number;
  /** Batch indices whose getItem always rejects: skipped. */
  failing: number[];
  /** The shard count of each generation; all but the last stop each shard early. */
  counts: number[];
  /** How many batches each shard of a generation takes before it stops (null: all). */
  takes: (number | null)[];
  /** Whether the last generation pads its shards. */
  pad: boolean;
}

const elasticScenarios: fc.Arbitrary<ElasticScenario> = fc.record({
  length: fc.integer({ min: 0, max: 24 }),
  workers: fc.integer({ min: 1, max: 3 }),
  maxQueueSize: fc.integer({ min: 1, max: 4 }),
  ordered: fc.boolean(),
  shuffle: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
  failing: fc.uniqueArray(fc.nat(23), { maxLength: 4 }),
  counts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 3 }),
  takes: fc.array(fc.option(fc.nat(6)), { minLength: 12, maxLength: 12 }),
  pad: fc.boolean(),
});

/** Reads one shard of `cursor`'s epoch, taking at most `take` batches; returns its cursor. */
async function readShard(
  scenario: ElasticScenario,
  epoch: EpochOptions,
  take: number | null,
  seen: { read: number[]; skipped: Set<number>; lengths: number[] },
): Promise<EpochCursor> {
  const { length, workers, maxQueueSize, ordered, failing } = scenario;
  await using data = new CountedNumbers(length, { throwAsync: failing }, {
    workers,
    maxQueueSize,
    ordered,
  });
  const { delivered, error } = await within(
    run(data, { ...epoch, onError: "skip", maxSkipped: 1_000 }, take),
    20_000,
  );
  assert.equal(error, undefined, `no failure: ${JSON.stringify({ scenario, epoch, take })}`);
  seen.read.push(...delivered);
  seen.lengths.push(delivered.length + data.stats!.skipped.length);
  for (const { index } of data.stats!.skipped) seen.skipped.add(index);
  return JSON.parse(JSON.stringify(data.cursor));
}

async function checkElastic(scenario: ElasticScenario): Promise<void> {
  const { length, shuffle, seed, counts } = scenario;
  const seen = { read: [] as number[], skipped: new Set<number>(), lengths: [] as number[] };
  let cursor: EpochCursor = { epoch: 0, seed, shuffle, orderVersion: 2, start: 0 };
  let take = 0;
  for (const [generation, count] of counts.entries()) {
    const last = generation === counts.length - 1;
    if (cursor.epoch !== 0) break; // every batch consumed
    const cursors: EpochCursor[] = [];
    seen.lengths = [];
    for (let index = 0; index < count; index++) {
      const shard = { index, count, pad: last && scenario.pad };
      const stop = last ? null : scenario.takes[take++ % scenario.takes.length]!;
      cursors.push(await readShard(scenario, { ...cursor, shard }, stop, seen));
    }
    cursor = mergeCursors(cursors);
    if (last && scenario.pad) {
      assert.equal(new Set(seen.lengths).size, 1, `padded shards of one length: ${seen.lengths}`);
    }
  }
  const label = JSON.stringify({ scenario, cursor, read: seen.read, skipped: [...seen.skipped] });
  assert.equal(cursor.epoch, 1, `the last generation ends the epoch: ${label}`);
  const counted = new Map<number, number>();
  for (const index of [...seen.read, ...seen.skipped]) {
    counted.set(index, (counted.get(index) ?? 0) + 1);
  }
  const repeats = [...counted.values()].reduce((sum, n) => sum + n - 1, 0);
  const lastCount = counts.at(-1)!;
  assert.ok(repeats === 0 || (scenario.pad && repeats < lastCount), `each batch once: ${label}`);
  const all = Array.from({ length }, (_, index) => index);
  assert.deepEqual([...counted.keys()].sort((a, b) => a - b), all, `every batch: ${label}`);
  for (const index of seen.skipped) {
    assert.ok(scenario.failing.includes(index), `only failing batches skipped: ${label}`);
    assert.ok(!seen.read.includes(index), `a skipped batch is not read: ${label}`);
  }
}

const elasticRuns = Math.max(1, Math.round(numRuns / 2));

Deno.test(`Elastic resume: merged shard cursors read every batch once on any new count (fast-check, seed ${seed}, ${elasticRuns} runs)`, async () => {
  const warn = console.warn;
  console.warn = () => {}; // each skipped batch says so
  try {
    await fc.assert(fc.asyncProperty(elasticScenarios, checkElastic), {
      seed,
      numRuns: elasticRuns,
      endOnFailure: true,
    });
  } finally {
    console.warn = warn;
  }
});
