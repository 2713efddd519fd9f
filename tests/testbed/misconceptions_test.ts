import { assert, assertEquals, assertThrows } from "@std/assert";
import { hashString, Rng } from "../../lib/prng.ts";
import { resolvePipelineConfig } from "../../lib/pipeline/presets.ts";
import { FORMATS, parseResponse, renderResponse, traceOf } from "../../lib/testbed/format.ts";
import {
  DEFAULT_SFT_DATA_CONFIG,
  DEFAULT_WRITER_VARIANTS,
  findMisconception,
  gradedMisconceptions,
  type Misconception,
  resolveSftDataConfig,
  type SftDataConfig,
  writeSftSolution,
} from "../../lib/testbed/misconceptions.ts";
import { labelResponse, labelTrace } from "../../lib/testbed/labeller.ts";
import {
  answerOf,
  applyOp,
  generateProblem,
  isCommutative,
  type Op,
  type Problem,
  solve,
} from "../../lib/testbed/task.ts";
import { verify } from "../../lib/testbed/verifier.ts";

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

// ---- v1 stays bit-identical; the v2 writer ----

/**
 * Hashes of v1 data written by the code before v2 existed (commit 7bbcd56): 500 problems
 * (k in 1..9) per seed, every format's rendering, the events and the generator's next draw.
 */
function v1Digest(config: Partial<SftDataConfig>, seed: number, modulus: number): number {
  const rng = new Rng(seed);
  let text = "";
  for (let i = 0; i < 500; i++) {
    const p = generateProblem(rng, { config: { modulus, minSteps: 1, maxSteps: 9 } });
    const cfg = modulus === 7 ? config : { ...config, misconceptions: [] };
    const { trace, events } = writeSftSolution(p, rng, { config: cfg });
    for (const f of FORMATS) text += renderResponse(trace, f).text;
    text += JSON.stringify(events) + "|";
  }
  return hashString(text + String(rng.next()));
}

Deno.test("the v1 writer writes exactly what it wrote before v2 (hashes of commit 7bbcd56)", () => {
  const pipeline = resolvePipelineConfig("default").sftData;
  const heavy = { ...pipeline, corruptionRate: 0.3, verifyRate: 0.6, maxVerify: 4, rate: 0.8 };
  const cases: [string, Partial<SftDataConfig>, number, number, number][] = [
    ["pipeline default", pipeline, 1, 7, 3866971294],
    ["pipeline default", pipeline, 42, 7, 2777948540],
    ["testbed default", DEFAULT_SFT_DATA_CONFIG, 2, 7, 750197041],
    ["heavy", heavy, 1, 7, 2653842540],
    ["heavy", heavy, 3, 11, 46090891],
    ["explicit writer v1", { ...heavy, writer: "v1" }, 42, 11, 950146394],
  ];
  for (const [name, config, seed, modulus, want] of cases) {
    assertEquals(v1Digest(config, seed, modulus), want, `${name}, seed ${seed}, mod ${modulus}`);
  }
});

const V2: Partial<SftDataConfig> = {
  writer: "v2",
  misconceptions: gradedMisconceptions(
    { seed: 3, ops: ["+", "-", "*"], count: 100, rates: [0.07, 0.3, 0.8], weights: [1, 1, 1] },
    { modulus: 7 },
  ),
  corruptionRate: 0.05,
  verifyRate: 0.3,
  maxVerify: 3,
  variants: { swapRate: 0.3, altTagRate: 0.1, altTag2Rate: 0.07, fillerRate: 0.03 },
};

