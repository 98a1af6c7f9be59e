// The Fetcher contract, as one table run against every kind of fetcher:
// a new kind added to KINDS gets the whole contract checked. Each case
// drives the fetcher directly (as the epoch stream does) or through the
// per-batch policy wrapped around it.

import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import type { BatchFacts, Fetcher, FetchJob } from "../src/fetch/_fetcher.ts";
import { Recycler } from "../src/fetch/_recycler.ts";
import { BatchPolicy } from "../src/fetch/_policy.ts";
import { resolveEpochOptions } from "../src/_validate.ts";
import { openEpoch } from "../src/epoch/_open_epoch.ts";
import { HttpFetcher } from "../src/fetch/http/_http_fetcher.ts";
import { Hosts } from "../src/fetch/http/_hosts.ts";
import { ThreadFetcher } from "../src/fetch/_thread_fetcher.ts";
import { WorkerPool } from "../src/fetch/worker/_pool.ts";
import { batchesFromResponse, batchResponse } from "../wire.ts";
import { capturingErrors, delay, waitFor, within } from "./_helpers.ts";
import { type Behaviour, FetcherProbe } from "./fixtures/fetcher_probe.ts";

const module = new URL("./fixtures/fetcher_probe.ts", import.meta.url).href;

/** A fetcher of a kind, and what it needs stopped once the case is over (its hosts). */
interface Made {
  fetcher: Fetcher<Int32Array>;
  stop(): Promise<void>;
}

interface Kind {
  name: string;
  make(probe: FetcherProbe, count: number): Made;
  /** Whether `abandon` stops a running job (else it runs to its end). */
  abandonStops: boolean;
  /**
   * Whether what runs a job can be lost (a worker, a slot), reported as a
   * `FetcherLost`; a lost host is a failure like any other, for `retries`.
   */
  losesFetchers: boolean;
  /** What the BatchError of the probe's failing batch 1 says after its name, and its cause's class. */
  failure: { detail: RegExp; cause: ErrorConstructor };
}

/** The probe's own failure, as a local fetcher reports it. */
const LOCAL_FAILURE = { detail: /^bad record in batch 1/, cause: SyntaxError };

const KINDS: Kind[] = [
  {
    name: "main thread",
    make: (probe, count) => ({
      fetcher: new ThreadFetcher(
        count,
        (index, info) => probe.getItem(index, info),
        new Recycler(4),
      ),
      stop: () => Promise.resolve(),
    }),
    abandonStops: false,
    losesFetchers: true,
    failure: LOCAL_FAILURE,
  },
  {
    name: "worker pool",
    make: (_probe, count) => ({
      fetcher: new WorkerPool({
        module,
        name: "FetcherProbe",
        size: count,
        permissions: "inherit",
        timeout: undefined,
        settings: { workers: count, useMultiprocessing: true, module },
        buffers: new Recycler(4),
      }) as Fetcher<Int32Array>,
      stop: () => Promise.resolve(),
    }),
    abandonStops: true,
    losesFetchers: true,
    failure: LOCAL_FAILURE,
  },
  {
    name: "data hosts",
    make: (probe, count) => {
      const servers = [probeHost(probe), probeHost(probe)];
      const urls = servers.map((server) => new URL(`http://127.0.0.1:${server.addr.port}/`));
      return {
        fetcher: new HttpFetcher({
          hosts: new Hosts(urls, 5_000),
          count,
          headers: new Headers(),
          read: (response) => batchesFromResponse<Int32Array>(response),
        }),
        stop: async () => {
          await within(Promise.all(servers.map((server) => server.shutdown())));
        },
      };
    },
    abandonStops: true,
    losesFetchers: false,
    failure: {
      detail: /^http:\/\/127\.0\.0\.1:\d+ answered 500: SyntaxError: bad record in batch 1$/,
      cause: Error,
    },
  },
];

/**
 * What the in-test hosts of the "data hosts" kind take fetcher `id`'s
 * `epochSeed` to be, less `id`: a host learns from it which fetcher asked
 * (the probe records that), as the request names no fetcher.
 */
const SLOTS = 30;

/**
 * A data host on loopback that answers `/batch` as the contract says, from
 * `probe` (in this process, so that it records the starts) as fetcher
 * `seed - SLOTS` would run it; it lets go of a request its client dropped.
 */
