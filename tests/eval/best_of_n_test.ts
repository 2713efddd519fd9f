import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import { bestOfN, bonReferences } from "../../lib/eval/best_of_n.ts";

Deno.test("bestOfN() hand case: nested first-N subsets, ties to the lowest index, mean over ns", () => {
  // problem 0: @2 picks index 1 (0.9, right); @4 tie 0.9 at 1 and 3 -> 1 (right)
  // problem 1: @2 picks index 0 (2 > 1, wrong); @4 picks index 3 (right)
  const r = bestOfN([[0.1, 0.9, 0.5, 0.9], [2, 1, 0, 3]], {
    correct: [[0, 1, 0, 0], [0, 0, 0, 1]],
    ns: [2, 4],
  });
  assertEquals(r, { accuracy: { "2": 0.5, "4": 1 }, mean: 0.75 });
  // ties at the first index
  assertEquals(bestOfN([[1, 1, 1, 1]], { correct: [[0, 1, 1, 1]], ns: [4] }).accuracy["4"], 0);
});

Deno.test("bestOfN() top_logprob subset takes the N samples the policy likes most", () => {
  const r = bestOfN([[5, 1, 2, 3]], {
    correct: [[1, 0, 0, 1]],
    ns: [2],
    subset: "top_logprob",
    logprobs: [[-9, -1, -2, -1.5]],
  });
  // subset {1, 3} (log-probs -1, -1.5): best score 3 at index 3 -> right
  assertEquals(r.accuracy["2"], 1);
});

Deno.test("bestOfN() matches a plain-loop reference on random data", () => {
  const rng = new Rng(4);
  for (let trial = 0; trial < 30; trial++) {
    const P = rng.range(1, 20), N = rng.range(1, 16);
    const scores = Array.from({ length: P }, () => Array.from({ length: N }, () => rng.int(4)));
    const correct = Array.from({ length: P }, () => Array.from({ length: N }, () => rng.int(2)));
    const ns = [1, rng.range(1, N), N];
    const r = bestOfN(scores, { correct, ns });
    ns.forEach((n) => {
      let hit = 0;
      for (let p = 0; p < P; p++) {
        const sub = scores[p]!.slice(0, n);
        hit += correct[p]![sub.indexOf(Math.max(...sub))]!;
      }
      assertAlmostEquals(r.accuracy[String(n)]!, hit / P, 1e-12);
    });
  }
});

Deno.test("bestOfN() rejects N larger than the samples, bad shapes and non-binary labels", () => {
  assertThrows(
    () => bestOfN([[1, 2]], { correct: [[0, 1]], ns: [4] }),
    RangeError,
    "ns: N=4 exceeds the 2 samples",
  );
  assertThrows(
    () => bestOfN([[1, 2]], { correct: [[0, 1, 1]], ns: [2] }),
    RangeError,
    "correct[0]",
  );
  assertThrows(() => bestOfN([[1, 2]], { correct: [[0, 0.5]], ns: [2] }), RangeError, "correct");
  assertThrows(() => bestOfN([[1, NaN]], { correct: [[0, 1]], ns: [2] }), RangeError, "scores");
  assertThrows(() => bestOfN([], { correct: [], ns: [1] }), RangeError, "scores");
  assertThrows(
    () => bestOfN([[1]], { correct: [[1]], ns: [1], subset: "top_logprob" }),
    RangeError,
    "logprobs",
  );
});

Deno.test("bonReferences(): majority vote (null answers abstain, ties to the first seen) and pass@N", () => {
  const r = bonReferences([[3, 5, 5, 3], [null, null, 4, 4]], {
    correct: [[1, 0, 0, 1], [0, 0, 1, 1]],
    ns: [1, 3, 4],
  });
  // p0: @1 3 (right); @3 5 twice (wrong); @4 tie 3/5 -> 3 (right). p1: @1 no vote (wrong); @3 4 (right); @4 4 (right)
  assertEquals(r.majority, { "1": 0.5, "3": 0.5, "4": 1 });
  assertEquals(r.pass, { "1": 0.5, "3": 1, "4": 1 });
  assertThrows(() => bonReferences([[1]], { correct: [[1]], ns: [2] }), RangeError, "ns");
});
