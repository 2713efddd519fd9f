import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import {
  compatF1,
  f1Of,
  predictFirstError,
  processBenchF1,
  type ScoredRow,
  transferF1,
} from "../../lib/eval/processbench.ts";

const TOY: ScoredRow[] = [
  { label: -1, scores: [0.8, 0.7, 0.9] },
  { label: -1, scores: [0.6, 0.4] },
  { label: 1, scores: [0.9, 0.3, 0.5] },
  { label: 0, scores: [0.2, 0.6] },
];

Deno.test("methods.md d1 worked check: tau = 0.5 gives F1 0.667, the oracle gives F1 1 at tau = 0.4", () => {
  // tau 0.5: preds (-1, 1, 1, 0); acc_cor 1/2, acc_err 2/2; F1 = 2*1*0.5/1.5 = 0.667
  assertEquals(TOY.map((r) => predictFirstError(r.scores, 0.5)), [-1, 1, 1, 0]);
  const r = processBenchF1(TOY, { threshold: 0.5 });
  assertAlmostEquals(r.f1, 2 / 3, 1e-12);
  assertEquals([r.accCorrect, r.accErroneous, r.threshold], [0.5, 1, 0.5]);
  // any tau in (0.3, 0.4] works; the first candidate there is the score value 0.4
  assertEquals(processBenchF1(TOY), { f1: 1, accErroneous: 1, accCorrect: 1, threshold: 0.4 });
});

Deno.test("processBenchF1() edge cases: strict <, +inf threshold reported as null, F1 0 when both accuracies are 0", () => {
  assertEquals(predictFirstError([0.5], 0.5), -1);
  // every row erroneous at step 0 except one correct row with high scores: best is +inf? no: tau in (s_l, min]
  const allFirst: ScoredRow[] = [{ label: 0, scores: [5] }, { label: 0, scores: [6] }, {
    label: -1,
    scores: [1],
  }];
  // candidates 1, 5, 6, inf: at 1 -> err 0, cor 1 (F1 0); at 5 -> err 0, cor 0; at 6 -> err 1/2; inf -> err 1, cor 0
  const r = processBenchF1(allFirst);
  assertEquals(r.f1, 0);
  assertEquals(r.threshold, 1); // first maximiser (all F1 0)
  const inf = processBenchF1([{ label: 0, scores: [5] }, { label: -1, scores: [] }]);
  assertEquals(inf, { f1: 1, accErroneous: 1, accCorrect: 1, threshold: null });
  assertEquals(f1Of(0, 0), 0);
  assertEquals(processBenchF1(TOY, { threshold: -10 }).f1, 0); // acc_err 0, acc_cor 1
});

Deno.test("processBenchF1() rejects a missing class, bad labels and non-finite scores", () => {
  assertThrows(
    () => processBenchF1([{ label: -1, scores: [1] }]),
    RangeError,
    "both label classes",
  );
  assertThrows(
    () => processBenchF1([{ label: 2, scores: [1, 2] }, { label: -1, scores: [1] }]),
    RangeError,
    "rows[0].label",
  );
  assertThrows(
    () => processBenchF1([{ label: 0, scores: [NaN] }, { label: -1, scores: [1] }]),
    RangeError,
    "rows[0].scores",
  );
  assertThrows(() => processBenchF1(TOY, { threshold: NaN }), RangeError, "threshold");
});

function randomRows(rng: Rng, n: number): ScoredRow[] {
  const rows: ScoredRow[] = [];
  for (let i = 0; i < n; i++) {
    const S = rng.range(1, 6);
    // scores on a 0.01 grid, so many ties across rows
    const scores = Array.from({ length: S }, () => Math.round(rng.normal() * 100) / 100);
    rows.push({ label: i < 2 ? i - 1 : rng.range(-1, S - 1), scores });
  }
  return rows;
}

Deno.test("the exact oracle equals a brute-force scan over candidates and beats a fine grid (random data)", () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 60; trial++) {
    const rows = randomRows(rng, rng.range(2, 60));
    const exact = processBenchF1(rows);
    // brute force: every distinct value and +inf, first maximiser
    const cands = [...new Set(rows.flatMap((r) => r.scores))].sort((a, b) => a - b).concat([
      Infinity,
    ]);
    let best = -1, bestT = NaN;
    for (const t of cands) {
      const f = processBenchF1(rows, { threshold: t }).f1;
      if (f > best) best = f, bestT = t;
    }
    assertAlmostEquals(exact.f1, best, 1e-12);
    assertEquals(exact.threshold, bestT === Infinity ? null : bestT);
    // a fine grid (offset by half a score unit) hits every partition of 0.01-grid scores
    let grid = 0;
    for (let t = -5.005; t <= 5.01; t += 0.01) {
      grid = Math.max(grid, processBenchF1(rows, { threshold: t }).f1);
    }
    if (grid > exact.f1 + 1e-12) throw new Error(`grid ${grid} beats exact ${exact.f1}`);
    const maxAbs = Math.max(...rows.flatMap((r) => r.scores.map(Math.abs)));
    if (maxAbs < 5) {
      assertAlmostEquals(
        Math.max(grid, processBenchF1(rows, { threshold: Infinity }).f1),
        exact.f1,
        1e-12,
      );
    }
  }
});

Deno.test("transferF1() applies the threshold fitted on one split to the others", () => {
  const r = transferF1(TOY, {
    apply: { other: [{ label: -1, scores: [0.45] }, { label: 0, scores: [0.35] }] },
  });
  assertEquals(r.threshold, 0.4);
  assertEquals(r.fit.f1, 1);
  // tau 0.4: 0.45 >= 0.4 -> -1 (right); 0.35 < 0.4 -> 0 (right)
  assertEquals(r.splits.other!.f1, 1);
  assertThrows(
    () => transferF1(TOY, { apply: { bad: [{ label: -1, scores: [1] }] } }),
    RangeError,
    "apply.bad",
  );
});

Deno.test("compatF1() searches the repo grid on sigmoid(0.001 * score) and never beats the exact oracle", () => {
  const rng = new Rng(2);
  for (let trial = 0; trial < 10; trial++) {
    const rows = randomRows(rng, 30).map((r) => ({ ...r, scores: r.scores.map((s) => s * 1000) }));
    const c = compatF1(rows);
    if (c.f1 > processBenchF1(rows).f1 + 1e-12) throw new Error("compat beat the oracle");
  }
  // 0.001 * 2000 = 2 -> sigmoid 0.881; 0.001 * -2000 -> 0.119; grid point near 0.5 separates them
  const r = compatF1([{ label: -1, scores: [2000] }, { label: 0, scores: [-2000] }]);
  assertEquals(r.f1, 1);
  if (!(r.threshold! > 0.119 && r.threshold! <= 0.881)) throw new Error(`threshold ${r.threshold}`);
});