function probeHost(probe: FetcherProbe): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const query = new URL(request.url).searchParams;
    const [index, epoch, seed] = ["index", "epoch", "seed"].map((key) => Number(query.get(key)));
    const facts = { ...info(seed! - SLOTS), epoch: epoch! };
    const dropped = Promise.withResolvers<never>();
    const onAbort = () => dropped.reject(request.signal.reason);
    request.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const batch = await Promise.race([probe.getItem(index!, facts), dropped.promise]);
      const headers = { "x-pydataset-index": String(index) };
      return batchResponse(ReadableStream.from([batch]), { headers });
    } catch (error) {
      const { name, message } = error as Error;
      return Response.json({ name, message, index }, { status: 500 });
    } finally {
      request.signal.removeEventListener("abort", onAbort);
    }
  });
}

/**
 * Each fetcher's info, as an epoch numbered 4 gives it (the same batch seed
 * for all; `epochSeed` differs by fetcher only for the in-test hosts).
 */
function info(id: number): BatchFacts {
  return { id, count: 2, seed: 1, epoch: 4, epochSeed: SLOTS + id, batchSeed: 9, attempt: 0 };
}

/** The policy's options: no timeout, no retries (a case sets its own). */
const POLICY = { name: "FetcherProbe", timeout: undefined, retries: 0, retryDelay: 100 };

/**
 * Runs a job of the contract on `fetcher`: batch `index` at position
 * `index`, for fetcher `id`; settles as the fetcher reports it, and fails
 * the case if the fetcher reports it twice.
 */
function run(
  fetcher: Fetcher<Int32Array>,
  index: number,
  id: number | undefined,
  signal = new AbortController().signal,
): Promise<Int32Array> {
  const { promise, resolve, reject } = Promise.withResolvers<Int32Array>();
  let reports = 0;
  const once = <T>(report: (value: T) => void) => (value: T) => {
    assert.equal(++reports, 1, `batch ${index} was reported twice`);
    report(value);
  };
  const job: FetchJob<Int32Array> = {
    index,
    position: index,
    fetcher: id,
    attempt: 0,
    info,
    begun: () => {},
    signal,
    tally: { allocations: 0, recycled: 0 },
    resolve: once(resolve),
    reject: once(reject),
  };
  fetcher.fetch(job);
  return promise;
}

/** A fetcher begun on a fresh probe, closed (its hosts stopped) when the case is done. */
async function begun(kind: Kind, count: number, plan: Record<number, Behaviour> = {}) {
  const probe = new FetcherProbe(plan);
  const { fetcher, stop } = kind.make(probe, count);
  const infos = Array.from({ length: count }, (_, id) => info(id));
  const state = { ...probe } as Record<string, unknown>;
  await within(fetcher.begin({ epoch: 4, infos, state }, new AbortController().signal));
  return {
    probe,
    fetcher,
    [Symbol.asyncDispose]: async () => {
      probe.open();
      fetcher.close(new Error("the case is over"));
      await stop();
      await delay(10); // a "wait" batch a host let go of polls its gate every 2 ms: it sees it open
    },
  };
}

/** Settles with the outcome of `promise`, which must not reject unobserved. */
function outcome<T>(promise: Promise<T>) {
  return promise.then((value) => ({ value }), (error: unknown) => ({ error }));
}

