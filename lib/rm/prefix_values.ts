/**
 * Token log-ratios and prefix values of an implicit reward model (methods.md B1, B2, B17),
 * plus the small tensor/mask checks the rm/ and rl/ maths share.
 *
 * Shapes: `B` sequences, `L` padded response length. Masks are `[B,L]` 0/1 float tensors
 * (1 on valid response tokens, right padding).
 *
 * Checks that need tensor values (mask is 0/1, a row has a valid token) read the data and
 * are therefore async ({@linkcode validateMask}); the maths itself stays synchronous so it
 * can run inside `tf.variableGrads` closures. Shape and group-size checks are synchronous
 * and run inside every public function.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Clamp of the running token count in `v̄_t = V_t / max(cumsum(M), 1)` (B2). */
export const MIN_TOKEN_COUNT = 1;

/** Throws `Invalid NAME: expected shape LABEL = [..], got [..]` unless `t` has the shape. */
export function checkShape(
  t: tf.Tensor,
  name: string,
  want: ReadonlyArray<number | undefined>,
  label: string,
): void {
  const ok = t.rank === want.length && want.every((d, i) => d === undefined || t.shape[i] === d);
  if (!ok) {
    const w = want.map((d) => d ?? "*").join(",");
    throw new RangeError(
      `Invalid ${name}: expected shape ${label} = [${w}], got [${t.shape.join(",")}]`,
    );
  }
}

/** Throws unless `groupSize` is a positive integer dividing `b` (groups are consecutive rows). */
export function checkGroupSize(b: number, groupSize: number, name = "groupSize"): void {
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new RangeError(`Invalid ${name}: expected an integer >= 1, got ${groupSize}`);
  }
  if (b % groupSize !== 0) {
    throw new RangeError(`${name} must divide the batch: B=${b}, G=${groupSize}`);
  }
}

/** Throws unless `x` is a finite number (named epsilons, coefficients). */
export function checkFinite(x: number, name: string): void {
  if (typeof x !== "number" || !Number.isFinite(x)) {
    throw new RangeError(`Invalid ${name}: expected a finite number, got ${x}`);
  }
}

/** Throws unless `value` is one of the keys of `table` (closed string unions at run time). */
export function checkChoice<K extends string>(
  table: Readonly<Record<K, unknown>>,
  value: string,
  name: string,
): asserts value is K {
  if (!Object.prototype.hasOwnProperty.call(table, value)) {
    const keys = Object.keys(table).map((k) => `"${k}"`).join(", ");
    throw new RangeError(`Invalid ${name}: expected one of ${keys}, got "${value}"`);
  }
}

/** Options of {@linkcode validateMask}. */
export interface ValidateMaskOptions {
  /** The argument's name in messages (default `"mask"`). */
  name?: string;
  /** Every row needs at least one valid token (per-sequence means). Default false. */
  requireRowValid?: boolean;
  /** At least this many valid tokens in the whole tensor (whitening needs 2). Default 0. */
  minValid?: number;
  /** Valid tokens must come first in each row (right padding). Default true. */
  rightPadded?: boolean;
}

/**
 * Checks a `[B,L]` (or `[B,L,K]`, `rightPadded: false`) mask at a public boundary: values
 * 0/1, right padding, optional non-empty rows / minimum count. Async: it reads the data.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { validateMask } from "./prefix_values.ts";
 * await validateMask(tf.tensor2d([[1, 1, 0]]), { requireRowValid: true });
 * ```
 */
