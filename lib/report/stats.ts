/**
 * Seed statistics for experiment reports: mean, sample standard deviation, Student-t
 * confidence intervals (one arm, Welch difference of two arms, paired difference over
 * shared seeds) and the verdict rule that calls a paper's claim reproduced, not
 * reproduced or inconclusive **from the interval, never from the mean**.
 *
 * The Student-t quantile is computed exactly (to ~1e-10) by inverting the t CDF, which is
 * written through the regularized incomplete beta function, so it is valid for any
 * df > 0, including the fractional df of Welch's interval.
 *
 * Item-level statistics beside them: AUC, Pearson, the Brier score and log loss of a
 * probability forecast, and a seeded percentile bootstrap over items (problems, rows).
 *
 * @module
 */
import { Rng } from "../prng.ts";

/** One arm (or one difference) summarised over seeds. */
export interface Summary {
  /** Number of seeds (observations). */
  n: number;
  /** Sample mean. */
  mean: number;
  /** Sample standard deviation (n - 1 denominator); NaN when n < 2. */
  std: number;
  /** Standard error of the mean. */
  sem: number;
  /** Degrees of freedom of the t interval (n - 1, or Welch's df for a difference). */
  df: number;
  /** Confidence level of the interval, e.g. 0.95. */
  confidence: number;
  /** Lower end of the confidence interval. */
  ciLow: number;
  /** Upper end of the confidence interval. */
  ciHigh: number;
}

/** A summary of `treatment - control`, with how it was computed. */
export interface Difference extends Summary {
  /** "welch": independent arms; "paired": differences over the same seeds. */
  kind: "welch" | "paired";
  /** Seeds in the treatment arm. */
  nTreatment: number;
  /** Seeds in the control arm. */
  nControl: number;
}

/** The direction of a paper's claim about `treatment - control`. */
export type Direction = "higher" | "lower";

/** Outcome of comparing our interval with the paper's claimed direction. */
export type Verdict = "reproduced" | "not reproduced" | "inconclusive";

/** Options for interval functions. */
export interface IntervalOptions {
  /** Two-sided confidence level in (0, 1); default 0.95. */
  confidence?: number;
}

function checkSample(name: string, xs: readonly number[], min: number): void {
  if (!Array.isArray(xs)) {
    throw new TypeError(`Invalid ${name}: expected an array of numbers, got ${typeof xs}`);
  }
  if (xs.length < min) {
    throw new RangeError(
      `Invalid ${name}: expected at least ${min} values (one per seed), got ${xs.length}`,
    );
  }
  xs.forEach((x, i) => {
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new RangeError(`Invalid ${name}: expected finite numbers, got ${x} at [${i}]`);
    }
  });
}

function checkConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(
      `Invalid options.confidence: expected a number in (0, 1), got ${confidence}`,
    );
  }
}

/**
 * Arithmetic mean.
 *
 * @example
 * ```ts
 * import { mean } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(mean([1, 2, 3]), 2);
 * ```
 */
export function mean(xs: readonly number[]): number {
  checkSample("xs", xs, 1);
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/**
 * Sample standard deviation, `sqrt(sum (x - mean)^2 / (n - 1))`.
 *
 * @example
 * ```ts
 * import { sampleStd } from "./stats.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * assertAlmostEquals(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7)); // 2.138...
 * ```
 */
export function sampleStd(xs: readonly number[]): number {
  checkSample("xs", xs, 2);
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

// ---------------------------------------------------------------------------------
// Student-t distribution.

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), relative error < 1e-14 for x > 0.
  const c = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaContinuedFraction(a: number, b: number, x: number): number {
  // Modified Lentz's method (Numerical Recipes 6.4).
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) +
    b * Math.log(1 - x);
  if (x < (a + 1) / (a + b + 2)) return Math.exp(lnFront) * betaContinuedFraction(a, b, x) / a;
  return 1 - Math.exp(lnFront) * betaContinuedFraction(b, a, 1 - x) / b;
}

function checkDf(df: number): void {
  if (!(typeof df === "number" && df > 0 && Number.isFinite(df))) {
    throw new RangeError(`Invalid df: expected a finite number > 0, got ${df}`);
  }
}

/**
 * Student-t cumulative distribution function P(T <= t) with `df` degrees of freedom,
 * via `I_{df/(df+t^2)}(df/2, 1/2)`.
 *
 * @example
 * ```ts
 * import { studentTCdf } from "./stats.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * assertAlmostEquals(studentTCdf(0, 5), 0.5);
 * ```
 */
