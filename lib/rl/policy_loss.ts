/**
 * DistRL policy loss (methods.md B11–B13, e7–e9): clipped token branch + probability-weighted
 * distribution branch over candidate tokens, `L = L_Tok + α L_Dist`.
 *
 * Differentiable w.r.t. `logpNew` and `candLogpNew` only; everything in the options object
 * (π_old log-probs, advantages, masks) is a constant: compute those outside the closure
 * given to `tf.variableGrads`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkChoice, checkFinite, checkShape, MIN_TOKEN_COUNT, safeDiv } from "../checks.ts";

/** Token-branch clip (DAPO, paper App. C). */
export const EPS_LOW = 0.2;
/** Token-branch upper clip (DAPO, paper App. C). */
export const EPS_HIGH = 0.28;
/** Symmetric distribution-branch clip (repo `clip_ratio`, e7). */
export const DIST_EPS = 0.2;
/** Dual-clip constant c of the repo preset ([verl] `clip_ratio_c`, e8). */
export const REPO_DUAL_CLIP = 3;
/** α (paper App. C). */
export const ALPHA = 0.1;

/**
 * Loss aggregation (e9): `"sequence"` (paper) per-sequence `1/T_b` then batch mean, each branch;
 * `"token"` (repo) token mean (token branch) and `Σ p L / Σ p` over kept candidates (dist branch).
 */
export type Aggregation = "sequence" | "token";

/** Options of {@linkcode policyLoss} (all constants). */
export interface PolicyLossOptions {
  /** `log π_old(y_t|s_t)` `[B,L]`. Required. */
  logpOld: tf.Tensor2D;
  /** Sampled-token advantage `A[B,L]`. Required. */
  advantages: tf.Tensor2D;
  /** Response mask `[B,L]`. Required. */
  mask: tf.Tensor2D;
  /** `log π_old(c_j|s_t)` `[B,L,K]` (required with `candLogpNew`). */
  candLogpOld?: tf.Tensor3D;
  /** `Â^TD[B,L,K]` (required with `candLogpNew`). */
  candAdvantages?: tf.Tensor3D;
  /** Candidate mask `[B,L,K]` (required with `candLogpNew`). */
  candMask?: tf.Tensor3D;
  /** Default {@linkcode EPS_LOW}. */
  epsLow?: number;
  /** Default {@linkcode EPS_HIGH}. */
  epsHigh?: number;
  /** Default {@linkcode DIST_EPS}. */
  distEps?: number;
  /** Dual clip c for A < 0 (both branches); `null` = off (paper, default). Repo: 3. */
  dualClip?: number | null;
  /** α (default {@linkcode ALPHA}). */
  alpha?: number;
  /** Default `"sequence"` (paper). */
  agg?: Aggregation;
}

/** Result of {@linkcode policyLoss}. */
export interface PolicyLoss {
  /** `L_Tok + α L_Dist`. */
  loss: tf.Scalar;
  metrics: {
    tokLoss: tf.Scalar;
    distLoss: tf.Scalar;
    /** Fraction of valid tokens with ρ outside `[1−ε_low, 1+ε_high]`. */
    tokClipFrac: tf.Scalar;
    /** Fraction of kept candidates with ρ outside `[1−ε, 1+ε]` (0 if none). */
    distClipFrac: tf.Scalar;
  };
}

/**
 * PPO clipped surrogate (Eq. 11/12): `max(−Aρ, −A clip(ρ, lo, hi))`, and with dual clip c,
 * `min(·, −A c)` where `A < 0`.
 */
function surrogate(
  ratio: tf.Tensor,
  adv: tf.Tensor,
  lo: number,
  hi: number,
  c: number | null,
): tf.Tensor {
  const negA = adv.neg();
  const l = tf.maximum(negA.mul(ratio), negA.mul(tf.clipByValue(ratio, lo, hi)));
  return c === null ? l : tf.where(adv.less(0), tf.minimum(l, negA.mul(c)), l);
}

interface AggInput {
  /** Token losses `[B,L]`. */
  tok: tf.Tensor2D;
  mask: tf.Tensor2D;
  /** Candidate losses `[B,L,K]`, weights `p = exp(candLogpOld)` and mask. */
  dist: tf.Tensor3D;
  p: tf.Tensor3D;
  candMask: tf.Tensor3D;
}

