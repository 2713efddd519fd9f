/**
 * Advantage estimators (methods.md B7, B9, B10; e1–e4, e10, e21, e22): GRPO outcome
 * advantages, TD / MC / GAE over prefix values, whitening, and the DistRL pipeline
 * (σ_V-scaled candidate TD advantages + sampled-token advantage).
 *
 * Everything here is a constant of the policy update: compute it outside the closure given
 * to `tf.variableGrads`.
 *
 * Shapes: `B` sequences (= prompts × G, groups are consecutive rows), `G` group size,
 * `L` response length, `K` candidate slots. Masks `[B,L]` 0/1, right padding.
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
  prefixValues,
  safeDiv,
} from "../rm/prefix_values.ts";

/** Clamp of the GRPO group std: `max(s(x), 1e-6)` (repo, e21). */
export const GRPO_STD_EPS = 1e-6;
/** Clamp of σ_V: `max(σ_V, 1e-6)` (repo, e22). */
export const SIGMA_V_EPS = 1e-6;
/** Added to the per-group TD std in `gaeNorm "group"` (paper Eq. 26–28's ε; conformance.md). */
export const GROUP_TD_EPS = 1e-6;
/** Added to the variance inside the whitening sqrt ([verl] masked_whiten). */
export const WHITEN_EPS = 1e-8;

function checkMask2d(x: tf.Tensor, mask: tf.Tensor, xName: string): void {
  checkShape(x, xName, [undefined, undefined], "[B,L]");
  checkShape(mask, "mask", x.shape, "[B,L]");
}

/** Options of {@linkcode grpoAdvantages}. */
export interface GrpoOptions {
  /** Rollouts per prompt `n`. Required. */
  groupSize: number;
  /** Std clamp (default {@linkcode GRPO_STD_EPS}). */
  eps?: number;
}

/**
 * GRPO outcome advantage (B10): `Â_k = (r_k − μ(x)) / max(s(x), eps)`, μ and s the mean and
 * population std over each group of `groupSize` consecutive rows. `[B] -> [B]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { grpoAdvantages } from "./advantages.ts";
 * grpoAdvantages(tf.tensor1d([1, 0, 0, 0]), { groupSize: 4 }); // [1.732051, -0.57735, -0.57735, -0.57735]
 * ```
 */
export function grpoAdvantages(rewards: tf.Tensor1D, options: GrpoOptions): tf.Tensor1D {
  checkShape(rewards, "rewards", [undefined], "[B]");
  const b = rewards.shape[0];
  checkGroupSize(b, options.groupSize);
  const eps = options.eps ?? GRPO_STD_EPS;
  checkFinite(eps, "eps");
  return tf.tidy(() => {
    const r = rewards.toFloat().reshape([b / options.groupSize, options.groupSize]);
    const { mean, variance } = tf.moments(r, 1, true);
    return r.sub(mean).div(tf.maximum(tf.sqrt(variance), eps)).reshape([b]) as tf.Tensor1D;
  });
}

/** Options of {@linkcode tdResiduals}. */
export interface TdOptions {
  /** β of the prefix values `V_t = β Σ_{i≤t} ℓ_i`. Required. */
  beta: number;
  /** Outcome `r_o` `[B]`, added at the last valid token unless `dropLast` (default none). */
  outcomes?: tf.Tensor1D;
  /** Discount γ (default 1). */
  gamma?: number;
  /** Repo (B7): TD of the last valid token set to 0, outcome not added there. Default false. */
  dropLast?: boolean;
}

/**
 * TD residuals (B7, paper Eq. 6): `δ_t = r_t + γ V_t − V_{t−1}`, `V_0 = 0`, `r_t = 0` for
 * `t < T`, `r_T = r_o`. With γ = 1 and t < T this is `β ℓ_t`. 0 at padding.
 * @param logratio `ℓ` `[B,L]` (reference: π_old for DistRL). @param mask `[B,L]`.
 */
