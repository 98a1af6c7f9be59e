/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The page's chart, drawn as SVG with no library: the loss of each batch
 * (raw, and smoothed) against the batches trained, on the left axis, with
 * the epochs' ends marked, and the held-out accuracy measured at the end of
 * each epoch, on the right axis (0–100%).
 *
 * The elements carry classes a test can read: `.x-axis`, `.loss-axis` and
 * `.accuracy-axis` (each with `text.tick` and `text.axis-label`),
 * `polyline.loss-raw`, `polyline.loss-smoothed`, `g.epoch-marker` and
 * `g.held-out-point` (one per finished epoch, with `data-epoch`, 1-based).
 *
 * @module
 */

/**
 * The smoothing factor of the smoothed loss, an exponential moving average:
 * `smoothed[0] = loss[0]`, then `smoothed[i] = α·loss[i] + (1 − α)·smoothed[i − 1]`,
 * with α = 0.1 — about the last 10 batches' loss (the weights of batches
 * further back fall by a factor of e every 10 batches). It runs on across
 * epochs, as the batches do. Starting from the first loss, not from 0, it
 * needs no bias correction.
 */
export const SMOOTHING = 0.1;

/** The next smoothed loss, after `previous` (undefined for the first batch). */
export function smooth(previous: number | undefined, loss: number): number {
  if (previous === undefined || !Number.isFinite(previous)) return loss;
  if (!Number.isFinite(loss)) return previous;
  return SMOOTHING * loss + (1 - SMOOTHING) * previous;
}

/** One finished epoch, as the chart marks it. */
export interface ChartEpoch {
  /** Batches trained when the epoch ended, counting every epoch so far. */
  endBatch: number;
  /** Accuracy on the held-out images after the epoch, from 0 to 1. */
  heldOutAccuracy?: number;
}

/** What the chart draws. */
export interface ChartData {
  /** The training loss of each batch, in order. */
  losses: readonly number[];
  /** Their exponential moving average (see {@linkcode SMOOTHING}). */
  smoothed: readonly number[];
  /** The batches the whole run will train: the x axis's extent. */
  totalBatches: number;
  /** The epochs finished so far. */
  epochs: readonly ChartEpoch[];
}

const SVG = "http://www.w3.org/2000/svg";
/** The chart's viewBox, and its plotting area inside it. */
const WIDTH = 640;
const HEIGHT = 300;
const LEFT = 52;
const RIGHT = WIDTH - 64;
const TOP = 34;
const BOTTOM = HEIGHT - 46;

const COLORS = {
  axis: "#6b7280",
  grid: "#e5e7eb",
  raw: "#f4b393",
  smoothed: "#c2410c",
  accuracy: "#1d4ed8",
  epoch: "#94a3b8",
  background: "#fbfcfe",
};

/** An SVG element with attributes and, optionally, text. */
function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, typeof value === "number" ? String(round(value)) : value);
  }
  if (text !== undefined) element.textContent = text;
  return element;
}

const round = (value: number) => Math.round(value * 10) / 10;

/** Text that stays legible over lines: a halo of the background's colour. */
const halo = { stroke: COLORS.background, "stroke-width": 3, "paint-order": "stroke" };

/** A step of 1, 2 or 5 × 10ⁿ that cuts `[0, max]` into about `count` parts. */
function niceStep(max: number, count: number): number {
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].find((m) => m * power >= rough)! * power;
  return step;
}

/** The ticks from 0 to `max` (included when it falls on a step), `step` apart. */
function ticks(max: number, step: number): number[] {
  const values: number[] = [];
  for (let i = 0; i * step <= max * (1 + 1e-9); i++) values.push(i * step);
  return values;
}

/** The decimals a tick label needs for `step`. */
const decimals = (step: number) => Math.max(0, -Math.floor(Math.log10(step) + 1e-9));

/** The points of a polyline through `values`, batch i at x = i + 1. */
function points(values: readonly number[], x: (b: number) => number, y: (v: number) => number) {
  const pairs: string[] = [];
  values.forEach((value, i) => {
    if (Number.isFinite(value)) pairs.push(`${round(x(i + 1))},${round(y(value))}`);
  });
  return pairs.join(" ");
}

