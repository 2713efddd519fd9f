import { assertEquals } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import { labelResponse, labelTrace } from "../../lib/testbed/labeller.ts";
import { FORMATS, parseResponse, renderResponse } from "../../lib/testbed/format.ts";
import {
  generateProblem,
  type Op,
  type Problem,
  solve,
  type Step,
  type Trace,
} from "../../lib/testbed/task.ts";

// 3+4=0, 0*2=0, 0-1=6 (mod 7)
const P: Problem = {
  start: 3,
  ops: [{ op: "+", operand: 4 }, { op: "*", operand: 2 }, { op: "-", operand: 1 }],
  modulus: 7,
};

Deno.test("labelTrace() on hand-written traces: one per error kind", async (t) => {
  const cases: [string, string, number, string][] = [
    ["all right", "3+4=0\n0*2=0\n0-1=6\n$6\n", -1, "none"],
    ["wrong result", "3+4=0\n0*2=1\n1-1=0\n$0\n", 1, "result"],
    ["wrong copied operand", "3+4=0\n0*3=0\n0-1=6\n$6\n", 1, "operand"],
    ["wrong copied operation", "3+4=0\n0+2=2\n2-1=1\n$1\n", 1, "operand"],
    ["wrong running value", "3+4=0\n1*2=2\n2-1=1\n$1\n", 1, "value"],
    ["wrong start value", "2+4=6\n6*2=5\n5-1=4\n$4\n", 0, "value"],
    // right answer after a wrong step: 0*2 written 1, then 1-1 written 6 (a second error compensates)
    ["right answer after a wrong step", "3+4=0\n0*2=1\n1-1=6\n$6\n", 1, "result"],
    ["unparseable segment", "3+4=0\nhmm\n0-1=6\n$6\n", 1, "unparseable"],
    ["extra step", "3+4=0\n0*2=0\n0-1=6\n6+1=0\n$0\n", 3, "extra_step"],
    ["stops early", "3+4=0\n0*2=0\n$0\n", 1, "missing_steps"],
    ["no answer", "3+4=0\n0*2=0\n0-1=6\n", 2, "missing_answer"],
    ["wrong answer after right steps", "3+4=0\n0*2=0\n0-1=6\n$5\n", 2, "wrong_answer"],
    ["nothing", "", 0, "no_steps"],
  ];
  for (const [name, text, label, kind] of cases) {
    await t.step(
      name,
      () => assertEquals(labelResponse(P, text, { format: "shifted" }), { label, kind }),
    );
  }
  await t.step("verify line restating another value (sft)", () => {
    assertEquals(labelResponse(P, ">3+4=0\n?0\n>0*2=0\n?3\n>0-1=6\n#6\n", { format: "sft" }), {
      label: 1,
      kind: "verify",
    });
  });
});

/** Independent re-evaluation: brute-force modular arithmetic (division by search). */
function bruteApply(v: number, op: Op, b: number, p: number): number {
  if (op === "+") return (v + b) % p;
  if (op === "-") return (v - b + p * 10) % p;
  if (op === "*") return (v * b) % p;
  for (let x = 0; x < p; x++) if ((x * b) % p === v) return x;
  throw new Error("no inverse");
}

function bruteLabel(problem: Problem, steps: (Step | null)[], answer: number | null): number {
  const k = problem.ops.length;
  let expect = problem.start;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (!s || i >= k) return i;
    const o = problem.ops[i]!;
    const next = bruteApply(expect, o.op, o.operand, problem.modulus);
    // testbed v2: `+` and `*` may write their two numbers in either order
    const direct = s.value === expect && s.operand === o.operand;
    const swapped = (o.op === "+" || o.op === "*") && s.value === o.operand &&
      s.operand === expect;
    const ok = (direct || swapped) && s.op === o.op && s.result === next &&
      (s.verify === null || s.verify === s.result);
    if (!ok) return i;
    expect = next;
  }
  if (steps.length === 0) return 0;
  if (steps.length < k || answer !== expect) return steps.length - 1;
  return -1;
}

