// The browser demo in a real browser: Debian's Chromium, headless, driven by
// playwright-core. Run by `deno task test-browser` (CI runs it), with -A:
// playwright-core reads /proc files, which Deno allows only with all
// permissions.

import assert from "node:assert/strict";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { startBrowserDemo } from "../examples/browser/server.ts";
import { makeShapes } from "../examples/shapes.ts";
import { delay, waitUntilStill, within } from "./_helpers.ts";

const CHROMIUM = "/usr/bin/chromium";

/** What the page shows, from `globalThis.demo` (see examples/browser/app.ts). */
interface PageDemo {
  state: string;
  backend: string;
  epochs: {
    epoch: number;
    expected: number;
    received: number;
    loss?: number;
    heldOutAccuracy?: number;
    finished?: boolean;
  }[];
  batches: number;
  waitedMs: number;
  losses: number[];
  smoothedLosses: number[];
  heldOutAccuracy?: number;
  error?: string;
}

const readDemo = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { demo: PageDemo }).demo);

/** A fresh headless Chromium with its own profile; disposing it removes both. */
async function launch() {
  const profile = await Deno.makeTempDir();
  let context: BrowserContext | undefined;
  const dispose = async () => {
    try {
      await context?.close();
    } finally {
      await Deno.remove(profile, { recursive: true });
    }
  };
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    context.setDefaultTimeout(30_000);
    const page = context.pages()[0] ?? await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
    });
    return { page, problems, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Why the test cannot run here, if it cannot. */
async function chromiumMissing(): Promise<string | undefined> {
  const info = await Deno.stat(CHROMIUM).catch(() => undefined);
  if (info?.isFile && (info.mode ?? 0) & 0o111) return undefined;
  return `Skipped: no executable ${CHROMIUM} on this machine (apt-get install chromium; .ci/run does)`;
}

/**
 * How often the page is polled, in ms: on a timer, not on animation frames
 * (Playwright's default), since a page busy training on a loaded machine
 * draws a frame only between batches, seconds apart.
 */
const POLL_MS = 50;

/** Waits (bounded) until the page's state is one of `states`. */
async function stateIn(page: Page, states: string[], timeout = 30_000): Promise<void> {
  await page.waitForFunction(
    (states) => states.includes((globalThis as { demo?: PageDemo }).demo?.state ?? ""),
    states,
    { timeout, polling: POLL_MS },
  );
}

/** Waits (bounded) until the page has drawn the state `state` (it draws on animation frames). */
async function drawn(page: Page, state: string, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    (state) =>
      (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } } })
        .document.querySelector("#status").textContent === state,
    state,
    { timeout, polling: POLL_MS },
  );
}

/** The numbers of tick labels: "0.5" → 0.5, "75%" → 75. */
const numbers = (labels: string[]) => labels.map((label) => Number(label.replace(/%$/, "")));

/** The total variation of a series: the sum of its steps' sizes. */
const variation = (values: number[]) =>
  values.slice(1).reduce((sum, value, i) => sum + Math.abs(value - values[i]!), 0);

/**
 * Checks the page's chart through the DOM, against what the page trained
 * (`shown`): the axes' labels and ticks, a marker and a held-out accuracy
 * per finished epoch, the raw and smoothed loss of every batch.
 */
