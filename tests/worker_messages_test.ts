import assert from "node:assert/strict";
import {
  appendJob,
  type GetJob,
  type JobsMessage,
  readJobs,
  readMessage,
} from "../src/fetch/worker/_protocol.ts";

// A worker's own code can reach the channel to the main thread (postMessage
// is sealed in the worker, but that is one line of defence): whatever it
// sends must not crash the main thread. The pool refuses what this returns
// undefined for, failing the worker's batch.

Deno.test("readMessage refuses what a worker sends that is not one of the pool's messages", async (t) => {
  const cases: [string, unknown][] = [
    ["null", null],
    ["a number", 3],
    ["no type", {}],
    ["an unknown type", { type: "hello" }],
    ["a batch without an id", [undefined, new Float32Array(4), [], 0, 0]],
    ["a batch as an object", { type: "batch", id: 1, batch: 1, allocated: [], ...counts(0, 0) }],
    ["a batch answer too long", [1, new Float32Array(4), [], 0, 0, 0]],
    ["jobs sent back", [1, 0, -1, 7, 0, undefined, 0]],
    ["an error without one", { type: "error", id: 1, error: null }],
    ["an error with a bad name", { type: "fault", error: { name: 1, message: "" } }],
    ["an error with a bad cause", { type: "exit", error: { name: "E", message: "", cause: 2 } }],
    ...forgedAllocations(),
  ];
  for (const [name, data] of cases) {
    await t.step(name, () => assert.equal(readMessage(data), undefined));
  }
  const good = {
    type: "fault",
    error: { name: "E", message: "m", cause: { name: "F", message: "" } },
  };
  assert.equal(readMessage(good), good);
  const batch = new Float32Array(4);
  const honest = [1, batch, [batch.buffer], 1, 1];
  assert.equal(readMessage(honest), honest);
  const failed = { type: "error", id: 2, error: { name: "E", message: "m" }, ...counts(1, 0) };
  assert.equal(readMessage(failed), failed);
});

Deno.test("jobs cross to a worker in one flat message, each with its own info and buffers", () => {
  const info = { id: 0, count: 2, seed: 7, epoch: 3, epochSeed: 9, batchSeed: 11, attempt: 1 };
  const jobs: GetJob[] = [
    {
      id: 4,
      index: 40,
      cell: 2,
      batchSeed: 11,
      attempt: 1,
      info,
      buffers: [new Uint8Array([1]).buffer, new Uint8Array([2, 2]).buffer],
    },
    { id: 5, index: 41, cell: -1, batchSeed: 12, attempt: 0, info: undefined, buffers: [] },
    {
      id: 6,
      index: 42,
      cell: 3,
      batchSeed: 13,
      attempt: 0,
      info: undefined,
      buffers: [new Uint8Array([3, 3, 3]).buffer],
    },
  ];
  const message: JobsMessage = [];
  for (const job of jobs) appendJob(message, job);
  const transfer = jobs.flatMap((job) => job.buffers);
  const received = readJobs(structuredClone(message, { transfer }));
  // Transferred: the sender's buffers are detached, the worker's hold the bytes.
  assert.ok(transfer.every((buffer) => buffer.detached));
  assert.deepEqual(
    received.map(({ buffers, ...job }) => ({
      ...job,
      bytes: buffers.map((b) => [...new Uint8Array(b)]),
    })),
    [
      { id: 4, index: 40, cell: 2, batchSeed: 11, attempt: 1, info, bytes: [[1], [2, 2]] },
      { id: 5, index: 41, cell: -1, batchSeed: 12, attempt: 0, info: undefined, bytes: [] },
      { id: 6, index: 42, cell: 3, batchSeed: 13, attempt: 0, info: undefined, bytes: [[3, 3, 3]] },
    ],
  );
});

function counts(allocations: number, recycled: number) {
  return { allocations, recycled };
}

/**
 * Batch messages whose allocation facts a worker forged: counts that would
 * skew the stats, or buffers that would count toward the pools' budget (or
 * land in them) without being the batch's.
 */
function forgedAllocations(): [string, unknown][] {
  const batch = new Float32Array(4);
  const other = new ArrayBuffer(1 << 20);
  const answer = (allocated: unknown, allocations = 1, recycled = 1) => [
    1,
    batch,
    allocated,
    allocations,
    recycled,
  ];
  return [
    ["a batch without counts", [1, batch, []]],
    ["negative counts", answer([batch.buffer], -7, -1)],
    ["more recycled than allocated", answer([batch.buffer], 1, 1e15)],
    ["fractional counts", answer([batch.buffer], 1.5, 0)],
    ["an error with bad counts", { type: "error", id: 1, error: { name: "E", message: "" } }],
    ["allocated that is not a list", answer(batch.buffer)],
    ["allocated holding a view", answer([batch])],
    ["allocated holding a buffer not in the batch", answer([other])],
    ["allocated listing a buffer twice", answer([batch.buffer, batch.buffer])],
  ];
}