/** The x axis: batches trained, with ticks. */
function xAxis(total: number, x: (b: number) => number): SVGGElement {
  const group = svg("g", { class: "axis x-axis" });
  group.append(svg("line", { x1: LEFT, x2: RIGHT, y1: BOTTOM, y2: BOTTOM, stroke: COLORS.axis }));
  if (total > 0) {
    const step = Math.max(1, niceStep(total, 6));
    for (const value of ticks(total, step)) {
      group.append(
        svg("line", {
          x1: x(value),
          x2: x(value),
          y1: BOTTOM,
          y2: BOTTOM + 4,
          stroke: COLORS.axis,
        }),
        svg(
          "text",
          { class: "tick", x: x(value), y: BOTTOM + 16, "text-anchor": "middle" },
          `${value}`,
        ),
      );
    }
  }
  group.append(
    svg("text", {
      class: "axis-label",
      x: (LEFT + RIGHT) / 2,
      y: HEIGHT - 8,
      "text-anchor": "middle",
    }, "batches"),
  );
  return group;
}

/** The left axis: the loss, from 0, with grid lines. */
function lossAxis(top: number, step: number, y: (v: number) => number): SVGGElement {
  const group = svg("g", { class: "axis loss-axis" });
  for (const value of ticks(top, step)) {
    group.append(
      svg("line", { x1: LEFT, x2: RIGHT, y1: y(value), y2: y(value), stroke: COLORS.grid }),
      svg("line", { x1: LEFT - 4, x2: LEFT, y1: y(value), y2: y(value), stroke: COLORS.axis }),
      svg("text", {
        class: "tick",
        x: LEFT - 7,
        y: y(value) + 4,
        "text-anchor": "end",
      }, value.toFixed(decimals(step))),
    );
  }
  group.append(
    svg("line", { x1: LEFT, x2: LEFT, y1: TOP, y2: BOTTOM, stroke: COLORS.axis }),
    svg("text", {
      class: "axis-label",
      transform: `translate(14 ${(TOP + BOTTOM) / 2}) rotate(-90)`,
      "text-anchor": "middle",
      fill: COLORS.smoothed,
    }, "loss"),
  );
  return group;
}

/** The right axis: the held-out accuracy, 0–100%. */
function accuracyAxis(y: (accuracy: number) => number): SVGGElement {
  const group = svg("g", { class: "axis accuracy-axis", fill: COLORS.accuracy });
  for (const value of [0, 0.25, 0.5, 0.75, 1]) {
    group.append(
      svg("line", { x1: RIGHT, x2: RIGHT + 4, y1: y(value), y2: y(value), stroke: COLORS.axis }),
      svg("text", { class: "tick", x: RIGHT + 7, y: y(value) + 4 }, `${value * 100}%`),
    );
  }
  group.append(
    svg("line", { x1: RIGHT, x2: RIGHT, y1: TOP, y2: BOTTOM, stroke: COLORS.axis }),
    svg("text", {
      class: "axis-label",
      transform: `translate(${WIDTH - 10} ${(TOP + BOTTOM) / 2}) rotate(90)`,
      "text-anchor": "middle",
    }, "held-out accuracy"),
  );
  return group;
}

/** The legend, above the plot. */
function legend(): SVGGElement {
  const group = svg("g", { class: "legend" });
  const line = (x: number, color: string, width: number) =>
    svg("line", { x1: x, x2: x + 22, y1: 14, y2: 14, stroke: color, "stroke-width": width });
  group.append(
    line(LEFT, COLORS.raw, 1.5),
    svg("text", { x: LEFT + 28, y: 18 }, "raw loss"),
    line(LEFT + 100, COLORS.smoothed, 2.5),
    svg("text", { x: LEFT + 128, y: 18 }, `smoothed loss (moving average, α = ${SMOOTHING})`),
    svg("circle", { cx: LEFT + 404, cy: 14, r: 4, fill: COLORS.accuracy, stroke: "white" }),
    svg("text", { x: LEFT + 414, y: 18 }, "held-out accuracy"),
  );
  return group;
}