function corrupt(rng: Rng, trace: Trace, p: number): Trace {
  const t: Trace = structuredClone(trace);
  const n = rng.int(4); // 0..3 corruptions
  for (let c = 0; c < n; c++) {
    const s = t.steps.length > 0 ? t.steps[rng.int(t.steps.length)]! : null;
    switch (rng.int(10)) {
      case 0:
        if (s) s.value = rng.int(p);
        break;
      case 1:
        if (s) s.operand = rng.range(1, p - 1);
        break;
      case 2:
        if (s) s.op = rng.pick(["+", "-", "*", "/"] as const);
        break;
      case 3:
        if (s) s.result = rng.int(p);
        break;
      case 4:
        if (s) s.verify = rng.int(p);
        break;
      case 5:
        t.steps.length = rng.int(t.steps.length + 1);
        break;
      case 6:
        t.steps.push({
          value: rng.int(p),
          op: "+",
          operand: rng.range(1, p - 1),
          result: rng.int(p),
          verify: null,
        });
        break;
      case 7:
        t.answer = rng.next() < 0.3 ? null : rng.int(p);
        break;
      case 8:
        if (s && t.steps.length > 1) t.steps.splice(t.steps.indexOf(s), 1);
        break;
      case 9:
        if (s) [s.value, s.operand] = [s.operand, s.value]; // right for + and * only
        break;
    }
  }
  return t;
}

Deno.test("labelResponse() agrees with a brute-force re-evaluation on 10,000 randomly corrupted traces", () => {
  const rng = new Rng(123);
  let wrong = 0, rightAfterWrong = 0;
  for (let i = 0; i < 10000; i++) {
    const modulus = rng.pick([7, 7, 11, 97]);
    const problem = generateProblem(rng, {
      config: { modulus, ops: ["+", "-", "*", "/"], minSteps: 1, maxSteps: 8 },
    });
    const trace = corrupt(rng, solve(problem), modulus);
    const format = rng.pick(FORMATS);
    let text = renderResponse(trace, format).text;
    if (rng.next() < 0.05 && text.length > 0) {
      // random character damage
      const j = rng.int(text.length);
      text = text.slice(0, j) + rng.pick(["x", "", "=", "\n", "9"]) + text.slice(j + 1);
    }
    const parsed = parseResponse(text, format);
    const got = labelResponse(problem, text, { format }).label;
    const want = bruteLabel(problem, parsed.steps, parsed.answer);
    assertEquals(got, want, `${format} ${JSON.stringify(text)}`);
    if (got !== -1) wrong++;
    if (got !== -1 && parsed.answer === solve(problem).answer) rightAfterWrong++;
  }
  // the corruption mix must exercise both outcomes
  if (wrong < 3000 || wrong > 9500 || rightAfterWrong < 50) {
    throw new Error(
      `degenerate mix: wrong ${wrong}, right answer after a wrong step ${rightAfterWrong}`,
    );
  }
});

Deno.test("labelTrace() treats a null step as wrong", () => {
  assertEquals(labelTrace(P, { steps: [solve(P).steps[0]!, null], answer: 6 }), {
    label: 1,
    kind: "unparseable",
  });
});

Deno.test("labelTrace() accepts a commutative step written in swapped order, never a non-commutative one", async (t) => {
  // 3+4=0, 0*2=0, 0-1=6 (mod 7)
  const cases: [string, string, number, string][] = [
    ["+ swapped", "4+3=0\n0*2=0\n0-1=6\n$6\n", -1, "none"],
    ["* swapped", "3+4=0\n2*0=0\n0-1=6\n$6\n", -1, "none"],
    ["- swapped is wrong", "3+4=0\n0*2=0\n1-0=1\n$1\n", 2, "value"],
    // swapped with a wrong number: the reading with fewer mismatches names the kind
    ["swapped, wrong running value", "4+5=2\n2*2=4\n4-1=3\n$3\n", 0, "value"],
    ["swapped, wrong operand", "5+3=1\n1*2=2\n2-1=1\n$1\n", 0, "operand"],
    ["swapped, wrong result", "4+3=1\n1*2=2\n2-1=1\n$1\n", 0, "result"],
  ];
  for (const [name, text, label, kind] of cases) {
    await t.step(name, () => {
      assertEquals(labelResponse(P, text, { format: "shifted" }), { label, kind } as never);
    });
  }
  await t.step("sft: alternative tag and filler are no errors", () => {
    const text = ":4+;3=0\n>0*2=0;\n?0\n|0-1=6\n#6\n";
    assertEquals(labelResponse(P, text, { format: "sft" }), { label: -1, kind: "none" });
    const parsed = parseResponse(text, "sft");
    assertEquals(parsed.wellFormed, true);
    assertEquals(parsed.steps.map((s) => [s?.tag, s?.filler]), [[":", 2], [undefined, 5], [
      "|",
      undefined,
    ]]);
  });
});
