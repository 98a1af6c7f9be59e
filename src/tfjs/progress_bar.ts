/**
 * {@linkcode progressBar}: a `model.fitDataset` callback that prints one
 * line per epoch, with the epoch's loss and metrics, its speed and, for a
 * `PyDataset`, how long training waited for batches.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { show } from "../_describe.ts";
import type { EpochStats } from "../epoch_stats.ts";
import type { PyDataset } from "../py_dataset.ts";

/** Options for {@linkcode progressBar}. */
export interface ProgressBarOptions {
  /**
   * The `PyDataset` that `fitDataset` trains on (through `toTfDataset`):
   * the line then ends with the share of the epoch that training waited
   * for its batches, `loader wait 12%`, from its `stats`, and its `length`
   * is the batches per epoch when nothing else tells. The share sums the
   * `waitMs` and `elapsedMs` that the dataset's epochs added while the
   * epoch's batches were trained, so it is this epoch's, also when a
   * validation pass over the same dataset runs before the epoch's end.
   * Left out of an epoch in which no batch of the dataset was trained.
   *
   * @default {undefined}
   */
  dataset?: PyDataset;
  /**
   * Where the text goes. Not on a terminal (`terminal: false`), it is
   * called once per epoch, at its end, with the line and no line break.
   * On a terminal, it is called with text to print as it is: `"\r"`, the
   * line and `"\x1b[K"` (which clears the rest of the row), and a `"\n"`
   * after that at the epoch's end. Unset, the text goes to stderr
   * (`process.stderr.write`, with a line break added off a terminal), or
   * to `console.log` where there is no `process.stderr` (a browser).
   *
   * @default {undefined}
   */
  write?: (text: string) => void;
  /**
   * Whether to redraw the epoch's line in place as batches are trained,
   * at most every 0.1 s, rather than print it once at the epoch's end.
   * Unset, it is whether stderr is a terminal (`process.stderr.isTTY`),
   * false where there is none.
   *
   * @default {undefined}
   */
  terminal?: boolean;
  /**
   * The batches per epoch, when the caller knows them. Unset, it is
   * `fitDataset`'s `batchesPerEpoch` (or the size of a dataset that tfjs
   * knows to be finite), else the batches of `dataset`'s epoch (its
   * `stats.total`: its shard, from its start) or its `length`; with none of
   * them, the line shows how many batches were trained so far only. A
   * function is asked at each redraw, for a count that is known only once
   * an epoch has begun, such as a response's `x-pydataset-batches`; it may
   * return `undefined` for not known (yet).
   *
   * @default {undefined}
   */
  total?: number | (() => number | undefined);
}

/**
 * The callback that {@linkcode progressBar} returns, for `fitDataset`'s
 * `callbacks`. At run time it is a `tf.Callback`, so that it reads
 * `fitDataset`'s `epochs` and `batchesPerEpoch`; its methods are bound, so
 * a `tf.CustomCallback` may also call them.
 */
export interface ProgressBar {
  /** Begins the epoch's line. */
  onEpochBegin(epoch: number, logs?: Record<string, unknown>): Promise<void>;
  /** Counts the batch and, on a terminal, redraws the line when it is time. */
  onBatchEnd(batch: number, logs?: Record<string, unknown>): Promise<void>;
  /** Prints the epoch's last line. */
  onEpochEnd(epoch: number, logs?: Record<string, unknown>): Promise<void>;
}

/** How often a terminal line is redrawn, at most, in milliseconds. */
const REDRAW_MS = 100;
/**
 * How often the callback lets the event loop run, as tfjs's callbacks made
 * of plain objects do (`yieldEvery: "auto"`).
 */
const YIELD_MS = 125;
/** The cells of a terminal line's bar. */
const BAR_CELLS = 24;

/** The logs tfjs hands a `BaseCallback`: numbers or scalars it disposes after the call. */
type Logs = Record<string, number | tf.Scalar>;

