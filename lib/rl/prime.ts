/**
 * PRIME-style process-reward advantages (methods.md B16; [PRIME] `prime_core_algos.py`,
 * `prime_dp_rm.py`): implicit process rewards `β ℓ_t`, optional batch normalisation,
 * RLOO per reward source within a group, returns (γ = 1) and batch whitening.
 * A baseline for DistRL; constants of the policy update.
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
} from "../checks.ts";
import { whiten } from "./advantages.ts";

/** Added to the batch-norm divisor `max |Σ_{i≥t} r_i| + 1e-6` ([PRIME] `prime_dp_rm.py`). */
export const PRIME_NORM_EPS = 1e-6;

/** Process-reward normalisation: `"batch_norm"` ([PRIME] `prime_norm`) or `"none"`. */
export type PrimeNorm = "batch_norm" | "none";

const PRIME_NORMS = {
  // r / (max_{b,t} |Σ_{i≥t} r_{b,i}| + 1e-6)
  batch_norm: (r: tf.Tensor2D) =>
    r.div(tf.cumsum(r, 1, false, true).abs().max().add(PRIME_NORM_EPS)) as tf.Tensor2D,
  none: (r: tf.Tensor2D) => r,
} as const satisfies Record<PrimeNorm, (r: tf.Tensor2D) => tf.Tensor2D>;

/** Options of {@linkcode primeAdvantages}. */
export interface PrimeOptions {
  /** Outcomes `r_o` `[B]`. Required. */
  outcomes: tf.Tensor1D;
  /** Rollouts per prompt n ≥ 2 (RLOO). Required. */
  groupSize: number;
  /** β of the implicit PRM (default 0.05). */
  beta?: number;
  /** Coefficient of the implicit rewards ([PRIME] `reward_dpo_coef`, default 5). */
  rmCoef?: number;
  /** Coefficient of the outcome ([PRIME] `reward_gt_coef`, default 5). */
  outcomeCoef?: number;
  /** Default `"batch_norm"`. */
  norm?: PrimeNorm;
}

/** `x'_{b,t} = (x_{b,t} n/(n−1) − Σ_{j∈g(b)} x̄_j/(n−1)) ⊙ m`, `x̄_j` = mean of x over `m_j`. */
function rloo(x: tf.Tensor2D, m: tf.Tensor2D, n: number): tf.Tensor2D {
  const [b] = x.shape;
  const mean = x.mul(m).sum(1).div(tf.maximum(m.sum(1), MIN_TOKEN_COUNT));
  const groupSum = mean.reshape([b / n, n]).sum(1, true).tile([1, n]).reshape([b, 1]);
  return x.mul(n / (n - 1)).sub(groupSum.div(n - 1)).mul(m) as tf.Tensor2D;
}

/**
 * PRIME advantages (B16):
 *
 *   `r_t = β ℓ_t` for `t < T`, `r_T = 0`; `r ← r / (max |revcumsum r| + 1e-6)` (batch_norm);
 *   RLOO per source: `r'_t = r_t n/(n−1) − Σ_j r̄_j/(n−1)` (r̄_j token mean of sample j), and the
 *   same for the outcome placed on the last token; `R = c_rm r' + c_out o'`;
 *   returns `G_t = Σ_{i≥t} R_i`; `A = whiten(G)` (Bessel, +1e-8).
 *
 * @param logratio `ℓ` `[B,L]` (implicit PRM vs its reference). @param mask `[B,L]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { primeAdvantages } from "./prime.ts";
 * const m = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);
 * const r = primeAdvantages(tf.tensor2d([[0.4, -0.2, 0.1], [-0.1, 0.3, 0]]), m, {
 *   outcomes: tf.tensor1d([1, 0]),
 *   groupSize: 2,
 *   beta: 0.05,
 * });
 * // the last token carries no process reward (r_T = 0) …
 * const pr = await r.processRewards.data();
 * [pr[2]!, pr[4]!].forEach((x) => assertAlmostEquals(x, 0, 1e-9));
 * // … and the advantages are the whitened returns: mean 0, unbiased variance 1 over the 5 tokens
 * const a = Array.from(await r.advantages.data()).filter((_, i) => i !== 5);
 * assertAlmostEquals(a.reduce((s, x) => s + x, 0), 0, 1e-5);
 * assertAlmostEquals(a.reduce((s, x) => s + x * x, 0) / 4, 1, 1e-4);
 * ```
 */
export function primeAdvantages(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: PrimeOptions,
): { advantages: tf.Tensor2D; returns: tf.Tensor2D; processRewards: tf.Tensor2D } {
  checkShape(logratio, "logratio", [undefined, undefined], "[B,L]");
  checkShape(mask, "mask", logratio.shape, "[B,L]");
  const b = logratio.shape[0];
  if (options.outcomes === undefined) {
    throw new RangeError("Invalid outcomes: required option is missing");
  }
  checkShape(options.outcomes, "outcomes", [b], "[B]");
  checkGroupSize(b, options.groupSize);
  const n = options.groupSize;
  if (n < 2) throw new RangeError(`Invalid groupSize: RLOO needs at least 2 rollouts, got ${n}`);
  const beta = options.beta ?? 0.05,
    rmCoef = options.rmCoef ?? 5,
    outCoef = options.outcomeCoef ?? 5;
  for (const [k, x] of Object.entries({ beta, rmCoef, outCoef })) checkFinite(x, k);
  const norm = options.norm ?? "batch_norm";
  checkChoice(PRIME_NORMS, norm, "norm");
  return tf.tidy(() => {
    const last = lastTokenMask(mask);
    const r = logratio.mul(beta).mul(mask.sub(last)) as tf.Tensor2D;
    const processRewards = PRIME_NORMS[norm](r);
    const implicit = rloo(processRewards, mask, n);
    const outcome = rloo(
      last.mul(options.outcomes.toFloat().expandDims(1)) as tf.Tensor2D,
      last,
      n,
    );
    const total = implicit.mul(rmCoef).add(outcome.mul(outCoef)).mul(mask);
    const returns = tf.cumsum(total, 1, false, true).mul(mask) as tf.Tensor2D;
    return { advantages: whiten(returns, mask), returns, processRewards };
  });
}
