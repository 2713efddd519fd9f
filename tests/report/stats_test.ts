import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  bootstrapInterval,
  brierScore,
  claimDirection,
  logLoss,
  mean,
  pairedDifference,
  sampleStd,
  studentTCdf,
  studentTQuantile,
  summarize,
  summarizeSteps,
  verdict,
  welchDifference,
} from "../../lib/report/stats.ts";

Deno.test("studentTQuantile() matches published t(0.975, df) values", () => {
  // R: qt(0.975, df) for df = 1, 2, 3, 4, 5, 9, 10, 29, 30, 60, 100, 1000.
  const known: [number, number][] = [
    [1, 12.706205],
    [2, 4.302653],
    [3, 3.182446],
    [4, 2.776445],
    [5, 2.570582],
    [9, 2.262157],
    [10, 2.228139],
    [29, 2.045230],
    [30, 2.042272],
    [60, 2.000298],
    [100, 1.983972],
    [1000, 1.962339],
  ];
  for (const [df, t] of known) assertAlmostEquals(studentTQuantile(0.975, df), t, 5e-7, `df=${df}`);
  // Other levels: qt(0.95, 7) = 1.894579, qt(0.995, 3) = 5.840909, qt(0.025, 2) = -4.302653.
  assertAlmostEquals(studentTQuantile(0.95, 7), 1.894579, 5e-7);
  assertAlmostEquals(studentTQuantile(0.995, 3), 5.840909, 5e-7);
  assertAlmostEquals(studentTQuantile(0.025, 2), -4.302653, 5e-7);
  // Fractional df (Welch): scipy.stats.t.ppf(0.975, 2.5) = 3.574655.
  assertAlmostEquals(studentTQuantile(0.975, 2.5), 3.574655, 5e-6);
  // Large df tends to the normal 1.959964.
  assertAlmostEquals(studentTQuantile(0.975, 1e7), 1.959964, 1e-5);
});

Deno.test("studentTCdf() is symmetric and exact for df = 1 (Cauchy)", () => {
  assertEquals(studentTCdf(0, 3), 0.5);
  // Cauchy: F(1) = 0.75.
  assertAlmostEquals(studentTCdf(1, 1), 0.75, 1e-12);
  assertAlmostEquals(studentTCdf(-2, 4) + studentTCdf(2, 4), 1, 1e-12);
});

Deno.test("mean() / sampleStd() / summarize() on a hand-computed case", () => {
  // xs = 2,4,4,4,5,5,7,9: mean 5, sum sq dev 32, var 32/7, std 2.13809.
  const xs = [2, 4, 4, 4, 5, 5, 7, 9];
  assertEquals(mean(xs), 5);
  assertAlmostEquals(sampleStd(xs), Math.sqrt(32 / 7), 1e-12);
  // [1, 2, 3]: mean 2, std 1, sem 1/sqrt(3), half-width 4.302653/sqrt(3) = 2.484138.
  const s = summarize([1, 2, 3]);
  assertEquals(s.n, 3);
  assertEquals(s.df, 2);
  assertAlmostEquals(s.ciLow, 2 - 2.484138, 1e-6);
  assertAlmostEquals(s.ciHigh, 2 + 2.484138, 1e-6);
});

Deno.test("welchDifference() uses Welch-Satterthwaite df", () => {
  // a = [1,2,3] (var 1), b = [2,4,6] (var 4): se^2 = 1/3 + 4/3 = 5/3;
  // df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = (25/9) / (17/18) = 50/17 = 2.941176.
  const d = welchDifference([1, 2, 3], [2, 4, 6]);
  assertEquals(d.kind, "welch");
  assertEquals(d.mean, -2);
  assertAlmostEquals(d.sem, Math.sqrt(5 / 3), 1e-12);
  assertAlmostEquals(d.df, 50 / 17, 1e-12);
  const half = studentTQuantile(0.975, 50 / 17) * Math.sqrt(5 / 3);
  assertAlmostEquals(d.ciLow, -2 - half, 1e-9);
  assertAlmostEquals(d.ciHigh, -2 + half, 1e-9);
});

