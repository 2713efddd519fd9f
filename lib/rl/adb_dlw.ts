/**
 * Adaptive Difficulty Boundary (ADB) margins and Dynamic Loss Weighting (DLW) weights of the
 * online RM update (methods.md B14, paper Eq. 15, Sec. 3.3). Group-level constants from verifier
 * outcomes only, computed in float64 JS (conformance.md) and fed to `ipvrmLoss` as
 * `sampleMargins` / `sampleWeights`.
 * @module
 */
import { checkChoice, checkFinite, checkGroupSize } from "../checks.ts";

/** Clamp of μ(x) before the logit: `V(x) = logit(clamp(μ, ε, 1−ε))` (repo). */
export const GROUP_VALUE_EPS = 1e-6;

/**
 * DLW variant: `"paper"` `w = 1−μ` (correct) / `μ` (wrong); `"normalized"` (repo, e11) the
 * paper weights rescaled to sum to n per group (`1/(2μ)`, `1/(2(1−μ))`); `"off"` `w = 1`.
 */
export type DlwMode = "paper" | "normalized" | "off";

/** Weights of one group from its labels and μ. */
type GroupWeights = (labels: readonly number[], mu: number) => number[];

const paperWeights: GroupWeights = (ys, mu) => ys.map((y) => (y === 1 ? 1 - mu : mu));

const DLW = {
  paper: paperWeights,
  normalized: (ys, mu) => {
    const w = paperWeights(ys, mu);
    const sum = w.reduce((a, b) => a + b, 0);
    // uniform groups have paper weights all 0: no rescale possible, weight 0 (conformance.md)
    return sum > 0 ? w.map((x) => (x * ys.length) / sum) : w.map(() => 0);
  },
  off: (ys) => ys.map(() => 1),
} as const satisfies Record<DlwMode, GroupWeights>;

/** Options of {@linkcode adbDlw}. */
export interface AdbDlwOptions {
  /** Rollouts per prompt `n`; groups are consecutive blocks. Required. */
  groupSize: number;
  /** Base margin m (default 5). */
  margin?: number;
  /** DLW variant (default `"paper"`). */
  dlw?: DlwMode;
  /** Uniform-outcome groups get weight 0 and margin m (repo, e12). Default true. */
  skipUniform?: boolean;
  /** Apply ADB margins `m ∓ V(x)`; false gives margin m everywhere. Default true. */
  adb?: boolean;
}

/** Per-sample constants, float64, `[B]` each. */
export interface AdbDlw {
  /** DLW weight `w_b`. */
  weights: number[];
  /** ADB margin `m_b = m − V(x)` (correct) / `m + V(x)` (wrong). */
  margins: number[];
  /** `V(x) = logit(clamp(μ(x), 1e-6, 1−1e-6))` broadcast to the group's rows. */
  groupValue: number[];
}

/**
 * ADB + DLW (B14, paper Eq. 15, Sec. 3.3):
 *
 *   `μ = mean_group r_o`, `V(x) = logit(clamp(μ, 1e-6, 1−1e-6))`,
 *   `m_b = m − V(x)` if `r_b = 1`, `m + V(x)` if `r_b = 0`  (loss `softplus(m_b − sgn_b v̄_t)`),
 *   `w_b` from `dlw`; with `skipUniform`, all-equal groups get `w = 0`, `m_b = m`.
 *
 * @param labels verifier outcomes `[B]`, 0/1.
 * @example
 * ```ts
 * import { assertAlmostEquals } from "@std/assert";
 * import { adbDlw } from "./adb_dlw.ts";
 * // methods.md (g)2: n = 4, one correct (μ = 0.25, V(x) = −1.098612), m = 5
 * const r = adbDlw([1, 0, 0, 0], { groupSize: 4 });
 * [6.098612, 3.901388, 3.901388, 3.901388].forEach((x, i) => assertAlmostEquals(r.margins[i]!, x, 1e-6));
 * [0.75, 0.25, 0.25, 0.25].forEach((x, i) => assertAlmostEquals(r.weights[i]!, x, 1e-12)); // DLW "paper"
 * const repo = adbDlw([1, 0, 0, 0], { groupSize: 4, dlw: "normalized" });
 * [2, 0.666667, 0.666667, 0.666667].forEach((x, i) => assertAlmostEquals(repo.weights[i]!, x, 1e-6));
 * ```
 */
export function adbDlw(labels: ArrayLike<number>, options: AdbDlwOptions): AdbDlw {
  const b = labels.length;
  const g = options.groupSize;
  checkGroupSize(b, g);
  const margin = options.margin ?? 5;
  checkFinite(margin, "margin");
  const dlw = options.dlw ?? "paper";
  checkChoice(DLW, dlw, "dlw");
  const skipUniform = options.skipUniform ?? true;
  const adb = options.adb ?? true;
  const ys: number[] = [];
  for (let i = 0; i < b; i++) {
    const y = labels[i]!;
    if (y !== 0 && y !== 1) {
      throw new RangeError(`Invalid labels: expected 0/1 values, got ${y} at [${i}]`);
    }
    ys.push(y);
  }
  const weights: number[] = [], margins: number[] = [], groupValue: number[] = [];
  for (let s = 0; s < b; s += g) {
    const grp = ys.slice(s, s + g);
    const mu = grp.reduce((a, c) => a + c, 0) / g;
    const p = Math.min(Math.max(mu, GROUP_VALUE_EPS), 1 - GROUP_VALUE_EPS);
    const v = Math.log(p / (1 - p));
    const uniform = mu === 0 || mu === 1;
    const w = DLW[dlw](grp, mu);
    grp.forEach((y, i) => {
      const skip = skipUniform && uniform;
      weights.push(skip ? 0 : w[i]!);
      margins.push(skip || !adb ? margin : y === 1 ? margin - v : margin + v);
      groupValue.push(v);
    });
  }
  return { weights, margins, groupValue };
}
