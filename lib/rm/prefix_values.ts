/**
 * Token log-ratios and prefix values of an implicit reward model (methods.md B1, B2, B17;
 * paper Eq. 5, 19): the one place where `ℓ_t = log π_φ − log π_ref` is formed, for the RM
 * trainer, the scorer, the online RM update and the RL rescoring alike.
 *
 * Shapes: `B` sequences, `L` padded response length. Masks are `[B,L]` 0/1 float tensors
 * (1 on valid response tokens, right padding). Checks live in ../checks.ts.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkChoice, checkFinite, checkShape, MIN_TOKEN_COUNT } from "../checks.ts";

const stopGradientOp = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc) => ({
  value: (x as tf.Tensor).clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as (x: tf.Tensor) => tf.Tensor;

/**
 * Identity whose gradient is zero: TF.js has no `stopGradient` (tensorflow/tfjs#967,
 * #7438), so constants that must sit inside a differentiated closure go through this.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}

/**
 * Token log-ratio (methods.md B1; the `log π_φ/π_ref` inside the paper's implicit reward,
 * Eq. 2 and 5): `ℓ = (logp_rm − logp_ref) ⊙ M`, with the reference treated as a constant
 * (zero gradient), so RM losses built on it differentiate w.r.t. `logp_rm` only. Every site
 * that forms `ℓ` calls this: the RM trainer, the scorer, the online RM update, the RL
 * rescoring and its metrics. `[B,L], [B,L] (+ mask [B,L]) -> [B,L]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { logRatio } from "./prefix_values.ts";
 * const lr = logRatio(tf.tensor2d([[-1, -2]]), tf.tensor2d([[-1.5, -1]]), { mask: tf.tensor2d([[1, 0]]) });
 * const d = await lr.data(); // [−1 + 1.5, padding 0]
 * [0.5, 0].forEach((x, i) => assertAlmostEquals(d[i]!, x, 1e-6));
 * ```
 */
export function logRatio(
  logpRm: tf.Tensor2D,
  logpRef: tf.Tensor2D,
  options: { mask: tf.Tensor2D },
): tf.Tensor2D {
  checkShape(logpRef, "logpRef", logpRm.shape, "[B,L]");
  checkShape(options.mask, "mask", logpRm.shape, "[B,L]");
  return tf.tidy(() => logpRm.sub(stopGradient(logpRef)).mul(options.mask) as tf.Tensor2D);
}

/** Options of {@linkcode prefixValues}. */
export interface PrefixValueOptions {
  /** Scale of the implicit reward (IPVRM: 10; DPO-RM / Implicit PRM: 0.05). Required. */
  beta: number;
}

/** Prefix values (B2). */
export interface PrefixValues {
  /** `V_t = β Σ_{i≤t} ℓ_i M_i`, 0 at padding. `[B,L]`. */
  values: tf.Tensor2D;
  /** `v̄_t = V_t / max(Σ_{i≤t} M_i, 1)`, 0 at padding. `[B,L]`. */
  meanValues: tf.Tensor2D;
}

/**
 * Prefix values (B2; paper Eq. 5 `Q(s_t, y_t) = V(s_{t+1})`, and the `v̄_t` of Eq. 9):
 * `V = β · cumsum_t(ℓ ⊙ M)`, `v̄ = V / max(cumsum_t(M), 1)`; both zeroed at padding
 * (methods.md leaves padding as junk; we zero it so callers may sum freely).
 *
 * @param logratio `ℓ` `[B,L]` (`logp_rm − logp_ref`, no β).
 * @param mask `M` `[B,L]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { prefixValues } from "./prefix_values.ts";
 * // methods.md (g)1: ℓ = [0.1, −0.2], β = 10 ⇒ V = [1, −1], v̄ = [1, −0.5]; padding 0
 * const r = prefixValues(tf.tensor2d([[0.1, -0.2, 5]]), tf.tensor2d([[1, 1, 0]]), { beta: 10 });
 * const [v, vbar] = [await r.values.data(), await r.meanValues.data()];
 * [1, -1, 0].forEach((x, i) => assertAlmostEquals(v[i]!, x, 1e-6));
 * [1, -0.5, 0].forEach((x, i) => assertAlmostEquals(vbar[i]!, x, 1e-6));
 * ```
 */
export function prefixValues(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: PrefixValueOptions,
): PrefixValues {
  checkShape(logratio, "logratio", [undefined, undefined], "[B,L]");
  checkShape(mask, "mask", logratio.shape, "[B,L]");
  checkFinite(options.beta, "beta");
  return tf.tidy(() => {
    const values = tf.cumsum(logratio.mul(mask), 1).mul(options.beta).mul(mask) as tf.Tensor2D;
    const count = tf.maximum(tf.cumsum(mask, 1), MIN_TOKEN_COUNT);
    const meanValues = values.div(count).mul(mask) as tf.Tensor2D;
    return { values, meanValues };
  });
}

/** How a sequence score reduces the log-ratios: a sum (B3/B4) or a token mean (B17 Eq. 19). */
export type ScoreReduce = "sum" | "mean";

const SCORE_REDUCE = {
  sum: (s: tf.Tensor1D, _t: tf.Tensor1D) => s,
  mean: (s: tf.Tensor1D, t: tf.Tensor1D) => s.div(tf.maximum(t, MIN_TOKEN_COUNT)) as tf.Tensor1D,
} as const satisfies Record<ScoreReduce, (sum: tf.Tensor1D, count: tf.Tensor1D) => tf.Tensor1D>;

/**
 * Sequence score `β Σ_t ℓ_t M_t` (`reduce: "sum"`, B3 `R(x,y)`, paper Eq. 2), or
 * `β (1/T) Σ_t ℓ_t M_t` (`"mean"`; with β = 1 this is the paper's RM score, Eq. 19, B17).
 * `[B,L] -> [B]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { sequenceScore } from "./prefix_values.ts";
 * const lr = tf.tensor2d([[1, 2, 9]]), m = tf.tensor2d([[1, 1, 0]]); // 9 is padding
 * assertAlmostEquals((await sequenceScore(lr, m, { beta: 0.5 }).data())[0]!, 1.5, 1e-6);
 * assertAlmostEquals((await sequenceScore(lr, m, { reduce: "mean" }).data())[0]!, 1.5, 1e-6);
 * ```
 */
export function sequenceScore(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: { beta?: number; reduce?: ScoreReduce } = {},
): tf.Tensor1D {
  checkShape(logratio, "logratio", [undefined, undefined], "[B,L]");
  checkShape(mask, "mask", logratio.shape, "[B,L]");
  const reduce = options.reduce ?? "sum";
  checkChoice(SCORE_REDUCE, reduce, "reduce");
  const beta = options.beta ?? 1;
  checkFinite(beta, "beta");
  return tf.tidy(() =>
    SCORE_REDUCE[reduce](logratio.mul(mask).sum(1) as tf.Tensor1D, mask.sum(1)).mul(beta)
  );
}
