import { assertEquals, assertThrows } from "@std/assert";
import { createProgress, formatCount, formatDuration } from "../../lib/run/progress.ts";

function fakeClock() {
  const clock = { t: 0, now: () => clock.t };
  return clock;
}

Deno.test("formatDuration() writes s, m+s, h+m, d+h", () => {
  assertEquals(formatDuration(0), "0s");
  assertEquals(formatDuration(59.4), "59s");
  assertEquals(formatDuration(192), "3m12s");
  assertEquals(formatDuration(3600 + 2 * 60 + 5), "1h02m");
  assertEquals(formatDuration(2 * 86400 + 3 * 3600), "2d03h");
  assertEquals(formatDuration(NaN), "?");
  assertEquals(formatDuration(Infinity), "?");
});

Deno.test("formatCount() groups thousands independent of locale", () => {
  assertEquals(formatCount(14230.4), "14,230");
  assertEquals(formatCount(999), "999");
  assertEquals(formatCount(1234567), "1,234,567");
  assertEquals(formatCount(-1000), "-1,000");
});

Deno.test("progress line: step, percent, loss, tok/s and ETA from the rate", () => {
  const c = fakeClock();
  const lines: string[] = [];
  const p = createProgress("sft", { total: 500, now: c.now, write: (l) => lines.push(l) });
  // 120 steps in 48 s = 2.5 steps/s; 380 steps left -> 152 s = 2m32s.
  // 683,040 tokens / 48 s = 14,230 tok/s.
  c.t = 48_000;
  p.update(120, { loss: 1.23449, tokens: 683_040 });
  assertEquals(lines, ["[sft] step 120/500 (24%) loss 1.234 tok/s 14,230 eta 2m32s"]);
});

Deno.test("progress ETA follows the moving rate, not the average since start", () => {
  const c = fakeClock();
  const lines: string[] = [];
  const p = createProgress("rl", {
    total: 1000,
    everySeconds: 0,
    everySteps: 1,
    rateTauSeconds: 1,
    now: c.now,
    write: (l) => lines.push(l),
  });
  c.t = 100_000;
  p.update(100); // 1 step/s so far
  // Then 10x faster for 60 s (60 tau): the EMA has forgotten the slow start.
  for (let i = 1; i <= 60; i++) {
    c.t = 100_000 + i * 1000;
    p.update(100 + i * 10);
  }
  // 700 steps at 10 steps/s: 300 left -> 30 s (the all-time average would say 1m26s).
  assertEquals(lines.at(-1), "[rl] step 700/1000 (70%) eta 30s");
});

Deno.test("progress is rate limited by seconds, and the last step always prints", () => {
  const c = fakeClock();
  const lines: string[] = [];
  const p = createProgress("rm", {
    total: 10,
    everySeconds: 5,
    now: c.now,
    write: (l) => lines.push(l),
  });
  for (let s = 1; s <= 10; s++) {
    c.t = s * 1000; // one step per second
    p.update(s);
  }
  // Printed at t=5 s (5 s since start), t=10 s (5 s later and the last step).
  assertEquals(lines.map((l) => l.split(" ").slice(0, 3).join(" ")), [
    "[rm] step 5/10",
    "[rm] step 10/10",
  ]);
  assertEquals(lines[1], "[rm] step 10/10 (100%)");
});

Deno.test("progress everySteps prints every N steps even when time has not passed", () => {
  const c = fakeClock();
  const lines: string[] = [];
  const p = createProgress("x", {
    total: 100,
    everySteps: 25,
    now: c.now,
    write: (l) => lines.push(l),
  });
  for (let s = 1; s <= 99; s++) {
    c.t = s; // 1 ms per step: the 10 s limit never fires
    p.update(s);
  }
  assertEquals(lines.length, 3); // steps 25, 50, 75
  p.finish(); // prints the unprinted step 99, then the summary
  assertEquals(lines.slice(3).map((l) => l.split(" (")[0]), [
    "[x] step 99/100",
    "[x] done 99 steps in 0s",
  ]);
});

Deno.test("progress without total prints no percent or ETA; extra metrics are appended", () => {
  const c = fakeClock();
  const lines: string[] = [];
  const p = createProgress("gen", { now: c.now, write: (l) => lines.push(l), everySeconds: 1 });
  c.t = 2000;
  p.update(40, { metrics: { "rm/accuracy": 0.71234, "cand/mass": 0.00001234 } });
  assertEquals(lines, ["[gen] step 40 rm/accuracy 0.7123 cand/mass 1.234e-5"]);
});

Deno.test("progress with startStep measures the rate from the resume point", () => {
  const c = fakeClock();
  const lines: string[] = [];
  const p = createProgress("sft", {
    total: 300,
    startStep: 200,
    now: c.now,
    write: (l) => lines.push(l),
  });
  c.t = 10_000;
  p.update(250); // 50 steps in 10 s -> 5 steps/s; 50 left -> 10 s
  assertEquals(lines, ["[sft] step 250/300 (83%) eta 10s"]);
});

Deno.test("createProgress() rejects bad arguments, naming them", () => {
  assertThrows(() => createProgress(""), RangeError, "Invalid stage");
  assertThrows(
    () => createProgress("a", { total: -1 }),
    RangeError,
    "Invalid total: expected a non-negative integer, got -1",
  );
  assertThrows(() => createProgress("a", { everySteps: 1.5 }), RangeError, "Invalid everySteps");
  assertThrows(
    () => createProgress("a", { rateTauSeconds: 0 }),
    RangeError,
    "Invalid rateTauSeconds",
  );
  const p = createProgress("a", { write: () => {} });
  assertThrows(() => p.update(NaN), RangeError, "Invalid step");
});