/**
 * A progress bar for `model.fitDataset`: pass it as `callbacks`. It prints
 * one line per epoch; on a terminal (see `terminal`) the line is redrawn in
 * place as batches are trained, elsewhere it is printed once, at the
 * epoch's end.
 *
 * A line's fields are separated by two spaces:
 *
 * ```text
 * epoch 2/8 [##########..............] 40/96 batches  loss 0.4512  acc 0.8130  37.5 batches/s  1.5 s left  loader wait 3%
 * epoch 2/8  96/96 batches  loss 0.4120  acc 0.8301  val_loss 0.3911  val_acc 0.8400  37.9 batches/s  2.5 s  loader wait 2%
 * ```
 *
 * - `epoch 2/8`: the epoch, from 1, of `fitDataset`'s `epochs`.
 * - On a terminal, when the batches per epoch are known, a bar of 24
 *   cells, `#` for the share trained (rounded), `.` for the rest. It stays,
 *   full, on the epoch's last line.
 * - `40/96 batches`: batches trained of the batches per epoch (see
 *   `total`), or `40 batches` when that is not known.
 * - Then the loss and each metric, named as tfjs names them in its logs
 *   (`acc` for `"accuracy"`), with 4 decimals (or in exponent notation
 *   below 0.001): while the epoch runs, the mean over its batches so far,
 *   weighted by batch size as tfjs averages them; at its end, the epoch's
 *   logs that `fitDataset` hands its callbacks, followed by the validation
 *   ones (`val_loss`) when there are.
 * - `37.5 batches/s`: batches trained per second, from the epoch's
 *   beginning to its last batch's end (so not counting validation), with
 *   1 decimal.
 * - The time since the epoch began, `2.5 s`, or while it runs with a known
 *   number of batches, the time left at that speed, `1.5 s left`. With 1
 *   decimal below a minute, then `4m 05s`, from an hour `1h 02m`.
 * - `loader wait 3%`: with `dataset`, the share of the epoch's time that
 *   training waited for the loader, rounded to a whole percent, from 0 to
 *   100 (see `dataset`).
 *
 * It is a `tf.Callback`, so that it reads `fitDataset`'s `epochs` and
 * `batchesPerEpoch`. Pass it alone, or first in an array of other
 * `tf.Callback`s such as `tf.callbacks.earlyStopping()`, with plain
 * callback objects wrapped in `new tf.CustomCallback({...})`: tfjs takes
 * an array whose first element is a `tf.Callback` as it is, and wraps every
 * element of any other array (then this one does not know `epochs` and
 * `batchesPerEpoch`). Like the callbacks tfjs makes of plain objects, it
 * lets the event loop run every 125 ms (`tf.nextFrame`). Off a terminal
 * it reads no tensor until the epoch's end; on a terminal it reads each
 * batch's loss and metrics.
 *
 * @param options Where the lines go, whether to redraw them, the dataset
 * whose loader waits they show and the batches per epoch.
 * @returns A callback for `fitDataset`'s `callbacks`, a `tf.Callback`.
 * @throws {TypeError} An option of the wrong type.
 * @throws {RangeError} A `total` that is not a positive integer.
 *
 * @example Print one line per epoch
 * ```ts
 * import { ndarray, PyDataset } from "@pydataset/pydataset";
 * import { progressBar, toTfDataset, useBackend } from "@pydataset/pydataset/tfjs";
 * import * as tf from "@tensorflow/tfjs";
 * import assert from "node:assert/strict";
 *
 * await useBackend("cpu");
 * class Halves extends PyDataset {
 *   get length(): number {
 *     return 3;
 *   }
 *   getItem(index: number) {
 *     const x = Float32Array.from({ length: 4 }, (_, i) => (index * 4 + i) / 12);
 *     return [ndarray(x, [4, 1]), ndarray(x.map((v) => v / 2), [4, 1])];
 *   }
 * }
 *
 * // Weights from zero, not at random: the same losses in every run.
 * const dense = tf.layers.dense({ inputShape: [1], units: 1, kernelInitializer: "zeros" });
 * const model = tf.sequential({ layers: [dense] });
 * model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
 * await using halves = new Halves();
 * const lines: string[] = [];
 * await model.fitDataset(toTfDataset(halves), {
 *   epochs: 2,
 *   verbose: 0,
 *   callbacks: progressBar({
 *     dataset: halves,
 *     terminal: false,
 *     write: (line) => lines.push(line),
 *   }),
 * });
 * assert.equal(lines.length, 2);
 * assert.match(
 *   lines[1]!,
 *   /^epoch 2\/2  3\/3 batches  loss \d\.\d{4}  [\d.]+ batches\/s  [\d.]+ s  loader wait \d+%$/,
 * );
 * model.dispose();
 * ```
 */
export function progressBar(options: ProgressBarOptions = {}): ProgressBar {
  return new ProgressBarCallback(checkOptions(options));
}

/** The options, checked, with the defaults filled in. */
interface Settings {
  dataset: PyDataset | undefined;
  write: (text: string) => void;
  terminal: boolean;
  total: number | (() => number | undefined) | undefined;
}

