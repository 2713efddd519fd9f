/**
 * Shared checks and mask helpers of the maths in rm/, rl/ and eval/: argument shapes, group
 * sizes, closed-union choices, finite numbers, 0/1 right-padded masks, token counts, the
 * last-token mask and a division that is 0 where the divisor is.
 *
 * It lives at the ground level of lib/ (beside prng.ts) rather than in one of the areas
 * because RM, RL and Eval all import it and none of them may own what the others need
 * (../shared/spec/architecture.md: "Shared checks on shapes, masks and choices live in one
 * module that RM, RL and Eval import"). It imports only tfjs.
 *
 * Shapes: `B` sequences, `L` padded response length. Masks are `[B,L]` 0/1 float tensors
 * (1 on valid response tokens, right padding).
 *
 * Checks that need tensor values (mask is 0/1, a row has a valid token) read the data and
 * are therefore async ({@linkcode validateMask}); the maths itself stays synchronous so it
 * can run inside `tf.variableGrads` closures. Shape and group-size checks are synchronous
 * and run inside every public function.
 *
 * Every message goes through the one validator, lib/schema.ts ({@linkcode check} with its
 * rules, {@linkcode fail} for what a rule cannot say), so a tensor argument and a config
 * field fail in the same form: `Invalid <name>: expected <what>, got <value>`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { check, fail, is } from "./schema.ts";

/**
 * Clamp of running or total token counts, `max(cumsum(M), 1)` / `max(T, 1)`: B2's `v̄_t`,
 * per-sequence means and per-group counts of an empty mask.
 */
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
    fail(name, `expected shape ${label} = [${w}], got [${t.shape.join(",")}]`);
  }
}

/** Throws unless `groupSize` is a positive integer dividing `b` (groups are consecutive rows). */
export function checkGroupSize(b: number, groupSize: number, name = "groupSize"): void {
  check(groupSize, is.integer({ min: 1 }), name);
  if (b % groupSize !== 0) {
    throw new RangeError(`${name} must divide the batch: B=${b}, G=${groupSize}`);
  }
}

/** Throws unless `x` is a finite number (named epsilons, coefficients). */
export function checkFinite(x: number, name: string): void {
  check(x, is.number(), name);
}

/** Throws unless `value` is one of the keys of `table` (closed string unions at run time). */
export function checkChoice<K extends string>(
  table: Readonly<Record<K, unknown>>,
  value: string,
  name: string,
): asserts value is K {
  check(value, is.oneOf(table), name);
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
 * import { assertRejects } from "@std/assert";
 * import { validateMask } from "./checks.ts";
 * await validateMask(tf.tensor2d([[1, 1, 0]]), { requireRowValid: true }); // resolves
 * await assertRejects(
 *   () => validateMask(tf.tensor2d([[1, 0.5]])),
 *   RangeError,
 *   "Invalid mask: expected 0/1 values, got 0.5 at [0][1]",
 * );
 * ```
 */
export async function validateMask(
  mask: tf.Tensor,
  options: ValidateMaskOptions = {},
): Promise<void> {
  const name = options.name ?? "mask";
  const right = options.rightPadded ?? true;
  if (mask.rank < 2) {
    fail(name, `expected a [B,L] mask, got shape [${mask.shape.join(",")}]`);
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
      fail(name, `expected 0/1 values, got ${x} at ${at(i)}`);
    }
    total += x;
    if (right && x === 1 && i % rowLen !== 0 && data[i - 1] === 0) {
      fail(name, `expected the valid tokens first (right padding), got a 1 after a 0 at ${at(i)}`);
    }
  }
  if (options.requireRowValid) {
    const perRow = inner.reduce((a, b) => a * b, 1);
    for (let b = 0; b < mask.shape[0]!; b++) {
      let s = 0;
      for (let j = 0; j < perRow; j++) s += data[b * perRow + j]!;
      if (s === 0) {
        fail(name, `row ${b} has no valid token (a per-sequence mean needs one)`);
      }
    }
  }
  const minValid = options.minValid ?? 0;
  if (total < minValid) {
    fail(name, `expected at least ${minValid} valid tokens, got ${total}`);
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
