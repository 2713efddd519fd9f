import { assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import {
  answerOf,
  applyOp,
  generateProblem,
  inverse,
  problemKey,
  resolveTaskConfig,
  runningValues,
  solve,
} from "../../lib/testbed/task.ts";

Deno.test("applyOp() computes modulo p, `/` is multiplication by the inverse", () => {
  // 3+4 = 7 = 0; 0-1 = -1 = 6; 3*5 = 15 = 1; 3/5 = 3*3 = 9 = 2 (5*3 = 15 = 1 mod 7)
  assertEquals(applyOp(3, "+", 4, 7), 0);
  assertEquals(applyOp(0, "-", 1, 7), 6);
  assertEquals(applyOp(3, "*", 5, 7), 1);
  assertEquals(inverse(5, 7), 3);
  assertEquals(applyOp(3, "/", 5, 7), 2);
});

Deno.test("every operation with a non-zero operand is a bijection of Z_p (a wrong step cannot be washed out)", () => {
  for (const p of [7, 11, 97]) {
    for (const op of ["+", "-", "*", "/"] as const) {
      for (let b = 1; b < p; b++) {
        const img = new Set(Array.from({ length: p }, (_, v) => applyOp(v, op, b, p)));
        assertEquals(img.size, p, `${op}${b} mod ${p}`);
      }
    }
  }
});

Deno.test("runningValues() / solve() evaluate left to right", () => {
  const p = {
    start: 3,
    ops: [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }, {
      op: "-" as const,
      operand: 1,
    }],
    modulus: 7,
  };
  assertEquals(runningValues(p), [3, 0, 0, 6]);
  assertEquals(answerOf(p), 6);
  assertEquals(solve(p).steps.map((s) => [s.value, s.result]), [[3, 0], [0, 0], [0, 6]]);
});

Deno.test("generateProblem() is seeded, keeps operands non-zero and k in range", () => {
  const a = new Rng(5), b = new Rng(5);
  for (let i = 0; i < 500; i++) {
    const p = generateProblem(a, { config: { modulus: 11, minSteps: 3, maxSteps: 6 } });
    assertEquals(
      problemKey(p),
      problemKey(generateProblem(b, { config: { modulus: 11, minSteps: 3, maxSteps: 6 } })),
    );
    if (p.ops.length < 3 || p.ops.length > 6) throw new Error(`k out of range: ${p.ops.length}`);
    if (p.ops.some((o) => o.operand < 1 || o.operand >= 11)) {
      throw new Error("operand out of range");
    }
    if (p.start < 0 || p.start >= 11) throw new Error("start out of range");
  }
});

Deno.test("resolveTaskConfig() rejects bad fields, naming them", () => {
  assertThrows(() => resolveTaskConfig({ modulus: 10 }), RangeError, "modulus");
  assertThrows(() => resolveTaskConfig({ ops: [] }), RangeError, "ops");
  assertThrows(() => resolveTaskConfig({ minSteps: 0 }), RangeError, "minSteps");
  assertThrows(() => resolveTaskConfig({ minSteps: 5, maxSteps: 3 }), RangeError, "maxSteps");
});
