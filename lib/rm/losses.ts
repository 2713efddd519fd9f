/**
 * Reward-model losses over token log-ratios `ℓ = logp_rm − logp_ref` (methods.md B3–B6, B14):
 * DPO-RM, Implicit PRM (cross-entropy) and IPVRM with temporal weighting, per-sample
 * weights (DLW) and margins (ADB).
 *
 * Gradients flow only through `logratio`; build it with `logRatio()` (reference treated
 * as a constant) or from a reference forward computed outside the differentiated closure.
 * Labels, weights, margins and pairs are constants.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  checkChoice,
  checkFinite,
  checkGroupSize,
  checkShape,
  lastTokenMask,
  MIN_TOKEN_COUNT,
  safeDiv,
} from "../checks.ts";
import { prefixValues } from "./prefix_values.ts";

/** IPVRM β (paper App. C; repo `beta_train: 10`). */
export const IPVRM_BETA = 10;
/** IPVRM margin m (paper App. C; repo RL config `margin: 5`). */
export const IPVRM_MARGIN = 5;
/** DPO-RM / Implicit PRM β (paper App. C). */
export const DPO_BETA = 0.05;

/**
 * `softplus(z) = max(z, 0) + log1p(exp(−|z|))`, written out instead of `tf.softplus`
 * for wasm/webgpu parity and stability at |z| > 20 (methods.md (f)).
 */
export function softplus<T extends tf.Tensor>(z: T): T {
  return tf.tidy(() => tf.relu(z).add(tf.log1p(tf.exp(tf.abs(z).neg()))) as T);
}

/** Temporal weighting of the per-prefix losses (B6, paper Eq. 16–18). */
export type Weighting = "uniform" | "early" | "late";
/** How the IPVRM loss reduces over the batch (B5): per-sequence mean (paper) or token mean (repo offline). */
export type Reduction = "sequence" | "token";

/**
 * Weights `w_{b,t}` from `t = cumsum(M)` (1-based position) and `T` (`[B,1]`), zero at padding.
 * Each row sums to 1 when `T ≥ 1`.
 */
const WEIGHTINGS = {
  // w_t = 1/T
  uniform: (_t: tf.Tensor2D, T: tf.Tensor2D, m: tf.Tensor2D) =>
    m.div(tf.maximum(T, MIN_TOKEN_COUNT)),
  // w_t = 2t / (T(T+1))
  late: (t: tf.Tensor2D, T: tf.Tensor2D, m: tf.Tensor2D) =>
    t.mul(2).div(tf.maximum(T.mul(T.add(1)), 1)).mul(m),
  // w_t = 2(T−t) / (T(T−1)); T = 1 is 0/0 and falls back to uniform (B6).
  early: (t: tf.Tensor2D, T: tf.Tensor2D, m: tf.Tensor2D) => {
    const early = T.sub(t).mul(2).div(tf.maximum(T.mul(T.sub(1)), 1)).mul(m);
    const uniform = m.div(tf.maximum(T, MIN_TOKEN_COUNT));
    return tf.where(T.greater(1).tile([1, m.shape[1]]), early, uniform);
  },
} as const satisfies Record<
  Weighting,
  (t: tf.Tensor2D, T: tf.Tensor2D, m: tf.Tensor2D) => tf.Tensor
>;

/**
 * Temporal weights `w[B,L]` of B6 (paper Eq. 16–18; zero at padding; each non-empty row
 * sums to 1): uniform `1/T`, late `2t/(T(T+1))`, early `2(T−t)/(T(T−1))`.
 * `early` with `T = 1` gives `w_1 = 1` (uniform fallback).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { temporalWeights } from "./losses.ts";
 * const m = tf.tensor2d([[1, 1, 0], [1, 0, 0]]); // T = 2, T = 1
 * const late = await temporalWeights(m, { weighting: "late" }).data();
 * [1 / 3, 2 / 3, 0, 1, 0, 0].forEach((x, i) => assertAlmostEquals(late[i]!, x, 1e-6));
 * const early = await temporalWeights(m, { weighting: "early" }).data(); // T = 1 → uniform
 * [1, 0, 0, 1, 0, 0].forEach((x, i) => assertAlmostEquals(early[i]!, x, 1e-6));
 * ```
 */