Deno.test("v2 property: parse -> verify -> label agrees with the writer's ground truth, every variant", () => {
  const seen = { swapped: 0, alt: 0, slots: new Set<number>(), verify: 0, clean: 0, errors: 0 };
  const configs: [number, Partial<SftDataConfig>][] = [
    [7, V2],
    [7, {
      ...V2,
      variants: { swapRate: 0.9, altTagRate: 0.45, altTag2Rate: 0.45, fillerRate: 0.3 },
      verifyRate: 1,
    }],
    [11, { ...V2, misconceptions: [], corruptionRate: 0.2 }],
    [97, { ...V2, misconceptions: [], corruptionRate: 0.2, maxVerify: 9 }],
  ];
  for (let seed = 1; seed <= 40; seed++) {
    const rng = new Rng(seed);
    for (const [modulus, config] of configs) {
      for (let i = 0; i < 25; i++) {
        const ops = modulus === 7 ? ["+", "-", "*"] as Op[] : ["+", "-", "*", "/"] as Op[];
        const p = generateProblem(rng, { config: { modulus, ops, minSteps: 1, maxSteps: 9 } });
        const { trace, events } = writeSftSolution(p, rng, { config });
        const text = renderResponse(trace, "sft").text;
        const parsed = parseResponse(text, "sft");
        assert(parsed.wellFormed, text);
        assertEquals(traceOf(parsed), trace, text);
        const truth = events.length > 0 ? events[0]!.step : -1;
        const label = labelResponse(p, text, { format: "sft" });
        assertEquals(label.label, truth, `${text} events ${JSON.stringify(events)}`);
        if (truth >= 0) {
          const want = {
            misconception: "result",
            corrupt_result: "result",
            corrupt_operand: "operand",
            corrupt_value: "value",
          }[events[0]!.kind];
          // `5+2` for running value 5 and `+5` is the operand copied as 2 or, swapped, the
          // value copied as 2: when value and operand are equal the kind cannot be told
          const e = events[0]!.step, o = p.ops[e]!;
          const ambiguous = isCommutative(o.op) && solve(p).steps[e]!.value === o.operand &&
            (want === "value" || want === "operand");
          if (ambiguous) assert(label.kind === "value" || label.kind === "operand", text);
          else assertEquals(label.kind, want, `${text} events ${JSON.stringify(events)}`);
        }
        // the ProcessBench analogue's rendering labels the same step
        const shifted = renderResponse(trace, "shifted").text;
        assertEquals(labelResponse(p, shifted, { format: "shifted" }).label, truth, shifted);
        assertEquals(verify(p, text, { format: "sft" }), trace.answer === answerOf(p) ? 1 : 0);
        truth < 0 ? seen.clean++ : seen.errors++;
        trace.steps.forEach((s, j) => {
          const want = p.ops[j]!;
          if (s.value !== s.operand && s.value === want.operand && s.op === want.op) seen.swapped++;
          if (s.tag) seen.alt++;
          if (s.filler !== undefined) seen.slots.add(s.filler);
        });
        if (trace.steps.filter((s) => s.verify !== null).length > 2) seen.verify++;
      }
    }
  }
  assert(seen.swapped > 100 && seen.alt > 100 && seen.verify > 50, JSON.stringify(seen));
  assertEquals([...seen.slots].sort(), [0, 1, 2, 3, 4, 5]);
  assert(seen.clean > 300 && seen.errors > 300, JSON.stringify(seen));
});

Deno.test("v2 variants alone are never errors: an error-free writer's traces all label -1", () => {
  const rng = new Rng(5);
  const config: Partial<SftDataConfig> = {
    writer: "v2",
    misconceptions: [],
    corruptionRate: 0,
    verifyRate: 0.5,
    maxVerify: 9,
    variants: { swapRate: 0.5, altTagRate: 0.3, altTag2Rate: 0.3, fillerRate: 0.2 },
  };
  for (let i = 0; i < 2000; i++) {
    const p = generateProblem(rng, { config: { minSteps: 1, maxSteps: 9 } });
    const { trace, events } = writeSftSolution(p, rng, { config });
    assertEquals(events, []);
    for (const f of ["sft", "shifted"] as const) {
      const text = renderResponse(trace, f).text;
      assertEquals(labelResponse(p, text, { format: f }), { label: -1, kind: "none" }, text);
      assertEquals(verify(p, text, { format: f }), 1);
    }
  }
});

