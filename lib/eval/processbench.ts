/**
 * ProcessBench F1 (methods.md d1; [PB] `run_eval_prm_*.py`): a row predicts the
 * first step whose score falls below a threshold (strict `<`), -1 if none; the
 * F1 is the harmonic mean of the exact-match accuracies on erroneous rows
 * (label != -1) and correct rows (label = -1). Fractions, not percent.
 * Threshold modes: `oracle` (exact search on the rows themselves, reported per
 * split), `transfer` (fit on one split, apply to others), `compat` (the repo's
 * 10,000-point grid on [-1, 1] over sigmoid(0.001 * score), for parity).
 * @module
 */

/** One scored row: the earliest wrong step (or -1) and one score per step. */
export interface ScoredRow {
  /** 0-based index of the earliest wrong step, -1 when all steps are right; `< scores.length`. */
  label: number;
  /** Step scores (higher = more likely right). */
  scores: readonly number[];
}

/** F1 and its parts; `threshold` null means +inf (every step flagged at the first one). */
export interface F1Result {
  /** Harmonic mean of the two accuracies (0 when both are 0). */
  f1: number;
  /** Exact-match accuracy over rows with label != -1. */
  accErroneous: number;
  /** Accuracy over rows with label -1. */
  accCorrect: number;
  /** The threshold used (null = +inf). */
  threshold: number | null;
}

/** Checks rows: integer labels in [-1, S), finite scores, both classes present. */
export function checkRows(rows: readonly ScoredRow[], name = "rows"): void {
  if (!Array.isArray(rows)) throw new RangeError(`${name}: expected an array of {label, scores}`);
  let err = 0, cor = 0;
  rows.forEach((r, i) => {
    if (typeof r !== "object" || r === null || !Array.isArray(r.scores)) {
      throw new RangeError(`${name}[${i}]: expected {label, scores: number[]}`);
    }
    (r.scores as readonly unknown[]).forEach((s: unknown, j: number) => {
      if (typeof s !== "number" || !Number.isFinite(s)) {
        throw new RangeError(`${name}[${i}].scores: expected finite numbers, got ${s} at [${j}]`);
      }
    });
    const l = r.label;
    if (typeof l !== "number" || !Number.isInteger(l) || l < -1 || l >= r.scores.length) {
      throw new RangeError(
        `${name}[${i}].label: expected an integer in [-1, ${r.scores.length}) (the row has ${r.scores.length} steps), got ${l}`,
      );
    }
    if (l === -1) cor++;
    else err++;
  });
  if (err === 0 || cor === 0) {
    throw new RangeError(
      `${name}: both label classes are required (erroneous: ${err}, correct: ${cor})`,
    );
  }
}

/**
 * The predicted earliest wrong step: first k with `scores[k] < threshold`, else -1.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { predictFirstError } from "./processbench.ts";
 * assertEquals(predictFirstError([0.9, 0.3, 0.5], 0.5), 1);
 * assertEquals(predictFirstError([0.9, 0.5], 0.5), -1); // strict <
 * ```
 */
export function predictFirstError(scores: readonly number[], threshold: number): number {
  for (let k = 0; k < scores.length; k++) if (scores[k]! < threshold) return k;
  return -1;
}

/** F1 from the two accuracies (0 when both are 0). */
export function f1Of(accErroneous: number, accCorrect: number): number {
  const s = accErroneous + accCorrect;
  return s === 0 ? 0 : (2 * accErroneous * accCorrect) / s;
}

/** Accuracies and F1 of the rows at one threshold (a number, or Infinity / null for +inf). */
function scoreAt(rows: readonly ScoredRow[], threshold: number): F1Result {
  let err = 0, cor = 0, hitErr = 0, hitCor = 0;
  for (const r of rows) {
    const hit = predictFirstError(r.scores, threshold) === r.label ? 1 : 0;
    if (r.label === -1) cor++, hitCor += hit;
    else err++, hitErr += hit;
  }
  const accErroneous = hitErr / err, accCorrect = hitCor / cor;
  return {
    f1: f1Of(accErroneous, accCorrect),
    accErroneous,
    accCorrect,
    threshold: threshold === Infinity ? null : threshold,
  };
}

/**
 * The oracle threshold search, exact: every distinct score value and +inf are
 * candidates (they cover every distinct partition under strict `<`); the first
 * maximiser in ascending order wins. Each row matches its label on an interval
 * of thresholds, `(s_l, min(s_0..s_{l-1})]` for an erroneous row and
 * `(-inf, min(s)]` for a correct one, so all candidates are scored in
 * O((rows + steps) log steps) with a difference array.
 */