export function temporalWeights(
  mask: tf.Tensor2D,
  options: { weighting?: Weighting } = {},
): tf.Tensor2D {
  checkShape(mask, "mask", [undefined, undefined], "[B,L]");
  const weighting = options.weighting ?? "uniform";
  checkChoice(WEIGHTINGS, weighting, "weighting");
  return tf.tidy(() => {
    const t = tf.cumsum(mask, 1) as tf.Tensor2D;
    const T = mask.sum(1, true) as tf.Tensor2D;
    return WEIGHTINGS[weighting](t, T, mask) as tf.Tensor2D;
  });
}

function check1d(x: tf.Tensor | undefined, name: string, b: number): void {
  if (x !== undefined) checkShape(x, name, [b], "[B]");
}

/** Options of {@linkcode ipvrmLoss}. */
export interface IpvrmLossOptions {
  /** Outcome `r_o ∈ {0,1}` per sequence, `[B]`. Required. */
  labels: tf.Tensor1D;
  /** β of `V_t` (default {@linkcode IPVRM_BETA} = 10). */
  beta?: number;
  /** Margin m (default {@linkcode IPVRM_MARGIN} = 5); ignored where `sampleMargins` is given. */
  margin?: number;
  /** Temporal weighting (B6), default `"uniform"` (paper Eq. 9). */
  weighting?: Weighting;
  /** Per-sequence weights `w_b` `[B]` (DLW, B14); default 1. */
  sampleWeights?: tf.Tensor1D;
  /** Per-sequence margins `m_b` `[B]` (ADB, B14); overrides `margin`. */
  sampleMargins?: tf.Tensor1D;
  /** `"sequence"` (paper, default) or `"token"` (repo offline trainer; needs `weighting: "uniform"`). */
  reduction?: Reduction;
}

/** Result of {@linkcode ipvrmLoss}. */
export interface IpvrmLoss {
  /** Scalar loss. */
  loss: tf.Scalar;
  metrics: {
    /** `L_seq,b = Σ_t w_t λ_{b,t}` before `sampleWeights`, `[B]`. */
    perSequence: tf.Tensor1D;
    /** Fraction of valid (b,t) with `[v̄_t > 0] == r_o` (B5 logged metric). */
    prefixAccuracy: tf.Scalar;
    /** `v̄_T` per sequence (score at the full response), `[B]`. */
    finalScore: tf.Tensor1D;
    /** Per-prefix losses `λ[B,L]`, 0 at padding. */
    prefixLoss: tf.Tensor2D;
  };
}

const REDUCTIONS = {
  // mean_b w_b Σ_t w_t λ_t
  sequence: (perSeq: tf.Tensor1D, _lam: tf.Tensor2D, sw: tf.Tensor1D, _m: tf.Tensor2D) =>
    perSeq.mul(sw).mean() as tf.Scalar,
  // Σ_{b,t} w_b λ_{b,t} M / Σ M
  token: (_perSeq: tf.Tensor1D, lam: tf.Tensor2D, sw: tf.Tensor1D, m: tf.Tensor2D) =>
    safeDiv(lam.mul(m).mul(sw.expandDims(1)).sum(), m.sum()) as tf.Scalar,
} as const satisfies Record<
  Reduction,
  (perSeq: tf.Tensor1D, lam: tf.Tensor2D, sw: tf.Tensor1D, m: tf.Tensor2D) => tf.Scalar
>;