Deno.test("v2 writer: each variant at its rate (4 sigma), swaps on commutative steps only", () => {
  const rng = new Rng(11);
  const config: Partial<SftDataConfig> = {
    writer: "v2",
    misconceptions: [],
    corruptionRate: 0,
    verifyRate: 0.25,
    maxVerify: 99,
    variants: { swapRate: 0.3, altTagRate: 0.1, altTag2Rate: 0.07, fillerRate: 0.03 },
  };
  let steps = 0, comm = 0, swapped = 0, alt = 0, alt2 = 0, verified = 0, slot0 = 0;
  for (let i = 0; i < 3000; i++) {
    const p = generateProblem(rng, { config: { minSteps: 4, maxSteps: 4 } });
    const { trace } = writeSftSolution(p, rng, { config });
    trace.steps.forEach((s, j) => {
      const want = p.ops[j]!;
      steps++;
      if (s.tag === ":") alt++;
      if (s.tag === "|") alt2++;
      if (s.verify !== null) verified++;
      if (s.filler === 0) slot0++;
      // a distinct pair tells the order; equal numbers look the same either way
      const v = solve(p).steps[j]!.value;
      if (v === want.operand) return;
      if (want.op === "-") assertEquals(s.value, v);
      else comm++, swapped += s.value === want.operand ? 1 : 0;
    });
  }
  const within = (k: number, n: number, q: number, what: string) => {
    const sd = Math.sqrt(n * q * (1 - q));
    assert(Math.abs(k - n * q) < 4 * sd, `${what}: ${k} of ${n}, expected ${n * q}`);
  };
  within(swapped, comm, 0.3, "swap");
  within(alt, steps, 0.1, "alt tag");
  within(alt2, steps, 0.07, "second alt tag");
  within(verified, steps, 0.25, "verify");
  within(slot0, steps, 0.03, "filler at slot 0");
});

Deno.test("v2 writer: each graded triple fires at its own rate, in its own direction", () => {
  const set: Misconception[] = [
    { op: "*", operand: 3, values: [2], delta: 1, rate: 0.07 },
    { op: "*", operand: 3, values: [5], delta: 6, rate: 0.8 },
  ];
  const config: Partial<SftDataConfig> = {
    writer: "v2",
    misconceptions: set,
    corruptionRate: 0,
    variants: { swapRate: 0, altTagRate: 0, altTag2Rate: 0, fillerRate: 0 },
  };
  const rng = new Rng(2);
  for (const m of set) {
    const v = m.values[0]!;
    let fired = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const p: Problem = { start: v, ops: [{ op: "*", operand: 3 }], modulus: 7 };
      const { trace, events } = writeSftSolution(p, rng, { config });
      if (events.length > 0) {
        fired++;
        assertEquals(trace.answer, (applyOp(v, "*", 3, 7) + m.delta) % 7);
      }
    }
    const sd = Math.sqrt(n * m.rate! * (1 - m.rate!));
    assert(Math.abs(fired - n * m.rate!) < 4 * sd, `rate ${m.rate}: fired ${fired} of ${n}`);
  }
});

