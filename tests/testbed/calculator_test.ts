import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import { BRANCH_P as EVAL_BRANCH_P } from "../../lib/eval/candidate_set.ts";
import { truncateDistribution } from "../../lib/model/sample.ts";
import { resolvePipelineConfig, SFT_DATA_V2 } from "../../lib/pipeline/presets.ts";
import {
  applySampler,
  BRANCH_P,
  problemStatistics,
  responseDistribution,
  writerNextTokens,
  writerStatistics,
} from "../../lib/testbed/calculator.ts";
import { renderResponse } from "../../lib/testbed/format.ts";
import {
  gradedMisconceptions,
  type SftDataConfig,
  writeSftSolution,
} from "../../lib/testbed/misconceptions.ts";
import { answerOf, generateProblem, type Problem } from "../../lib/testbed/task.ts";

/** Nothing random: no misconception, corruption, verify line or variant. */
const QUIET: Partial<SftDataConfig> = {
  misconceptions: [],
  corruptionRate: 0,
  verifyRate: 0,
  maxVerify: 0,
};
const TIMES_3: Problem = { start: 2, ops: [{ op: "*", operand: 3 }], modulus: 7 };

Deno.test("hand case: one misconception at q = 0.5 on one position", async (t) => {
  // responses `>2*3=6\n#6\n` and `>2*3=0\n#0\n` + EOS: 11 positions, the result one {6: .5, 0: .5}
  const config = {
    ...QUIET,
    misconceptions: [{ op: "*" as const, operand: 3, values: [2], delta: 1 }],
    rate: 0.5,
  };
  const s = problemStatistics(TIMES_3, config, { pMins: [0.05, 0.5, 0.6] });
  await t.step("candidate size 2 there at P_min <= 0.5, mass 1", () => {
    assertAlmostEquals(s.candidates[0]!.size, 12 / 11, 1e-12);
    assertAlmostEquals(s.candidates[1]!.size, 12 / 11, 1e-12);
    assertAlmostEquals(s.candidates[0]!.mass, 1, 1e-12);
    assertAlmostEquals(s.candidates[1]!.mass, 1, 1e-12);
    // P_min 0.6 > 0.5: that position's set is empty (size 0, mass 0)
    assertAlmostEquals(s.candidates[2]!.size, 10 / 11, 1e-12);
    assertAlmostEquals(s.candidates[2]!.mass, 10 / 11, 1e-12);
    assertEquals([s.candidates[0]!.branchSize, s.candidates[0]!.branchMass], [2, 1]);
  });
  await t.step("entropy ln 2 over 11 tokens; accuracy 1/2 at T = 1, 1/2 at any T (a tie)", () => {
    assertEquals(s.tokens, 11);
    assertAlmostEquals(s.entropy, Math.log(2) / 11, 1e-12);
    assertAlmostEquals(s.accuracy.writer, 0.5, 1e-12);
    assertAlmostEquals(s.accuracy.evaluation, 0.5, 1e-12);
  });
});

Deno.test("hand case: temperature and top-p act on the writer's exact distribution", () => {
  // q = 0.3: {right 0.7, wrong 0.3}; T = 0.6 -> 0.7^(5/3) : 0.3^(5/3) = 0.5518 : 0.1344
  const config = {
    ...QUIET,
    misconceptions: [{ op: "*" as const, operand: 3, values: [2], delta: 1, rate: 0.3 }],
  };
  const a = Math.pow(0.7, 5 / 3), b = Math.pow(0.3, 5 / 3);
  const s = problemStatistics(TIMES_3, config, {
    rollout: { temperature: 1.5, topP: 1 },
    evaluation: { temperature: 0.6, topP: 0.95 },
  });
  assertAlmostEquals(s.accuracy.writer, 0.7, 1e-12);
  assertAlmostEquals(s.accuracy.evaluation, a / (a + b), 1e-12); // 0.804 < 0.95: both kept
  const c = Math.pow(0.7, 2 / 3), d = Math.pow(0.3, 2 / 3);
  assertAlmostEquals(s.accuracy.rollout, c / (c + d), 1e-12);
  const cut = problemStatistics(TIMES_3, config, { evaluation: { temperature: 0.6, topP: 0.8 } });
  assertAlmostEquals(cut.accuracy.evaluation, 1, 1e-12); // the nucleus keeps the right result only
});

