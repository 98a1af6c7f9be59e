// The HTTP fetcher's own rules, beyond the Fetcher contract (tests/fetcher_test.ts):
// which host gets a request, what a failing, slow, busy or full (503) host
// does, and what a failure says. Hosts are Deno.serve handlers on loopback.

import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import type { BatchFacts } from "../src/fetch/_fetcher.ts";
import { HttpFetcher } from "../src/fetch/http/_http_fetcher.ts";
import { Hosts } from "../src/fetch/http/_hosts.ts";
import { BatchPolicy } from "../src/fetch/_policy.ts";
import { batchesFromResponse, batchResponse } from "../wire.ts";
import { delay, waitFor, within } from "./_helpers.ts";

type Handler = (request: Request, index: number) => Response | Promise<Response>;

/** A host that answers `/batch` with `handler`, counting its requests. */
function host(handler: Handler) {
  const seen: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const index = Number(new URL(request.url).searchParams.get("index"));
    seen.push(index);
    return handler(request, index);
  });
  const url = new URL(`http://127.0.0.1:${server.addr.port}/`);
  return { url, name: url.href.slice(0, -1), seen, server };
}

type TestHost = ReturnType<typeof host>;

/** Batch `index` as a host sends it. */
function batch(index: number): Response {
  return batchResponse(ReadableStream.from([Int32Array.of(index)]), {
    headers: { "x-pydataset-index": String(index) },
  });
}

/** Answers once `gate` resolves, or gives up when the client goes away. */
async function after(gate: Promise<void>, request: Request, index: number): Promise<Response> {
  const gone = Promise.withResolvers<void>();
  const onAbort = () => gone.resolve();
  request.signal.addEventListener("abort", onAbort, { once: true });
  await Promise.race([gate, gone.promise]);
  request.signal.removeEventListener("abort", onAbort);
  return batch(index);
}

function info(id: number): BatchFacts {
  return { id, count: 1, seed: 1, epoch: 0, epochSeed: 7, batchSeed: 9, attempt: 0 };
}

/** A fetcher and its policy over `hosts`; disposing closes it and stops the hosts. */
function setup(
  hosts: TestHost[],
  { count = 1, avoidFor = 5_000, timeout = undefined as number | undefined, retries = 0 } = {},
) {
  const shared = new Hosts(hosts.map(({ url }) => url), avoidFor);
  const fetcher = new HttpFetcher<Int32Array>({
    hosts: shared,
    count,
    headers: new Headers({ authorization: "Bearer t" }),
    read: (response) => batchesFromResponse<Int32Array>(response),
  });
  const policy = new BatchPolicy(fetcher, { name: "Hosted", timeout, retries, retryDelay: 0 });
  const get = (index: number) =>
    policy.fetch({ index, position: index, fetcher: undefined, begun: () => {} }, info);
  return {
    fetcher,
    policy,
    hosts: shared,
    get,
    [Symbol.asyncDispose]: async () => {
      fetcher.close(new Error("the case is over"));
      await within(Promise.all(hosts.map(({ server }) => server.shutdown())));
    },
  };
}

Deno.test("Hosts.choose takes the host with the fewest in flight, in turn among ties", () => {
  const urls = ["http://a/", "http://b/", "http://c/"].map((url) => new URL(url));
  const hosts = new Hosts(urls, 1_000);
  const names = () => {
    const host = hosts.choose(0);
    assert.ok(typeof host !== "number");
    hosts.sent(host);
    return host.name;
  };
  assert.deepEqual([names(), names(), names(), names()], [
    "http://a",
    "http://b",
    "http://c",
    "http://a",
  ]);
  hosts.all[2]!.inFlight = 0;
  assert.equal(names(), "http://c", "the least loaded, whatever the turn");
});

Deno.test("Hosts.choose avoids a failed host, and takes the one whose avoidance ends first when all are", () => {
  const hosts = new Hosts([new URL("http://a/"), new URL("http://b/")], 1_000);
  const [a, b] = hosts.all;
  hosts.avoid(a!, 0);
  for (let i = 0; i < 3; i++) assert.equal(hosts.choose(10), b);
  hosts.avoid(b!, 500);
  assert.equal(hosts.choose(600), a, "a's avoidance ends at 1000, b's at 1500");
  assert.equal(hosts.choose(1_000 + 1), a, "a is welcome again");
  hosts.avoid(a!, 2_000);
  hosts.avoid(b!, 2_000);
  hosts.answered(a!);
  assert.equal(hosts.choose(2_001), a, "an answer makes a host welcome at once");
});

