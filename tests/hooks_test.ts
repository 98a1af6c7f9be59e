import assert from "node:assert/strict";
import { PyDataset } from "../mod.ts";
import { Numbers } from "./fixtures/numbers.ts";
import { Probe } from "./fixtures/probe.ts";
import { collect, delay, within } from "./_helpers.ts";

Deno.test("PyDataset.onEpochBegin runs before the epoch's first getItem", async () => {
  await using dataset = new Probe(3, { workers: 2 });
  await collect(dataset.epoch());
  assert.equal(dataset.events[0], "begin 1");
  assert.equal(dataset.events.indexOf("begin 1"), 0);
});

Deno.test("PyDataset.onEpochEnd runs once, after the last batch was taken and no getItem runs", async () => {
  class Logged extends PyDataset<number> {
    running = 0;
    log: string[] = [];
    get length(): number {
      return 5;
    }
    async getItem(index: number): Promise<number> {
      this.running++;
      await delay(index === 4 ? 10 : 1); // the last batch is the slowest
      this.running--;
      this.log.push(`got ${index}`);
      return index;
    }
    onEpochEnd(): void {
      this.log.push(`end (running ${this.running})`);
    }
  }
  for (const pause of [0, 3]) {
    await using dataset = new Logged({ workers: 3, maxQueueSize: 2 });
    const reader = dataset.epoch().getReader();
    const read: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      read.push(r.value);
      if (pause) await delay(pause); // a slow reader: the queue holds batches when fetching ends
    }
    assert.deepEqual(read, [0, 1, 2, 3, 4]);
    const end = dataset.log.indexOf("end (running 0)");
    assert.equal(end, dataset.log.length - 1, `onEpochEnd came last: ${dataset.log}`);
    assert.equal(dataset.log.filter((e) => e.startsWith("end")).length, 1);
  }
});

Deno.test("PyDataset.epoch closes once the last batch is taken, without another read", async () => {
  await using dataset = new Probe(4, { workers: 2 });
  const reader = dataset.epoch().getReader();
  for (let i = 0; i < 4; i++) await within(reader.read());
  await within(reader.closed);
  assert.equal(dataset.ends, 1);
  assert.equal((await collect(dataset.epoch())).length, 4, "the next epoch opens at once");
});

Deno.test("PyDataset.onEpochEnd runs once per epoch over many epochs", async () => {
  await using dataset = new Probe(4, { workers: 2, useMultiprocessing: true });
  for (let i = 0; i < 5; i++) await collect(dataset.epoch());
  assert.equal(dataset.begins, 5);
  assert.equal(dataset.ends, 5);
});

Deno.test("PyDataset.onEpochEnd runs when the reader cancels early, after running getItem calls", async () => {
  const dataset = new Probe(50, { workers: 3, maxQueueSize: 2 });
  const reader = dataset.epoch().getReader();
  await reader.read();
  await reader.read();
  await within(reader.cancel());
  assert.equal(dataset.ends, 1);
  const end = dataset.events.indexOf("end 1");
  assert.equal(end, dataset.events.length - 1, "nothing ran after onEpochEnd");
  await delay(10);
  assert.equal(dataset.events.length - 1, end, "nothing ran after cancel() resolved");
  await dataset.close();
});

Deno.test("PyDataset.onEpochEnd runs when a batch fails and when the signal aborts", async () => {
  await using failing = new Numbers(6, { throwAsync: [2] }, { workers: 2 });
  let ends = 0;
  Object.assign(failing, {
    onEpochEnd() {
      ends++;
    },
  });
  await assert.rejects(collect(failing.epoch()));
  assert.equal(ends, 1);

  await using aborted = new Probe(100, { workers: 2 });
  const controller = new AbortController();
  const reader = aborted.epoch({ signal: controller.signal }).getReader();
  await reader.read();
  controller.abort(new Error("stop now"));
  await assert.rejects(within(drain(reader)), /stop now/);
  assert.equal(aborted.ends, 1);
});

async function drain<T>(reader: ReadableStreamDefaultReader<T>): Promise<void> {
  while (!(await reader.read()).done);
}

Deno.test("PyDataset.epoch throws while the previous epoch's stream is open", async () => {
  await using dataset = new Probe(10);
  const reader = dataset.epoch().getReader();
  await reader.read();
  assert.throws(() => dataset.epoch(), {
    name: "Error",
    message: /Cannot open an epoch of Probe as its previous epoch's stream is still open/,
  });
  await reader.cancel();
});

Deno.test("PyDataset.epoch works again once the previous stream closed, errored or was cancelled", async (t) => {
  await t.step("closed", async () => {
    await using dataset = new Probe(3);
    await collect(dataset.epoch());
    assert.equal((await collect(dataset.epoch())).length, 3);
  });
  await t.step("errored", async () => {
    await using dataset = new Numbers(4, { throwSync: [1] });
    await assert.rejects(collect(dataset.epoch()));
    await assert.rejects(collect(dataset.epoch()), /batch 1/);
  });
  await t.step("cancelled", async () => {
    await using dataset = new Probe(30, { workers: 2 });
    const stream = dataset.epoch();
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel();
    assert.equal((await collect(dataset.epoch())).length, 30);
  });
  await t.step("left with break", async () => {
    await using dataset = new Probe(30, { workers: 2, useMultiprocessing: true });
    for await (const _ of dataset.epoch()) break;
    assert.equal((await collect(dataset.epoch())).length, 30);
  });
});

Deno.test("PyDataset hooks may be async", async () => {
  const log: string[] = [];
  class Slow extends PyDataset<number> {
    get length(): number {
      return 2;
    }
    getItem(index: number): number {
      log.push(`get ${index}`);
      return index;
    }
    async onEpochBegin(): Promise<void> {
      await delay(5);
      log.push("begin");
    }
    async onEpochEnd(): Promise<void> {
      await delay(5);
      log.push("end");
    }
  }
  await using dataset = new Slow();
  await collect(dataset.epoch());
  assert.deepEqual(log, ["begin", "get 0", "get 1", "end"]);
});

Deno.test("PyDataset hook errors error the stream", async () => {
  class Broken extends PyDataset<number> {
    constructor(public where: "begin" | "end") {
      super();
    }
    get length(): number {
      return 2;
    }
    getItem(index: number): number {
      return index;
    }
    onEpochBegin(): void {
      if (this.where === "begin") throw new Error("begin broke");
    }
    onEpochEnd(): void {
      if (this.where === "end") throw new Error("end broke");
    }
  }
  await using begin = new Broken("begin");
  await assert.rejects(collect(begin.epoch()), /begin broke/);
  await using end = new Broken("end");
  await assert.rejects(collect(end.epoch()), /end broke/);
  assert.equal((await collect(new Broken("none" as "begin").epoch())).length, 2);
});
