import { assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { counterKey, CounterRng, philox4x32, Rng } from "../lib/prng.ts";

Deno.test("Rng: equal seeds give equal streams, different seeds differ", () => {
  const a = new Rng(3), b = new Rng(3), c = new Rng(4);
  const xa = Array.from({ length: 5 }, () => a.nextU32());
  assertEquals(xa, Array.from({ length: 5 }, () => b.nextU32()));
  assertNotEquals(xa, Array.from({ length: 5 }, () => c.nextU32()));
});

Deno.test("Rng: state round trip resumes the stream exactly", () => {
  const a = new Rng(11);
  a.next();
  const r = Rng.fromState(a.state());
  assertEquals([a.next(), a.int(10), a.normal()], [r.next(), r.int(10), r.normal()]);
});

Deno.test("Rng: int() is uniform within 3 sigma and in range", () => {
  const r = new Rng(1);
  const counts = new Array(4).fill(0);
  const n = 40000;
  for (let i = 0; i < n; i++) counts[r.int(4)]++;
  for (const c of counts) {
    // binomial sd = sqrt(n p (1-p)) ~ 86.6
    if (Math.abs(c - n / 4) > 3 * 86.6 + 1) throw new Error(`non-uniform counts ${counts}`);
  }
  assertThrows(() => r.int(0), RangeError, "Invalid n");
  assertThrows(() => new Rng(1.5), RangeError, "Invalid seed");
});

Deno.test("philox4x32: Random123's known-answer vectors (Philox-4x32-10)", () => {
  const out = new Uint32Array(4);
  const f = 0xffffffff;
  assertEquals([...philox4x32(f, f, f, f, f, f, out)], [
    0x408f276d,
    0x41c83b0e,
    0xa20bc7c6,
    0x6d5451fd,
  ]);
  philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
  assertEquals([...out], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
});

Deno.test("CounterRng: a draw is a pure function of its key, in any order", () => {
  const a = new CounterRng(9, "s"), b = new CounterRng(9, "s");
  const keys = Array.from({ length: 50 }, (_, i) => [i % 7, i % 3, i] as const);
  const fwd = keys.map(([p, s, t]) => a.uniform(p, s, t));
  const back = [...keys].reverse().map(([p, s, t]) => b.uniform(p, s, t)).reverse();
  assertEquals(fwd, back);
  assertEquals(a.uniform(1, 2, 3), a.uniform(1, 2, 3));
  assertThrows(() => new CounterRng(1.5, "s"), RangeError, "seed");
});

Deno.test("CounterRng: different seeds, streams, problems, samples or positions differ", () => {
  const base = new CounterRng(1, "eval");
  const ref = Array.from({ length: 16 }, (_, t) => base.u32(7, 0, t));
  const variants = [
    Array.from({ length: 16 }, (_, t) => new CounterRng(2, "eval").u32(7, 0, t)),
    Array.from({ length: 16 }, (_, t) => new CounterRng(1, "rl").u32(7, 0, t)),
    Array.from({ length: 16 }, (_, t) => new CounterRng(1 + 2 ** 32, "eval").u32(7, 0, t)),
    Array.from({ length: 16 }, (_, t) => base.u32(8, 0, t)),
    Array.from({ length: 16 }, (_, t) => base.u32(7, 1, t)),
    Array.from({ length: 16 }, (_, t) => base.u32(7, 0, t + 1)),
  ];
  for (const v of variants) {
    // no shared word at all (a 2^-32 chance per pair for independent streams)
    assertEquals(v.filter((x, t) => x === ref[t]).length, 0);
  }
  assertEquals(new Set(ref).size, 16);
  assertNotEquals(counterKey("a"), counterKey("b"));
});

Deno.test("CounterRng: uniform in [0, 1): mean, variance, chi-square over 16 bins, lag correlation", () => {
  const r = new CounterRng(3, "uniformity");
  const n = 64000, bins = new Array(16).fill(0);
  let sum = 0, sq = 0, lag = 0, prev = 0.5;
  for (let i = 0; i < n; i++) {
    // consecutive positions of consecutive samples of a few problems: the sampler's pattern
    const u = r.uniform(i % 7, Math.floor(i / 700), i % 100); // all keys distinct
    if (!(u >= 0 && u < 1)) throw new Error(`out of range: ${u}`);
    bins[Math.floor(u * 16)]++;
    sum += u;
    sq += u * u;
    lag += (u - 0.5) * (prev - 0.5);
    prev = u;
  }
  const mean = sum / n, variance = sq / n - mean * mean;
  // sd of the mean: sqrt(1/12/n) ≈ 0.00114; of the variance ≈ sqrt(1/180/n) ≈ 0.00029
  if (Math.abs(mean - 0.5) > 0.005) throw new Error(`mean ${mean}`);
  if (Math.abs(variance - 1 / 12) > 0.0015) throw new Error(`variance ${variance}`);
  const e = n / 16;
  const chi2 = bins.reduce((a, c) => a + (c - e) ** 2 / e, 0);
  // 15 degrees of freedom: P(chi2 > 37.7) = 0.001
  if (chi2 > 37.7) throw new Error(`chi-square ${chi2}`);
  // lag-1 correlation ≈ 0 (sd 1/sqrt(n) ≈ 0.004 after dividing by 1/12)
  if (Math.abs(lag / n / (1 / 12)) > 0.02) throw new Error(`lag-1 correlation ${lag / n * 12}`);
});