const AGGREGATIONS = {
  // mean_b (1/T_b) Σ_t L_t  and  mean_b (1/T_b) Σ_t Σ_j p L
  sequence: ({ tok, mask, dist, p, candMask }) => {
    const T = tf.maximum(mask.sum(1), MIN_TOKEN_COUNT);
    return {
      tok: tok.mul(mask).sum(1).div(T).mean() as tf.Scalar,
      dist: dist.mul(p).mul(candMask).sum([1, 2]).div(T).mean() as tf.Scalar,
    };
  },
  // Σ L M / Σ M  and  Σ p L cm / Σ p cm (0 when the candidate mask is empty)
  token: ({ tok, mask, dist, p, candMask }) => ({
    tok: safeDiv(tok.mul(mask).sum(), mask.sum()) as tf.Scalar,
    dist: safeDiv(dist.mul(p).mul(candMask).sum(), p.mul(candMask).sum()) as tf.Scalar,
  }),
} as const satisfies Record<Aggregation, (x: AggInput) => { tok: tf.Scalar; dist: tf.Scalar }>;

/**
 * DistRL policy loss (B11–B13):
 *
 *   token: `ρ_t = exp(logπ_θ − logπ_old)`, `L_t = max(−A_t ρ_t, −A_t clip(ρ_t, 1−ε_low, 1+ε_high))`;
 *   dist: `ρ = exp(logπ_θ(c_j) − logπ_old(c_j))`, `L = max(−Â ρ, −Â clip(ρ, 1−ε, 1+ε))`, weight
 *   `p = exp(logπ_old(c_j))`; dual clip `min(L, −A c)` where `A < 0` when `dualClip` is set;
 *   aggregation per {@linkcode Aggregation}; `loss = L_Tok + α L_Dist`.
 *
 * A row with no valid token contributes 0 under `"sequence"` (callers check with
 * `validateMask(..., {requireRowValid})`).
 *
 * Paper Eq. 12 (token branch), Eq. 11 (distribution branch), Eq. 14 (total).
 *
 * @param logpNew `log π_θ(y_t|s_t)` `[B,L]` (differentiated).
 * @param candLogpNew `log π_θ(c_j|s_t)` `[B,L,K]` (differentiated), or null for no dist branch.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { policyLoss } from "./policy_loss.ts";
 * // ρ = 1 (π_θ = π_old) ⇒ L_t = −A_t; A = [1, −2], one row of T = 2 ⇒ (−1 + 2)/2 = 0.5
 * const lp = tf.tensor2d([[-1, -2]]);
 * const tok = policyLoss(lp, null, { logpOld: lp, advantages: tf.tensor2d([[1, -2]]), mask: tf.tensor2d([[1, 1]]) });
 * assertAlmostEquals((await tok.loss.data())[0]!, 0.5, 1e-6);
 * // Eq. 11 at t = 1: one candidate, p = 0.5, Â = 1, ρ = 1 ⇒ L_Dist = (1/T) p (−Â ρ) = −0.25
 * const c = tf.tensor3d([[[Math.log(0.5)], [Math.log(0.5)]]]);
 * const both = policyLoss(lp, c, {
 *   logpOld: lp,
 *   advantages: tf.tensor2d([[1, -2]]),
 *   mask: tf.tensor2d([[1, 1]]),
 *   candLogpOld: c,
 *   candAdvantages: tf.tensor3d([[[1], [1]]]),
 *   candMask: tf.tensor3d([[[1], [0]]]),
 *   alpha: 0.1,
 * });
 * assertAlmostEquals((await both.metrics.distLoss.data())[0]!, -0.25, 1e-6);
 * assertAlmostEquals((await both.loss.data())[0]!, 0.5 + 0.1 * -0.25, 1e-6); // Eq. 14
 * ```
 */