Deno.test("pairedDifference() is the t interval of per-seed differences", () => {
  // diffs = [0.10, 0.12, 0.11]: mean 0.11, std 0.01, sem 0.01/sqrt(3), half 4.302653 * sem.
  const d = pairedDifference([3.1, 4.12, 5.01], [3.0, 4.0, 4.9]);
  assertEquals(d.kind, "paired");
  assertAlmostEquals(d.mean, 0.11, 1e-12);
  assertAlmostEquals(d.ciLow, 0.11 - 4.302653 * 0.01 / Math.sqrt(3), 1e-6);
  // Pairing sees an effect Welch misses: the seeds dominate the arm variance.
  assertEquals(verdict(d, { direction: "higher" }).verdict, "reproduced");
  const w = welchDifference([3.1, 4.12, 5.01], [3.0, 4.0, 4.9]);
  assertEquals(verdict(w, { direction: "higher" }).verdict, "inconclusive");
});

Deno.test("verdict() is decided by the interval, not the mean", async (t) => {
  const up = welchDifference([0.40, 0.42, 0.41], [0.30, 0.31, 0.29]);
  await t.step("CI above 0 and paper says higher: reproduced", () => {
    assertEquals(verdict(up, { direction: "higher" }).verdict, "reproduced");
  });
  await t.step("CI above 0 and paper says lower: not reproduced", () => {
    assertEquals(verdict(up, { direction: "lower" }).verdict, "not reproduced");
  });
  await t.step("CI contains 0 even though the mean is positive: inconclusive", () => {
    const d = welchDifference([0.5, 0.1, 0.9], [0.3, 0.2, 0.4]);
    assertEquals(d.mean > 0, true);
    const v = verdict(d, { direction: "higher" });
    assertEquals(v.verdict, "inconclusive");
    assertEquals(v.reason.includes("contains 0"), true);
  });
  await t.step("fewer than minSeeds seeds: inconclusive", () => {
    const d = welchDifference([0.40, 0.42], [0.30, 0.31]);
    assertEquals(verdict(d, { direction: "higher" }).verdict, "inconclusive");
    assertEquals(verdict(d, { direction: "higher", minSeeds: 2 }).verdict, "reproduced");
  });
  await t.step("a CI ending exactly at 0 is inconclusive", () => {
    const s = { n: 3, mean: 1, std: 1, sem: 1, df: 2, confidence: 0.95, ciLow: 0, ciHigh: 2 };
    assertEquals(verdict(s, { direction: "higher" }).verdict, "inconclusive");
  });
});

Deno.test("claimDirection() reads the paper's sign", () => {
  assertEquals(claimDirection(39.1, 27.8), "higher");
  assertEquals(claimDirection(1, 2), "lower");
  assertThrows(() => claimDirection(2, 2), RangeError, "different numbers");
});

Deno.test("stats functions name the bad argument", () => {
  assertThrows(() => summarize([1]), RangeError, "Invalid xs: expected at least 2 values");
  assertThrows(() => summarize([1, NaN]), RangeError, "got NaN at [1]");
  assertThrows(() => summarize([1, 2], { confidence: 95 }), RangeError, "options.confidence");
  assertThrows(() => pairedDifference([1, 2, 3], [1, 2]), RangeError, "Invalid control");
  assertThrows(() => welchDifference([1, 2], [1]), RangeError, "Invalid control");
  assertThrows(() => studentTQuantile(1.2, 3), RangeError, "Invalid p");
  assertThrows(() => studentTQuantile(0.9, 0), RangeError, "Invalid df");
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => verdict(welchDifference([1, 2, 3], [1, 2, 4]), { direction: "up" as any }),
    RangeError,
    "options.direction",
  );
});

Deno.test("summarizeSteps() gives a per-step t interval over seeds", () => {
  const b = summarizeSteps([[0, 1], [2, 3], [4, 5]]);
  assertEquals(b.mean, [2, 3]);
  // std 2 per step, sem 2/sqrt(3), half 4.302653 * 2 / sqrt(3) = 4.968277.
  assertAlmostEquals(b.high[0]!, 2 + 4.968277, 1e-5);
  assertThrows(() => summarizeSteps([[1, 2], [1]]), RangeError, "expected 2 steps per seed");
});