export function studentTCdf(t: number, df: number): number {
  checkDf(df);
  if (Number.isNaN(t)) throw new RangeError(`Invalid t: expected a number, got NaN`);
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/**
 * Student-t quantile: the `t` with `P(T <= t) = p` for `df` degrees of freedom
 * (e.g. `studentTQuantile(0.975, 2) = 4.302653`). Solved by bisection on
 * {@linkcode studentTCdf} to |dt| < 1e-12.
 *
 * @example
 * ```ts
 * import { studentTQuantile } from "./stats.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * assertAlmostEquals(studentTQuantile(0.975, 4), 2.776445, 1e-6);
 * ```
 */
export function studentTQuantile(p: number, df: number): number {
  checkDf(df);
  if (!(p > 0 && p < 1)) throw new RangeError(`Invalid p: expected a number in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// ---------------------------------------------------------------------------------
// Intervals.

function interval(m: number, sem: number, df: number, confidence: number) {
  const tcrit = studentTQuantile(1 - (1 - confidence) / 2, df);
  return { ciLow: m - tcrit * sem, ciHigh: m + tcrit * sem };
}

/**
 * Mean of one arm over seeds with a two-sided Student-t confidence interval:
 * `mean +- t(1 - (1 - confidence)/2, n - 1) * std / sqrt(n)`. Needs n >= 2.
 *
 * @example
 * ```ts
 * import { summarize } from "./stats.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * const s = summarize([0.61, 0.64, 0.58]);
 * assertAlmostEquals(s.mean, 0.61);
 * ```
 */
export function summarize(xs: readonly number[], options: IntervalOptions = {}): Summary {
  const confidence = options.confidence ?? 0.95;
  checkConfidence(confidence);
  checkSample("xs", xs, 2);
  const n = xs.length;
  const m = mean(xs);
  const std = sampleStd(xs);
  const sem = std / Math.sqrt(n);
  const df = n - 1;
  return { n, mean: m, std, sem, df, confidence, ...interval(m, sem, df, confidence) };
}

/**
 * Difference of means `treatment - control` for independent arms (different seeds or
 * seeds not matched), with Welch's t interval:
 * `se = sqrt(s1^2/n1 + s2^2/n2)`, `df = se^4 / ((s1^2/n1)^2/(n1-1) + (s2^2/n2)^2/(n2-1))`.
 * Each arm needs n >= 2. When both arms have zero variance, se = 0, df = n1 + n2 - 2 and
 * the interval collapses to the point difference.
 *
 * @example
 * ```ts
 * import { welchDifference } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * const d = welchDifference([3, 4, 5], [1, 2, 3]);
 * assertEquals(d.mean, 2);
 * ```
 */
export function welchDifference(
  treatment: readonly number[],
  control: readonly number[],
  options: IntervalOptions = {},
): Difference {
  const confidence = options.confidence ?? 0.95;
  checkConfidence(confidence);
  checkSample("treatment", treatment, 2);
  checkSample("control", control, 2);
  const n1 = treatment.length;
  const n2 = control.length;
  const v1 = sampleStd(treatment) ** 2 / n1;
  const v2 = sampleStd(control) ** 2 / n2;
  const sem = Math.sqrt(v1 + v2);
  const df = sem === 0 ? n1 + n2 - 2 : (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1));
  const m = mean(treatment) - mean(control);
  return {
    kind: "welch",
    n: Math.min(n1, n2),
    nTreatment: n1,
    nControl: n2,
    mean: m,
    std: NaN,
    sem,
    df,
    confidence,
    ...interval(m, sem, df, confidence),
  };
}

/**
 * Difference of means `treatment - control` when both arms ran on the **same seeds**
 * (element i of each array is seed i): the one-sample t interval of the per-seed
 * differences `treatment[i] - control[i]`, df = n - 1. Pairing removes the seed-to-seed
 * variance the arms share, so it is tighter than Welch when seeds matter.
 *
 * @example
 * ```ts
 * import { pairedDifference } from "./stats.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * const d = pairedDifference([3.1, 4.2, 5.0], [3.0, 4.0, 4.9]);
 * assertAlmostEquals(d.mean, 0.1333, 1e-4);
 * assertAlmostEquals(d.ciLow, -0.0101, 1e-4); // 3 seeds: the 95% interval still spans 0
 * ```
 */
export function pairedDifference(
  treatment: readonly number[],
  control: readonly number[],
  options: IntervalOptions = {},
): Difference {
  checkSample("treatment", treatment, 2);
  checkSample("control", control, 2);
  if (treatment.length !== control.length) {
    throw new RangeError(
      `Invalid control: expected one value per seed of treatment (${treatment.length}), got ${control.length}`,
    );
  }
  const diffs = treatment.map((x, i) => x - control[i]!);
  const s = summarize(diffs, options);
  return { ...s, kind: "paired", nTreatment: treatment.length, nControl: control.length };
}

/** Options for {@linkcode verdict}. */
export interface VerdictOptions {
  /** The paper's claim: `treatment - control` is "higher" (> 0) or "lower" (< 0). */
  direction: Direction;
  /** Fewer seeds than this in either arm gives "inconclusive"; default 3. */
  minSeeds?: number;
}

/** A verdict with a one-sentence reason for the reading. */
export interface VerdictResult {
  verdict: Verdict;
  reason: string;
}

/**
 * Call a paper's claim from our confidence interval of `treatment - control`.
 *
 * Definition (the interval decides, never the mean):
 * - **reproduced**: the CI excludes 0 on the paper's side (direction "higher": ciLow > 0;
 *   "lower": ciHigh < 0);
 * - **not reproduced**: the CI excludes 0 on the opposite side;
 * - **inconclusive**: the CI contains 0 (endpoints included), or either arm has fewer
 *   than `minSeeds` seeds (default 3).
 *
 * "Not reproduced" means we measured the opposite effect; a failure to see the effect
 * at our sample size is "inconclusive". Magnitude is not judged: compare the paper's
 * number with ours in the table.
 *
 * @example
 * ```ts
 * import { verdict, welchDifference } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * const d = welchDifference([0.40, 0.42, 0.41], [0.30, 0.31, 0.29]);
 * assertEquals(verdict(d, { direction: "higher" }).verdict, "reproduced");
 * ```
 */
export function verdict(diff: Summary | Difference, options: VerdictOptions): VerdictResult {
  const { direction } = options;
  const minSeeds = options.minSeeds ?? 3;
  if (direction !== "higher" && direction !== "lower") {
    throw new RangeError(
      `Invalid options.direction: expected "higher" or "lower", got ${JSON.stringify(direction)}`,
    );
  }
  if (!Number.isFinite(diff?.ciLow) || !Number.isFinite(diff?.ciHigh)) {
    throw new RangeError(
      `Invalid diff: expected finite ciLow/ciHigh, got [${diff?.ciLow}, ${diff?.ciHigh}]`,
    );
  }
  const n = "nTreatment" in diff ? Math.min(diff.nTreatment, diff.nControl) : diff.n;
  const pct = Math.round(diff.confidence * 100);
  const ci = `${pct}% CI [${fmt(diff.ciLow)}, ${fmt(diff.ciHigh)}]`;
  if (n < minSeeds) {
    return {
      verdict: "inconclusive",
      reason: `only ${n} seed(s) per arm (need ${minSeeds}); ${ci}`,
    };
  }
  const above = diff.ciLow > 0;
  const below = diff.ciHigh < 0;
  const claimed = direction === "higher" ? above : below;
  const opposite = direction === "higher" ? below : above;
  if (claimed) {
    return { verdict: "reproduced", reason: `${ci} excludes 0 on the paper's side (${direction})` };
  }
  if (opposite) {
    return {
      verdict: "not reproduced",
      reason: `${ci} excludes 0 on the opposite side of the paper's claim (${direction})`,
    };
  }
  return { verdict: "inconclusive", reason: `${ci} contains 0` };
}

/**
 * The direction the paper claims for `treatment - control`, from its two numbers.
 * Throws when they are equal (the paper then claims no direction; compare magnitudes).
 *
 * @example
 * ```ts
 * import { claimDirection } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(claimDirection(39.1, 27.8), "higher");
 * ```
 */
export function claimDirection(paperTreatment: number, paperControl: number): Direction {
  if (!Number.isFinite(paperTreatment) || !Number.isFinite(paperControl)) {
    throw new RangeError(
      `Invalid paper values: expected finite numbers, got ${paperTreatment} and ${paperControl}`,
    );
  }
  if (paperTreatment === paperControl) {
    throw new RangeError(
      `Invalid paper values: expected different numbers to define a direction, got ${paperTreatment} twice`,
    );
  }
  return paperTreatment > paperControl ? "higher" : "lower";
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(1) : Number(x.toPrecision(3)).toString();
}

/** Per-step mean and CI ends over seeds (for {@linkcode Summary}-style bands). */
export interface StepBands {
  mean: number[];
  low: number[];
  high: number[];
  n: number;
}

/**
 * Summarise per-seed curves `runs[seed][step]` (equal lengths, >= 2 seeds) into a per-step
 * mean and Student-t CI, ready for `lineWithBands`.
 *
 * @example
 * ```ts
 * import { summarizeSteps } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * const b = summarizeSteps([[0, 1], [2, 3], [4, 5]]);
 * assertEquals(b.mean, [2, 3]);
 * ```
 */
export function summarizeSteps(
  runs: readonly (readonly number[])[],
  options: IntervalOptions = {},
): StepBands {
  if (!Array.isArray(runs) || runs.length < 2) {
    throw new RangeError(
      `Invalid runs: expected at least 2 seeds of per-step values, got ${runs?.length}`,
    );
  }
  const len = runs[0]!.length;
  runs.forEach((r, i) => {
    if (r.length !== len) {
      throw new RangeError(
        `Invalid runs: expected ${len} steps per seed, got ${r.length} at [${i}]`,
      );
    }
  });
  const out: StepBands = { mean: [], low: [], high: [], n: runs.length };
  for (let t = 0; t < len; t++) {
    const s = summarize(runs.map((r) => r[t]!), options);
    out.mean.push(s.mean);
    out.low.push(s.ciLow);
    out.high.push(s.ciHigh);
  }
  return out;
}

/**
 * Area under the ROC curve of `scores` for binary `labels` (truthy = positive), by the rank sum
 * (Mann-Whitney U) with average ranks for ties, so a tie between a positive and a negative
 * counts half; NaN without both classes.
 *
 * @example
 * ```ts
 * import { auc } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
 * assertEquals(auc([1, 1], [0, 1]), 0.5); // a tie counts half
 * assertEquals(auc([1, 2], [1, 1]), NaN);
 * ```
 */
export function auc(scores: readonly number[], labels: readonly number[]): number {
  const pos: number[] = [], neg: number[] = [];
  scores.forEach((s, i) => (labels[i] ? pos : neg).push(s));
  if (pos.length === 0 || neg.length === 0) return NaN;
  const all = scores.map((s, i) => ({ s, y: labels[i] ? 1 : 0 })).sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const r = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.y) rankSum += r;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

/**
 * Pearson correlation of the first `min(x.length, y.length)` pairs; NaN with fewer than 2 pairs
 * or when either side is constant.
 *
 * @example
 * ```ts
 * import { pearson } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(pearson([1, 2, 3], [2, 4, 6]), 1);
 * assertEquals(pearson([1, 2, 3], [3, 2, 1]), -1);
 * assertEquals(pearson([1, 2, 3], [5, 5, 5]), NaN);
 * ```
 */
export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = Math.min(x.length, y.length);
  if (n < 2) return NaN;
  const mx = x.slice(0, n).reduce((a, b) => a + b, 0) / n,
    my = y.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

// ---------------------------------------------------------------------------------
// The verdict rule of statistics.md (docs/results.md): outcomes, SESOI, p, BH q, seeds needed,
// the two-realisation split.

/**
 * Outcome of a claim row (statistics.md), for a claim "treatment - control > 0" (mirrored for
 * "lower"): `reproduced` (CI above 0), `opposite` (CI below 0), `absent` (CI contains 0 and
 * lies below +SESOI: any effect is under half the paper's), `inconclusive` (CI contains both 0
 * and +SESOI).
 */
export type Outcome = "reproduced" | "opposite" | "absent" | "inconclusive";

/** The outcomes that decide a row (1-3 of statistics.md). */
export const DECIDED_OUTCOMES: readonly Outcome[] = ["reproduced", "opposite", "absent"];

/**
 * The outcome of a row from its CI of `treatment - control`, the paper's direction and the
 * SESOI (> 0, in the CI's units). A CI endpoint exactly at 0 or at SESOI counts as contained
 * (closed interval). Mirror for "lower": `reproduced` when the CI lies below 0, `absent` when it
 * contains 0 and lies above -SESOI.
 *
 * @example
 * ```ts
 * import { outcomeOf } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(outcomeOf({ ciLow: 0.5, ciHigh: 3 }, "higher", 2), "reproduced");
 * assertEquals(outcomeOf({ ciLow: -3, ciHigh: -0.5 }, "higher", 2), "opposite");
 * assertEquals(outcomeOf({ ciLow: -1, ciHigh: 1.5 }, "higher", 2), "absent");
 * assertEquals(outcomeOf({ ciLow: -1, ciHigh: 2.5 }, "higher", 2), "inconclusive");
 * assertEquals(outcomeOf({ ciLow: -1.5, ciHigh: 1 }, "lower", 2), "absent");
 * ```
 */
export function outcomeOf(
  ci: { ciLow: number; ciHigh: number },
  direction: Direction,
  sesoi: number,
): Outcome {
  if (direction !== "higher" && direction !== "lower") {
    throw new RangeError(
      `Invalid direction: expected "higher" or "lower", got ${JSON.stringify(direction)}`,
    );
  }
  if (!(sesoi > 0 && Number.isFinite(sesoi))) {
    throw new RangeError(`Invalid sesoi: expected a finite number > 0, got ${sesoi}`);
  }
  if (!(ci.ciLow <= ci.ciHigh)) {
    throw new RangeError(
      `Invalid ci: expected ciLow <= ciHigh (finite), got [${ci.ciLow}, ${ci.ciHigh}]`,
    );
  }
  // Mirror a "lower" claim onto "higher".
  const [lo, hi] = direction === "higher" ? [ci.ciLow, ci.ciHigh] : [-ci.ciHigh, -ci.ciLow];
  if (lo > 0) return "reproduced";
  if (hi < 0) return "opposite";
  return hi < sesoi ? "absent" : "inconclusive";
}

/**
 * The smallest effect of interest of a row: `|P| / 2` when the paper gives a number `P`
 * (treatment - control, in the row's units), else the metric's declared constant.
 *
 * @example
 * ```ts
 * import { sesoiOf } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(sesoiOf(-11.3, 1), 5.65);
 * assertEquals(sesoiOf(null, 1), 1);
 * ```
 */
export function sesoiOf(paperDiff: number | null, metricConstant: number | undefined): number {
  if (paperDiff !== null && Number.isFinite(paperDiff) && paperDiff !== 0) {
    return Math.abs(paperDiff) / 2;
  }
  if (metricConstant === undefined || !(metricConstant > 0)) {
    throw new RangeError(
      `Invalid metricConstant: the paper gives no number for this row, so the metric needs a declared SESOI > 0, got ${metricConstant}`,
    );
  }
  return metricConstant;
}

/**
 * Two-sided p-value of the t-test of `mean = 0` for a difference (paired: one-sample t on the
 * per-seed differences; Welch: Welch's t with its df): `2 * P(T > |mean / sem|)`. A zero `sem`
 * gives 1 for a zero mean and 0 otherwise.
 *
 * @example
 * ```ts
 * import { pairedDifference, tTestP } from "./stats.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * // differences 1, 2, 3: t = 2 / (1 / sqrt(3)) = 3.4641 on 2 df
 * assertAlmostEquals(tTestP(pairedDifference([1, 2, 3], [0, 0, 0])), 0.07418, 1e-5);
 * ```
 */
export function tTestP(diff: { mean: number; sem: number; df: number }): number {
  if (!Number.isFinite(diff.mean) || !(diff.sem >= 0)) {
    throw new RangeError(
      `Invalid diff: expected a finite mean and sem >= 0, got mean ${diff.mean}, sem ${diff.sem}`,
    );
  }
  if (diff.sem === 0) return diff.mean === 0 ? 1 : 0;
  const t = Math.abs(diff.mean / diff.sem);
  return Math.min(1, 2 * (1 - studentTCdf(t, diff.df)));
}

/**
 * Benjamini-Hochberg q-values (step-up, monotone): `q_(i) = min_{j >= i} p_(j) * m / j` over the
 * `m` finite p-values, capped at 1; NaN in gives NaN out (not counted in `m`). Same order as in.
 *
 * @example
 * ```ts
 * import { benjaminiHochberg } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * // sorted p 0.01, 0.02, 0.03, 0.5 (m = 4): 0.04, 0.04, 0.04, 0.5
 * assertEquals(
 *   benjaminiHochberg([0.03, 0.5, 0.01, 0.02]).map((q) => +q.toFixed(6)),
 *   [0.04, 0.5, 0.04, 0.04],
 * );
 * ```
 */
export function benjaminiHochberg(ps: readonly number[]): number[] {
  const idx = ps.map((p, i) => ({ p, i })).filter((x) => Number.isFinite(x.p));
  idx.forEach(({ p }) => {
    if (p < 0 || p > 1) throw new RangeError(`Invalid p: expected values in [0, 1], got ${p}`);
  });
  idx.sort((a, b) => a.p - b.p);
  const m = idx.length;
  const q = ps.map(() => NaN);
  let min = 1;
  for (let k = m - 1; k >= 0; k--) {
    min = Math.min(min, (idx[k]!.p * m) / (k + 1));
    q[idx[k]!.i] = min;
  }
  return q;
}

/**
 * Seeds needed: the smallest n >= 2 at which a sample SD `sd` gives a two-sided CI half-width
 * `t(1 - (1 - confidence)/2, n - 1) * sd / sqrt(n) <= sesoi` (solved exactly: the half-width
 * falls with n, so the first n that satisfies it is found by doubling then bisection over the
 * integers). `sd = 0` gives 2; Infinity beyond 10^9 seeds.
 *
 * @example
 * ```ts
 * import { seedsNeeded } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * // sd = sesoi: n = 7 gives 2.447 / sqrt(7) = 0.925 <= 1, n = 6 gives 2.571 / sqrt(6) = 1.049
 * assertEquals(seedsNeeded(1, 1), 7);
 * assertEquals(seedsNeeded(2, 0.5), 64); // t(63) = 1.998: 1.998 * 2 / 8 = 0.4995
 * ```
 */
export function seedsNeeded(sd: number, sesoi: number, options: IntervalOptions = {}): number {
  const confidence = options.confidence ?? 0.95;
  checkConfidence(confidence);
  if (!(sd >= 0 && Number.isFinite(sd))) {
    throw new RangeError(`Invalid sd: expected a finite number >= 0, got ${sd}`);
  }
  if (!(sesoi > 0 && Number.isFinite(sesoi))) {
    throw new RangeError(`Invalid sesoi: expected a finite number > 0, got ${sesoi}`);
  }
  const pq = 1 - (1 - confidence) / 2;
  const ok = (n: number) => studentTQuantile(pq, n - 1) * sd / Math.sqrt(n) <= sesoi;
  if (ok(2)) return 2;
  let lo = 2; // fails
  let hi = 4;
  while (!ok(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > 1e9) return Infinity;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The two realisations of a run: seeds (sorted) split into a first half (the first
 * `ceil(n / 2)`) and a second half (the rest), e.g. 1-3 and 4-6.
 *
 * @example
 * ```ts
 * import { seedHalves } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(seedHalves([4, 1, 2, 3, 6, 5]), [[1, 2, 3], [4, 5, 6]]);
 * assertEquals(seedHalves([1, 2, 3]), [[1, 2], [3]]);
 * ```
 */
export function seedHalves(seeds: readonly number[]): [number[], number[]] {
  const s = [...new Set(seeds)].sort((a, b) => a - b);
  const k = Math.ceil(s.length / 2);
  return [s.slice(0, k), s.slice(k)];
}

/** One row's pooled outcome and its two halves' outcomes (null: a half too small for a CI). */
export interface HalvesRow {
  outcome: Outcome | null;
  first: Outcome | null;
  second: Outcome | null;
}

/**
 * Agreement between the two halves over the rows the pooled run decides (outcomes 1-3) and
 * both halves have an outcome for: `agree` of `rows` give the same outcome in both halves;
 * `flipped` rows give `reproduced` in one half and `opposite` in the other.
 *
 * @example
 * ```ts
 * import { halvesAgreement } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(
 *   halvesAgreement([
 *     { outcome: "reproduced", first: "reproduced", second: "reproduced" },
 *     { outcome: "reproduced", first: "reproduced", second: "opposite" },
 *     { outcome: "absent", first: "absent", second: "inconclusive" },
 *     { outcome: "inconclusive", first: "absent", second: "absent" }, // not decided pooled
 *     { outcome: "opposite", first: null, second: "opposite" }, // a half without a CI
 *   ]),
 *   { rows: 3, agree: 1, flipped: 1 },
 * );
 * ```
 */
export function halvesAgreement(
  rows: readonly HalvesRow[],
): { rows: number; agree: number; flipped: number } {
  let n = 0, agree = 0, flipped = 0;
  for (const r of rows) {
    if (r.outcome === null || !DECIDED_OUTCOMES.includes(r.outcome)) continue;
    if (r.first === null || r.second === null) continue;
    n++;
    if (r.first === r.second) agree++;
    if (halvesFlip(r.first, r.second)) flipped++;
  }
  return { rows: n, agree, flipped };
}

/**
 * Whether two halves give opposite directional outcomes (`reproduced` vs `opposite`).
 *
 * @example
 * ```ts
 * import { halvesFlip } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(halvesFlip("opposite", "reproduced"), true);
 * assertEquals(halvesFlip("reproduced", "absent"), false);
 * ```
 */
export function halvesFlip(a: Outcome | null, b: Outcome | null): boolean {
  return (a === "reproduced" && b === "opposite") || (a === "opposite" && b === "reproduced");
}

/** A row decided by the rule: the difference, its test, outcome and seeds needed. */
export interface Decision {
  /** The difference (paired when the arms share their seeds, else Welch). */
  diff: Difference;
  /** Two-sided t-test p-value of `diff` ({@linkcode tTestP}). */
  p: number;
  outcome: Outcome;
  /** SD of one seed's difference (paired: of the differences; Welch: `sqrt(s_t^2 + s_c^2)`). */
  sd: number;
  /** Seeds needed at the observed SD ({@linkcode seedsNeeded}); for Welch the SD of one
   * seed's difference, `sqrt(s_t^2 + s_c^2)`, with n - 1 df (conservative). */
  seedsNeeded: number;
}

/**
 * Decides a row from per-seed values: paired difference when `paired` (element i of both arrays
 * is seed i), Welch otherwise; then {@linkcode tTestP}, {@linkcode outcomeOf} and
 * {@linkcode seedsNeeded}. Null when either arm has fewer than 2 finite values.
 *
 * @example
 * ```ts
 * import { decide } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * // differences 1, 2, 3: mean 2, CI 2 +- 4.303 / sqrt(3) = [-0.484, 4.48]
 * const d = decide([1, 2, 3], [0, 0, 0], { paired: true, direction: "higher", sesoi: 5 })!;
 * assertEquals(d.outcome, "absent");
 * assertEquals(d.seedsNeeded, 3); // n = 2: 12.71 / 1.414 = 8.98 > 5; n = 3: 2.48
 * assertEquals(decide([1], [0], { paired: true, direction: "higher", sesoi: 1 }), null);
 * ```
 */
export function decide(
  treatment: readonly number[],
  control: readonly number[],
  options: { paired: boolean; direction: Direction; sesoi: number; confidence?: number },
): Decision | null {
  const fin = (xs: readonly number[]) => xs.length >= 2 && xs.every((x) => Number.isFinite(x));
  if (!fin(treatment) || !fin(control)) return null;
  const o = { confidence: options.confidence ?? 0.95 };
  const diff = options.paired
    ? pairedDifference(treatment, control, o)
    : welchDifference(treatment, control, o);
  const sd = options.paired
    ? diff.std
    : Math.sqrt(sampleStd(treatment) ** 2 + sampleStd(control) ** 2);
  return {
    diff,
    p: tTestP(diff),
    outcome: outcomeOf(diff, options.direction, options.sesoi),
    sd,
    seedsNeeded: seedsNeeded(sd, options.sesoi, o),
  };
}

/**
 * A number with 3 significant digits, as printed in every verdict table ("n/a" when not
 * finite; integers of 4+ digits are printed whole, never in exponent form).
 *
 * @example
 * ```ts
 * import { sig3 } from "./stats.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(sig3(12.345), "12.3");
 * assertEquals(sig3(-0.0012345), "-0.00123");
 * assertEquals(sig3(1234.5), "1235");
 * assertEquals(sig3(NaN), "n/a");
 * ```
 */
export function sig3(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "n/a";
  if (Math.abs(x) >= 1000) return Math.round(x).toString();
  if (x === 0) return "0";
  return Number(x.toPrecision(3)).toString();
}

function checkOutcomes(name: string, xs: readonly number[], ys: readonly number[]): void {
  if (xs.length !== ys.length) {
    throw new RangeError(
      `Invalid ${name}: expected as many outcomes as predictions, got ${ys.length} and ${xs.length}`,
    );
  }
  ys.forEach((y, i) => {
    if (!(y >= 0 && y <= 1)) {
      throw new RangeError(`Invalid outcomes[${i}]: expected a number in [0, 1], got ${y}`);
    }
  });
}

/**
 * Brier score `mean_i (p_i - y_i)^2` of predicted probabilities `probs` against outcomes
 * `outcomes` in [0, 1] (binary outcomes, or Monte-Carlo success rates); lower is better, 0 is a
 * perfect forecast and a constant 0.5 scores 0.25. NaN on empty input.
 *
 * @example
 * ```ts
 * import { brierScore } from "./stats.ts";
 * import { assertAlmostEquals, assertEquals } from "@std/assert";
 * // (0.9-1)^2 + (0.2-0)^2 + (0.5-1)^2 = 0.01 + 0.04 + 0.25 = 0.30, / 3 = 0.1
 * assertAlmostEquals(brierScore([0.9, 0.2, 0.5], [1, 0, 1]), 0.1, 1e-12);
 * assertEquals(brierScore([0.5, 0.5], [0, 1]), 0.25);
 * assertEquals(brierScore([], []), NaN);
 * ```
 */
export function brierScore(probs: readonly number[], outcomes: readonly number[]): number {
  checkOutcomes("probs", probs, outcomes);
  if (probs.length === 0) return NaN;
  let s = 0;
  probs.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(`Invalid probs[${i}]: expected a number in [0, 1], got ${p}`);
    }
    s += (p - outcomes[i]!) ** 2;
  });
  return s / probs.length;
}