export function tdResiduals(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: TdOptions,
): tf.Tensor2D {
  checkMask2d(logratio, mask, "logratio");
  const b = logratio.shape[0];
  if (options.outcomes) checkShape(options.outcomes, "outcomes", [b], "[B]");
  const gamma = options.gamma ?? 1;
  checkFinite(gamma, "gamma");
  return tf.tidy(() => {
    const { values } = prefixValues(logratio, mask, { beta: options.beta });
    const prev = tf.cumsum(logratio.mul(mask), 1, true).mul(options.beta); // V_{t−1}
    const last = lastTokenMask(mask);
    let td = values.mul(gamma).sub(prev).mul(mask);
    if (options.outcomes) td = td.add(last.mul(options.outcomes.toFloat().expandDims(1)));
    if (options.dropLast) td = td.mul(tf.scalar(1).sub(last));
    return td as tf.Tensor2D;
  });
}

/**
 * Value scale of the MC baseline (B7 caution): `"probability"` uses `σ(v̄_{t−1})` (the RM's
 * success probability, `v̄_0 = 0` ⇒ 0.5), matching `r_o ∈ {0,1}`; `"raw"` is the literal
 * Eq. 7 baseline `V_{t−1}` on the β·log-ratio scale.
 */
export type McScale = "probability" | "raw";

const MC_BASELINE = {
  probability: (mean: tf.Tensor2D, _v: tf.Tensor2D, m: tf.Tensor2D) => {
    const [b, l] = mean.shape;
    const prev = l === 0 ? mean : tf.concat([tf.zeros([b, 1]), mean.slice([0, 0], [b, l - 1])], 1);
    return tf.sigmoid(prev).mul(m);
  },
  raw: (_mean: tf.Tensor2D, v: tf.Tensor2D, m: tf.Tensor2D) => {
    const [b, l] = v.shape;
    return l === 0 ? v : tf.concat([tf.zeros([b, 1]), v.slice([0, 0], [b, l - 1])], 1).mul(m);
  },
} as const satisfies Record<
  McScale,
  (mean: tf.Tensor2D, v: tf.Tensor2D, m: tf.Tensor2D) => tf.Tensor
>;

/**
 * MC advantage (B7, paper Eq. 7; not used by DistRL): `A_t = r_o − baseline_{t−1}` with the
 * baseline of {@linkcode McScale} (default `"probability"`: `σ(v̄_{t−1})`). 0 at padding.
 */
export function mcAdvantages(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: { beta: number; outcomes: tf.Tensor1D; scale?: McScale },
): tf.Tensor2D {
  checkMask2d(logratio, mask, "logratio");
  checkShape(options.outcomes, "outcomes", [logratio.shape[0]], "[B]");
  const scale = options.scale ?? "probability";
  checkChoice(MC_BASELINE, scale, "scale");
  return tf.tidy(() => {
    const { values, meanValues } = prefixValues(logratio, mask, { beta: options.beta });
    const base = MC_BASELINE[scale](meanValues, values, mask);
    return options.outcomes.toFloat().expandDims(1).mul(mask).sub(base) as tf.Tensor2D;
  });
}

/**
 * GAE (B7, paper Eq. 8) by reverse scan: `g_t = M_t (δ_t M_t + γλ g_{t+1})`, `g_{L} = 0`,
 * which resets at padding. `[B,L] -> [B,L]`, 0 at padding.
 */
export function gae(
  td: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: { gamma?: number; lam?: number } = {},
): tf.Tensor2D {
  checkMask2d(td, mask, "td");
  const gamma = options.gamma ?? 1, lam = options.lam ?? 1;
  checkFinite(gamma, "gamma");
  checkFinite(lam, "lam");
  return tf.tidy(() => {
    const [b, l] = td.shape;
    if (l === 0) return tf.zeros([b, 0]) as tf.Tensor2D;
    const d = tf.unstack(td.mul(mask), 1);
    const m = tf.unstack(mask, 1);
    const out: tf.Tensor[] = new Array(l);
    let g: tf.Tensor = tf.zeros([b]);
    for (let t = l - 1; t >= 0; t--) {
      g = d[t]!.add(g.mul(gamma * lam)).mul(m[t]!);
      out[t] = g;
    }
    return tf.stack(out, 1) as tf.Tensor2D;
  });
}