/** The argument checks the pointwise RM losses (B4, B5/B14) share. */
function checkPointwiseArgs(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: { labels: tf.Tensor1D; sampleWeights?: tf.Tensor1D; sampleMargins?: tf.Tensor1D },
): void {
  checkShape(logratio, "logratio", [undefined, undefined], "[B,L]");
  checkShape(mask, "mask", logratio.shape, "[B,L]");
  const b = logratio.shape[0];
  if (options.labels === undefined) {
    throw new RangeError("Invalid labels: required option is missing");
  }
  check1d(options.labels, "labels", b);
  check1d(options.sampleWeights, "sampleWeights", b);
  check1d(options.sampleMargins, "sampleMargins", b);
}

/**
 * IPVRM loss (B5, paper Eq. 9; with ADB/DLW, B14 / Eq. 15):
 *
 *   `v̄_t = β Σ_{i≤t} ℓ_i / t`,  `λ_{b,t} = softplus(m_b − sgn_b · v̄_{b,t})`, `sgn = 2 r_o − 1`,
 *   `L_seq,b = Σ_t w_t λ_{b,t}` (w from `weighting`, B6),
 *   `"sequence"`: `loss = mean_b (sw_b · L_seq,b)`;
 *   `"token"`: `loss = Σ_{b,t} sw_b λ_{b,t} M_{b,t} / Σ M`.
 *
 * A row with no valid token contributes 0 (callers check with `validateMask(..., {requireRowValid})`).
 *
 * @param logratio `ℓ` `[B,L]`; the only input that carries gradient.
 * @param mask `M` `[B,L]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { ipvrmLoss } from "./losses.ts";
 * // methods.md (g)1: β = 10, m = 5, ℓ = [0.1, −0.2] ⇒ v̄ = [1, −0.5]
 * const lr = tf.tensor2d([[0.1, -0.2]]), m = tf.tensor2d([[1, 1]]);
 * const right = ipvrmLoss(lr, m, { labels: tf.tensor1d([1]) }).loss; // (softplus(4) + softplus(5.5)) / 2
 * assertAlmostEquals((await right.data())[0]!, 4.761114, 1e-5);
 * const wrong = ipvrmLoss(lr, m, { labels: tf.tensor1d([0]) }).loss; // (softplus(6) + softplus(4.5)) / 2
 * assertAlmostEquals((await wrong.data())[0]!, 5.256762, 1e-5);
 * const late = ipvrmLoss(lr, m, { labels: tf.tensor1d([1]), weighting: "late" }).loss; // B6
 * assertAlmostEquals((await late.data())[0]!, 5.008769, 1e-5);
 * ```
 */
export function ipvrmLoss(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: IpvrmLossOptions,
): IpvrmLoss {
  checkPointwiseArgs(logratio, mask, options);
  const b = logratio.shape[0];
  const beta = options.beta ?? IPVRM_BETA;
  const margin = options.margin ?? IPVRM_MARGIN;
  checkFinite(beta, "beta");
  checkFinite(margin, "margin");
  const weighting = options.weighting ?? "uniform";
  const reduction = options.reduction ?? "sequence";
  checkChoice(WEIGHTINGS, weighting, "weighting");
  checkChoice(REDUCTIONS, reduction, "reduction");
  if (reduction === "token" && weighting !== "uniform") {
    throw new RangeError(
      `Invalid weighting: reduction "token" needs "uniform", got "${weighting}"`,
    );
  }
  return tf.tidy(() => {
    const { meanValues } = prefixValues(logratio, mask, { beta });
    const labels = options.labels.toFloat();
    const sgn = labels.mul(2).sub(1).expandDims(1);
    const m = (options.sampleMargins ?? tf.fill([b], margin)).toFloat().expandDims(1);
    const prefixLoss = softplus(m.sub(sgn.mul(meanValues))).mul(mask) as tf.Tensor2D;
    const w = temporalWeights(mask, { weighting });
    const perSequence = prefixLoss.mul(w).sum(1) as tf.Tensor1D;
    const sw = (options.sampleWeights ?? tf.ones([b])).toFloat() as tf.Tensor1D;
    const loss = REDUCTIONS[reduction](perSequence, prefixLoss, sw, mask);
    const correct = meanValues.greater(0).toFloat().equal(labels.expandDims(1)).toFloat();
    const prefixAccuracy = safeDiv(correct.mul(mask).sum(), mask.sum()) as tf.Scalar;
    const finalScore = meanValues.mul(lastTokenMask(mask)).sum(1) as tf.Tensor1D;
    return { loss, metrics: { perSequence, prefixAccuracy, finalScore, prefixLoss } };
  });
}