class ProgressBarCallback extends tf.Callback implements ProgressBar {
  #settings: Settings;
  #waits: LoaderWaits | undefined;
  #epoch = 0;
  #started = 0;
  #done = 0;
  /** The running sums of the epoch's logs, each times its batch's size. */
  #sums = new Map<string, number>();
  #samples = 0;
  /** When the last batch was trained. */
  #trainedAt = 0;
  #drawn = -Infinity;
  #yielded = -Infinity;

  constructor(settings: Settings) {
    super();
    this.#settings = settings;
    this.#waits = settings.dataset && new LoaderWaits(settings.dataset);
    this.onEpochBegin = this.onEpochBegin.bind(this);
    this.onBatchEnd = this.onBatchEnd.bind(this);
    this.onEpochEnd = this.onEpochEnd.bind(this);
  }

  override onEpochBegin(epoch: number): Promise<void> {
    this.#epoch = epoch;
    this.#started = performance.now();
    this.#trainedAt = this.#started;
    this.#done = 0;
    this.#sums.clear();
    this.#samples = 0;
    this.#drawn = -Infinity;
    this.#waits?.begin();
    return Promise.resolve();
  }

  override async onBatchEnd(_batch: number, logs: Logs = {}): Promise<void> {
    this.#done++;
    this.#trainedAt = performance.now();
    this.#waits?.update();
    if (this.#settings.terminal) await this.#redraw(logs);
    const now = performance.now();
    if (now - this.#yielded >= YIELD_MS) {
      this.#yielded = now;
      await tf.nextFrame();
    }
  }

  override async onEpochEnd(_epoch: number, logs: Logs = {}): Promise<void> {
    const line = this.#line(await resolve(logs), true);
    this.#settings.write(this.#settings.terminal ? `\r${line}\x1b[K\n` : line);
  }

  /** Adds the batch's logs to the running means, and redraws when it is time. */
  async #redraw(logs: Logs): Promise<void> {
    const size = typeof logs.size === "number" && logs.size > 0 ? logs.size : 1;
    for (const [name, value] of await resolve(logs)) {
      this.#sums.set(name, (this.#sums.get(name) ?? 0) + value * size);
    }
    this.#samples += size;
    const now = performance.now();
    if (this.#done > 1 && this.#done !== this.#total() && now - this.#drawn < REDRAW_MS) return;
    this.#drawn = now;
    const means = [...this.#sums].map(([name, sum]): [string, number] => [
      name,
      sum / this.#samples,
    ]);
    this.#settings.write(`\r${this.#line(means, false)}\x1b[K`);
  }

  /** The epoch's line, while it runs or at its `end`. */
  #line(values: [string, number][], end: boolean): string {
    const total = this.#total();
    const done = this.#done;
    const epochs = this.params?.epochs;
    const epoch = `epoch ${this.#epoch + 1}${typeof epochs === "number" ? `/${epochs}` : ""}`;
    const count = total === undefined ? `${done} batches` : `${done}/${total} batches`;
    const head = this.#settings.terminal && total !== undefined
      ? `${epoch} [${bar(done / total)}] ${count}`
      : `${epoch}  ${count}`;
    const seconds = (performance.now() - this.#started) / 1000;
    const rate = done / Math.max((this.#trainedAt - this.#started) / 1000, 1e-6);
    const time = !end && total !== undefined && done < total
      ? `${duration((total - done) / rate)} left`
      : duration(seconds);
    const share = this.#waits?.share();
    return [
      head,
      ...values.map(([name, value]) => `${name} ${decimal(value)}`),
      `${rate.toFixed(1)} batches/s`,
      time,
      ...share === undefined ? [] : [`loader wait ${Math.round(share * 100)}%`],
    ].join("  ");
  }

  /** The batches per epoch, if known. */
  #total(): number | undefined {
    const { total, dataset } = this.#settings;
    const candidates = [
      () => typeof total === "function" ? total() : total,
      () => this.params?.steps,
      () => dataset?.stats?.total,
      () => dataset?.length,
    ];
    for (const candidate of candidates) {
      let value: unknown;
      try {
        value = candidate();
      } catch {
        continue; // a progress bar never fails training
      }
      if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return value;
    }
    return undefined;
  }
}

/**
 * The loader waits of one tfjs epoch: the `waitMs` and `elapsedMs` that the
 * epochs of the dataset read while its batches were trained added. Each
 * `PyDataset` epoch has its own stats object, so a new one is a new epoch
 * of the dataset: what the previous one added is kept, and the new one
 * counts from zero. Only the epochs seen after a trained batch count, so a
 * validation pass after the epoch's last batch does not.
 */
class LoaderWaits {
  #dataset: PyDataset;
  #stats: EpochStats | undefined;
  #base = { waitMs: 0, elapsedMs: 0 };
  #kept = { waitMs: 0, elapsedMs: 0 };
  #trained = false;

