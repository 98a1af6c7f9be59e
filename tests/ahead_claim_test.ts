// The claim on a job sent ahead to a worker: exactly one of the worker
// (starting it) and the main thread (withdrawing it) gets it, whatever
// the order, and a claim on one job never undoes the claim on a later one.

import assert from "node:assert/strict";
import {
  dropAhead,
  sawWithdrawal,
  startAhead,
  withdrawAhead,
} from "../src/fetch/worker/_protocol.ts";

function claim(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4)).fill(-1);
}

Deno.test("A job sent ahead that its worker started cannot be withdrawn", () => {
  const shared = claim();
  assert.equal(startAhead(shared, 3), true);
  assert.equal(withdrawAhead(shared, 3), false);
});

Deno.test("A withdrawn job sent ahead is never started", () => {
  const shared = claim();
  assert.equal(withdrawAhead(shared, 3), true);
  assert.equal(startAhead(shared, 3), false);
});

Deno.test("A worker that starts a job keeps the withdrawal of the job sent after it", () => {
  // The main thread counted job 3 as started (its batch 2 arrived) and
  // withdrew job 4 before the worker got to job 3.
  const shared = claim();
  assert.equal(withdrawAhead(shared, 4), true);
  assert.equal(startAhead(shared, 3), true);
  assert.equal(startAhead(shared, 4), false);
  // The next job sent ahead is the worker's again.
  assert.equal(startAhead(shared, 5), true);
  assert.equal(withdrawAhead(shared, 5), false);
});

Deno.test("A withdrawal stays unseen until the worker comes to that job", () => {
  // The main thread sends nothing ahead meanwhile: one mark at a time.
  const shared = claim();
  assert.equal(startAhead(shared, 1), true);
  assert.equal(withdrawAhead(shared, 2), true);
  assert.equal(sawWithdrawal(shared, 2), false);
  assert.equal(startAhead(shared, 2), false);
  assert.equal(sawWithdrawal(shared, 2), true);
  assert.equal(startAhead(shared, 3), true);
});

Deno.test("A worker that drops a job after a failure sees its withdrawal too", () => {
  const shared = claim();
  assert.equal(withdrawAhead(shared, 2), true);
  dropAhead(shared, 2);
  assert.equal(sawWithdrawal(shared, 2), true);
  dropAhead(shared, 3); // nothing to see: the claim is left alone
  assert.equal(startAhead(shared, 3), true);
  assert.equal(withdrawAhead(shared, 3), false);
});