for (const kind of KINDS) {
  Deno.test(`Fetcher (${kind.name}) runs each fetcher's jobs in the order given, one at a time each`, async () => {
    await using setup = await begun(kind, 2);
    const jobs = Array.from(
      { length: 8 },
      (_, index) => run(setup.fetcher, index, index % 2),
    );
    const batches = await within(Promise.all(jobs));
    assert.deepEqual(batches.map((batch) => [...batch]), batches.map((_, i) => [i, i % 2, 4]));
    for (const id of [0, 1]) {
      const started = setup.probe.starts().filter(([fetcher]) => fetcher === id);
      assert.deepEqual(started.map(([, index]) => index), [0, 2, 4, 6].map((i) => i + id));
    }
    assert.ok(setup.probe.mostAtOnce() <= 2, `${setup.probe.mostAtOnce()} ran at once`);
  });

  Deno.test(`Fetcher (${kind.name}) runs a job for any fetcher on a free one, never more than count at once`, async () => {
    await using setup = await begun(kind, 2, { 0: "wait" });
    const first = run(setup.fetcher, 0, undefined);
    const rest = Array.from({ length: 5 }, (_, i) => run(setup.fetcher, i + 1, undefined));
    // With batch 0 waiting, the other fetcher runs all the rest.
    const batches = await within(Promise.all(rest));
    assert.deepEqual(new Set(batches.map((batch) => batch[1])).size, 1);
    setup.probe.open();
    assert.equal((await within(first))[0], 0);
    assert.ok(setup.probe.mostAtOnce() <= 2, `${setup.probe.mostAtOnce()} ran at once`);
  });

  Deno.test(`Fetcher (${kind.name}) withdraws the queued jobs after a position, and only those`, async () => {
    await using setup = await begun(kind, 1, { 0: "wait" });
    const jobs = [0, 1, 2, 3].map((index) => outcome(run(setup.fetcher, index, 0)));
    await within(waitFor(() => setup.probe.starts().length === 1));
    const reason = new Error("withdrawn");
    setup.fetcher.withdraw(1, reason);
    setup.probe.open();
    const [zero, one, two, three] = await within(Promise.all(jobs));
    assert.equal((zero as { value: Int32Array }).value[0], 0, "the running job finished");
    assert.equal((one as { value: Int32Array }).value[0], 1, "the job before the cut ran");
    assert.equal((two as { error: unknown }).error, reason);
    assert.equal((three as { error: unknown }).error, reason);
    assert.deepEqual(setup.probe.starts().map(([, index]) => index), [0, 1]);
  });

  Deno.test(`Fetcher (${kind.name}) withdraws a fetcher's next job while the one before runs: it never starts`, async () => {
    // A worker holds its next job, sent ahead: withdrawn, it must not start it.
    await using setup = await begun(kind, 1, { 0: "wait" });
    const jobs = [0, 1, 2].map((index) => outcome(run(setup.fetcher, index, 0)));
    await within(waitFor(() => setup.probe.starts().length === 1));
    const reason = new Error("withdrawn");
    setup.fetcher.withdraw(0, reason);
    setup.probe.open();
    const [zero, one, two] = await within(Promise.all(jobs));
    assert.equal((zero as { value: Int32Array }).value[0], 0, "the running job finished");
    assert.equal((one as { error: unknown }).error, reason);
    assert.equal((two as { error: unknown }).error, reason);
    await delay(50); // time enough to start a job it should not
    assert.deepEqual(setup.probe.starts().map(([, index]) => index), [0]);
  });

  Deno.test(`Fetcher (${kind.name}) reports a failure before it starts that fetcher's next job`, async () => {
    // The report withdraws the later jobs at once, as a failed epoch does:
    // none may have started, though a worker holds its next one already.
    await using setup = await begun(kind, 1, { 0: "fail" });
    const reason = new Error("withdrawn");
    const failed = Promise.withResolvers<unknown>();
    setup.fetcher.fetch({
      index: 0,
      position: 0,
      fetcher: 0,
      attempt: 0,
      info,
      begun: () => {},
      signal: new AbortController().signal,
      tally: { allocations: 0, recycled: 0 },
      resolve: () => failed.reject(new Error("batch 0 should have failed")),
      reject: (error) => {
        setup.fetcher.withdraw(0, reason);
        failed.resolve(error);
      },
    });
    const later = [1, 2].map((index) => outcome(run(setup.fetcher, index, 0)));
    assert.match(String(await within(failed.promise)), /bad record in batch 0/);
    for (const result of await within(Promise.all(later))) {
      assert.equal((result as { error: unknown }).error, reason);
    }
    await delay(50); // time enough to start a job it should not
    assert.deepEqual(setup.probe.starts().map(([, index]) => index), [0]);
  });

  Deno.test(`Fetcher (${kind.name}) drops a job whose signal aborts, and frees its fetcher`, async () => {
    await using setup = await begun(kind, 1, { 0: "wait" });
    const running = new AbortController();
    const queued = new AbortController();
    const first = outcome(run(setup.fetcher, 0, 0, running.signal));
    const second = outcome(run(setup.fetcher, 1, 0, queued.signal));
    await within(waitFor(() => setup.probe.starts().length === 1));
    queued.abort(new Error("not wanted"));
    assert.equal(((await within(second)) as { error: Error }).error.message, "not wanted");
    running.abort(new Error("too slow"));
    assert.equal(((await within(first)) as { error: Error }).error.message, "too slow");
    // The gate is still shut: the fetcher runs the next job all the same.
    assert.equal((await within(run(setup.fetcher, 2, 0)))[0], 2);
    assert.deepEqual(setup.probe.starts().map(([, index]) => index), [0, 2]);
  });

  Deno.test(`Fetcher (${kind.name}) abandons running jobs ${kind.abandonStops ? "by stopping them" : "to run to their end"}`, async () => {
    await using setup = await begun(kind, 1, { 0: "wait" });
    const running = outcome(run(setup.fetcher, 0, 0));
    await within(waitFor(() => setup.probe.starts().length === 1));
    const reason = new Error("the epoch failed");
    setup.fetcher.withdraw(-1, reason);
    setup.fetcher.abandon(reason);
    if (kind.abandonStops) {
      assert.equal(((await within(running)) as { error: unknown }).error, reason);
      assert.ok(setup.fetcher.closed, "a fetcher that stops its jobs is replaced");
    } else {
      setup.probe.open();
      assert.equal(((await within(running)) as { value: Int32Array }).value[0], 0);
    }
  });

  Deno.test(`Fetcher (${kind.name}) close rejects queued and running jobs`, async () => {
    await using setup = await begun(kind, 1, { 0: "hang" });
    const jobs = [0, 1].map((index) => outcome(run(setup.fetcher, index, 0)));
    await within(waitFor(() => setup.probe.starts().length === 1));
    const reason = new Error("closed");
    setup.fetcher.close(reason);
    for (const result of await within(Promise.all(jobs))) {
      assert.equal((result as { error: unknown }).error, reason);
    }
    assert.ok(setup.fetcher.closed);
  });

  Deno.test(`Fetcher (${kind.name}) under the policy: a batch past the timeout fails, and its fetcher goes on`, async () => {
    await using setup = await begun(kind, 1, { 0: "hang" });
    const policy = new BatchPolicy(setup.fetcher, { ...POLICY, timeout: 300 });
    const request = (index: number) => ({ index, position: index, fetcher: 0, begun: () => {} });
    const failed = await within(outcome(policy.fetch(request(0), info))) as { error: unknown };
    assert.ok(failed.error instanceof BatchError);
    assert.equal(failed.error.index, 0);
    assert.equal((failed.error.cause as DOMException).name, "TimeoutError");
    assert.match(failed.error.message, /Batch 0 took longer than the timeout of 300 ms/);
    assert.equal((await within(policy.fetch(request(1), info)))[0], 1);
  });

  Deno.test({
    name:
      `Fetcher (${kind.name}) under the policy: a lost batch is retried once, on its fetcher, before its other jobs`,
    ignore: !kind.losesFetchers,
  }, async () => {
    await using setup = await begun(kind, 1, { 0: "lose" });
    const policy = new BatchPolicy(setup.fetcher, POLICY);
    const request = (index: number) => ({ index, position: index, fetcher: 0, begun: () => {} });
    const { result, printed } = await capturingErrors(() =>
      within(Promise.all([0, 1, 2].map((index) => policy.fetch(request(index), info))))
    );
    assert.deepEqual(result.map((batch) => batch[0]), [0, 1, 2]);
    assert.deepEqual(setup.probe.starts(), [[0, 0], [0, 0], [0, 1], [0, 2]]);
    assert.equal(printed.length, 1);
    assert.match(String(printed[0]![0]), /while fetching batch 0; retrying the batch on a new/);
  });

  Deno.test({
    name: `Fetcher (${kind.name}) under the policy: a batch lost twice fails, naming it`,
    ignore: !kind.losesFetchers,
  }, async () => {
    await using setup = await begun(kind, 1, { 0: "loseAlways" });
    const policy = new BatchPolicy(setup.fetcher, POLICY);
    const request = { index: 0, position: 0, fetcher: 0, begun: () => {} };
    const { result } = await capturingErrors(() => within(outcome(policy.fetch(request, info))));
    const { error } = result as { error: unknown };
    assert.ok(error instanceof BatchError);
    assert.match(
      error.message,
      /Cannot get batch 0 of FetcherProbe \(2 attempts failed\): The \w+ died twice/,
    );
    assert.equal(setup.probe.starts().length, 2);
  });

  Deno.test(`Fetcher (${kind.name}) once closed refuses to begin or fetch, and starts nothing`, async () => {
    await using setup = await begun(kind, 1);
    const reason = new Error("closed");
    setup.fetcher.close(reason);
    const context = { epoch: 4, infos: [info(0)], state: { ...setup.probe } };
    await assert.rejects(
      setup.fetcher.begin(context, new AbortController().signal),
      (e) => e === reason,
    );
    const refused = await within(outcome(run(setup.fetcher, 0, 0))) as { error: unknown };
    assert.equal(refused.error, reason);
    await delay(50);
    assert.equal(setup.probe.starts().length, 0);
  });

  Deno.test(`Fetcher (${kind.name}) under the policy: a failing batch is a BatchError with its error as cause`, async () => {
    await using setup = await begun(kind, 1, { 1: "fail" });
    const policy = new BatchPolicy(setup.fetcher, POLICY);
    const request = (index: number) => ({ index, position: index, fetcher: 0, begun: () => {} });
    const failed = await within(outcome(policy.fetch(request(1), info))) as { error: unknown };
    assert.ok(failed.error instanceof BatchError);
    assert.equal(failed.error.index, 1);
    assert.ok(failed.error.cause instanceof kind.failure.cause);
    const prefix = "Cannot get batch 1 of FetcherProbe: ";
    assert.ok(failed.error.message.startsWith(prefix), failed.error.message);
    assert.match(failed.error.message.slice(prefix.length), kind.failure.detail);
    assert.equal(setup.probe.starts().length, 1, "a failure is not retried");
  });

  Deno.test(`Fetcher (${kind.name}) under the policy: the timeout counts from a batch's start, not its wait in the queue`, async () => {
    await using setup = await begun(kind, 1, { 0: "wait" });
    const policy = new BatchPolicy(setup.fetcher, { ...POLICY, timeout: 400 });
    const request = (index: number) => ({ index, position: index, fetcher: 0, begun: () => {} });
    const first = policy.fetch(request(0), info);
    const second = policy.fetch(request(1), info);
    await delay(250);
    setup.probe.open(); // batch 0 ends within its time; batch 1 waited 250 ms already
    assert.equal((await within(first))[0], 0);
    assert.equal((await within(second))[0], 1);
  });

  Deno.test(`Fetcher (${kind.name}) under an epoch stream: fetches at most maxQueueSize + count ahead, and nothing after a cancel`, async () => {
    // Batches 6 and 7 wait: at the cancel, later ones are queued in the fetcher.
    const probe = new FetcherProbe({ 6: "wait", 7: "wait" });
    const { fetcher, stop } = kind.make(probe, 2);
    const closing = new AbortController();
    const released = Promise.withResolvers<void>();
    const { stream } = openEpoch({
      dataset: probe,
      name: "FetcherProbe",
      workers: 2,
      maxQueueSize: 3,
      ordered: true,
      timeout: undefined,
      retries: 0,
      retryDelay: 100,
      onError: "raise",
      maxSkipped: undefined,
      options: resolveEpochOptions({}, "FetcherProbe"),
      epoch: 0,
      seed: 1,
      fetcher,
      closing: closing.signal,
      release: () => released.resolve(),
    });
    try {
      const reader = stream.getReader();
      for (let taken = 0; taken < 6; taken++) {
        await delay(40); // a slow reader: the fetchers run ahead as far as they may
        const started = probe.starts().length;
        assert.ok(started <= taken + 3 + 2, `${started} started with ${taken} taken`);
        assert.equal((await within(reader.read())).value![0], taken);
      }
      await within(waitFor(() => probe.starts().length === 8), 10_000, "batches 6 and 7 started");
      const cancelled = reader.cancel();
      probe.open();
      await within(cancelled);
      await within(released.promise);
      const started = probe.starts().length;
      await delay(40);
      assert.equal(probe.starts().length, started, "nothing started after the cancel");
      assert.equal(started, 8, "the batches queued at the cancel never started");
    } finally {
      closing.abort(new Error("the case is over"));
      fetcher.close(new Error("the case is over"));
      await stop();
    }
  });
}

