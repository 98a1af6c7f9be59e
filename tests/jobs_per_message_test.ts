// Jobs sent ahead to a worker go two to a message where they can: a post
// costs the main thread more than a batch's bookkeeping, so a job queued
// alone waits for a second one unless its worker holds none sent ahead.

import assert from "node:assert/strict";
import { Numbers } from "./fixtures/numbers.ts";
import { delay, waitFor, within } from "./_helpers.ts";

/** The number of jobs in each `get` message posted to a worker while `run` runs. */
async function jobsPerMessage(run: () => Promise<void>): Promise<number[]> {
  const messages: number[] = [];
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (
    this: Worker,
    message: unknown,
    ...rest: [StructuredSerializeOptions?]
  ) {
    const jobs = (message as { type?: string; jobs?: unknown[] }).jobs;
    if ((message as { type?: string }).type === "get" && jobs) messages.push(jobs.length);
    return post.call(this, message, ...rest);
  } as typeof post;
  try {
    await run();
  } finally {
    Worker.prototype.postMessage = post;
  }
  return messages;
}

Deno.test("A worker busy with a job gets a lone queued job only once it holds none sent ahead", async () => {
  await using dataset = new Numbers(40, { gated: [0] }, {
    workers: 2,
    useMultiprocessing: true,
    maxQueueSize: 16,
  });
  let reader!: ReadableStreamDefaultReader;
  const whileGated = await jobsPerMessage(async () => {
    reader = dataset.epoch().getReader();
    reader.read().catch(() => {});
    // Positions 0 to 5 are asked for (three per worker past batch 0). Worker
    // 1 runs 1, 3 and 5, each sent once it holds none ahead. Worker 0 runs
    // batch 0 and holds 2 sent ahead, and 4 waits on the main thread for a
    // second job to go with it.
    await waitFor(() => Atomics.load(dataset.calls, 0) === 4, 10_000, "batches 0, 1, 3 and 5");
    await delay(50);
  });
  assert.deepEqual(whileGated, [1, 1, 1, 1, 1], "batch 4 was sent alone");
  const rest = await jobsPerMessage(async () => {
    dataset.open();
    for (let next = await within(reader.read()); !next.done; next = await within(reader.read()));
  });
  assert.ok(rest.every((jobs) => jobs <= 2), `a message held more than two jobs: ${rest}`);
  assert.equal(rest.reduce((a, b) => a + b, 0), 40 - 5, "every other job sent once");
});
