/**
 * Small builders for plotly figure specs. Each returns plain JSON `{data, layout}` that
 * `Plotly.newPlot(div, spec.data, spec.layout)` draws, that notebooks show through the
 * `application/vnd.plotly.v1+json` MIME bundle (jupyter.ts) and that export.ts writes
 * as .json/.html/.svg/.png. No plotly code runs in Deno.
 *
 * The paper's number, where given, is drawn as a hollow diamond beside ours, so the two
 * are never confused.
 *
 * @module
 */

/** One plotly trace (kept open: any plotly attribute may be added). */
export type PlotTrace = Record<string, unknown> & { type: string };

/** A plotly figure as plain JSON. */
export interface PlotSpec {
  data: PlotTrace[];
  layout: Record<string, unknown>;
}

/** Common options of the builders. */
export interface FigureOptions {
  /** Figure title. */
  title?: string;
  /** x-axis title. */
  xTitle?: string;
  /** y-axis title. */
  yTitle?: string;
  /** Pixel width / height (export size); defaults 640 x 420. */
  width?: number;
  height?: number;
}

/** Okabe-Ito colour-blind-safe palette. */
export const PALETTE = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#D55E00",
  "#CC79A7",
  "#56B4E9",
  "#F0E442",
  "#000000",
] as const;

/** The colour for series `i` (cycles through {@linkcode PALETTE}). */
export function color(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

function baseLayout(o: FigureOptions): Record<string, unknown> {
  const layout: Record<string, unknown> = {
    width: o.width ?? 640,
    height: o.height ?? 420,
    font: { family: "Helvetica, Arial, sans-serif", size: 13 },
    margin: { l: 64, r: 24, t: o.title ? 56 : 24, b: 56 },
    xaxis: { title: { text: o.xTitle ?? "" }, zeroline: false },
    yaxis: { title: { text: o.yTitle ?? "" }, zeroline: false },
    legend: { orientation: "h", y: -0.2 },
    plot_bgcolor: "#ffffff",
    paper_bgcolor: "#ffffff",
  };
  if (o.title) layout.title = { text: o.title };
  return layout;
}

function finiteArray(name: string, xs: unknown, len?: number): number[] {
  if (!Array.isArray(xs)) throw new TypeError(`Invalid ${name}: expected an array of numbers`);
  if (len !== undefined && xs.length !== len) {
    throw new RangeError(`Invalid ${name}: expected ${len} values, got ${xs.length}`);
  }
  xs.forEach((x, i) => {
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new RangeError(`Invalid ${name}: expected finite numbers, got ${x} at [${i}]`);
    }
  });
  return xs as number[];
}

/** One bar of {@linkcode barWithErrors}. */
export interface ArmBar {
  /** Arm label (x category). */
  name: string;
  mean: number;
  ciLow: number;
  ciHigh: number;
  /** Number of seeds, shown in the hover text. */
  n?: number;
  /** The paper's number for this arm, drawn as a hollow diamond. */
  paper?: number | null;
}

/**
 * Bars of per-arm means with asymmetric error bars to the CI ends; the paper's values (if
 * any) as hollow diamonds on the same axis.
 *
 * @example
 * ```ts
 * import { barWithErrors } from "./figures.ts";
 * import { assertEquals } from "@std/assert";
 * const spec = barWithErrors([
 *   { name: "DPO-RM", mean: 0.28, ciLow: 0.25, ciHigh: 0.31, paper: 0.278 },
 *   { name: "IPVRM", mean: 0.39, ciLow: 0.35, ciHigh: 0.43, paper: 0.391 },
 * ], { yTitle: "ProcessBench F1" });
 * assertEquals(spec.data.length, 2);
 * ```
 */
export function barWithErrors(arms: readonly ArmBar[], options: FigureOptions = {}): PlotSpec {
  if (!Array.isArray(arms) || arms.length === 0) {
    throw new TypeError("Invalid arms: expected a non-empty array of {name, mean, ciLow, ciHigh}");
  }
  arms.forEach((a, i) => {
    finiteArray(`arms[${i}] (mean, ciLow, ciHigh)`, [a.mean, a.ciLow, a.ciHigh]);
    if (!(a.ciLow <= a.mean && a.mean <= a.ciHigh)) {
      throw new RangeError(
        `Invalid arms[${i}]: expected ciLow <= mean <= ciHigh, got ${a.ciLow} <= ${a.mean} <= ${a.ciHigh}`,
      );
    }
  });
  const data: PlotTrace[] = [{
    type: "bar",
    name: "ours (mean, 95% CI)",
    x: arms.map((a) => a.name),
    y: arms.map((a) => a.mean),
    marker: { color: arms.map((_, i) => color(i)) },
    error_y: {
      type: "data",
      symmetric: false,
      array: arms.map((a) => a.ciHigh - a.mean),
      arrayminus: arms.map((a) => a.mean - a.ciLow),
      color: "#333333",
      thickness: 1.5,
      width: 6,
    },
    text: arms.map((a) => a.n === undefined ? "" : `n=${a.n}`),
    textposition: "none",
    hovertemplate: "%{x}: %{y:.4g} %{text}<extra></extra>",
  }];
  const withPaper = arms.filter((a) => typeof a.paper === "number");
  if (withPaper.length > 0) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: "paper",
      x: withPaper.map((a) => a.name),
      y: withPaper.map((a) => a.paper as number),
      marker: { symbol: "diamond-open", size: 12, color: "#000000", line: { width: 2 } },
      hovertemplate: "paper %{x}: %{y}<extra></extra>",
    });
  }
  return { data, layout: { ...baseLayout(options), bargap: 0.35 } };
}