Deno.test("Hosts.choose waits for a busy host rather than take an avoided one, unless every host is avoided", () => {
  const hosts = new Hosts([new URL("http://a/"), new URL("http://b/")], 1_000);
  const [a, b] = hosts.all;
  hosts.avoid(b!, 0);
  hosts.busy(a!, 300, 0);
  assert.equal(hosts.choose(10), 290, "a live host that is only busy beats a dead one");
  hosts.avoid(a!, 0);
  assert.equal(hosts.choose(10), b, "every host avoided: b, the only one not busy");
  hosts.busy(b!, 200, 0);
  assert.equal(hosts.choose(100), 100, "every host busy: b is free in 100 ms");
});

Deno.test("Hosts: a 503 while others are in flight makes the host full until one settles; alone, busy", () => {
  const hosts = new Hosts([new URL("http://a/")], 1_000);
  const [a] = hosts.all;
  hosts.sent(a!);
  hosts.sent(a!);
  hosts.sent(a!);
  hosts.refused(a!, 1_000, 0);
  assert.equal(a!.fullAt, 2, "full at the two others in flight");
  assert.equal(hosts.choose(0), Infinity, "no busy host: a settle ends the wait");
  hosts.settled(a!);
  assert.equal(hosts.choose(0), a, "the cap lifts at a settle: the next request probes");
  hosts.settled(a!);
  hosts.sent(a!);
  hosts.refused(a!, 1_000, 0);
  assert.equal(hosts.choose(10), 990, "a 503 with nothing else in flight: busy for Retry-After");
});

Deno.test("Hosts.wait wakes the first waiting request at a settle, all when a host turns busy, and lets go on abort", async () => {
  const hosts = new Hosts([new URL("http://a/")], 1_000);
  const [a] = hosts.all;
  const woken: string[] = [];
  const stop = new AbortController();
  const first = hosts.wait(Infinity, stop.signal).then(() => woken.push("first"));
  const second = hosts.wait(Infinity, stop.signal).then(() => woken.push("second"));
  const third = hosts.wait(Infinity, stop.signal).then(() => woken.push("third"));
  hosts.sent(a!);
  hosts.settled(a!);
  await within(first);
  await delay(20);
  assert.deepEqual(woken, ["first"], "one place freed: one request wakes");
  hosts.busy(a!, 10_000);
  await within(Promise.all([second, third]));
  const reason = new Error("stopped");
  const timed = hosts.wait(10_000, stop.signal).catch((error) => error);
  stop.abort(reason);
  assert.equal(await within(timed), reason, "the abort's reason, and no timer left");
  assert.equal(await hosts.wait(10_000, stop.signal).catch((error) => error), reason);
});

Deno.test("HttpFetcher spreads requests over the hosts, and sends the headers, epoch and seed", async () => {
  const gate = Promise.withResolvers<void>();
  const queries: string[] = [];
  const handler: Handler = (request, index) => {
    queries.push(`${new URL(request.url).search} ${request.headers.get("authorization")}`);
    return after(gate.promise, request, index);
  };
  const hosts = [host(handler), host(handler), host(handler)];
  await using fetching = setup(hosts, { count: 6 });
  const batches = Array.from({ length: 6 }, (_, index) => fetching.get(index));
  await within(waitFor(() => queries.length === 6));
  assert.deepEqual(hosts.map(({ seen }) => seen.length), [2, 2, 2]);
  gate.resolve();
  assert.deepEqual((await within(Promise.all(batches))).map((b) => b[0]), [0, 1, 2, 3, 4, 5]);
  assert.ok(queries.includes("?index=4&epoch=0&seed=7 Bearer t"), queries.join("\n"));
});

Deno.test("HttpFetcher avoids a failing host for avoidFor, and its retry goes to another", async () => {
  const failing = host((_, index) =>
    Response.json({ name: "BatchError", message: `Cannot get batch ${index} of Hosted: boom` }, {
      status: 500,
    })
  );
  const working = host((_, index) => batch(index));
  await using fetching = setup([failing, working], { retries: 1, avoidFor: 300 });
  for (let index = 0; index < 4; index++) {
    assert.equal((await within(fetching.get(index)))[0], index);
  }
  assert.equal(failing.seen.length, 1, "tried once, then avoided");
  await delay(350);
  await within(fetching.get(9));
  await within(fetching.get(10));
  assert.equal(failing.seen.length, 2, "tried again once its avoidance ended");
});