/** `log(1 + e^x)` without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * Log loss (cross-entropy, nats) of the probabilities `sigma(z_i)` given as logits `logits`
 * against outcomes `outcomes` in [0, 1]:
 * `mean_i [ y_i softplus(-z_i) + (1 - y_i) softplus(z_i) ]` = `-mean_i [y log p + (1-y) log(1-p)]`,
 * computed in softplus form so a saturated logit (a margin-trained IPVRM's `v̄_t = 30`) gives a
 * large finite loss, never `log 0`. Lower is better; a constant `p = 0.5` scores `ln 2`. NaN on
 * empty input.
 *
 * @example
 * ```ts
 * import { logLoss } from "./stats.ts";
 * import { assertAlmostEquals, assertEquals } from "@std/assert";
 * // z = 0 (p = 0.5): ln 2 = 0.693147 whatever the outcome
 * assertAlmostEquals(logLoss([0, 0], [0, 1]), Math.LN2, 1e-12);
 * // z = ln 3 (p = 0.75), y = 1: -ln 0.75 = 0.287682; y = 0: -ln 0.25 = 1.386294; mean 0.836988
 * assertAlmostEquals(logLoss([Math.log(3), Math.log(3)], [1, 0]), 0.836988, 1e-6);
 * // a saturated wrong forecast stays finite: z = 40, y = 0 -> softplus(40) = 40
 * assertAlmostEquals(logLoss([40], [0]), 40, 1e-12);
 * assertEquals(logLoss([], []), NaN);
 * ```
 */
