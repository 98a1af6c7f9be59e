import assert from "node:assert/strict";
import { readMessage } from "../src/fetch/worker/_protocol.ts";

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
    ["a batch answer too short", [1, new Float32Array(4), []]],
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