async function checkDashboard(page: Page, shown: PageDemo): Promise<void> {
  const texts = (selector: string) => page.locator(`#chart ${selector}`).allTextContents();
  const attributes = async (selector: string, name: string) => {
    const locator = page.locator(`#chart ${selector}`);
    const values = [];
    for (let i = 0; i < await locator.count(); i++) {
      values.push(await locator.nth(i).getAttribute(name));
    }
    return values;
  };
  assert.deepEqual(await texts(".x-axis .axis-label"), ["batches"]);
  assert.deepEqual(await texts(".loss-axis .axis-label"), ["loss"]);
  assert.deepEqual(await texts(".accuracy-axis .axis-label"), ["held-out accuracy"]);
  const total = shown.batches;
  const xTicks = numbers(await texts(".x-axis .tick"));
  assert.ok(xTicks.length >= 3 && xTicks[0] === 0, `x ticks: ${xTicks}`);
  assert.ok(xTicks.every((tick, i) => i === 0 || tick > xTicks[i - 1]!), `x ticks: ${xTicks}`);
  assert.ok(xTicks.at(-1)! <= total && xTicks.at(-1)! > total / 2, `x ticks: ${xTicks}`);
  const lossTicks = numbers(await texts(".loss-axis .tick"));
  assert.ok(lossTicks.length >= 3 && lossTicks[0] === 0, `loss ticks: ${lossTicks}`);
  assert.ok(lossTicks.every((tick, i) => i === 0 || tick > lossTicks[i - 1]!), `${lossTicks}`);
  assert.deepEqual(await texts(".accuracy-axis .tick"), ["0%", "25%", "50%", "75%", "100%"]);

  // One marker per finished epoch, at the batches trained by its end.
  const finished = shown.epochs.filter((epoch) => epoch.finished);
  assert.equal(finished.length, shown.epochs.length, "every epoch finished");
  assert.deepEqual(
    await texts(".epoch-marker text"),
    finished.map((_, i) => `epoch ${i + 1}`),
  );
  let trained = 0;
  assert.deepEqual(
    await attributes(".epoch-marker", "data-batches"),
    finished.map((epoch) => String(trained += epoch.received)),
  );
  // The held-out accuracy of each epoch, as the page measured it.
  for (const epoch of finished) {
    assert.ok(
      epoch.heldOutAccuracy! > 0 && epoch.heldOutAccuracy! <= 1,
      `${epoch.heldOutAccuracy}`,
    );
  }
  assert.deepEqual(
    await texts(".held-out-point text"),
    finished.map((epoch) => `${(epoch.heldOutAccuracy! * 100).toFixed(1)}%`),
  );
  assert.deepEqual(
    await attributes(".held-out-point", "data-epoch"),
    finished.map((_, i) => String(i + 1)),
  );
  assert.equal(shown.heldOutAccuracy, finished.at(-1)!.heldOutAccuracy);
  assert.equal(
    await page.textContent("#held-out"),
    `${(shown.heldOutAccuracy! * 100).toFixed(1)}% after epoch ${finished.length}`,
  );

  // The raw loss of every batch, and its moving average (α = 0.1, as in
  // examples/browser/chart.ts), each a line of a point per batch.
  const { losses, smoothedLosses } = shown;
  assert.equal(losses.length, total);
  assert.equal(smoothedLosses.length, total);
  assert.ok(losses.every(Number.isFinite), "every batch has a loss");
  let average = losses[0]!;
  losses.forEach((loss, i) => {
    if (i > 0) average = 0.1 * loss + 0.9 * average;
    assert.ok(Math.abs(smoothedLosses[i]! - average) < 1e-9, `smoothed loss ${i}`);
  });
  assert.ok(variation(smoothedLosses) < variation(losses), "the smoothed loss is smoother");
  for (const line of [".loss-raw", ".loss-smoothed"]) {
    const points = (await attributes(`polyline${line}`, "points"))[0] ?? "";
    assert.equal(points.split(" ").filter(Boolean).length, total, `the points of ${line}`);
  }
  const legend = await texts(".legend text");
  assert.deepEqual(legend, [
    "raw loss",
    "smoothed loss (moving average, α = 0.1)",
    "held-out accuracy",
  ]);
}

/** Waits (bounded) until the page has received at least `count` batches. */
async function received(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (count) => ((globalThis as { demo?: PageDemo }).demo?.batches ?? 0) >= count,
    count,
    { polling: POLL_MS },
  );
}