export function logLoss(logits: readonly number[], outcomes: readonly number[]): number {
  checkOutcomes("logits", logits, outcomes);
  if (logits.length === 0) return NaN;
  let s = 0;
  logits.forEach((z, i) => {
    if (Number.isNaN(z)) throw new RangeError(`Invalid logits[${i}]: expected a number, got NaN`);
    const y = outcomes[i]!;
    s += y * softplus(-z) + (1 - y) * softplus(z);
  });
  return s / logits.length;
}

/** Options of {@linkcode bootstrapInterval}. */
export interface BootstrapOptions {
  /** Resamples (default 1000). */
  resamples?: number;
  /** Seed of the resampling (default 0: the same interval on every rerun). */
  seed?: number;
  /** Two-sided level (default 0.95). */
  level?: number;
}

/**
 * Percentile bootstrap over `n` items: `statistic(idx)` is evaluated on `resamples` index lists
 * drawn with replacement from `0..n-1` (seeded), and the interval is the `(1-level)/2` and
 * `(1+level)/2` empirical quantiles (linear interpolation) of the finite results; `estimate` is
 * the statistic on every item once. NaN bounds when `n = 0` or no resample is finite.
 *
 * @example
 * ```ts
 * import { bootstrapInterval } from "./stats.ts";
 * import { assert, assertEquals } from "@std/assert";
 * const xs = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1];
 * const meanOf = (idx: readonly number[]) => idx.reduce((s, i) => s + xs[i]!, 0) / idx.length;
 * const b = bootstrapInterval(xs.length, meanOf, { seed: 1 });
 * assertEquals(b.estimate, 0.7);
 * assert(b.ciLow < 0.7 && 0.7 < b.ciHigh && b.ciLow >= 0 && b.ciHigh <= 1);
 * assertEquals(bootstrapInterval(xs.length, meanOf, { seed: 1 }), b); // seeded: reproducible
 * assertEquals(bootstrapInterval(3, () => 2).ciLow, 2); // a constant statistic: zero width
 * ```
 */
