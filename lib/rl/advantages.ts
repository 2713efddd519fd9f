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
  safeDiv,
} from "../checks.ts";

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
 * GRPO outcome advantage (B10; the outcome term `Â^out` of paper Eq. 13, Eq. 29): `Â_k = (r_k − μ(x)) / max(s(x), eps)`, μ and s the mean and
 * population std over each group of `groupSize` consecutive rows. `[B] -> [B]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { grpoAdvantages } from "./advantages.ts";
 * // methods.md (g)3
 * const a = await grpoAdvantages(tf.tensor1d([1, 0, 0, 0]), { groupSize: 4 }).data();
 * [1.732051, -0.57735, -0.57735, -0.57735].forEach((x, i) => assertAlmostEquals(a[i]!, x, 1e-5));
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

/**
 * Sampled-token TD (methods.md B7 with γ = 1, B9 slot 0; paper Eq. 6 and Eq. 10 at the
 * realised token): `δ_t = V_t − V_{t−1} = β ℓ_t`, the unnormalised value difference of the
 * prefix values (never a difference of `v̄`). The last-token convention (e10) and the outcome
 * are applied by {@linkcode tokenAdvantages} (the outcome enters through the GRPO term).
 * `[B,L] -> [B,L]`; `ℓ` comes masked from `logRatio`, so padding stays 0.
 *
 * @param logratio `ℓ = (log π_φ − log π_ref) ⊙ M` `[B,L]` (reference π_old or SFT, e13).
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { tokenTd } from "./advantages.ts";
 * // methods.md (g)1: ℓ = [0.1, −0.2], β = 10 ⇒ δ = [1, −2] (V = [1, −1], V_0 = 0)
 * const td = await tokenTd(tf.tensor2d([[0.1, -0.2]]), { beta: 10 }).data();
 * [1, -2].forEach((x, i) => assertAlmostEquals(td[i]!, x, 1e-6));
 * ```
 */
export function tokenTd(logratio: tf.Tensor2D, options: { beta: number }): tf.Tensor2D {
  checkShape(logratio, "logratio", [undefined, undefined], "[B,L]");
  checkFinite(options.beta, "beta");
  return tf.tidy(() => logratio.mul(options.beta) as tf.Tensor2D);
}

/**
 * Candidate TD (methods.md B9; paper Eq. 10 with `π_ref := π_old`, App. B):
 * `δ_{b,t,j} = β (log π_φ(c_{b,t,j} | s_t) − log π_ref(c_{b,t,j} | s_t)) · C_{b,t,j}`, the value
 * difference `V(s_t ⊕ c) − V(s_t)` at every candidate slot, 0 outside the candidate mask.
 * Computed without gradient (a constant of the policy loss). `[B,L,K] -> [B,L,K]`.
 *
 * @param candLogpRm `log π_φ` at the candidate ids `[B,L,K]`.
 * @param candLogpRef `log π_ref` at the same ids `[B,L,K]` (π_old, or the SFT copy).
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { candidateTd } from "./advantages.ts";
 * // β = 10; slot 1 is not a candidate
 * const td = await candidateTd(tf.tensor3d([[[-0.5, -1.0]]]), tf.tensor3d([[[-0.6, -0.8]]]), {
 *   beta: 10,
 *   mask: tf.tensor3d([[[1, 0]]]),
 * }).data();
 * [1, 0].forEach((x, i) => assertAlmostEquals(td[i]!, x, 1e-5));
 * ```
 */
export function candidateTd(
  candLogpRm: tf.Tensor3D,
  candLogpRef: tf.Tensor3D,
  options: { beta: number; mask: tf.Tensor3D },
): tf.Tensor3D {
  checkShape(candLogpRm, "candLogpRm", [undefined, undefined, undefined], "[B,L,K]");
  checkShape(candLogpRef, "candLogpRef", candLogpRm.shape, "[B,L,K]");
  checkShape(options.mask, "mask", candLogpRm.shape, "[B,L,K]");
  checkFinite(options.beta, "beta");
  return tf.tidy(() =>
    candLogpRm.sub(candLogpRef).mul(options.beta).mul(options.mask) as tf.Tensor3D
  );
}