Deno.test("hand case v2: the alternative tag at 0.25 is one branching position per step", () => {
  // `>1+1=2\n#2\n` or `:1+1=2\n#2\n` + EOS: 11 positions, the first {>: .75, :: .25}
  const config: Partial<SftDataConfig> = {
    ...QUIET,
    writer: "v2",
    variants: { swapRate: 0, altTagRate: 0.25, altTag2Rate: 0, fillerRate: 0 },
  };
  const p: Problem = { start: 1, ops: [{ op: "+", operand: 1 }], modulus: 7 };
  const s = problemStatistics(p, config, { pMins: [0.2, 0.3] });
  assertAlmostEquals(s.candidates[0]!.size, 12 / 11, 1e-12);
  assertAlmostEquals(s.candidates[1]!.size, 11 / 11, 1e-12);
  assertAlmostEquals(s.candidates[1]!.mass, 10.75 / 11, 1e-12);
  assertEquals(
    responseDistribution(p, config),
    new Map([[">1+1=2\n#2\n", 0.75], [":1+1=2\n#2\n", 0.25]]),
  );
});

const V2_SMALL: Partial<SftDataConfig> = {
  writer: "v2",
  misconceptions: gradedMisconceptions(
    { seed: 2, ops: ["+", "-", "*"], count: 60, rates: [0.07, 0.3, 0.8], weights: [1, 1, 1] },
    { modulus: 7 },
  ),
  corruptionRate: 0.05,
  verifyRate: 0.3,
  maxVerify: 1,
  variants: { swapRate: 0.3, altTagRate: 0.1, altTag2Rate: 0.07, fillerRate: 0.05 },
};

Deno.test("responseDistribution() matches the real writer's empirical distribution (v1 and v2)", () => {
  const two: Problem[] = [
    { start: 2, ops: [{ op: "*", operand: 3 }, { op: "+", operand: 5 }], modulus: 7 },
    { start: 4, ops: [{ op: "-", operand: 1 }, { op: "*", operand: 2 }], modulus: 7 },
  ];
  const one = two.map((p) => ({ ...p, ops: p.ops.slice(0, 1) }));
  const v1 = resolvePipelineConfig("default").sftData;
  // v2 with corruption has about 1,000 responses per step: one step with it, two without
  const cases: [Partial<SftDataConfig>, Problem[]][] = [
    [v1, two],
    [V2_SMALL, one],
    [{ ...V2_SMALL, corruptionRate: 0 }, two],
  ];
  for (const [config, problems] of cases) {
    for (const p of problems) {
      const exact = responseDistribution(p, config);
      assertAlmostEquals([...exact.values()].reduce((a, x) => a + x, 0), 1, 1e-9);
      const n = 20000, rng = new Rng(9), counts = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const text = renderResponse(writeSftSolution(p, rng, { config }).trace, "sft").text;
        counts.set(text, (counts.get(text) ?? 0) + 1);
      }
      for (const text of counts.keys()) {
        assert(exact.has(text), `the writer wrote ${JSON.stringify(text)}, not in the exact set`);
      }
      for (const [text, q] of exact) {
        const sd = Math.sqrt(n * q * (1 - q)) + 1;
        const c = counts.get(text) ?? 0;
        assert(Math.abs(c - n * q) < 5 * sd, `${JSON.stringify(text)}: ${c} of ${n}, exact ${q}`);
      }
    }
  }
});

Deno.test("writerNextTokens(): per-position distributions multiply to the response's exact probability", () => {
  for (const config of [V2_SMALL, resolvePipelineConfig("default").sftData]) {
    const p: Problem = { start: 5, ops: [{ op: "*", operand: 3 }], modulus: 7 };
    for (const [text, prob] of responseDistribution(p, config)) {
      const { distributions, complete } = writerNextTokens(p, text, { config });
      assert(complete, text);
      assertEquals(distributions.length, text.length + 1);
      let logp = 0;
      distributions.forEach((d, i) => {
        assertAlmostEquals([...d.values()].reduce((a, x) => a + x, 0), 1, 1e-12);
        logp += Math.log(d.get(text[i] ?? "\u0000")!);
      });
      assertAlmostEquals(logp, Math.log(prob), 1e-9, text);
    }
  }
  // longer chains: every response the real writer writes is complete
  const rng = new Rng(8);
  for (let i = 0; i < 200; i++) {
    const p = generateProblem(rng, { steps: 6 });
    const text = renderResponse(writeSftSolution(p, rng, { config: V2_SMALL }).trace, "sft").text;
    assert(writerNextTokens(p, text, { config: V2_SMALL }).complete, text);
  }
  // a token the writer never writes ends the walk there
  const bad = writerNextTokens(TIMES_3, "$2*3=6\n#6\n", { config: V2_SMALL });
  assertEquals([bad.complete, bad.distributions.length], [false, 1]);
  assertEquals(writerNextTokens(TIMES_3, ">2*3=6\n#6\nx", { config: QUIET }).complete, false);
});

