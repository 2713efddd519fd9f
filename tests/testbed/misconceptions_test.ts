import { assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import {
  DEFAULT_SFT_DATA_CONFIG,
  findMisconception,
  resolveSftDataConfig,
  writeSftSolution,
} from "../../lib/testbed/misconceptions.ts";
import { labelTrace } from "../../lib/testbed/labeller.ts";
import { answerOf, applyOp, generateProblem, type Problem } from "../../lib/testbed/task.ts";

Deno.test("a misconception fires only on its (op, operand, running value) triple, written as true + delta", () => {
  const set = DEFAULT_SFT_DATA_CONFIG.misconceptions;
  assertEquals(findMisconception(set, { value: 5, op: "*", operand: 3 })?.delta, 1);
  assertEquals(findMisconception(set, { value: 4, op: "*", operand: 3 }), undefined);
  assertEquals(findMisconception(set, { value: 2, op: "*", operand: 4 }), undefined);
  // 2*3 = 6, written 0 (mod 7) at q = 1; never at q = 0
  const p: Problem = {
    start: 2,
    ops: [{ op: "*", operand: 3 }, { op: "+", operand: 1 }],
    modulus: 7,
  };
  const on = writeSftSolution(p, new Rng(1), {
    config: { rate: 1, corruptionRate: 0, verifyRate: 0 },
  });
  assertEquals(on.trace.steps.map((s) => s.result), [0, 1]);
  assertEquals(on.events, [{ step: 0, kind: "misconception" }]);
  assertEquals(labelTrace(p, on.trace).label, 0);
  const off = writeSftSolution(p, new Rng(1), { config: { rate: 0, corruptionRate: 0 } });
  assertEquals(off.trace.answer, answerOf(p));
});

Deno.test("writeSftSolution() fires a matching misconception at rate q (0.5 within 4 sigma)", () => {
  const rng = new Rng(3);
  let matches = 0, fired = 0;
  for (let i = 0; i < 4000; i++) {
    const v = rng.pick([2, 5]);
    const p: Problem = { start: v, ops: [{ op: "*", operand: 3 }], modulus: 7 };
    const { events, trace } = writeSftSolution(p, rng, { config: { corruptionRate: 0 } });
    matches++;
    if (events.length > 0) {
      fired++;
      assertEquals(trace.steps[0]!.result, (applyOp(v, "*", 3, 7) + 1) % 7);
    }
  }
  const sd = Math.sqrt(matches * 0.25);
  if (Math.abs(fired - matches / 2) > 4 * sd) throw new Error(`fired ${fired} of ${matches}`);
});

Deno.test("planted errors are labelled at the first event; correct traces contain correctly computed pairs at q = 0.5", () => {
  const rng = new Rng(8);
  let cleanWithPair = 0;
  for (let i = 0; i < 3000; i++) {
    const p = generateProblem(rng);
    const { trace, events } = writeSftSolution(p, rng);
    const label = labelTrace(p, trace).label;
    if (events.length === 0) {
      assertEquals(label, -1);
      if (trace.steps.some((s) => findMisconception(DEFAULT_SFT_DATA_CONFIG.misconceptions, s))) {
        cleanWithPair++;
      }
    } else {
      // a corrupt_value of the same value, etc., cannot happen: every event changes the step
      assertEquals(label, events[0]!.step);
    }
    if (trace.steps.filter((s) => s.verify !== null).length > DEFAULT_SFT_DATA_CONFIG.maxVerify) {
      throw new Error("too many verify lines");
    }
  }
  if (cleanWithPair < 100) {
    throw new Error(`only ${cleanWithPair} correct traces contain a misconception pair`);
  }
});

Deno.test("resolveSftDataConfig() rejects bad fields, naming them", () => {
  const m = { op: "*" as const, operand: 3, values: [2], delta: 1 };
  assertThrows(() => resolveSftDataConfig({ rate: 1.5 }, { modulus: 7 }), RangeError, "rate");
  assertThrows(
    () => resolveSftDataConfig({ corruptionRate: -1 }, { modulus: 7 }),
    RangeError,
    "corruptionRate",
  );
  assertThrows(
    () => resolveSftDataConfig({ misconceptions: [{ ...m, operand: 0 }] }, { modulus: 7 }),
    RangeError,
    "misconceptions[0].operand",
  );
  assertThrows(
    () => resolveSftDataConfig({ misconceptions: [{ ...m, delta: 7 }] }, { modulus: 7 }),
    RangeError,
    "misconceptions[0].delta",
  );
  assertThrows(
    () => resolveSftDataConfig({ misconceptions: [{ ...m, values: [7] }] }, { modulus: 7 }),
    RangeError,
    "misconceptions[0].values",
  );
  assertThrows(
    () => resolveSftDataConfig({ misconceptions: [m, m] }, { modulus: 7 }),
    RangeError,
    "duplicate",
  );
  assertThrows(
    () => resolveSftDataConfig({ maxVerify: -1 }, { modulus: 7 }),
    RangeError,
    "maxVerify",
  );
});