function oracle(rows: readonly ScoredRow[]): F1Result {
  const values = [...new Set(rows.flatMap((r) => r.scores))].sort((a, b) => a - b);
  const cands = [...values, Infinity];
  const n = cands.length;
  const dErr = new Float64Array(n + 1), dCor = new Float64Array(n + 1);
  let nErr = 0, nCor = 0;
  // first index j with cands[j] > x
  const firstAbove = (x: number): number => {
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cands[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  for (const r of rows) {
    const l = r.label;
    let minBefore = Infinity;
    for (let k = 0; k < (l === -1 ? r.scores.length : l); k++) {
      minBefore = Math.min(minBefore, r.scores[k]!);
    }
    // matched for a < tau <= b
    const a = l === -1 ? -Infinity : r.scores[l]!;
    const b = minBefore;
    const lo = a === -Infinity ? 0 : firstAbove(a);
    const hi = firstAbove(b); // exclusive: cands[j] <= b for j < hi
    const d = l === -1 ? dCor : dErr;
    if (l === -1) nCor++;
    else nErr++;
    if (lo < hi) d[lo]! += 1, d[hi]! -= 1;
  }
  let best: F1Result | null = null;
  let hitErr = 0, hitCor = 0;
  for (let j = 0; j < n; j++) {
    hitErr += dErr[j]!, hitCor += dCor[j]!;
    const accErroneous = hitErr / nErr, accCorrect = hitCor / nCor;
    const f1 = f1Of(accErroneous, accCorrect);
    if (best === null || f1 > best.f1) {
      const t = cands[j]!;
      best = { f1, accErroneous, accCorrect, threshold: t === Infinity ? null : t };
    }
  }
  return best!;
}

/**
 * ProcessBench F1 of scored rows at a fixed threshold or with the exact oracle search.
 *
 * @example
 * ```ts
 * import { assertAlmostEquals, assertEquals } from "@std/assert";
 * import { processBenchF1 } from "./processbench.ts";
 * // methods.md d1 worked check
 * const rows = [
 *   { label: -1, scores: [0.8, 0.7, 0.9] }, { label: -1, scores: [0.6, 0.4] },
 *   { label: 1, scores: [0.9, 0.3, 0.5] }, { label: 0, scores: [0.2, 0.6] },
 * ];
 * assertAlmostEquals(processBenchF1(rows, { threshold: 0.5 }).f1, 2 / 3, 1e-12);
 * const oracle = processBenchF1(rows);
 * assertEquals([oracle.threshold, oracle.f1], [0.4, 1]);
 * ```
 */
export function processBenchF1(
  rows: readonly ScoredRow[],
  options: { threshold?: "oracle" | number | null } = {},
): F1Result {
  checkRows(rows);
  const t = options.threshold ?? "oracle";
  if (t === "oracle") return oracle(rows);
  if (typeof t !== "number" || Number.isNaN(t)) {
    throw new RangeError(`threshold: expected "oracle" or a number, got ${t}`);
  }
  return scoreAt(rows, t);
}

/**
 * `transfer` mode: fits the oracle threshold on `fit` rows and applies it to each
 * named split (methods.md d1 (ii); [IPRM]'s script fits on GSM8K and reuses it).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { transferF1 } from "./processbench.ts";
 * const dev = [{ label: -1, scores: [1, 1] }, { label: 1, scores: [1, -1] }];
 * const r = transferF1(dev, { apply: { test: [{ label: -1, scores: [2] }, { label: 0, scores: [-2] }] } });
 * assertEquals(r.splits.test!.f1, 1);
 * ```
 */
export function transferF1(
  fit: readonly ScoredRow[],
  options: { apply: Record<string, readonly ScoredRow[]> },
): { threshold: number | null; fit: F1Result; splits: Record<string, F1Result> } {
  const fitted = processBenchF1(fit);
  const tau = fitted.threshold ?? Infinity;
  const splits: Record<string, F1Result> = {};
  for (const [name, rows] of Object.entries(options.apply)) {
    checkRows(rows, `apply.${name}`);
    splits[name] = scoreAt(rows, tau);
  }
  return { threshold: fitted.threshold, fit: fitted, splits };
}

/** Logistic function, computed without overflow. */
export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * `compat` mode: the repo's search ([IPVRM] `process_eval.py`): scores mapped to
 * `sigmoid(scale * score)` (scale 0.001), thresholds on a grid of `gridSize`
 * points evenly spaced on [-1, 1] (both ends included), first maximiser kept.
 * The reported threshold is in sigmoid space.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { compatF1 } from "./processbench.ts";
 * const rows = [{ label: -1, scores: [100] }, { label: 0, scores: [-100] }];
 * assertEquals(compatF1(rows).f1, 1);
 * ```
 */
export function compatF1(
  rows: readonly ScoredRow[],
  options: { scale?: number; gridSize?: number } = {},
): F1Result {
  checkRows(rows);
  const scale = options.scale ?? 0.001, gridSize = options.gridSize ?? 10000;
  if (!Number.isInteger(gridSize) || gridSize < 2) {
    throw new RangeError(`gridSize: expected an integer >= 2, got ${gridSize}`);
  }
  const mapped = rows.map((r) => ({
    label: r.label,
    scores: r.scores.map((s) => sigmoid(scale * s)),
  }));
  let best: F1Result | null = null;
  for (let i = 0; i < gridSize; i++) {
    const t = -1 + (2 * i) / (gridSize - 1);
    const r = scoreAt(mapped, t);
    if (best === null || r.f1 > best.f1) best = r;
  }
  return best!;
}