/** Options of {@linkcode implicitPrmLoss}. */
export interface ImplicitPrmLossOptions {
  /** Outcome `r_o ∈ {0,1}` per sequence, `[B]`. Required. */
  labels: tf.Tensor1D;
  /** β (default {@linkcode DPO_BETA} = 0.05). */
  beta?: number;
  /** Per-sequence weights `[B]` (online DLW, e23); default 1. */
  sampleWeights?: tf.Tensor1D;
  /** Per-sequence margins `[B]` (online ADB, e23); default 0 (paper Eq. 4). */
  sampleMargins?: tf.Tensor1D;
}

/**
 * Implicit PRM cross-entropy (B4, paper Eq. 4), in logits form:
 *
 *   `z_b = β Σ_t ℓ_{b,t}`,  `per_b = r_b softplus(−z_b) + (1−r_b) softplus(z_b) = softplus(m_b − sgn_b z_b)`
 *   with `m_b = 0` unless ADB margins are given; `loss = mean_b (sw_b · per_b)`.
 *
 * @param logratio `ℓ` `[B,L]`. @param mask `[B,L]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { implicitPrmLoss } from "./losses.ts";
 * // β = 10, ℓ = [0.1, −0.2] ⇒ z = −1: correct softplus(1) = 1.313262, wrong softplus(−1) = 0.313262
 * const lr = tf.tensor2d([[0.1, -0.2], [0.1, -0.2]]), m = tf.tensor2d([[1, 1], [1, 1]]);
 * const { loss } = implicitPrmLoss(lr, m, { labels: tf.tensor1d([1, 0]), beta: 10 });
 * assertAlmostEquals((await loss.data())[0]!, (1.313262 + 0.313262) / 2, 1e-5);
 * ```
 */
export function implicitPrmLoss(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: ImplicitPrmLossOptions,
): { loss: tf.Scalar; metrics: { perSequence: tf.Tensor1D; score: tf.Tensor1D } } {
  checkPointwiseArgs(logratio, mask, options);
  const b = logratio.shape[0];
  const beta = options.beta ?? DPO_BETA;
  checkFinite(beta, "beta");
  return tf.tidy(() => {
    const z = logratio.mul(mask).sum(1).mul(beta) as tf.Tensor1D;
    const sgn = options.labels.toFloat().mul(2).sub(1);
    const m = (options.sampleMargins ?? tf.zeros([b])).toFloat();
    const perSequence = softplus(m.sub(sgn.mul(z))) as tf.Tensor1D;
    const sw = (options.sampleWeights ?? tf.ones([b])).toFloat();
    const loss = perSequence.mul(sw).mean() as tf.Scalar;
    return { loss, metrics: { perSequence, score: z } };
  });
}

/** A (chosen, rejected) pair of row indices into the batch. */
export type Pair = readonly [number, number];

/** Options of {@linkcode dpoLoss}. */
export interface DpoLossOptions {
  /** `[[chosen, rejected], ...]` row indices; at least one pair. Required. */
  pairs: ReadonlyArray<Pair>;
  /** β (default {@linkcode DPO_BETA} = 0.05). */
  beta?: number;
  /** SimPO-style offset γ of the repo's `bt_sum` (default 0). */
  gamma?: number;
  /** `"sum"` (B3 paper / repo `bt_sum`, default) or `"mean"` (repo `bt_mean`). */
  score?: "sum" | "mean";
}