/** One curve of {@linkcode lineWithBands}. */
export interface BandSeries {
  name: string;
  /** Steps (x values), increasing. */
  x: number[];
  /** Mean over seeds at each step. */
  mean: number[];
  /** Band ends at each step (e.g. CI ends); omit both for no band. */
  low?: number[];
  high?: number[];
}

/**
 * Line curves over steps, each with a shaded band (`low`..`high`, e.g. a 95% CI over
 * seeds) drawn as a filled polygon under the line.
 *
 * @example
 * ```ts
 * import { lineWithBands } from "./figures.ts";
 * import { assertEquals } from "@std/assert";
 * const spec = lineWithBands([{
 *   name: "DistRL",
 *   x: [0, 1, 2],
 *   mean: [0.1, 0.2, 0.3],
 *   low: [0.05, 0.15, 0.25],
 *   high: [0.15, 0.25, 0.35],
 * }], { xTitle: "step", yTitle: "reward" });
 * assertEquals(spec.data.length, 2); // band + line
 * ```
 */
export function lineWithBands(
  series: readonly BandSeries[],
  options: FigureOptions = {},
): PlotSpec {
  if (!Array.isArray(series) || series.length === 0) {
    throw new TypeError("Invalid series: expected a non-empty array of {name, x, mean}");
  }
  const data: PlotTrace[] = [];
  series.forEach((s, i) => {
    const x = finiteArray(`series[${i}].x`, s.x);
    const m = finiteArray(`series[${i}].mean`, s.mean, x.length);
    const c = color(i);
    if (s.low !== undefined || s.high !== undefined) {
      const lo = finiteArray(`series[${i}].low`, s.low, x.length);
      const hi = finiteArray(`series[${i}].high`, s.high, x.length);
      data.push({
        type: "scatter",
        mode: "lines",
        name: `${s.name} band`,
        x: [...x, ...[...x].reverse()],
        y: [...hi, ...[...lo].reverse()],
        fill: "toself",
        fillcolor: hexAlpha(c, 0.2),
        line: { width: 0, color: c },
        hoverinfo: "skip",
        showlegend: false,
        legendgroup: s.name,
      });
    }
    data.push({
      type: "scatter",
      mode: "lines",
      name: s.name,
      x,
      y: m,
      line: { color: c, width: 2 },
      legendgroup: s.name,
    });
  });
  return { data, layout: baseLayout(options) };
}

/** Binned calibration statistics for a reliability diagram. */
export interface ReliabilityBins {
  /** Bin edges, length bins + 1, from 0 to 1. */
  edges: number[];
  /** Mean predicted probability per non-empty bin. */
  confidence: number[];
  /** Observed frequency of label 1 per non-empty bin. */
  accuracy: number[];
  /** Number of predictions per non-empty bin. */
  count: number[];
  /** Expected calibration error: sum_b (count_b / N) * |accuracy_b - confidence_b|. */
  ece: number;
}

/**
 * Bin predicted probabilities into `bins` equal-width bins on [0, 1] (last bin closed)
 * and compute per-bin confidence, accuracy, count and the ECE.
 *
 * @example
 * ```ts
 * import { reliabilityBins } from "./figures.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * const b = reliabilityBins([0.1, 0.9], [0, 1], { bins: 2 });
 * assertAlmostEquals(b.ece, 0.1);
 * ```
 */
export function reliabilityBins(
  probs: readonly number[],
  labels: readonly number[],
  options: { bins?: number } = {},
): ReliabilityBins {
  const bins = options.bins ?? 10;
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`Invalid options.bins: expected an integer >= 1, got ${bins}`);
  }
  const p = finiteArray("probs", probs);
  const y = finiteArray("labels", labels, p.length);
  p.forEach((v, i) => {
    if (v < 0 || v > 1) {
      throw new RangeError(`Invalid probs: expected values in [0, 1], got ${v} at [${i}]`);
    }
  });
  y.forEach((v, i) => {
    if (v !== 0 && v !== 1) {
      throw new RangeError(`Invalid labels: expected 0/1 values, got ${v} at [${i}]`);
    }
  });
  const sumP = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  const cnt = new Array<number>(bins).fill(0);
  p.forEach((v, i) => {
    const b = Math.min(bins - 1, Math.floor(v * bins));
    sumP[b]! += v;
    sumY[b]! += y[i]!;
    cnt[b]! += 1;
  });
  const out: ReliabilityBins = {
    edges: Array.from({ length: bins + 1 }, (_, i) => i / bins),
    confidence: [],
    accuracy: [],
    count: [],
    ece: 0,
  };
  for (let b = 0; b < bins; b++) {
    const n = cnt[b]!;
    if (n === 0) continue;
    const conf = sumP[b]! / n;
    const acc = sumY[b]! / n;
    out.confidence.push(conf);
    out.accuracy.push(acc);
    out.count.push(n);
    out.ece += (n / Math.max(1, p.length)) * Math.abs(acc - conf);
  }
  return out;
}