Deno.test("HttpFetcher: a batch that fails everywhere is a BatchError naming the host and what it said", async () => {
  const hosts = [
    host(() => Response.json({ name: "BatchError", message: "boom" }, { status: 500 })),
    host(() => new Response("Bad gateway\n", { status: 502 })),
  ];
  await using fetching = setup(hosts, { retries: 1 });
  const error = await within(fetching.get(5).catch((error) => error));
  assert.ok(error instanceof BatchError);
  assert.equal(error.index, 5);
  assert.match(
    error.message,
    /^Cannot get batch 5 of Hosted \(2 attempts failed\): http:\/\/127\.0\.0\.1:\d+ answered (500: BatchError: boom|502: Bad gateway)$/,
  );
  assert.deepEqual(
    hosts.map(({ seen }) => seen.length),
    [1, 1],
    "the retry went to the other host",
  );
});

Deno.test("HttpFetcher: a body that cannot be read fails the host", async (t) => {
  const cases: [string, Handler, RegExp][] = [
    [
      "another media type",
      () => new Response("{}", { headers: { "x-pydataset-index": "0" } }),
      /answered 200, but its body failed: TypeError: .*content-type/,
    ],
    ["a truncated document", () => {
      const bytes = new Uint8Array(12);
      new DataView(bytes.buffer).setBigUint64(0, 100n, true);
      return new Response(bytes, {
        headers: {
          "content-type": "application/vnd.pydataset.safetensors-stream",
          "x-pydataset-index": "0",
        },
      });
    }, /answered 200, but its body failed: TypeError: Cannot decode batch 0 as the stream ended/],
    [
      "two batches",
      () =>
        batchResponse(ReadableStream.from([Int32Array.of(1), Int32Array.of(2)]), {
          headers: { "x-pydataset-index": "0" },
        }),
      /answered 200 with more than one batch/,
    ],
    ["the wrong batch", () => batch(3), /answered batch 3 when asked for batch 0/],
    [
      "no x-pydataset-index",
      () => batchResponse(ReadableStream.from([Int32Array.of(0)])),
      /^Cannot get batch 0 of Hosted: http:\/\/127\.0\.0\.1:\d+ answered 200 without the x-pydataset-index header/,
    ],
  ];
  for (const [what, handler, message] of cases) {
    await t.step(what, async () => {
      await using fetching = setup([host(handler)]);
      const error = await within(fetching.get(0).catch((error) => error));
      assert.ok(error instanceof BatchError);
      assert.match(error.message, message);
    });
  }
});

Deno.test("HttpFetcher: a host past the timeout is let go of and avoided; the retry goes elsewhere", async () => {
  let aborted = 0;
  const slow = host((request, index) => {
    request.signal.addEventListener("abort", () => aborted++, { once: true });
    return after(new Promise(() => {}), request, index);
  });
  const quick = host((_, index) => batch(index));
  await using fetching = setup([slow, quick], { timeout: 200, retries: 1 });
  for (let index = 0; index < 3; index++) {
    assert.equal((await within(fetching.get(index)))[0], index);
  }
  assert.equal(slow.seen.length, 1, "avoided after its timeout");
  await within(waitFor(() => aborted === 1), 5_000, "the slow request's abort");
});

Deno.test("HttpFetcher: a 503 sends the request to another host at once", async () => {
  const busy = host(() =>
    Response.json({ name: "Busy", message: "full" }, {
      status: 503,
      headers: { "retry-after": "5" },
    })
  );
  const free = host((_, index) => batch(index));
  await using fetching = setup([busy, free], { timeout: 2_000 });
  const started = performance.now();
  for (let index = 0; index < 3; index++) {
    assert.equal((await within(fetching.get(index)))[0], index);
  }
  assert.ok(performance.now() - started < 1_500, "no wait for the busy host's Retry-After");
  assert.equal(busy.seen.length, 1, "busy for its Retry-After");
});

Deno.test("HttpFetcher: when every host is busy, it waits for Retry-After, which the timeout does not count", async () => {
  let refused = 0;
  const only = host(async (_, index) => {
    if (refused++ === 0) {
      return Response.json({ name: "Busy", message: "full" }, {
        status: 503,
        headers: { "retry-after": "1" },
      });
    }
    await delay(400); // the request's own time: with the wait, past the timeout
    return batch(index);
  });
  await using fetching = setup([only], { timeout: 1_200 });
  const started = performance.now();
  assert.equal((await within(fetching.get(4)))[0], 4);
  assert.ok(performance.now() - started >= 1_300, "it waited for Retry-After: 1");
  assert.deepEqual(only.seen, [4, 4], "one 503, then the batch, with no failure in between");
});

