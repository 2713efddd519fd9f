import { assertArrayAlmostEquals, assertThrows } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import { stepScores } from "../../lib/eval/step_scores.ts";

Deno.test("stepScores() hand case: process = per-step sums, prefix = cumulative, trailing tokens unscored", () => {
  // L = 6, steps [0,2) [2,3) [3,5); token 5 (EOS) is outside every step
  // process: [0.5 + -0.25, 1, 2 + -3] = [0.25, 1, -1]; prefix: [0.25, 1.25, 0.25]
  const lr = [0.5, -0.25, 1, 2, -3, 100];
  assertArrayAlmostEquals(stepScores(lr, { stepEnds: [2, 3, 5] }), [0.25, 1, -1], 1e-12);
  assertArrayAlmostEquals(stepScores(lr, { stepEnds: [2, 3, 5], mode: "prefix" }), [
    0.25,
    1.25,
    0.25,
  ], 1e-12);
  assertArrayAlmostEquals(stepScores([], { stepEnds: [] }), [], 0);
});

Deno.test("stepScores(): the prefix scores are the cumulative sums of the process scores (random)", () => {
  const rng = new Rng(3);
  for (let i = 0; i < 200; i++) {
    const L = rng.range(1, 40);
    const lr = Array.from({ length: L }, () => rng.normal());
    const ends = [...new Set(Array.from({ length: rng.range(1, L) }, () => rng.range(1, L)))].sort((
      a,
      b,
    ) => a - b);
    const proc = stepScores(lr, { stepEnds: ends });
    const pre = stepScores(lr, { stepEnds: ends, mode: "prefix" });
    let acc = 0;
    assertArrayAlmostEquals(pre, proc.map((x) => (acc += x)), 1e-9);
    // plain loop reference for the process scores
    assertArrayAlmostEquals(
      proc,
      ends.map((e, k) => lr.slice(k === 0 ? 0 : ends[k - 1], e).reduce((a, b) => a + b, 0)),
      1e-9,
    );
  }
});

Deno.test("stepScores() rejects bad ends and non-finite log-ratios, naming the argument", () => {
  assertThrows(() => stepScores([1, 2], { stepEnds: [2, 1] }), RangeError, "stepEnds");
  assertThrows(() => stepScores([1, 2], { stepEnds: [1, 1] }), RangeError, "strictly increasing");
  assertThrows(() => stepScores([1, 2], { stepEnds: [0] }), RangeError, "stepEnds");
  assertThrows(() => stepScores([1, 2], { stepEnds: [3] }), RangeError, "exceeds");
  assertThrows(() => stepScores([1, 2], { stepEnds: [1.5] }), RangeError, "integers");
  assertThrows(() => stepScores([1, NaN], { stepEnds: [2] }), RangeError, "logratio");
});
