import assert from "node:assert/strict";
import { BatchError } from "../mod.ts";
import { buffersIn } from "../src/_buffers_in.ts";
import { prepareTransfer, reachableBuffers } from "../src/fetch/worker/_transfer.ts";
import { Cached } from "./fixtures/cached.ts";
import { collect, within } from "./_helpers.ts";

Deno.test("prepareTransfer transfers a view that spans its own buffer", () => {
  const x = new Float32Array(8);
  const y = new Int32Array(2);
  const { value, transfer } = prepareTransfer({ x, pair: [y, 3] }, new Set());
  assert.deepEqual(transfer, [x.buffer, y.buffer]);
  const v = value as { x: Float32Array; pair: [Int32Array, number] };
  assert.equal(v.x, x, "sent as is, no copy");
  assert.equal(v.pair[0], y);
});

Deno.test("prepareTransfer copies a subarray: only its bytes, never the whole buffer", () => {
  const cache = new Float32Array(1_000).map((_, i) => i);
  const part = cache.subarray(10, 20);
  const { value, transfer } = prepareTransfer([part], new Set());
  const [copy] = value as [Float32Array];
  assert.notEqual(copy, part);
  assert.deepEqual([...copy], [...part]);
  assert.equal(copy.buffer.byteLength, 40);
  assert.deepEqual(transfer, [copy.buffer]);
  assert.ok(!transfer.includes(cache.buffer as ArrayBuffer));
});

Deno.test("prepareTransfer copies a whole view of a buffer the dataset keeps", () => {
  const kept = new Float64Array(4).fill(1);
  const dataset = { cache: new Map([[0, kept]]) };
  const { value, transfer } = prepareTransfer(kept, reachableBuffers(dataset, buffersIn(kept)));
  assert.notEqual(value, kept);
  assert.deepEqual(value, kept);
  assert.ok(!transfer.includes(kept.buffer));
  structuredClone(value, { transfer });
  assert.equal(kept.length, 4, "the kept buffer is intact after the transfer");
});

Deno.test("prepareTransfer shares a SharedArrayBuffer and rejects a detached one", () => {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  assert.deepEqual(prepareTransfer(shared, new Set()), { value: shared, transfer: [] });
  const gone = new Float32Array(4);
  structuredClone(gone, { transfer: [gone.buffer] });
  assert.throws(() => prepareTransfer([gone], new Set()), {
    name: "TypeError",
    message: /detached ArrayBuffer/,
  });
});

Deno.test("prepareTransfer rebuilds containers and keeps shared identity", () => {
  const x = new Uint8Array(4);
  const batch = { a: x, b: x, tag: "t" };
  const { value, transfer } = prepareTransfer(batch, new Set());
  assert.notEqual(value, batch, "the batch object itself is not altered");
  const v = value as typeof batch;
  assert.equal(v.a, v.b);
  assert.equal(transfer.length, 1);
});

Deno.test("reachableBuffers finds a batch's buffers in fields, arrays, maps and sets", () => {
  const a = new Float32Array(1);
  const b = new ArrayBuffer(2);
  const c = new Uint8Array(3);
  const d = new Int16Array(4);
  const fresh = new Float64Array(5);
  const dataset = {
    a,
    nested: { list: [1, b] },
    map: new Map([["k", c]]),
    set: new Set([d]),
  };
  const among = new Set([a.buffer, b, c.buffer, d.buffer, fresh.buffer]);
  assert.deepEqual(reachableBuffers(dataset, among), new Set([a.buffer, b, c.buffer, d.buffer]));
  assert.deepEqual(reachableBuffers(dataset, new Set([fresh.buffer])), new Set());
});

Deno.test("PyDataset workers transfer fresh batches and keep cached ones intact", async () => {
  for (const use of ["fresh", "subarray", "whole"] as const) {
    const n = use === "whole" ? 1 : 4;
    await using dataset = new Cached(n, use, { workers: 2, useMultiprocessing: true });
    for (let epoch = 0; epoch < 3; epoch++) {
      const batches = await within(collect(dataset.epoch()));
      assert.equal(batches.length, n);
      batches.forEach((batch, index) => {
        assert.equal(batch.length, 1024, `${use}, epoch ${epoch}`);
        assert.ok(batch.every((v) => v === index), `${use}, epoch ${epoch}`);
        assert.equal(batch.buffer.byteLength, 4096, "a compact buffer, not the cache");
      });
    }
  }
});

Deno.test("PyDataset workers fail clearly when a cache outside the instance was transferred", async () => {
  await using dataset = new Cached(2, "module", { useMultiprocessing: true });
  assert.equal((await collect(dataset.epoch())).length, 2, "first epoch: fresh arrays");
  await assert.rejects(collect(dataset.epoch()), (error) => {
    assert.ok(error instanceof BatchError);
    assert.match(error.message, /detached ArrayBuffer/);
    return true;
  });
});