/** A 503 that asks to wait `seconds`. */
function busy(seconds: number): Response {
  return Response.json({ name: "Busy", message: "full" }, {
    status: 503,
    headers: { "retry-after": String(seconds) },
  });
}

Deno.test("HttpFetcher: with one host failed and the other busy, the retry waits for the busy one", async () => {
  let refused = 0;
  const live = host((_, index) => refused++ === 0 ? busy(1) : batch(index));
  const failing = host(() =>
    Response.json({ name: "BatchError", message: "boom" }, { status: 500 })
  );
  await using fetching = setup([live, failing], { retries: 1 });
  assert.equal((await within(fetching.get(0)))[0], 0);
  assert.deepEqual(live.seen, [0, 0], "a 503, then the batch once it was free");
  assert.deepEqual(failing.seen, [0], "the failed host was not tried again");
});

Deno.test("HttpFetcher: a 503 while another request is in flight there waits for that one to settle, not for Retry-After", async () => {
  const gate = Promise.withResolvers<void>();
  let refused = 0;
  const only = host((request, index) => {
    if (index === 0) return after(gate.promise, request, index);
    return refused++ === 0 ? busy(5) : batch(index);
  });
  await using fetching = setup([only], { count: 2 });
  const first = fetching.get(0).catch((error) => error);
  await within(waitFor(() => only.seen.length === 1));
  const second = fetching.get(1).catch((error) => error);
  await within(waitFor(() => refused === 1));
  await delay(100);
  assert.deepEqual(only.seen, [0, 1], "it waits for a place, without asking again meanwhile");
  assert.equal(fetching.hosts.all[0]!.busyUntil, 0, "full, not busy");
  gate.resolve();
  assert.equal((await within(first))[0], 0);
  assert.equal((await within(second, 2_000, "the wait for a place"))[0], 1);
  assert.deepEqual(only.seen, [0, 1, 1]);
});

Deno.test("HttpFetcher: closing it while a request waits for a place at a full host lets go of both", async () => {
  const only = host((request, index) =>
    index === 0 ? after(new Promise(() => {}), request, index) : busy(5)
  );
  await using fetching = setup([only], { count: 2 });
  const first = fetching.get(0).catch((error) => error);
  await within(waitFor(() => only.seen.length === 1));
  const second = fetching.get(1).catch((error) => error);
  await within(waitFor(() => only.seen.length === 2));
  await delay(20); // the 503 is read: the request waits for a place
  const reason = new Error("closed");
  fetching.fetcher.close(reason);
  assert.equal((await within(first)).cause, reason);
  assert.equal((await within(second)).cause, reason);
});

Deno.test("HttpFetcher: a 503 without Retry-After (a closed host) fails the host: avoided, the retry goes elsewhere", async () => {
  const closed = host(() =>
    Response.json({ name: "ClosedError", message: "the host was closed" }, { status: 503 })
  );
  const working = host((_, index) => batch(index));
  await using fetching = setup([closed, working], { retries: 1 });
  assert.equal((await within(fetching.get(0)))[0], 0);
  assert.equal((await within(fetching.get(1)))[0], 1);
  assert.deepEqual(closed.seen, [0], "tried once, then avoided");
  assert.ok(fetching.hosts.all[0]!.avoidedUntil > performance.now(), "avoided");
});

Deno.test("HttpFetcher: a batch that only a closed host could serve fails at once, saying so", async () => {
  const closed = host(() =>
    Response.json({ name: "ClosedError", message: "the host was closed" }, { status: 503 })
  );
  await using fetching = setup([closed]);
  const error = await within(fetching.get(3).catch((error) => error));
  assert.ok(error instanceof BatchError, String(error));
  assert.match(
    error.message,
    /^Cannot get batch 3 of Hosted: http:\/\/127\.0\.0\.1:\d+ answered 503 without Retry-After, as a host that is going away does: ClosedError: the host was closed$/,
  );
});