/**
 * GAE (B7, paper Eq. 8) by reverse scan: `g_t = M_t (δ_t M_t + γλ g_{t+1})`, `g_{L} = 0`,
 * which resets at padding. `[B,L] -> [B,L]`, 0 at padding.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { gae } from "./advantages.ts";
 * // γ = λ = 1: reverse sums [1+2, 2]; γλ = 0.5: [1 + 0.5·2, 2]; the padded 9 never enters
 * const td = tf.tensor2d([[1, 2, 9]]), m = tf.tensor2d([[1, 1, 0]]);
 * const g = await gae(td, m).data(), h = await gae(td, m, { lam: 0.5 }).data();
 * [3, 2, 0].forEach((x, i) => assertAlmostEquals(g[i]!, x, 1e-6));
 * [2, 2, 0].forEach((x, i) => assertAlmostEquals(h[i]!, x, 1e-6));
 * ```
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
 * Used on the GAE term of Eq. 13 (B10, repo) and on PRIME's returns (B16).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { whiten } from "./advantages.ts";
 * // valid [1, 2, 3]: mean 2, unbiased variance 1 ⇒ [−1, 0, 1] (padding 0)
 * const w = await whiten(tf.tensor2d([[1, 2], [3, 100]]), tf.tensor2d([[1, 1], [1, 0]])).data();
 * [-1, 0, 1, 0].forEach((x, i) => assertAlmostEquals(w[i]!, x, 1e-6));
 * ```
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
 * σ_V (B9 step 2; paper Eq. 23–25): population std of the sampled-path prefix values
 * `P_{b,t} = Σ_{i≤t} δ_{b,i}` over all valid (b,t), clamped at `eps` (default
 * {@linkcode SIGMA_V_EPS}). `td` must already be masked/zeroed at the last token where the
 * repo does so.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { sigmaV } from "./advantages.ts";
 * // methods.md (g)4: P = [0.4, 0.2, 0.2 | −0.1, −0.1] ⇒ σ_V = 0.193907
 * const s = sigmaV(tf.tensor2d([[0.4, -0.2, 0], [-0.1, 0, 0]]), tf.tensor2d([[1, 1, 1], [1, 1, 0]]));
 * assertAlmostEquals((await s.data())[0]!, 0.193907, 1e-5);
 * ```
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

/** Options of {@linkcode tokenAdvantages} (and of {@linkcode distrlAdvantages}). */
export interface TokenAdvantageOptions {
  /** Outcomes `r_o` `[B]` (for the GRPO term). Required. */
  outcomes: tf.Tensor1D;
  /** Rollouts per prompt. Required. */
  groupSize: number;
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

/** Options of {@linkcode distrlAdvantages}. */
export interface DistrlAdvantageOptions extends TokenAdvantageOptions {
  /** Candidate TDs `δ[B,L,K]` (β-scaled, slot 0 = sampled token); omit for K = 0. */
  tdCandidates?: tf.Tensor3D;
}

/** Result of {@linkcode tokenAdvantages}. */
export interface TokenAdvantages {
  /** σ_V (B9). */
  sigmaV: tf.Scalar;
  /** Sampled-token advantage `A[B,L]` (B10), 0 at padding. */
  advantages: tf.Tensor2D;
  /** The GAE before whitening / coefficients `[B,L]`. */
  gae: tf.Tensor2D;
  /** The GRPO term `[B]`. */
  outcomeAdvantages: tf.Tensor1D;
}

/** Result of {@linkcode distrlAdvantages}. */
export interface DistrlAdvantages extends TokenAdvantages {
  /** `Â^TD[B,L,K] = δ / σ_V` (B9), 0 at padding and (dropLastTd) the last valid position. */
  candidateAdvantages: tf.Tensor3D;
}

/** `M ⊙ (1 − last)` when the last valid token's TD is dropped (e10), else `M`. */
function tdKeep(mask: tf.Tensor2D, dropLast: boolean): tf.Tensor2D {
  return dropLast ? mask.mul(tf.scalar(1).sub(lastTokenMask(mask))) as tf.Tensor2D : mask;
}

/**
 * Sampled-token advantage (methods.md B9 steps 1–2, B10; paper Eq. 13, 23–29):
 *
 *   `δ ← δ ⊙ M (⊙ (1 − last) if dropLastTd)`; `P = cumsum_t δ`; `σ_V = max(popstd_valid(P), 1e-6)`;
 *   `δ̂ = norm(δ)` ({@linkcode GaeNorm}); `g = GAE_{γ,λ}(δ̂)`; `g ← whiten(g)` if `whitenGae`;
 *   `A = (c_out · GRPO(r_o) + c_gae · g) ⊙ M`.
 *
 * Preset values: paper `gaeNorm "group", whitenGae false, gaeCoef 1`; repo
 * `"batch_mean_sigma_v", true, 0.05` (methods.md e1–e4 recommend whitening + 0.05 for both).
 *
 * @param tdSampled sampled-token TD `δ[B,L]` = {@linkcode tokenTd} of `ℓ` (ref π_old).
 * @param mask `[B,L]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { tokenAdvantages } from "./advantages.ts";
 * // methods.md (g)4: A correct (T=3), B wrong (T=2), repo form (last-token TD dropped)
 * const r = tokenAdvantages(tf.tensor2d([[0.4, -0.2, 9], [-0.1, 9, 0]]), tf.tensor2d([[1, 1, 1], [1, 1, 0]]), {
 *   outcomes: tf.tensor1d([1, 0]),
 *   groupSize: 2,
 * });
 * assertAlmostEquals((await r.sigmaV.data())[0]!, 0.193907, 1e-5);
 * const a = await r.advantages.data();
 * [1.068480, 0.935713, 1.012578, -1.029348, -0.987422, 0]
 *   .forEach((x, i) => assertAlmostEquals(a[i]!, x, 1e-4));
 * ```
 */
export function tokenAdvantages(
  tdSampled: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: TokenAdvantageOptions,
): TokenAdvantages {
  checkMask2d(tdSampled, mask, "tdSampled");
  const b = tdSampled.shape[0];
  if (options.outcomes === undefined) {
    throw new RangeError("Invalid outcomes: required option is missing");
  }
  checkShape(options.outcomes, "outcomes", [b], "[B]");
  checkGroupSize(b, options.groupSize);
  const gaeNorm = options.gaeNorm ?? "batch_mean_sigma_v";
  checkChoice(GAE_NORMS, gaeNorm, "gaeNorm");
  const gaeCoef = options.gaeCoef ?? 0.05, outcomeCoef = options.outcomeCoef ?? 1;
  checkFinite(gaeCoef, "gaeCoef");
  checkFinite(outcomeCoef, "outcomeCoef");
  const whitenGae = options.whitenGae ?? true;
  return tf.tidy(() => {
    const td = tdSampled.mul(tdKeep(mask, options.dropLastTd ?? true)) as tf.Tensor2D;
    const sigma = sigmaV(td, mask);
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
    return { sigmaV: sigma, advantages, gae: gaeRaw, outcomeAdvantages: out };
  });
}

/**
 * Candidate advantage (methods.md B9 step 3; paper Eq. 10, 23–25): `Â^TD = δ_cand / σ_V`,
 * scaled and not centred, zeroed at padding and (dropLastTd, e10) the last valid position.
 * σ_V is the one of {@linkcode tokenAdvantages} (the sampled-path prefix values of the same
 * batch). `[B,L,K] -> [B,L,K]`.
 *
 * @param tdCandidates `δ[B,L,K]` from {@linkcode candidateTd}.
 * @param mask `[B,L]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { candidateAdvantages } from "./advantages.ts";
 * // methods.md (g)4: slot 0 of row A, σ_V = 0.193907 ⇒ Â^TD = [2.062842, −1.031421, 0]
 * const cand = tf.tensor3d([[[0.4], [-0.2], [9]]]);
 * const a = await candidateAdvantages(cand, tf.tensor2d([[1, 1, 1]]), { sigmaV: tf.scalar(0.193907) }).data();
 * [2.062842, -1.031421, 0].forEach((x, i) => assertAlmostEquals(a[i]!, x, 1e-4));
 * ```
 */
export function candidateAdvantages(
  tdCandidates: tf.Tensor3D,
  mask: tf.Tensor2D,
  options: { sigmaV: tf.Scalar; dropLastTd?: boolean },
): tf.Tensor3D {
  checkShape(mask, "mask", [undefined, undefined], "[B,L]");
  checkShape(tdCandidates, "tdCandidates", [mask.shape[0], mask.shape[1], undefined], "[B,L,K]");
  return tf.tidy(() => {
    const keep = tdKeep(mask, options.dropLastTd ?? true);
    return tdCandidates.mul(keep.expandDims(2)).div(options.sigmaV) as tf.Tensor3D;
  });
}

/**
 * DistRL advantages in one call (B9, B10; the conformance op `distrl_advantages`):
 * {@linkcode tokenAdvantages} and, with the same σ_V, {@linkcode candidateAdvantages}
 * (`[B,L,0]` when `tdCandidates` is omitted). The RL step calls the two as separate phases.
 *
 * @param tdSampled sampled-token TD `δ[B,L]` = `β(log π_φ − log π_old)` at the realised tokens.
 * @param mask `[B,L]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { distrlAdvantages } from "./advantages.ts";
 * const r = distrlAdvantages(tf.tensor2d([[0.4, -0.2, 0], [-0.1, 0, 0]]), tf.tensor2d([[1, 1, 1], [1, 1, 0]]), {
 *   outcomes: tf.tensor1d([1, 0]),
 *   groupSize: 2,
 *   tdCandidates: tf.tensor3d([[[0.4], [-0.2], [0]], [[-0.1], [0], [0]]]),
 * });
 * const c = await r.candidateAdvantages.data(); // methods.md (g)4, slot 0
 * [2.062842, -1.031421, 0].forEach((x, i) => assertAlmostEquals(c[i]!, x, 1e-4));
 * ```
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
  return tf.tidy(() => {
    const tok = tokenAdvantages(tdSampled, mask, options);
    const cand = options.tdCandidates ?? tf.zeros([b, l, 0]) as tf.Tensor3D;
    const candidate = candidateAdvantages(cand, mask, {
      sigmaV: tok.sigmaV,
      dropLastTd: options.dropLastTd,
    });
    return { ...tok, candidateAdvantages: candidate };
  });
}