export function policyLoss(
  logpNew: tf.Tensor2D,
  candLogpNew: tf.Tensor3D | null,
  options: PolicyLossOptions,
): PolicyLoss {
  checkShape(logpNew, "logpNew", [undefined, undefined], "[B,L]");
  const [b, l] = logpNew.shape;
  for (const k of ["logpOld", "advantages", "mask"] as const) {
    if (options[k] === undefined) throw new RangeError(`Invalid ${k}: required option is missing`);
    checkShape(options[k], k, [b, l], "[B,L]");
  }
  if (candLogpNew !== null) {
    checkShape(candLogpNew, "candLogpNew", [b, l, undefined], "[B,L,K]");
    for (const k of ["candLogpOld", "candAdvantages", "candMask"] as const) {
      const x = options[k];
      if (x === undefined) throw new RangeError(`Invalid ${k}: required with candLogpNew`);
      checkShape(x, k, candLogpNew.shape, "[B,L,K]");
    }
  }
  const epsLow = options.epsLow ?? EPS_LOW, epsHigh = options.epsHigh ?? EPS_HIGH;
  const distEps = options.distEps ?? DIST_EPS, alpha = options.alpha ?? ALPHA;
  const dualClip = options.dualClip ?? null;
  for (const [k, x] of Object.entries({ epsLow, epsHigh, distEps, alpha })) checkFinite(x, k);
  if (dualClip !== null) checkFinite(dualClip, "dualClip");
  const agg = options.agg ?? "sequence";
  checkChoice(AGGREGATIONS, agg, "agg");
  return tf.tidy(() => {
    const { logpOld, advantages, mask } = options;
    const ratio = tf.exp(logpNew.sub(logpOld));
    const tok = surrogate(ratio, advantages, 1 - epsLow, 1 + epsHigh, dualClip) as tf.Tensor2D;
    const out = tf.logicalOr(ratio.less(1 - epsLow), ratio.greater(1 + epsHigh)).toFloat();
    const tokClipFrac = safeDiv(out.mul(mask).sum(), mask.sum()) as tf.Scalar;
    let dist: tf.Tensor3D, p: tf.Tensor3D, candMask: tf.Tensor3D;
    let distClipFrac: tf.Scalar;
    if (candLogpNew === null || candLogpNew.shape[2] === 0) {
      dist = p = candMask = tf.zeros([b, l, 1]) as tf.Tensor3D;
      distClipFrac = tf.scalar(0);
    } else {
      const cRatio = tf.exp(candLogpNew.sub(options.candLogpOld!));
      dist = surrogate(
        cRatio,
        options.candAdvantages!,
        1 - distEps,
        1 + distEps,
        dualClip,
      ) as tf.Tensor3D;
      p = tf.exp(options.candLogpOld!);
      candMask = options.candMask!;
      const cOut = tf.logicalOr(cRatio.less(1 - distEps), cRatio.greater(1 + distEps)).toFloat();
      distClipFrac = safeDiv(cOut.mul(candMask).sum(), candMask.sum()) as tf.Scalar;
    }
    const r = AGGREGATIONS[agg]({ tok, mask, dist, p, candMask });
    return {
      loss: r.tok.add(r.dist.mul(alpha)) as tf.Scalar,
      metrics: { tokLoss: r.tok, distLoss: r.dist, tokClipFrac, distClipFrac },
    };
  });
}

/**
 * Per-token entropy of the policy from full-vocabulary log-probabilities:
 * `H[b, t] = −Σ_v exp(logp[b, t, v]) · logp[b, t, v]` (differentiable).
 *
 * @param vocabLogp `log π_θ(v|s_t)` for every vocabulary id `v`, `[B,L,V]`
 * @returns `[B,L]`
 */
export function tokenEntropy(vocabLogp: tf.Tensor3D): tf.Tensor2D {
  checkShape(vocabLogp, "vocabLogp", [undefined, undefined, undefined], "[B,L,V]");
  return tf.tidy(() => tf.exp(vocabLogp).mul(vocabLogp).sum(2).neg() as tf.Tensor2D);
}

/**
 * Masked aggregate of per-token entropies with the policy loss's aggregation (e9), the
 * quantity an entropy bonus `− c · H` rewards (PRIME, methods.md B16: c = 0.001):
 * `"sequence"`: `mean_b (1/T_b) Σ_t H m`; `"token"`: `Σ H m / Σ m`.
 *
 * @param entropy `[B,L]`; @param mask `[B,L]` 0/1
 */
export function aggregateEntropy(
  entropy: tf.Tensor2D,
  mask: tf.Tensor2D,
  agg: Aggregation = "sequence",
): tf.Scalar {
  checkShape(mask, "mask", entropy.shape, "[B,L]");
  checkChoice(AGGREGATIONS, agg, "agg");
  return tf.tidy(() =>
    agg === "sequence"
      ? entropy.mul(mask).sum(1).div(tf.maximum(mask.sum(1), MIN_TOKEN_COUNT)).mean() as tf.Scalar
      : safeDiv(entropy.mul(mask).sum(), mask.sum()) as tf.Scalar
  );
}