Deno.test("HttpFetcher: a host busy for longer than the timeout is waited for, and only a signal ends the wait", async () => {
  let refusals = 2;
  const only = host((_, index) => refusals-- > 0 ? busy(1) : batch(index));
  await using fetching = setup([only], { timeout: 300 });
  // Two Retry-After waits of 1 s each, far past the timeout of 300 ms: not counted.
  assert.equal((await within(fetching.get(2), 10_000))[0], 2);
  const always = host(() => busy(1));
  await using stuck = setup([always], { timeout: 300 });
  const reason = new Error("the epoch was cancelled");
  const stop = new AbortController();
  setTimeout(() => stop.abort(reason), 1_500);
  const request = { index: 4, position: 4, fetcher: undefined, begun: () => {} };
  const error = await within(stuck.policy.fetch(request, info, stop.signal).catch((e) => e), 5_000);
  assert.equal(error, reason, "still waiting when the signal aborted, with no failure of its own");
  assert.equal(stuck.hosts.all[0]!.avoidedUntil, 0, "busy is no failure of the host");
});

Deno.test("HttpFetcher: of an error's body it reads at most 64 KiB, and cancels the rest", async () => {
  let cancelled = false;
  const chunk = new TextEncoder().encode("x".repeat(16_384));
  const endless = host(() =>
    new Response(
      new ReadableStream({
        pull: (controller) => controller.enqueue(chunk),
        cancel: () => void (cancelled = true),
      }),
      { status: 500 },
    )
  );
  await using fetching = setup([endless]);
  const error = await within(fetching.get(0).catch((error) => error));
  assert.ok(error instanceof BatchError, String(error));
  assert.match(
    error.message,
    /^Cannot get batch 0 of Hosted: http:\/\/127\.0\.0\.1:\d+ answered 500: x{200}$/,
  );
  await within(waitFor(() => cancelled), 5_000, "the body's cancel");
});

Deno.test("HttpFetcher: a redirect is not followed: it fails the host, naming it", async () => {
  const target = host((_, index) => batch(index));
  await using _target = target.server;
  const redirecting = host((request) => {
    const { pathname, search } = new URL(request.url);
    return Response.redirect(new URL(`${pathname.slice(1)}${search}`, target.url), 302);
  });
  await using fetching = setup([redirecting]);
  const error = await within(fetching.get(0).catch((error) => error));
  assert.ok(error instanceof BatchError, String(error));
  assert.match(
    error.message,
    new RegExp(
      `^Cannot get batch 0 of Hosted: ${redirecting.name} could not be reached: .*redirect`,
    ),
  );
  assert.deepEqual(target.seen, [], "the redirect's target was not asked");
});

Deno.test("HttpFetcher: closing it while a request waits for a busy host leaves no timer", async () => {
  const only = host(() =>
    Response.json({ name: "Busy", message: "full" }, {
      status: 503,
      headers: { "retry-after": "30" },
    })
  );
  await using fetching = setup([only]);
  const waiting = fetching.get(0).catch((error) => error);
  await within(waitFor(() => only.seen.length === 1));
  await delay(20); // the 503 is read: the request waits
  const reason = new Error("closed");
  fetching.fetcher.close(reason);
  assert.equal((await within(waiting)).cause, reason);
});

/**
 * A host that dies mid-answer: it sends the head of a 200 and a few bytes
 * of its body, then closes the connection.
 */
function dyingHost() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    for await (const connection of listener) {
      await connection.read(new Uint8Array(4096));
      const head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.pydataset.safetensors-stream\r\n" +
        "content-length: 100\r\n\r\n";
      await connection.write(new TextEncoder().encode(head + "\0\0\0\0"));
      connection.close();
    }
  })();
  const url = new URL(`http://127.0.0.1:${listener.addr.port}/`);
  const stop = async () => {
    listener.close();
    await served.catch(() => {});
  };
  return { url, stop };
}

Deno.test("HttpFetcher: a host lost mid-answer fails, and the retry goes to another host", async () => {
  const dying = dyingHost();
  const working = host((_, index) => batch(index));
  const shared = new Hosts([dying.url, working.url], 5_000);
  const fetcher = new HttpFetcher<Int32Array>({
    hosts: shared,
    count: 1,
    headers: new Headers(),
    read: (response) => batchesFromResponse<Int32Array>(response),
  });
  let retried = 0;
  const policy = new BatchPolicy(fetcher, {
    name: "Hosted",
    timeout: undefined,
    retries: 1,
    retryDelay: 0,
    onRetry: () => retried++,
  });
  try {
    const request = { index: 0, position: 0, fetcher: 0, begun: () => {} };
    assert.equal((await within(policy.fetch(request, info)))[0], 0);
    assert.equal(retried, 1);
    assert.ok(shared.all[0]!.avoidedUntil > performance.now(), "the lost host is avoided");
  } finally {
    fetcher.close(new Error("the case is over"));
    await dying.stop();
    await within(working.server.shutdown());
  }
});