Deno.test("exact accuracy per chain length agrees with Monte Carlo over the real writer", () => {
  const s = writerStatistics(V2_SMALL, { samples: 20 });
  const rng = new Rng(4);
  for (const k of [2, 5, 8]) {
    const n = 4000;
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const p = generateProblem(rng, { steps: k });
      if (writeSftSolution(p, rng, { config: V2_SMALL }).trace.answer === answerOf(p)) ok++;
    }
    const a = s.accuracy.find((r) => r.k === k)!.rollout;
    const sd = Math.sqrt(n * a * (1 - a));
    assert(Math.abs(ok - n * a) < 4 * sd, `k=${k}: writer ${ok / n}, exact ${a}`);
  }
});

Deno.test("group shares: enumerating every problem and Monte Carlo over problems agree", () => {
  const task = { minSteps: 2, maxSteps: 2 };
  const exact = writerStatistics(V2_SMALL, { task });
  const mc = writerStatistics(V2_SMALL, { task, exactProblemLimit: 0, samples: 3000, seed: 5 });
  const [e, m] = [exact.groups[0]!, mc.groups[0]!];
  assertEquals([e.method, e.problems, m.method, m.problems], ["exact", 2268, "monte_carlo", 3000]);
  // SD of (1 - a)^4 over problems is below 0.5: 3 SE = 3 * 0.5 / sqrt(3000) = 0.027
  for (const key of ["allWrongRollout", "allWrongEvaluation", "allRightRollout"] as const) {
    assertAlmostEquals(m[key], e[key], 0.027, key);
  }
  // the mean over problems of a per-problem accuracy is the exact mean accuracy
  assertEquals(exact.accuracy[0]!.k, 2);
});

Deno.test("v1 default: the writer's figures testbed_v2.md quotes (size 1.136, mass 99.80%, 0.097 nats)", () => {
  const c = resolvePipelineConfig("default");
  const s = writerStatistics(c.sftData, { task: c.task, samples: 50 });
  assertEquals(s.writer, "v1");
  for (const row of s.candidates) {
    assertAlmostEquals(row.size, 1.135787, 1e-6);
    assertAlmostEquals(row.mass, 0.997990, 1e-6);
  }
  assertAlmostEquals(s.entropy, 0.096454, 1e-6);
  assertAlmostEquals(s.branchFraction, 0.135787, 1e-6);
  assertAlmostEquals(s.meanBucket.evaluation, 0.452393, 1e-6); // about 45% avg@8
});

Deno.test("SFT_DATA_V2 runs through the calculator with v2 in its output", () => {
  const s = writerStatistics(SFT_DATA_V2, { samples: 20 });
  assertEquals(s.writer, "v2");
  assert(s.candidates[0]!.size > s.candidates[2]!.size);
  assert(s.entropy > 0.2);
});

Deno.test("applySampler() is lib/model/sample.ts's temperature and top-p on 500 random distributions", () => {
  const rng = new Rng(3);
  const chars = "0123456789+-*";
  for (let i = 0; i < 500; i++) {
    const n = 2 + rng.int(8);
    const ws = Array.from({ length: n }, () => rng.next() ** 3 + 1e-3);
    const z = ws.reduce((a, w) => a + w, 0);
    const probs = ws.map((w) => w / z);
    const temperature = rng.pick([0.6, 1, 1.5]), topP = rng.pick([0.5, 0.9, 0.95, 1]);
    const got = applySampler(new Map(probs.map((p, j) => [chars[j]!, p])), { temperature, topP });
    const q = probs.map((p) => Math.pow(p, 1 / temperature));
    const qz = q.reduce((a, x) => a + x, 0);
    const want = truncateDistribution(q.map((x) => x / qz), { topP });
    want.forEach((w, j) => assertAlmostEquals(got.get(chars[j]!) ?? 0, w, 1e-12));
  }
});

Deno.test("BRANCH_P is lib/eval/candidate_set.ts's", () => {
  assertEquals(BRANCH_P, EVAL_BRANCH_P);
});

Deno.test("writerStatistics() rejects bad options, naming them", () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ pMins: [0] }, "pMins[0]"],
    [{ rollout: { temperature: 0, topP: 1 } }, "rollout.temperature"],
    [{ evaluation: { temperature: 1, topP: 1.5 } }, "evaluation.topP"],
    [{ groupSize: 0 }, "groupSize"],
    [{ samples: 1.5 }, "samples"],
    [{ buckets: [{ name: "x", minSteps: 3, maxSteps: 2 }] }, "buckets[0] (x)"],
  ];
  for (const [options, msg] of bad) {
    assertThrows(() => writerStatistics({}, options), RangeError, msg);
  }
  assertThrows(
    () =>
      responseDistribution(
        { start: 1, ops: Array(9).fill({ op: "+", operand: 1 }), modulus: 7 },
        V2_SMALL,
        { limit: 1000 },
      ),
    RangeError,
    "limit",
  );
});
