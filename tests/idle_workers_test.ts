// Idle workers end by themselves, so that a script that never closes its
// dataset still exits; epochs opened back to back keep the same workers.
// Workers are counted by IdleThreads: each thread that runs getItem adds
// itself once to a shared counter, so new workers make it grow.

import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { toTfDataset } from "../tfjs.ts";
import { IdleThreads } from "./fixtures/idle_threads.ts";
import { collect, delay } from "./_helpers.ts";

const fixture = new URL("./fixtures/idle_threads.ts", import.meta.url).href;

/**
 * Runs `source` as main.ts with `deno run --allow-read` in a fresh folder
 * whose deno.json enables worker-options, as a user's project would, and
 * returns its exit code, output and wall time; it is killed after `limitMs`.
 */
async function runScript(
  source: string,
  limitMs: number,
): Promise<{ code: number; output: string; ms: number }> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ unstable: ["worker-options"] }));
    await Deno.writeTextFile(`${dir}/main.ts`, source);
    const started = performance.now();
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "main.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(limitMs),
    }).output();
    const ms = performance.now() - started;
    const decoder = new TextDecoder();
    return { code, output: decoder.decode(stdout) + decoder.decode(stderr), ms };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A script that reads one worker-mode epoch and never closes the dataset. */
function forgetfulScript(options: string): string {
  return `import { IdleThreads } from ${JSON.stringify(fixture)};
const dataset = new IdleThreads(4, 0, ${options});
let batches = 0;
let read = 0;
for await (const _ of dataset.epoch()) {
  batches++;
  read = performance.now(); // before the epoch ends and the idle time starts
}
console.log("read", batches, "batches in", dataset.started(), "workers");
globalThis.addEventListener("unload", () => {
  console.log("exited after", Math.round(performance.now() - read), "ms idle");
});
`;
}

Deno.test("A worker-mode script that never calls close() exits once its workers are idle", async (t) => {
  // Generous bounds: a loaded machine may be slow to start Deno, never fast.
  const cases = [
    { name: "idleTimeout: 200", options: "{ idleTimeout: 200 }", idle: 200, bound: 20_000 },
    { name: "the default, 5 s", options: "{}", idle: 5_000, bound: 5_000 + 25_000 },
  ];
  const runs = cases.map(({ options, bound }) =>
    runScript(forgetfulScript(options), bound + 10_000)
  );
  for (const [i, { name, idle, bound }] of cases.entries()) {
    await t.step(name, async () => {
      const { code, output, ms } = await runs[i]!;
      assert.equal(code, 0, output);
      assert.match(output, /read 4 batches in 2 workers/);
      const waited = Number(/exited after (\d+) ms idle/.exec(output)?.[1]);
      // Not before the idle time (timers never fire early; 1 ms of rounding).
      assert.ok(waited >= idle - 1, `exited after ${waited} ms idle: ${output}`);
      assert.ok(ms < bound, `took ${Math.round(ms)} ms, over ${bound} ms`);
    });
  }
});

Deno.test("Epochs opened back to back reuse the same workers", async () => {
  await using dataset = new IdleThreads(6);
  for (let epoch = 0; epoch < 3; epoch++) assert.equal((await collect(dataset.epoch())).length, 6);
  assert.equal(dataset.started(), 2);
});

Deno.test("Idle workers end after idleTimeout, and the next epoch starts new ones", async () => {
  await using dataset = new IdleThreads(4, 0, { idleTimeout: 100 });
  await collect(dataset.epoch());
  assert.equal(dataset.started(), 2);
  // A later timer than the idle one: it fires after the idle timer has.
  await delay(400);
  await collect(dataset.epoch());
  assert.equal(dataset.started(), 4, "two new workers");
  await collect(dataset.epoch());
  assert.equal(dataset.started(), 4, "kept for the epoch right after");
});

Deno.test("idleTimeout: Infinity keeps idle workers until close()", async (t) => {
  // 2 ** 40 ms is past what setTimeout can wait: it would fire at once.
  for (const idleTimeout of [Infinity, 2 ** 40]) {
    await t.step(String(idleTimeout), async () => {
      await using dataset = new IdleThreads(4, 0, { idleTimeout });
      await collect(dataset.epoch());
      await delay(300);
      await collect(dataset.epoch());
      assert.equal(dataset.started(), 2);
    });
  }
});

Deno.test("An open epoch keeps its workers however slowly it is read", async () => {
  await using dataset = new IdleThreads(6, 0, { idleTimeout: 20 });
  let batches = 0;
  for await (const _ of dataset.epoch()) {
    batches++;
    await delay(100); // the workers wait on the reader far longer than idleTimeout
  }
  assert.equal(batches, 6);
  assert.equal(dataset.started(), 2);
});

Deno.test("close() ends idle workers at once and clears the idle timer", async () => {
  // A timer left running for a minute would fail this test's op sanitizer.
  await using dataset = new IdleThreads(4, 0, { idleTimeout: 60_000 });
  await collect(dataset.epoch());
  await dataset.close();
  await collect(dataset.epoch());
  assert.equal(dataset.started(), 4, "close() ended the first two");
});

function tinyModel(): tf.LayersModel {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 1 })] });
  model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
  return model;
}

Deno.test("fitDataset with validation keeps both datasets' workers through every epoch", async () => {
  // Each pass takes about 1.5 s (4 batches of 750 ms on 2 workers), longer
  // than idleTimeout: one dataset's pass is the other's idle gap between
  // epochs. The gaps between passes (tfjs's own work) are idle time, so
  // idleTimeout leaves them a second on a busy machine.
  const idleTimeout = 1_000;
  await using train = new IdleThreads(4, 750, { idleTimeout });
  await using validation = new IdleThreads(4, 750, { idleTimeout });
  const model = tinyModel();
  try {
    const history = await model.fitDataset(toTfDataset(train), {
      epochs: 3,
      validationData: toTfDataset(validation),
      verbose: 0,
    });
    assert.equal(history.history.val_loss?.length, 3);
  } finally {
    model.dispose();
  }
  assert.equal(train.started(), 2, "the training workers were kept");
  assert.equal(validation.started(), 2, "the validation workers were kept");
  // Once no pass is in progress, idleTimeout runs for both.
  await delay(3 * idleTimeout);
  await collect(train.epoch());
  await collect(validation.epoch());
  assert.equal(train.started(), 4);
  assert.equal(validation.started(), 4);
});