/**
 * Reliability diagram: observed frequency vs mean predicted probability per bin (markers
 * sized by count), with the y = x diagonal; the ECE goes into the title.
 *
 * @example
 * ```ts
 * import { reliabilityDiagram } from "./figures.ts";
 * import { assertEquals } from "@std/assert";
 * const spec = reliabilityDiagram({ probs: [0.2, 0.8, 0.7], labels: [0, 1, 1] }, { bins: 5 });
 * assertEquals(spec.data.length, 2);
 * ```
 */
export function reliabilityDiagram(
  input: { probs: readonly number[]; labels: readonly number[]; name?: string },
  options: FigureOptions & { bins?: number } = {},
): PlotSpec {
  const b = reliabilityBins(input.probs, input.labels, { bins: options.bins });
  const maxCount = Math.max(1, ...b.count);
  const title = `${options.title ? options.title + " " : ""}(ECE ${b.ece.toFixed(3)})`;
  const layout = baseLayout({
    xTitle: "predicted probability",
    yTitle: "observed frequency",
    ...options,
    title,
  });
  (layout.xaxis as Record<string, unknown>).range = [0, 1];
  (layout.yaxis as Record<string, unknown>).range = [0, 1];
  return {
    data: [
      {
        type: "scatter",
        mode: "lines",
        name: "perfect calibration",
        x: [0, 1],
        y: [0, 1],
        line: { dash: "dash", color: "#888888", width: 1 },
        hoverinfo: "skip",
      },
      {
        type: "scatter",
        mode: "lines+markers",
        name: input.name ?? "model",
        x: b.confidence,
        y: b.accuracy,
        text: b.count.map((c) => `n=${c}`),
        marker: { size: b.count.map((c) => 6 + 14 * Math.sqrt(c / maxCount)), color: color(0) },
        line: { color: color(0) },
        hovertemplate: "conf %{x:.3f}, freq %{y:.3f}, %{text}<extra></extra>",
      },
    ],
    layout,
  };
}

/** One point group of {@linkcode scatter}. */
export interface ScatterSeries {
  name: string;
  x: number[];
  y: number[];
  /** Per-point hover labels. */
  text?: string[];
}

/**
 * Scatter plot of one or more point groups; `diagonal: true` adds y = x (e.g. ours vs
 * paper).
 *
 * @example
 * ```ts
 * import { scatter } from "./figures.ts";
 * import { assertEquals } from "@std/assert";
 * const spec = scatter([{ name: "tables", x: [27.8, 39.1], y: [0.3, 0.4] }], { diagonal: true });
 * assertEquals(spec.data.length, 2);
 * ```
 */
export function scatter(
  series: readonly ScatterSeries[],
  options: FigureOptions & { diagonal?: boolean } = {},
): PlotSpec {
  if (!Array.isArray(series) || series.length === 0) {
    throw new TypeError("Invalid series: expected a non-empty array of {name, x, y}");
  }
  const data: PlotTrace[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  series.forEach((s, i) => {
    const x = finiteArray(`series[${i}].x`, s.x);
    const y = finiteArray(`series[${i}].y`, s.y, x.length);
    for (const v of [...x, ...y]) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const t: PlotTrace = {
      type: "scatter",
      mode: "markers",
      name: s.name,
      x,
      y,
      marker: { color: color(i), size: 9 },
    };
    if (s.text) t.text = s.text;
    data.push(t);
  });
  if (options.diagonal && Number.isFinite(lo)) {
    data.push({
      type: "scatter",
      mode: "lines",
      name: "y = x",
      x: [lo, hi],
      y: [lo, hi],
      line: { dash: "dash", color: "#888888", width: 1 },
      hoverinfo: "skip",
    });
  }
  return { data, layout: baseLayout(options) };
}

/**
 * Check that a value looks like a plotly spec (`data` array of objects with `type`,
 * `layout` object). Throws naming what is wrong.
 */
export function assertPlotSpec(spec: unknown, name = "spec"): asserts spec is PlotSpec {
  const s = spec as PlotSpec;
  if (typeof s !== "object" || s === null) {
    throw new TypeError(`Invalid ${name}: expected {data, layout}`);
  }
  if (!Array.isArray(s.data)) {
    throw new TypeError(`Invalid ${name}.data: expected an array of traces`);
  }
  s.data.forEach((t, i) => {
    if (typeof t?.type !== "string") {
      throw new TypeError(`Invalid ${name}.data[${i}].type: expected a plotly trace type string`);
    }
  });
  if (typeof s.layout !== "object" || s.layout === null) {
    throw new TypeError(`Invalid ${name}.layout: expected an object`);
  }
}

function hexAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
