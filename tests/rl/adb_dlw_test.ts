import { assertArrayAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { adbDlw, type DlwMode } from "../../lib/rl/adb_dlw.ts";
import { randomLabels, Rng } from "../rm/_ref.ts";

Deno.test("adbDlw() reproduces methods.md (g)2", () => {
  // n=4, one correct: μ=0.25, V(x)=ln(0.25/0.75)=−1.098612
  // margins: correct 5−V = 6.098612, wrong 5+V = 3.901388
  // DLW paper [1−μ, μ, μ, μ] = [0.75, 0.25, 0.25, 0.25]; normalised ×4/1.5 = [2, 2/3, 2/3, 2/3]
  const p = adbDlw([1, 0, 0, 0], { groupSize: 4 });
  assertArrayAlmostEquals(p.groupValue, [-1.098612, -1.098612, -1.098612, -1.098612], 1e-6);
  assertArrayAlmostEquals(p.margins, [6.098612, 3.901388, 3.901388, 3.901388], 1e-6);
  assertArrayAlmostEquals(p.weights, [0.75, 0.25, 0.25, 0.25], 1e-12);
  const n = adbDlw([1, 0, 0, 0], { groupSize: 4, dlw: "normalized" });
  assertArrayAlmostEquals(n.weights, [2, 0.666667, 0.666667, 0.666667], 1e-6);
  assertEquals(adbDlw([1, 0, 0, 0], { groupSize: 4, dlw: "off" }).weights, [1, 1, 1, 1]);
});

Deno.test("adbDlw(): uniform groups get weight 0 and margin m with skipUniform; V(x) clamps in float64", () => {
  // group [1,1]: μ=1 → V = logit(1−1e-6) = ln((1−1e-6)/1e-6) = 13.815510
  const r = adbDlw([1, 1, 0, 1], { groupSize: 2, dlw: "off" });
  assertEquals(r.weights, [0, 0, 1, 1]);
  assertArrayAlmostEquals(r.margins, [5, 5, 5, 5], 1e-12); // mixed group μ=0.5 → V=0
  assertArrayAlmostEquals(r.groupValue, [13.815509557963773, 13.815509557963773, 0, 0], 1e-9);
  // without skipUniform the formulas apply: correct margin 5 − 13.8155; paper DLW gives 1−μ = 0
  const k = adbDlw([1, 1, 0, 1], { groupSize: 2, dlw: "off", skipUniform: false });
  assertArrayAlmostEquals(k.margins, [5 - 13.815509557963773, 5 - 13.815509557963773, 5, 5], 1e-9);
  assertEquals(k.weights, [1, 1, 1, 1]);
  // normalized: a uniform group has no weight to rescale → 0 even without skipUniform
  assertEquals(
    adbDlw([0, 0, 0, 1], { groupSize: 2, dlw: "normalized", skipUniform: false }).weights,
    [0, 0, 1, 1],
  );
  // adb off: margin m everywhere
  assertEquals(adbDlw([1, 0, 0, 0], { groupSize: 4, adb: false }).margins, [5, 5, 5, 5]);
});

Deno.test("adbDlw() equals per-sample formulas on random groups", () => {
  for (const [g, n, seed] of [[2, 5, 1], [4, 6, 2], [8, 3, 3]] as const) {
    const rng = new Rng(seed);
    const y = randomLabels(rng, g * n);
    for (const dlw of ["paper", "normalized", "off"] as DlwMode[]) {
      const r = adbDlw(y, { groupSize: g, dlw, margin: 2 });
      y.forEach((yi, i) => {
        const grp = y.slice(i - (i % g), i - (i % g) + g);
        const mu = grp.reduce((a, c) => a + c, 0) / g;
        const uniform = mu === 0 || mu === 1;
        const pc = Math.min(Math.max(mu, 1e-6), 1 - 1e-6);
        const v = Math.log(pc) - Math.log(1 - pc);
        const w = uniform
          ? 0
          : dlw === "off"
          ? 1
          : dlw === "paper"
          ? (yi ? 1 - mu : mu)
          : yi
          ? 1 / (2 * mu)
          : 1 / (2 * (1 - mu));
        const mm = uniform ? 2 : yi ? 2 - v : 2 + v;
        if (Math.abs(r.weights[i]! - w) > 1e-12 || Math.abs(r.margins[i]! - mm) > 1e-9) {
          throw new Error(
            `mismatch at ${i} (${dlw}): ${r.weights[i]} vs ${w}, ${r.margins[i]} vs ${mm}`,
          );
        }
      });
      // normalized weights of a mixed group sum to n
      if (dlw === "normalized") {
        for (let s = 0; s < y.length; s += g) {
          const sum = r.weights.slice(s, s + g).reduce((a, c) => a + c, 0);
          if (sum !== 0 && Math.abs(sum - g) > 1e-9) {
            throw new Error(`group ${s / g} sums to ${sum}`);
          }
        }
      }
    }
  }
});

Deno.test("adbDlw() errors name the argument", () => {
  assertThrows(
    () => adbDlw([1, 0, 1], { groupSize: 2 }),
    RangeError,
    "groupSize must divide the batch: B=3, G=2",
  );
  assertThrows(
    () => adbDlw([1, 0.5], { groupSize: 2 }),
    RangeError,
    "Invalid labels: expected 0/1 values, got 0.5 at [1]",
  );
  assertThrows(
    () => adbDlw([1, 0], { groupSize: 2, dlw: "both" as DlwMode }),
    RangeError,
    'Invalid dlw: expected one of "paper", "normalized", "off", got "both"',
  );
  assertThrows(() => adbDlw([1, 0], { groupSize: 2, margin: NaN }), RangeError, "Invalid margin");
  assertThrows(() => adbDlw([1, 0], { groupSize: 0 }), RangeError, "Invalid groupSize");
});