Deno.test("Fetcher (worker pool) sends a worker its next job ahead: it starts with no round trip to the main thread", async () => {
  await using setup = await begun(KINDS[1]!, 1, { 0: "wait" });
  const jobs = [0, 1].map((index) => run(setup.fetcher, index, 0));
  await within(waitFor(() => setup.probe.starts().length === 1));
  setup.probe.open();
  // The main thread blocks: without batch 1 sent ahead, the worker could
  // not start it until the main thread read batch 0 and answered.
  assert.notEqual(setup.probe.waitForStart(1, 10_000), "timed-out", "batch 1 never started");
  assert.deepEqual((await within(Promise.all(jobs))).map((batch) => batch[0]), [0, 1]);
});

Deno.test("Fetcher (worker pool) replaced to stop a job sent ahead that had started runs the batches lost before it again in their order", async () => {
  // Batches 0 and 1 are done but unread (the main thread blocks) when the
  // caller of batch 2, sent ahead and started, lets go of it: the worker is
  // replaced, 0 and 1 are lost with it, and their retries go first.
  await using setup = await begun(KINDS[1]!, 1, { 2: "hang" });
  const policy = new BatchPolicy(setup.fetcher, POLICY);
  const callers = [0, 1, 2, 3].map(() => new AbortController());
  const { printed, result: outcomes } = await capturingErrors(() => {
    const jobs = callers.map(({ signal }, index) =>
      outcome(policy.fetch({ index, position: index, fetcher: 0, begun: () => {} }, info, signal))
    );
    // Blocking: batches 0 and 1 stay unread on the main thread meanwhile.
    for (let started = 0; started < 3; started = setup.probe.starts().length) {
      assert.notEqual(
        setup.probe.waitForStart(started, 10_000),
        "timed-out",
        "batch 2 never started",
      );
    }
    callers[2]!.abort(new Error("let go of"));
    return within(Promise.all(jobs));
  });
  assert.deepEqual(outcomes.map((o) => "value" in o ? o.value[0] : String(o.error)), [
    0,
    1,
    "Error: let go of",
    3,
  ]);
  assert.deepEqual(setup.probe.starts().map(([, index]) => index), [0, 1, 2, 0, 1, 3]);
  assert.equal(printed.length, 2, "each lost batch is said once");
});

