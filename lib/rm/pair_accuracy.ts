/**
 * RM pairwise accuracy (methods.md B14; [IPVRM] `compute_dpo_accuracy`, from [PRIME]).
 * A metric over read-back scores: plain JS in float64, no tensors.
 * @module
 */
import { checkGroupSize } from "../checks.ts";

/** Score of a group with no pair of different labels (B14). */
export const NO_PAIR_ACCURACY = 0.5;

/**
 * RM pairwise accuracy (B14; paper Fig. 6 right). Per group of `groupSize` consecutive rows, over pairs `(i<j)` with different labels, the
 * fraction whose scores are ordered like the labels (a tie counts 0.5); a group with no
 * such pair counts {@linkcode NO_PAIR_ACCURACY}; mean over groups.
 *
 *   `acc = mean_g [ Σ_{i<j, y_i≠y_j} ( [s_i−s_j has the sign of y_i−y_j] + ½[s_i = s_j] ) / #pairs ]`
 *
 * @param scores sequence scores `[B]` (e.g. `β Σ_t ℓ_t`).
 * @param labels outcomes `[B]`, 0/1.
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { rmPairAccuracy } from "./pair_accuracy.ts";
 * // group 0 ordered right (1); group 1 has no pair with different outcomes (0.5)
 * assertEquals(rmPairAccuracy([2, 1, 0, 0], [1, 0, 1, 1], { groupSize: 2 }), (1 + 0.5) / 2);
 * ```
 */
export function rmPairAccuracy(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: { groupSize: number },
): number {
  const b = scores.length;
  if (labels.length !== b) {
    throw new RangeError(
      `Invalid labels: expected length B=${b} (as scores), got ${labels.length}`,
    );
  }
  if (b === 0) throw new RangeError("Invalid scores: expected at least one sequence");
  for (let i = 0; i < b; i++) {
    if (!Number.isFinite(scores[i]!)) {
      throw new RangeError(`Invalid scores: expected finite numbers, got ${scores[i]} at [${i}]`);
    }
    const y = labels[i]!;
    if (y !== 0 && y !== 1) {
      throw new RangeError(`Invalid labels: expected 0/1 values, got ${y} at [${i}]`);
    }
  }
  const g = options.groupSize;
  checkGroupSize(b, g);
  let total = 0;
  for (let s = 0; s < b; s += g) {
    let hit = 0, n = 0;
    for (let i = s; i < s + g; i++) {
      for (let j = i + 1; j < s + g; j++) {
        if (labels[i] === labels[j]) continue;
        n++;
        const d = (scores[i]! - scores[j]!) * (labels[i]! - labels[j]!);
        hit += d > 0 ? 1 : d === 0 ? 0.5 : 0;
      }
    }
    total += n === 0 ? NO_PAIR_ACCURACY : hit / n;
  }
  return total / (b / g);
}
