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
    ["a batch without an id", { type: "batch", batch: 1 }],
    ["an error without one", { type: "error", id: 1, error: null }],
    ["an error with a bad name", { type: "fault", error: { name: 1, message: "" } }],
    ["an error with a bad cause", { type: "exit", error: { name: "E", message: "", cause: 2 } }],
  ];
  for (const [name, data] of cases) {
    await t.step(name, () => assert.equal(readMessage(data), undefined));
  }
  const good = {
    type: "fault",
    error: { name: "E", message: "m", cause: { name: "F", message: "" } },
  };
  assert.equal(readMessage(good), good);
});
