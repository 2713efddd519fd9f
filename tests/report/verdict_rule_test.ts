/** The verdict rule of statistics.md, on hand-computed cases. */
import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  benjaminiHochberg,
  decide,
  halvesAgreement,
  halvesFlip,
  outcomeOf,
  pairedDifference,
  seedHalves,
  seedsNeeded,
  sesoiOf,
  sig3,
  studentTQuantile,
  tTestP,
  welchDifference,
} from "../../lib/report/stats.ts";

Deno.test("outcomeOf(): every outcome, for 'higher' and mirrored for 'lower'", () => {
  const S = 2;
  assertEquals(outcomeOf({ ciLow: 0.1, ciHigh: 5 }, "higher", S), "reproduced");
  assertEquals(outcomeOf({ ciLow: -5, ciHigh: -0.1 }, "higher", S), "opposite");
  assertEquals(outcomeOf({ ciLow: -5, ciHigh: 1.9 }, "higher", S), "absent");
  assertEquals(outcomeOf({ ciLow: -0.1, ciHigh: 2.1 }, "higher", S), "inconclusive");
  assertEquals(outcomeOf({ ciLow: -5, ciHigh: -0.1 }, "lower", S), "reproduced");
  assertEquals(outcomeOf({ ciLow: 0.1, ciHigh: 5 }, "lower", S), "opposite");
  assertEquals(outcomeOf({ ciLow: -1.9, ciHigh: 5 }, "lower", S), "absent");
  assertEquals(outcomeOf({ ciLow: -2.1, ciHigh: 0.1 }, "lower", S), "inconclusive");
  // Closed interval: an endpoint at 0 contains 0, an endpoint at SESOI contains SESOI.
  assertEquals(outcomeOf({ ciLow: 0, ciHigh: 1 }, "higher", S), "absent");
  assertEquals(outcomeOf({ ciLow: -1, ciHigh: 2 }, "higher", S), "inconclusive");
  assertEquals(outcomeOf({ ciLow: -1, ciHigh: 0 }, "higher", S), "absent");
  assertThrows(() => outcomeOf({ ciLow: 0, ciHigh: 1 }, "higher", 0), RangeError, "sesoi");
  assertThrows(() => outcomeOf({ ciLow: 2, ciHigh: 1 }, "higher", 1), RangeError, "ciLow");
});

Deno.test("sesoiOf(): half the paper's effect, else the metric's constant", () => {
  assertEquals(sesoiOf(11.3, 1), 5.65);
  assertEquals(sesoiOf(-0.5, 1), 0.25);
  assertEquals(sesoiOf(null, 0.01), 0.01);
  assertThrows(() => sesoiOf(null, undefined), RangeError, "declared SESOI");
});

Deno.test("tTestP(): paired and Welch, by hand", () => {
  // Differences 1, 2, 3: t = 2 / (1/sqrt 3) = 3.4641, df 2; for df 2 the CDF is
  // 0.5 + t / (2 sqrt(2 + t^2)): tail 0.5 - 3.4641 / 7.4833 = 0.037089, p = 0.074180.
  const d = pairedDifference([1, 2, 3], [0, 0, 0]);
  assertAlmostEquals(tTestP(d), 0.07418, 1e-5);
  // Welch with a constant control: same se and df (2) as the paired case.
  const w = welchDifference([1, 2, 3], [0, 0, 0]);
  assertAlmostEquals(w.df, 2, 1e-12);
  assertAlmostEquals(tTestP(w), 0.07418, 1e-5);
  // df 1: P(|T| > 1) = 0.5 (Cauchy).
  assertAlmostEquals(tTestP({ mean: 1, sem: 1, df: 1 }), 0.5, 1e-10);
  assertEquals(tTestP({ mean: 0, sem: 0, df: 2 }), 1);
  assertEquals(tTestP({ mean: 1, sem: 0, df: 2 }), 0);
});