/**
 * Masked whitening over all valid entries ([verl] masked_whiten, e2):
 * `(x − mean) / sqrt(var_unbiased + 1e-8)`, Bessel divisor `n − 1`, 0 at padding.
 * Needs `n ≥ 2` valid entries (check with `validateMask(..., {minValid: 2})`; with fewer the
 * divisor is clamped to 1 here instead of failing, since this runs synchronously).
 */
export function whiten<T extends tf.Tensor>(
  x: T,
  mask: tf.Tensor,
  options: { eps?: number } = {},
): T {
  checkShape(mask, "mask", x.shape, "as x");
  const eps = options.eps ?? WHITEN_EPS;
  checkFinite(eps, "eps");
  return tf.tidy(() => {
    const n = mask.sum();
    const mean = safeDiv(x.mul(mask).sum(), n);
    const dev = x.sub(mean);
    const v = dev.square().mul(mask).sum().div(tf.maximum(n.sub(1), 1));
    return dev.div(tf.sqrt(v.add(eps))).mul(mask) as T;
  });
}

/**
 * σ_V (B9 step 2): population std of the sampled-path prefix values `P_{b,t} = Σ_{i≤t} δ_{b,i}`
 * over all valid (b,t), clamped at `eps` (default {@linkcode SIGMA_V_EPS}).
 * `td` must already be masked/zeroed at the last token where the repo does so.
 */
export function sigmaV(
  td: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: { eps?: number } = {},
): tf.Scalar {
  checkMask2d(td, mask, "td");
  const eps = options.eps ?? SIGMA_V_EPS;
  return tf.tidy(() => {
    const p = tf.cumsum(td.mul(mask), 1).mul(mask);
    const n = mask.sum();
    const mean = safeDiv(p.sum(), n);
    const v = safeDiv(p.sub(mean).square().mul(mask).sum(), n);
    return tf.maximum(tf.sqrt(v), eps) as tf.Scalar;
  });
}

/**
 * GAE input normalisation (e1): `"batch_mean_sigma_v"` (repo) `δ̂ = (δ − mean_batch δ)/σ_V`;
 * `"group"` (paper Eq. 26–28) `δ̂ = (δ − μ_TD(x)) / (σ_TD(x) + 1e-6)` per prompt group,
 * population std over the group's valid tokens.
 */
export type GaeNorm = "batch_mean_sigma_v" | "group";

type NormFn = (td: tf.Tensor2D, m: tf.Tensor2D, sigma: tf.Scalar, groupSize: number) => tf.Tensor;

const GAE_NORMS = {
  batch_mean_sigma_v: (td, m, sigma) => td.sub(safeDiv(td.mul(m).sum(), m.sum())).div(sigma).mul(m),
  group: (td, m, _sigma, g) => {
    const [b, l] = td.shape;
    const x = td.reshape([b / g, g * l]);
    const mm = m.reshape([b / g, g * l]);
    const n = tf.maximum(mm.sum(1, true), MIN_TOKEN_COUNT);
    const mean = x.mul(mm).sum(1, true).div(n);
    const std = tf.sqrt(x.sub(mean).square().mul(mm).sum(1, true).div(n));
    return x.sub(mean).div(std.add(GROUP_TD_EPS)).mul(mm).reshape([b, l]);
  },
} as const satisfies Record<GaeNorm, NormFn>;

/** Options of {@linkcode distrlAdvantages}. */
export interface DistrlAdvantageOptions {
  /** Outcomes `r_o` `[B]` (for the GRPO term). Required. */
  outcomes: tf.Tensor1D;
  /** Rollouts per prompt. Required. */
  groupSize: number;
  /** Candidate TDs `δ[B,L,K]` (β-scaled, slot 0 = sampled token); omit for K = 0. */
  tdCandidates?: tf.Tensor3D;
  /** GAE input normalisation (e1): default `"batch_mean_sigma_v"` (repo). */
  gaeNorm?: GaeNorm;
  /** Whiten the GAE over the batch (e2): default true. */
  whitenGae?: boolean;
  /** `c_gae` (e3): default 0.05. */
  gaeCoef?: number;
  /** `c_out` (GRPO term): default 1. */
  outcomeCoef?: number;
  /** Zero the TD of the last valid token (e10): default true. */
  dropLastTd?: boolean;
  /** GAE γ (default 1). */
  gamma?: number;
  /** GAE λ (default 1). */
  lam?: number;
  /** GRPO std clamp (default {@linkcode GRPO_STD_EPS}). */
  grpoEps?: number;
}