Deno.test("The browser demo trains in headless Chromium, and a paused page holds back the server", async (t) => {
  const missing = await chromiumMissing();
  if (missing) {
    console.warn(missing);
    await t.step({ name: "skipped: no Chromium", ignore: true, fn: () => {} });
    return;
  }
  const dir = await Deno.makeTempDir();
  try {
    // 1,500 images per class: 4,800 to train on, in 150 batches of 32.
    await makeShapes(`${dir}/shapes`, 1500);
    await t.step("trains: every batch of every epoch arrives, the loss falls", async () => {
      const demo = await startBrowserDemo({
        dir: `${dir}/shapes`,
        bundle: `${dir}/app.js`,
        port: 0,
      });
      try {
        await using browser = await launch();
        const { page, problems } = browser;
        await page.goto(`${demo.url}?epochs=2&backend=cpu`);
        await stateIn(page, ["ready"]);
        await page.click("#train");
        // Pause and Resume on the way: the page's reading stops, then goes on.
        await received(page, 20);
        await page.click("#pause");
        await stateIn(page, ["paused"]);
        const before = (await readDemo(page)).batches;
        await delay(500);
        assert.equal((await readDemo(page)).batches, before, "no batch read while paused");
        await page.click("#pause");
        await stateIn(page, ["done", "failed"], 120_000);
        const shown = await readDemo(page);
        // The screenshot once the page has drawn its last state, even a failure.
        await drawn(page, shown.state);
        await Deno.mkdir(".cache/browser", { recursive: true });
        await page.screenshot({ path: ".cache/browser/demo.png", fullPage: true });
        assert.equal(shown.error, undefined, `the page failed: ${shown.error}`);
        assert.equal(shown.state, "done");
        assert.equal(await page.textContent("#error"), "", "the page shows no error");
        assert.deepEqual(problems, []);
        assert.deepEqual(shown.epochs.map((epoch) => epoch.epoch), [0, 1]);
        for (const epoch of shown.epochs) {
          assert.equal(epoch.expected, 150, "4,800 images in batches of 32");
          assert.equal(epoch.received, epoch.expected, `epoch ${epoch.epoch}`);
        }
        const losses = shown.epochs.map((epoch) => epoch.loss!);
        assert.ok(losses.at(-1)! < losses[0]!, `the loss fell: ${losses}`);
        assert.ok(shown.heldOutAccuracy! > 0.25, `better than chance: ${shown.heldOutAccuracy}`);
        await checkDashboard(page, shown);
        const heldOut = shown.epochs.map((epoch) => epoch.heldOutAccuracy!.toFixed(3));
        console.log(
          `trained in Chromium (${shown.backend}): losses ${
            losses.map((loss) => loss.toFixed(3))
          }, held-out accuracy ${heldOut}, ${shown.batches} batches, ` +
            `waited ${(shown.waitedMs / 1000).toFixed(2)} s; server getItem calls ${demo.calls()}`,
        );
      } finally {
        await within(demo.close(), 10_000, "the demo server's close");
      }
    });

    await t.step(
      "a paused page: the server's getItem calls stop, far short of the epoch",
      async () => {
        // At 96×96 the 150 batches are of 3.4 MiB (96×96×3 floats × 32), 500
        // MiB an epoch: far more than the browser and the kernel buffer.
        const demo = await startBrowserDemo({
          dir: `${dir}/shapes`,
          bundle: `${dir}/app.js`,
          port: 0,
          size: 96,
          maxQueueSize: 2,
        });
        try {
          await using browser = await launch();
          const { page } = browser;
          await page.goto(`${demo.url}?epochs=1&backend=cpu`);
          await stateIn(page, ["ready"]);
          await page.click("#train");
          await received(page, 2);
          // A click event dispatched in the page: Playwright's click waits for
          // two steady animation frames first, which a page training at 96×96
          // on a busy machine may not draw within its 30 s.
          await page.dispatchEvent("#pause", "click");
          await stateIn(page, ["paused"]);
          // Still for 5 s: the server has stopped, not paused between batches.
          // Until the page's last training step ends, Chromium keeps the
          // machine's cores busy, and a loaded server's batch can take
          // seconds (2 s of quiet once came at 15 calls of an eventual 23).
          const paused = await waitUntilStill(demo.calls, 5_000, 60_000);
          await delay(2_000);
          assert.equal(demo.calls(), paused, "no getItem call while the page stays paused");
          const { batches, epochs } = await readDemo(page);
          assert.equal(epochs[0]!.expected, 150);
          // Ahead of the page: the server's queue and workers, and what the
          // network holds (Chromium keeps tens of MiB of a response the page
          // does not read; 256 MiB is 76 batches).
          const batchBytes = 32 * 96 * 96 * 3 * 4;
          const ahead = paused - batches;
          assert.ok(
            ahead <= 2 + 2 + Math.ceil(256 * 2 ** 20 / batchBytes),
            `${paused} getItem calls for ${batches} batches read`,
          );
          assert.ok(paused < 150, `${paused} getItem calls: the whole epoch was fetched`);
          console.log(
            `paused after ${batches} batches: the server stopped at ${paused} getItem calls of 150 ` +
              `(${ahead} ahead of the page, ${(ahead * batchBytes / 2 ** 20).toFixed(0)} MiB)`,
          );
        } finally {
          // Closing the page cancels its response: the epoch ends.
          await within(demo.close(), 10_000, "the demo server's close");
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