export function bootstrapInterval(
  n: number,
  statistic: (idx: readonly number[]) => number,
  options: BootstrapOptions = {},
): { estimate: number; ciLow: number; ciHigh: number; resamples: number } {
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`Invalid n: expected an integer >= 0, got ${n}`);
  }
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`Invalid resamples: expected an integer >= 1, got ${resamples}`);
  }
  if (!(level > 0 && level < 1)) {
    throw new RangeError(`Invalid level: expected a number in (0, 1), got ${level}`);
  }
  if (n === 0) return { estimate: NaN, ciLow: NaN, ciHigh: NaN, resamples };
  const all = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(options.seed ?? 0).fork("bootstrap");
  const stats: number[] = [];
  const idx = new Array<number>(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.min(n - 1, Math.floor(rng.next() * n));
    const s = statistic(idx);
    if (Number.isFinite(s)) stats.push(s);
  }
  stats.sort((a, b) => a - b);
  const q = (p: number) => {
    if (stats.length === 0) return NaN;
    const h = (stats.length - 1) * p, lo = Math.floor(h);
    return stats[lo]! + (h - lo) * ((stats[Math.min(lo + 1, stats.length - 1)] ?? 0) - stats[lo]!);
  };
  return {
    estimate: statistic(all),
    ciLow: q((1 - level) / 2),
    ciHigh: q((1 + level) / 2),
    resamples,
  };
}
