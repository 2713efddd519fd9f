/**
 * Step scores of one response from its per-token log-ratios (methods.md d1, step 3;
 * paper Eq. 30-31), as raw sums: no sigmoid and no scale, since the threshold
 * search of processbench.ts is exact and both are monotone.
 * @module
 */

/** `"process"`: sum over the step's own tokens (paper Eq. 31, repo `sum_diff`); `"prefix"`: sum from the first response token through the step's end (Eq. 30, [IPRM] default, repo `sum`). */
export type StepScoreMode = "process" | "prefix";

/**
 * Checks step ends: strictly increasing integers in [1, L] (every step holds at least one token).
 * Throws a RangeError naming `name`.
 */
export function checkStepEnds(
  stepEnds: readonly number[],
  length: number,
  name = "stepEnds",
): void {
  let prev = 0;
  stepEnds.forEach((e, i) => {
    if (typeof e !== "number" || !Number.isInteger(e)) {
      throw new RangeError(`${name}: expected integers, got ${e} at [${i}]`);
    }
    if (e <= prev) {
      throw new RangeError(
        `${name}: expected strictly increasing ends >= 1 (each step holds a token), got ${e} after ${prev} at [${i}]`,
      );
    }
    if (e > length) {
      throw new RangeError(`${name}: end ${e} at [${i}] exceeds the response length L=${length}`);
    }
    prev = e;
  });
}

/**
 * Step scores `[S]` from per-token log-ratios `[L]` of one response and the
 * exclusive token end of each step (step k covers `[ends[k-1], ends[k])`, step 0
 * starts at token 0). Tokens after the last end (e.g. EOS) are not scored.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { stepScores } from "./step_scores.ts";
 * // steps [0,2) and [2,3): process = [0.1 + 0.2, -0.5]; prefix = [0.3, 0.3 - 0.5]; EOS (9) unscored
 * assertEquals(stepScores([0.1, 0.2, -0.5, 9], { stepEnds: [2, 3] }), [0.1 + 0.2, -0.5]);
 * assertEquals(stepScores([0.1, 0.2, -0.5, 9], { stepEnds: [2, 3], mode: "prefix" }), [
 *   0.1 + 0.2,
 *   0.1 + 0.2 - 0.5,
 * ]);
 * ```
 */
export function stepScores(
  logratio: readonly number[],
  options: { stepEnds: readonly number[]; mode?: StepScoreMode },
): number[] {
  const mode = options.mode ?? "process";
  logratio.forEach((x, i) => {
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new RangeError(`logratio: expected finite numbers, got ${x} at [${i}]`);
    }
  });
  checkStepEnds(options.stepEnds, logratio.length);
  const out: number[] = [];
  let start = 0, prefix = 0;
  for (const end of options.stepEnds) {
    let s = 0;
    for (let t = start; t < end; t++) s += logratio[t]!;
    prefix += s;
    out.push(mode === "process" ? s : prefix);
    start = end;
  }
  return out;
}