/** A marker at each epoch's end, labelled, and the held-out accuracy measured there. */
function epochMarks(
  epochs: readonly ChartEpoch[],
  x: (b: number) => number,
  y: (accuracy: number) => number,
): [SVGGElement, SVGGElement] {
  const markers = svg("g", { class: "epochs" });
  const accuracies = svg("g", { class: "held-out", fill: COLORS.accuracy });
  const line: string[] = [];
  epochs.forEach(({ endBatch, heldOutAccuracy }, i) => {
    const at = x(endBatch);
    const marker = svg("g", {
      class: "epoch-marker",
      "data-epoch": i + 1,
      "data-batches": endBatch,
    });
    marker.append(
      svg("line", {
        x1: at,
        x2: at,
        y1: TOP,
        y2: BOTTOM,
        stroke: COLORS.epoch,
        "stroke-dasharray": "4 3",
      }),
      svg(
        "text",
        { x: at - 4, y: TOP + 11, "text-anchor": "end", fill: "#475569", ...halo },
        `epoch ${i + 1}`,
      ),
    );
    markers.append(marker);
    if (heldOutAccuracy === undefined || !Number.isFinite(heldOutAccuracy)) return;
    const height = y(heldOutAccuracy);
    line.push(`${round(at)},${round(height)}`);
    const point = svg("g", { class: "held-out-point", "data-epoch": i + 1 });
    // Below the point when above it would run into the epoch's label.
    const labelY = height < TOP + 30 ? height + 16 : height - 8;
    point.append(
      svg("circle", { cx: at, cy: height, r: 4.5, stroke: "white", "stroke-width": 1.5 }),
      svg(
        "text",
        { x: at - 7, y: labelY, "text-anchor": "end", "font-weight": 600, ...halo },
        `${(heldOutAccuracy * 100).toFixed(1)}%`,
      ),
    );
    accuracies.append(point);
  });
  if (line.length > 1) {
    accuracies.prepend(
      svg("polyline", {
        class: "held-out-line",
        points: line.join(" "),
        fill: "none",
        stroke: COLORS.accuracy,
        "stroke-width": 1,
        "stroke-dasharray": "2 3",
      }),
    );
  }
  return [markers, accuracies];
}

/**
 * The loss the left axis reaches up to. Outliers are left out, as
 * TensorBoard does: the first batches' loss can be several times the rest's
 * and would flatten the curve. With 20 batches or more, the axis reaches the
 * raw loss's 95th percentile or the smoothed loss's highest value, whichever
 * is higher; the raw line is clipped above it.
 */
function lossScale({ losses, smoothed }: ChartData): number {
  const finite = losses.filter(Number.isFinite).sort((a, b) => a - b);
  const highest = (values: readonly number[]) =>
    values.reduce((a, b) => Number.isFinite(b) ? Math.max(a, b) : a, 0);
  if (finite.length < 20) return highest(finite) || 1;
  const p95 = finite[Math.floor(0.95 * (finite.length - 1))]!;
  return Math.max(p95, highest(smoothed)) || 1;
}

/** Redraws `chart` (an `<svg>`) from `data`. */
export function drawChart(chart: SVGSVGElement, data: ChartData): void {
  const total = Math.max(data.totalBatches, data.losses.length);
  const x = (batches: number) => LEFT + (RIGHT - LEFT) * batches / Math.max(1, total);
  const highest = lossScale(data);
  const step = niceStep(highest, 4);
  const top = Math.ceil(highest / step - 1e-9) * step;
  const yLoss = (loss: number) => BOTTOM - (BOTTOM - TOP) * Math.max(loss, 0) / top;
  const yAccuracy = (accuracy: number) => BOTTOM - (BOTTOM - TOP) * accuracy;
  // The raw loss under the epochs' markers, the smoothed loss over them, the
  // held-out accuracy on top.
  const [markers, accuracies] = epochMarks(data.epochs, x, yAccuracy);
  const clip = svg("clipPath", { id: "plot-area" });
  clip.append(svg("rect", { x: LEFT, y: TOP, width: RIGHT - LEFT, height: BOTTOM - TOP }));
  chart.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  chart.replaceChildren(
    svg("rect", { width: WIDTH, height: HEIGHT, fill: COLORS.background }),
    clip,
    lossAxis(top, step, yLoss),
    accuracyAxis(yAccuracy),
    xAxis(total, x),
    legend(),
    svg("polyline", {
      class: "loss-raw",
      points: points(data.losses, x, yLoss),
      fill: "none",
      stroke: COLORS.raw,
      "stroke-width": 1,
      "clip-path": "url(#plot-area)",
    }),
    markers,
    svg("polyline", {
      class: "loss-smoothed",
      points: points(data.smoothed, x, yLoss),
      fill: "none",
      stroke: COLORS.smoothed,
      "stroke-width": 2.5,
      "stroke-linejoin": "round",
    }),
    accuracies,
  );
}
