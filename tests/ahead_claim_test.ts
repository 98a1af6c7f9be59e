// The claims on the jobs sent ahead to a worker: for each job, exactly one
// of the worker (starting it) and the main thread (withdrawing it) gets
// it, whatever the order, and a cell is offered again only once the
// worker is done with it and no job of the main thread's holds it.

import assert from "node:assert/strict";
import {
  answeredJob,
  CLAIM_CELLS,
  claimJob,
  newClaims,
  offerJob,
  withdrawJob,
} from "../src/fetch/worker/_protocol.ts";

Deno.test("A job sent ahead that its worker started cannot be withdrawn", () => {
  const claims = newClaims();
  const cell = offerJob(claims, new Set());
  assert.equal(claimJob(claims, cell, false), true);
  assert.equal(withdrawJob(claims, cell), false);
});

Deno.test("A withdrawn job sent ahead is never started, and its worker frees its cell", () => {
  const claims = newClaims();
  const cell = offerJob(claims, new Set());
  assert.equal(withdrawJob(claims, cell), true);
  // Not offered again until the worker has come to the withdrawn job.
  assert.notEqual(offerJob(claims, new Set()), cell);
  assert.equal(claimJob(claims, cell, false), false);
  const fresh = newClaims();
  assert.equal(withdrawJob(fresh, offerJob(fresh, new Set())), true);
  assert.equal(claimJob(fresh, 0, false), false);
  assert.equal(offerJob(fresh, new Set()), 0, "free again once the worker dropped it");
});

Deno.test("Withdrawing one job sent ahead leaves the others to their worker", () => {
  const claims = newClaims();
  const held = new Set<number>();
  const cells = [0, 1, 2].map(() => {
    const cell = offerJob(claims, held);
    held.add(cell);
    return cell;
  });
  assert.equal(new Set(cells).size, 3, "each job its own cell");
  assert.equal(withdrawJob(claims, cells[1]!), true);
  assert.equal(claimJob(claims, cells[0]!, false), true);
  assert.equal(claimJob(claims, cells[1]!, false), false);
  assert.equal(claimJob(claims, cells[2]!, false), true);
  assert.equal(withdrawJob(claims, cells[2]!), false);
});

Deno.test("A worker that failed a job drops those sent ahead, and the main thread sees them as withdrawn", () => {
  const claims = newClaims();
  const held = new Set<number>();
  const first = offerJob(claims, held);
  held.add(first);
  const second = offerJob(claims, held);
  held.add(second);
  assert.equal(claimJob(claims, first, true), false, "dropped after the failure");
  // The main thread, not yet told of the failure, withdraws it: it will never start.
  assert.equal(withdrawJob(claims, first), true);
  // A cell still held by one of the main thread's jobs is not offered again.
  assert.ok(![first, second].includes(offerJob(claims, held)));
  held.delete(first);
  assert.equal(claimJob(claims, second, true), false);
  held.delete(second);
  assert.equal(offerJob(claims, held), first, "a dropped job's cell is free once let go");
});

Deno.test("An answered job's cell is offered again; none is offered when every cell is in use", () => {
  const claims = newClaims();
  const held = new Set<number>();
  for (let i = 0; i < CLAIM_CELLS; i++) {
    const cell = offerJob(claims, held);
    assert.notEqual(cell, -1);
    held.add(cell);
  }
  assert.equal(offerJob(claims, held), -1);
  assert.equal(claimJob(claims, 3, false), true);
  answeredJob(claims, 3);
  held.delete(3);
  assert.equal(offerJob(claims, held), 3);
});