/**
 * DPO-RM (B3, paper Eq. 1–2): `R_b = β Σ_t ℓ_{b,t}` (or the token mean with `score: "mean"`),
 * `per_pair = softplus(γ − (R_w − R_l))`, `loss = mean over pairs`.
 * Pairs are selected with one-hot products rather than `gather` (its gradient,
 * UnsortedSegmentSum, is missing on wasm).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { dpoLoss } from "./losses.ts";
 * // β = 1: R_w = 0.3, R_l = −0.2 ⇒ softplus(−0.5) = 0.474077
 * const lr = tf.tensor2d([[0.1, 0.2], [-0.2, 0]]), m = tf.tensor2d([[1, 1], [1, 0]]);
 * const { loss } = dpoLoss(lr, m, { pairs: [[0, 1]], beta: 1 });
 * assertAlmostEquals((await loss.data())[0]!, 0.474077, 1e-5);
 * ```
 */
export function dpoLoss(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: DpoLossOptions,
): { loss: tf.Scalar; metrics: { perPair: tf.Tensor1D; margin: tf.Tensor1D } } {
  checkShape(logratio, "logratio", [undefined, undefined], "[B,L]");
  checkShape(mask, "mask", logratio.shape, "[B,L]");
  const b = logratio.shape[0];
  const pairs = options.pairs;
  if (!Array.isArray(pairs) || pairs.length === 0) {
    throw new RangeError("Invalid pairs: expected at least one [chosen, rejected] pair");
  }
  pairs.forEach((p, i) => {
    for (const j of [0, 1] as const) {
      const x = p?.[j];
      if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x >= b) {
        throw new RangeError(
          `Invalid pairs: expected row indices in [0, ${b}), got ${x} at [${i}][${j}]`,
        );
      }
    }
  });
  const beta = options.beta ?? DPO_BETA;
  const gamma = options.gamma ?? 0;
  checkFinite(beta, "beta");
  checkFinite(gamma, "gamma");
  const score = options.score ?? "sum";
  if (score !== "sum" && score !== "mean") {
    throw new RangeError(`Invalid score: expected one of "sum", "mean", got "${score}"`);
  }
  return tf.tidy(() => {
    let s = logratio.mul(mask).sum(1);
    if (score === "mean") s = s.div(tf.maximum(mask.sum(1), MIN_TOKEN_COUNT));
    const r = s.mul(beta).expandDims(0); // [1,B]
    const pick = (j: 0 | 1) =>
      tf.tensor2d(pairs.map((p) => p[j]), [pairs.length, 1], "int32")
        .equal(tf.range(0, b, 1, "int32").expandDims(0)) // one-hot rows [P,B] (tf.oneHot needs B >= 2)
        .toFloat().mul(r).sum(1);
    const margin = pick(0).sub(pick(1)) as tf.Tensor1D;
    const perPair = softplus(tf.scalar(gamma).sub(margin)) as tf.Tensor1D;
    return { loss: perPair.mean() as tf.Scalar, metrics: { perPair, margin } };
  });
}

/**
 * Repo online pairing (B3): inside each group of `groupSize` consecutive rows, positives and
 * negatives in row order, the first `k = min(#pos, #neg)` of each zipped into pairs.
 * Plain JS over the verifier's labels (constants).
 */
export function dpoPairsFromGroups(
  labels: ArrayLike<number>,
  options: { groupSize: number },
): Pair[] {
  checkGroupSize(labels.length, options.groupSize);
  const pairs: Pair[] = [];
  for (let g = 0; g < labels.length; g += options.groupSize) {
    const pos: number[] = [], neg: number[] = [];
    for (let i = g; i < g + options.groupSize; i++) {
      const y = labels[i]!;
      if (y !== 0 && y !== 1) {
        throw new RangeError(`Invalid labels: expected 0/1 values, got ${y} at [${i}]`);
      }
      (y === 1 ? pos : neg).push(i);
    }
    for (let k = 0; k < Math.min(pos.length, neg.length); k++) pairs.push([pos[k]!, neg[k]!]);
  }
  return pairs;
}