Deno.test("benjaminiHochberg(): step-up q-values, monotone, capped, NaN kept", () => {
  // Sorted 0.005, 0.01, 0.03, 0.04 (m = 4): p*m/k = 0.02, 0.02, 0.04, 0.04.
  const q = benjaminiHochberg([0.01, 0.04, 0.03, 0.005]);
  [0.02, 0.04, 0.04, 0.02].forEach((x, i) => assertAlmostEquals(q[i]!, x, 1e-12));
  // Monotone: 0.8 * 2 / 1 = 1.6 is lowered to the next q, 0.9.
  const c = benjaminiHochberg([0.9, 0.8]);
  assertAlmostEquals(c[0]!, 0.9, 1e-12);
  assertAlmostEquals(c[1]!, 0.9, 1e-12);
  // NaN is not counted in m.
  const n = benjaminiHochberg([0.1, NaN, 0.2]);
  assertAlmostEquals(n[0]!, 0.2, 1e-12);
  assertEquals(n[1], NaN);
  assertAlmostEquals(n[2]!, 0.2, 1e-12);
  assertEquals(benjaminiHochberg([]), []);
  assertThrows(() => benjaminiHochberg([1.5]), RangeError, "[0, 1]");
});

Deno.test("seedsNeeded(): the first n with t(n-1) * sd / sqrt(n) <= SESOI", () => {
  // sd = SESOI: n = 6: 2.5706 / 2.4495 = 1.049 > 1; n = 7: 2.4469 / 2.6458 = 0.925.
  assertEquals(seedsNeeded(1, 1), 7);
  // sd 1, SESOI 2.5: n = 2: 12.706 / 1.414 = 8.98; n = 3: 4.303 / 1.732 = 2.484.
  assertEquals(seedsNeeded(1, 2.5), 3);
  assertEquals(seedsNeeded(1, 10), 2);
  assertEquals(seedsNeeded(0, 1), 2);
  // Large n: sd / SESOI = 10: n near (1.96 * 10)^2 = 384 plus the t correction.
  const n = seedsNeeded(10, 1);
  const halfWidth = (m: number) => studentTQuantile(0.975, m - 1) * 10 / Math.sqrt(m);
  assertEquals(halfWidth(n) <= 1 && halfWidth(n - 1) > 1, true);
  assertEquals(n >= 385 && n <= 390, true);
  assertThrows(() => seedsNeeded(1, 0), RangeError, "sesoi");
});

Deno.test("seedHalves() and the halves' agreement", () => {
  assertEquals(seedHalves([1, 2, 3, 4, 5, 6]), [[1, 2, 3], [4, 5, 6]]);
  assertEquals(seedHalves([2, 1]), [[1], [2]]);
  assertEquals(halvesFlip("reproduced", "opposite"), true);
  assertEquals(halvesFlip("absent", "opposite"), false);
  assertEquals(
    halvesAgreement([
      { outcome: "opposite", first: "opposite", second: "opposite" },
      { outcome: "absent", first: "absent", second: "absent" },
      { outcome: "reproduced", first: "opposite", second: "reproduced" },
      { outcome: "inconclusive", first: "reproduced", second: "reproduced" },
    ]),
    { rows: 3, agree: 2, flipped: 1 },
  );
});

Deno.test("decide(): paired vs Welch, outcome and seeds needed", () => {
  // Paired: differences 2, 3, 4: mean 3, sd 1, CI 3 +- 2.484 = [0.516, 5.48]: reproduced.
  const p = decide([12, 13, 14], [10, 10, 10], { paired: true, direction: "higher", sesoi: 1 })!;
  assertEquals(p.diff.kind, "paired");
  assertAlmostEquals(p.diff.ciLow, 3 - 4.302653 / Math.sqrt(3), 1e-6);
  assertEquals(p.outcome, "reproduced");
  assertEquals(p.seedsNeeded, 7);
  // The same numbers claimed "lower": opposite.
  assertEquals(
    decide([12, 13, 14], [10, 10, 10], { paired: true, direction: "lower", sesoi: 1 })!.outcome,
    "opposite",
  );
  // Welch: sd of one seed's difference sqrt(1 + 1) = 1.414; SESOI 1: n = 11 gives
  // 2.228 * 1.414 / 3.317 = 0.950, n = 10 gives 2.262 * 1.414 / 3.162 = 1.012.
  const w = decide([1, 2, 3], [1, 2, 3], { paired: false, direction: "higher", sesoi: 1 })!;
  assertEquals(w.diff.kind, "welch");
  assertEquals(w.outcome, "inconclusive");
  assertEquals(w.seedsNeeded, 11);
  assertEquals(decide([1, NaN], [1, 2], { paired: true, direction: "higher", sesoi: 1 }), null);
});

Deno.test("sig3(): 3 significant digits", () => {
  assertEquals(sig3(0.0749), "0.0749");
  assertEquals(sig3(96.11), "96.1");
  assertEquals(sig3(5.65), "5.65");
  assertEquals(sig3(null), "n/a");
});