/**
 * A fetcher that runs each job for `first` ms, waits (`waiting`) for
 * `wait` ms, then runs it `then` ms more (`begun` again) and resolves it;
 * it lets go of a job whose signal aborts.
 */
function waitingFetcher(first: number, wait: number, then: number): Fetcher<Int32Array> {
  return {
    count: 1,
    closed: false,
    refusing: false,
    holdsResources: false,
    begin: () => Promise.resolve(),
    fetch(job) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const after = (ms: number, step: () => void) => timer = setTimeout(step, ms);
      job.signal?.addEventListener("abort", () => clearTimeout(timer), { once: true });
      job.begun();
      after(first, () => {
        job.waiting?.();
        after(wait, () => {
          job.begun();
          after(then, () => job.resolve(Int32Array.of(job.index)));
        });
      });
    },
    withdraw() {},
    abandon() {},
    end() {},
    close() {},
  };
}

Deno.test("BatchPolicy does not count a fetcher's wait (waiting, then begun again) against the timeout", async () => {
  const policy = new BatchPolicy(waitingFetcher(100, 500, 100), { ...POLICY, timeout: 400 });
  let begun = 0;
  const request = { index: 3, position: 3, fetcher: 0, begun: () => begun++ };
  const started = performance.now();
  assert.equal((await within(policy.fetch(request, info)))[0], 3);
  assert.ok(performance.now() - started >= 600, "the batch took longer than the timeout in all");
  assert.equal(begun, 1, "the request's own begun runs once");
});