export async function validateMask(
  mask: tf.Tensor,
  options: ValidateMaskOptions = {},
): Promise<void> {
  const name = options.name ?? "mask";
  const right = options.rightPadded ?? true;
  if (mask.rank < 2) {
    throw new RangeError(
      `Invalid ${name}: expected a [B,L] mask, got shape [${mask.shape.join(",")}]`,
    );
  }
  const data = await mask.data();
  const rowLen = mask.shape[mask.rank - 1]!;
  const inner = mask.shape.slice(1);
  const at = (flat: number): string => {
    const idx: number[] = [];
    let r = flat;
    for (let d = mask.rank - 1; d >= 0; d--) {
      const n = mask.shape[d]!;
      idx.unshift(r % n);
      r = Math.floor(r / n);
    }
    return idx.map((i) => `[${i}]`).join("");
  };
  let total = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (x !== 0 && x !== 1) {
      throw new RangeError(`Invalid ${name}: expected 0/1 values, got ${x} at ${at(i)}`);
    }
    total += x;
    if (right && x === 1 && i % rowLen !== 0 && data[i - 1] === 0) {
      throw new RangeError(
        `Invalid ${name}: expected the valid tokens first (right padding), got a 1 after a 0 at ${
          at(i)
        }`,
      );
    }
  }
  if (options.requireRowValid) {
    const perRow = inner.reduce((a, b) => a * b, 1);
    for (let b = 0; b < mask.shape[0]!; b++) {
      let s = 0;
      for (let j = 0; j < perRow; j++) s += data[b * perRow + j]!;
      if (s === 0) {
        throw new RangeError(
          `Invalid ${name}: row ${b} has no valid token (a per-sequence mean needs one)`,
        );
      }
    }
  }
  const minValid = options.minValid ?? 0;
  if (total < minValid) {
    throw new RangeError(
      `Invalid ${name}: expected at least ${minValid} valid tokens, got ${total}`,
    );
  }
}

/** `T_b = Σ_t M_{b,t}`: `[B,L] -> [B]`. */
export function tokenCounts(mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => mask.sum(1) as tf.Tensor1D);
}

/**
 * One-hot of the last valid position of each row: `M_t (1 − M_{t+1})` with `M_{L} = 0`.
 * `[B,L] -> [B,L]`.
 */
export function lastTokenMask(mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, l] = mask.shape;
    if (l === 0) return tf.zeros([b, 0]) as tf.Tensor2D;
    const next = tf.concat([mask.slice([0, 1], [b, l - 1]), tf.zeros([b, 1])], 1);
    return mask.mul(tf.scalar(1).sub(next)) as tf.Tensor2D;
  });
}

/** `x / d` where `d > 0`, else 0: keeps gradients finite when a whole mask is empty. */
export function safeDiv<T extends tf.Tensor>(x: T, d: tf.Tensor): T {
  return tf.tidy(() => {
    const pos = d.greater(0);
    const safe = tf.where(pos, d, tf.onesLike(d));
    return tf.where(pos, x.div(safe), tf.zerosLike(x)) as T;
  });
}

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
 * B1: `ℓ = (logp_rm − logp_ref) ⊙ M`, with the reference treated as a constant
 * (zero gradient), so RM losses built on it differentiate w.r.t. `logp_rm` only.
 * `[B,L], [B,L] (+ mask [B,L]) -> [B,L]`.
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
 * B2: `V = β · cumsum_t(ℓ ⊙ M)`, `v̄ = V / max(cumsum_t(M), 1)`; both zeroed at padding
 * (methods.md leaves padding as junk; we zero it so callers may sum freely).
 *
 * @param logratio `ℓ` `[B,L]` (`logp_rm − logp_ref`, no β).
 * @param mask `M` `[B,L]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { prefixValues } from "./prefix_values.ts";
 * const { values, meanValues } = prefixValues(tf.tensor2d([[0.1, -0.2]]), tf.tensor2d([[1, 1]]), { beta: 10 });
 * // values [[1, -1]], meanValues [[1, -0.5]]
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
 * Sequence score `β Σ_t ℓ_t M_t` (`reduce: "sum"`, B3 `R(x,y)`), or `β (1/T) Σ_t ℓ_t M_t`
 * (`"mean"`; with β = 1 this is the paper's RM score, Eq. 19, B17). `[B,L] -> [B]`.
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