Deno.test("gradedMisconceptions() draws distinct triples, rates in proportion, fixed directions", () => {
  const spec = {
    seed: 7,
    ops: ["+", "-", "*"] as Op[],
    count: 100,
    rates: [0.07, 0.15, 0.3, 0.5, 0.7, 0.8],
    weights: [2, 1, 1, 1, 1, 1],
  };
  const set = gradedMisconceptions(spec, { modulus: 7 });
  assertEquals(set.length, 100);
  assertEquals(new Set(set.map((m) => `${m.op}${m.operand}@${m.values[0]}`)).size, 100);
  // 100 x 2/7 = 28.57 -> 29 (largest remainder); 100 x 1/7 = 14.29 -> 14 each
  assertEquals(spec.rates.map((r) => set.filter((m) => m.rate === r).length), [
    29,
    15,
    14,
    14,
    14,
    14,
  ]);
  assert(set.every((m) => m.delta === 1 || m.delta === 6));
  assert(set.some((m) => m.delta === 1) && set.some((m) => m.delta === 6));
  assertEquals(gradedMisconceptions(spec, { modulus: 7 }), set, "a pure function of the spec");
  assert(
    JSON.stringify(gradedMisconceptions({ ...spec, seed: 8 }, { modulus: 7 })) !==
      JSON.stringify(set),
  );
  // the resolver checks a recorded spec against the set it claims to have drawn
  const c = { writer: "v2" as const, misconceptions: set, gradedSet: spec };
  assertEquals(resolveSftDataConfig(c, { modulus: 7 }).misconceptions, set);
  assertThrows(
    () => resolveSftDataConfig({ ...c, misconceptions: set.slice(1) }, { modulus: 7 }),
    RangeError,
    "misconceptions: expected the set drawn by gradedSet",
  );
});

Deno.test("gradedMisconceptions() and the v2 resolver reject bad fields, naming them", () => {
  const spec = { seed: 1, ops: ["+"] as Op[], count: 10, rates: [0.1], weights: [1] };
  const bad: [Partial<typeof spec>, string][] = [
    [{ count: 43 }, "gradedSet.count: expected an integer in [0, 42]"],
    [{ ops: ["^" as Op] }, "gradedSet.ops"],
    [{ weights: [1, 2] }, "gradedSet.weights: expected one weight per rate"],
    [{ weights: [0] }, "gradedSet.weights: expected weights >= 0 with a positive sum"],
    [{ rates: [1.5] }, "gradedSet.rates[0]"],
    [{ seed: 0.5 }, "gradedSet.seed"],
  ];
  for (const [over, msg] of bad) {
    assertThrows(() => gradedMisconceptions({ ...spec, ...over }, { modulus: 7 }), RangeError, msg);
  }
  assertThrows(
    () => resolveSftDataConfig({ writer: "v3" as never }, { modulus: 7 }),
    RangeError,
    'writer: expected one of "v1", "v2", got "v3"',
  );
  assertThrows(
    () =>
      resolveSftDataConfig({ writer: "v2", variants: { swapRate: 2 } as never }, { modulus: 7 }),
    RangeError,
    "variants.swapRate",
  );
  assertThrows(
    () =>
      resolveSftDataConfig(
        {
          writer: "v2",
          variants: { ...DEFAULT_WRITER_VARIANTS, altTagRate: 0.6, altTag2Rate: 0.5 },
        },
        { modulus: 7 },
      ),
    RangeError,
    "variants.altTag2Rate: expected altTagRate + altTag2Rate <= 1",
  );
  const m = { op: "*" as const, operand: 3, values: [2], delta: 1, rate: -0.1 };
  assertThrows(
    () => resolveSftDataConfig({ misconceptions: [m] }, { modulus: 7 }),
    RangeError,
    "misconceptions[0].rate",
  );
});

Deno.test("resolveSftDataConfig(): v1 drops the writer and v2-only fields; v2 fills variants", () => {
  const v1 = resolveSftDataConfig(
    { writer: "v1", variants: { swapRate: 1, altTagRate: 0, altTag2Rate: 0, fillerRate: 0 } },
    { modulus: 7 },
  );
  assertEquals(Object.keys(v1).sort(), [
    "corruptionRate",
    "maxVerify",
    "misconceptions",
    "rate",
    "verifyRate",
  ]);
  assertEquals(resolveSftDataConfig({ writer: "v2" }, { modulus: 7 }).variants, {
    ...DEFAULT_WRITER_VARIANTS,
  });
});