Deno.test("BatchPolicy counts a fetcher's running time before and after its wait together", async () => {
  const policy = new BatchPolicy(waitingFetcher(250, 100, 250), { ...POLICY, timeout: 400 });
  const request = { index: 3, position: 3, fetcher: 0, begun: () => {} };
  const failed = await within(outcome(policy.fetch(request, info))) as { error: unknown };
  assert.ok(failed.error instanceof BatchError);
  assert.equal((failed.error.cause as DOMException).name, "TimeoutError");
});

Deno.test("BatchPolicy fails a batch whose fetcher throws instead of rejecting, once, naming it", async () => {
  let calls = 0;
  const throwing: Fetcher<Int32Array> = {
    ...waitingFetcher(0, 0, 0),
    fetch() {
      calls++;
      throw new RangeError("the fetcher broke");
    },
  };
  const policy = new BatchPolicy(throwing, { ...POLICY, retries: 1, retryDelay: 0 });
  const request = { index: 7, position: 7, fetcher: 0, begun: () => {} };
  // A rejection, not a throw out of fetch(): an epoch would otherwise wait for the batch forever.
  const failed = await within(outcome(policy.fetch(request, info))) as { error: unknown };
  assert.ok(failed.error instanceof BatchError);
  assert.match(
    failed.error.message,
    /^Cannot get batch 7 of FetcherProbe \(2 attempts failed\): the fetcher broke$/,
  );
  assert.equal(calls, 2, "retried once, as retries: 1 says");
});