Deno.test("brierScore() is the mean squared error of probabilities against outcomes", () => {
  // (0.8-1)^2 = 0.04, (0.3-0)^2 = 0.09, (0.6-0.5)^2 = 0.01 (an MC success rate as outcome),
  // (1-1)^2 = 0: sum 0.14, / 4 = 0.035
  assertAlmostEquals(brierScore([0.8, 0.3, 0.6, 1], [1, 0, 0.5, 1]), 0.035, 1e-12);
  // the constant base-rate forecast: p = 0.25 on outcomes [1,0,0,0] -> (0.75^2 + 3 * 0.25^2) / 4
  // = (0.5625 + 0.1875) / 4 = 0.1875
  assertAlmostEquals(brierScore([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0]), 0.1875, 1e-12);
  assertThrows(() => brierScore([0.5], [1, 0]), RangeError, "as many outcomes");
  assertThrows(() => brierScore([1.5], [1]), RangeError, "probs[0]");
  assertThrows(() => brierScore([0.5], [2]), RangeError, "outcomes[0]");
});

Deno.test("logLoss() is the cross-entropy of sigma(logit), finite when saturated", () => {
  // z = ln 4 (p = 0.8): y = 1 -> -ln 0.8 = 0.223144; y = 0 -> -ln 0.2 = 1.609438
  // z = -ln 4 (p = 0.2): y = 0 -> 0.223144; y = 0.5 -> -(0.5 ln 0.2 + 0.5 ln 0.8) = 0.916291
  // mean of the four: (0.223144 + 1.609438 + 0.223144 + 0.916291) / 4 = 0.743004
  const z = Math.log(4);
  assertAlmostEquals(logLoss([z, z, -z, -z], [1, 0, 0, 0.5]), 0.743004, 1e-6);
  // the same as -mean(y log p + (1-y) log(1-p)) computed from probabilities
  const p = [0.9, 0.1, 0.35], y = [1, 1, 0];
  const direct =
    -p.reduce((s, pi, i) => s + y[i]! * Math.log(pi) + (1 - y[i]!) * Math.log(1 - pi), 0) / 3;
  assertAlmostEquals(logLoss(p.map((q) => Math.log(q / (1 - q))), y), direct, 1e-12);
  // saturated: z = +-800 would overflow exp; the right side costs ~0, the wrong side |z|
  assertAlmostEquals(logLoss([800, -800], [1, 0]), 0, 1e-12);
  assertEquals(logLoss([800], [0]), 800);
  assertThrows(() => logLoss([NaN], [1]), RangeError, "logits[0]");
});

Deno.test("bootstrapInterval() is seeded, covers the estimate and narrows with more items", () => {
  const mk = (n: number) => Array.from({ length: n }, (_, i) => (i % 10 < 3 ? 1 : 0));
  const meanOf = (xs: number[]) => (idx: readonly number[]) =>
    idx.reduce((s, i) => s + xs[i]!, 0) / idx.length;
  const small = mk(20), big = mk(2000);
  const a = bootstrapInterval(small.length, meanOf(small), { seed: 3 });
  const b = bootstrapInterval(big.length, meanOf(big), { seed: 3, resamples: 400 });
  assertEquals(a.estimate, 0.3);
  assertAlmostEquals(b.estimate, 0.3, 1e-12);
  assertEquals(bootstrapInterval(small.length, meanOf(small), { seed: 3 }), a);
  if (!(a.ciLow < 0.3 && a.ciHigh > 0.3)) throw new Error(`no coverage: ${JSON.stringify(a)}`);
  // binomial s.e. at n = 2000: sqrt(0.21 / 2000) = 0.0102 -> 95% width ~ 0.04
  assertAlmostEquals(b.ciHigh - b.ciLow, 0.04, 0.01);
  if (!(b.ciHigh - b.ciLow < a.ciHigh - a.ciLow)) throw new Error("no narrowing");
  assertEquals(bootstrapInterval(0, () => 1).estimate, NaN);
  assertThrows(() => bootstrapInterval(3, () => 1, { level: 1 }), RangeError, "level");
});