/** Result of {@linkcode distrlAdvantages}. */
export interface DistrlAdvantages {
  /** σ_V (B9). */
  sigmaV: tf.Scalar;
  /** Sampled-token advantage `A[B,L]` (B10), 0 at padding. */
  advantages: tf.Tensor2D;
  /** `Â^TD[B,L,K] = δ / σ_V` (B9), 0 at padding and (dropLastTd) the last valid position. */
  candidateAdvantages: tf.Tensor3D;
  /** The GAE before whitening / coefficients `[B,L]`. */
  gae: tf.Tensor2D;
  /** The GRPO term `[B]`. */
  outcomeAdvantages: tf.Tensor1D;
}

/**
 * DistRL advantages (B9, B10):
 *
 *   `δ ← δ ⊙ M (⊙ (1 − last) if dropLastTd)`; `P = cumsum_t δ`; `σ_V = max(popstd_valid(P), 1e-6)`;
 *   `Â^TD = δ_cand / σ_V` (same zeroing);
 *   `δ̂ = norm(δ)` ({@linkcode GaeNorm}); `g = GAE_{γ,λ}(δ̂)`; `g ← whiten(g)` if `whitenGae`;
 *   `A = (c_out · GRPO(r_o) + c_gae · g) ⊙ M`.
 *
 * Preset values: paper `gaeNorm "group", whitenGae false, gaeCoef 1`; repo
 * `"batch_mean_sigma_v", true, 0.05` (methods.md e1–e4 recommend whitening + 0.05 for both).
 *
 * @param tdSampled sampled-token TD `δ[B,L]` = `β(log π_φ − log π_old)` at the realised tokens.
 * @param mask `[B,L]`.
 */
export function distrlAdvantages(
  tdSampled: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: DistrlAdvantageOptions,
): DistrlAdvantages {
  checkMask2d(tdSampled, mask, "tdSampled");
  const [b, l] = tdSampled.shape;
  if (options.outcomes === undefined) {
    throw new RangeError("Invalid outcomes: required option is missing");
  }
  checkShape(options.outcomes, "outcomes", [b], "[B]");
  checkGroupSize(b, options.groupSize);
  if (options.tdCandidates) {
    checkShape(options.tdCandidates, "tdCandidates", [b, l, undefined], "[B,L,K]");
  }
  const gaeNorm = options.gaeNorm ?? "batch_mean_sigma_v";
  checkChoice(GAE_NORMS, gaeNorm, "gaeNorm");
  const gaeCoef = options.gaeCoef ?? 0.05, outcomeCoef = options.outcomeCoef ?? 1;
  checkFinite(gaeCoef, "gaeCoef");
  checkFinite(outcomeCoef, "outcomeCoef");
  const whitenGae = options.whitenGae ?? true;
  const dropLast = options.dropLastTd ?? true;
  return tf.tidy(() => {
    const keep = dropLast ? mask.mul(tf.scalar(1).sub(lastTokenMask(mask))) : mask;
    const td = tdSampled.mul(keep) as tf.Tensor2D;
    const sigma = sigmaV(td, mask);
    const cand = options.tdCandidates ?? tf.zeros([b, l, 0]);
    const candidateAdvantages = cand.mul(keep.expandDims(2)).div(sigma) as tf.Tensor3D;
    const norm = GAE_NORMS[gaeNorm](td, mask, sigma, options.groupSize) as tf.Tensor2D;
    let g = gae(norm, mask, { gamma: options.gamma, lam: options.lam });
    const gaeRaw = g;
    if (whitenGae) g = whiten(g, mask);
    const out = grpoAdvantages(options.outcomes, {
      groupSize: options.groupSize,
      eps: options.grpoEps,
    });
    const advantages = out.mul(outcomeCoef).expandDims(1).add(g.mul(gaeCoef)).mul(
      mask,
    ) as tf.Tensor2D;
    return { sigmaV: sigma, advantages, candidateAdvantages, gae: gaeRaw, outcomeAdvantages: out };
  });
}
