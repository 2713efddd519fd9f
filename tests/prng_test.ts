import { assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { Rng } from "../lib/prng.ts";

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
