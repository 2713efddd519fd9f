/**
 * avg@k and pass@k of a policy (methods.md d3; [IPVRM] `run_policy_eval.sh`):
 * `avg = mean over problems of (correct / k)`, `pass = mean over problems of [any correct]`.
 * @module
 */

/**
 * avg@k and pass@k from a `[P][k]` 0/1 matrix (every problem has the same k).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { avgAtK } from "./avg_at_k.ts";
 * assertEquals(avgAtK([[1, 0, 0, 1], [0, 0, 0, 0]]), { avg: 0.25, pass: 0.5 });
 * ```
 */
export function avgAtK(correct: readonly (readonly number[])[]): { avg: number; pass: number } {
  if (!Array.isArray(correct) || correct.length === 0) {
    throw new RangeError("correct: expected a non-empty [P][k] array of 0/1");
  }
  const k = Array.isArray(correct[0]) ? correct[0].length : 0;
  if (k === 0) throw new RangeError("correct: expected k >= 1 samples per problem");
  let avg = 0, pass = 0;
  correct.forEach((row, p) => {
    if (!Array.isArray(row) || row.length !== k) {
      throw new RangeError(
        `correct[${p}]: expected ${k} samples, got ${Array.isArray(row) ? row.length : typeof row}`,
      );
    }
    let c = 0;
    (row as readonly unknown[]).forEach((x: unknown, j: number) => {
      if (x !== 0 && x !== 1) {
        throw new RangeError(`correct: expected 0/1, got ${x} at [${p}][${j}]`);
      }
      c += x;
    });
    avg += c / k;
    if (c > 0) pass++;
  });
  return { avg: avg / correct.length, pass: pass / correct.length };
}