  constructor(dataset: PyDataset) {
    this.#dataset = dataset;
  }

  /** At the epoch's beginning: what the dataset's current epoch did before is not this one's. */
  begin(): void {
    this.#stats = this.#dataset.stats;
    this.#base = { waitMs: this.#stats?.waitMs ?? 0, elapsedMs: this.#stats?.elapsedMs ?? 0 };
    this.#kept = { waitMs: 0, elapsedMs: 0 };
    this.#trained = false;
  }

  /** After a batch was trained: follows the epoch of the dataset that gave it. */
  update(): void {
    const stats = this.#dataset.stats;
    if (stats === undefined) return;
    if (stats !== this.#stats) {
      this.#kept = this.#added();
      this.#stats = stats;
      this.#base = { waitMs: 0, elapsedMs: 0 };
    }
    this.#trained = true;
  }

  /** The share of the time the epoch waited, from 0 to 1, if the dataset was read. */
  share(): number | undefined {
    if (!this.#trained) return undefined;
    const { waitMs, elapsedMs } = this.#added();
    return elapsedMs > 0 ? Math.min(Math.max(waitMs / elapsedMs, 0), 1) : undefined;
  }

  #added(): { waitMs: number; elapsedMs: number } {
    const stats = this.#stats;
    return {
      waitMs: this.#kept.waitMs + (stats ? stats.waitMs - this.#base.waitMs : 0),
      elapsedMs: this.#kept.elapsedMs + (stats ? stats.elapsedMs - this.#base.elapsedMs : 0),
    };
  }
}

/**
 * The loss and metrics of logs, as numbers, in tfjs's order but with the
 * validation ones last, without `batch` and `size`; disposes nothing.
 */
async function resolve(logs: Logs): Promise<[string, number][]> {
  const entries = Object.entries(logs).filter(([name]) => name !== "batch" && name !== "size");
  const validation = (name: string) => name.startsWith("val_") ? 1 : 0;
  entries.sort(([a], [b]) => validation(a) - validation(b));
  return await Promise.all(
    entries.map(async ([name, value]): Promise<[string, number]> => [
      name,
      typeof value === "number" ? value : (await value.data())[0]!,
    ]),
  );
}

function bar(share: number): string {
  const filled = Math.min(Math.max(Math.round(share * BAR_CELLS), 0), BAR_CELLS);
  return "#".repeat(filled) + ".".repeat(BAR_CELLS - filled);
}

function decimal(value: number): string {
  return value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential(3) : value.toFixed(4);
}

/** `12.3 s`, `4m 05s` or `1h 02m`. */
function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "? s";
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, "0");
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${two(whole % 60)}s`;
  return `${Math.floor(whole / 3600)}h ${two(Math.floor(whole / 60) % 60)}m`;
}

/** What the default `write` needs of `process.stderr`, in Deno, Node and Bun. */
interface Stderr {
  write(text: string): unknown;
  isTTY?: boolean;
}

function stderr(): Stderr | undefined {
  const process = (globalThis as { process?: { stderr?: Partial<Stderr> } }).process;
  const stream = process?.stderr;
  return typeof stream?.write === "function" ? stream as Stderr : undefined;
}

function checkOptions(options: ProgressBarOptions): Settings {
  const fail = (what: string, value: unknown) =>
    new TypeError(
      `Cannot make a progress bar as ${what}: current value is ${show(value)}`,
    );
  if (typeof options !== "object" || options === null) {
    throw fail("options must be an object", options);
  }
  const { dataset, write, terminal, total } = options;
  if (
    dataset !== undefined &&
    (typeof dataset !== "object" || dataset === null || typeof dataset.epoch !== "function")
  ) {
    throw fail("dataset must be a PyDataset", dataset);
  }
  if (write !== undefined && typeof write !== "function") {
    throw fail("write must be a function", write);
  }
  if (terminal !== undefined && typeof terminal !== "boolean") {
    throw fail("terminal must be a boolean", terminal);
  }
  if (total !== undefined && typeof total !== "number" && typeof total !== "function") {
    throw fail("total must be a number or a function", total);
  }
  if (typeof total === "number" && !(Number.isSafeInteger(total) && total > 0)) {
    throw new RangeError(
      `Cannot make a progress bar as total must be a positive integer: current value is ${total}`,
    );
  }
  const stream = stderr();
  const live = terminal ?? stream?.isTTY === true;
  const print = stream
    ? (text: string) => void stream.write(live ? text : `${text}\n`)
    : (text: string) => console.log(text);
  return { dataset, write: write ?? print, terminal: live, total };
}
