import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import { createLM } from "../../lib/model/lm.ts";
import { Rng } from "../../lib/prng.ts";
import {
  type BonProblem,
  bonTable,
  evaluateBestOfN,
  evaluateBestOfNItems,
  evaluateProcessBench,
  evaluateProcessBenchItems,
  type PbEvalRow,
  processBenchTable,
  randomStepScores,
} from "../../lib/rm/evaluate.ts";
import { frozenCopy, responseLogprobs, scoreSequences } from "../../lib/rm/score.ts";
import { stepScores } from "../../lib/eval/step_scores.ts";
import { setup, TINY } from "./_rm_fixtures.ts";

await setup();

// Bucket "a" is methods.md d1's worked check; bucket "b" is hand-made.
const ROWS = [
  { bucket: "a", label: -1 },
  { bucket: "a", label: -1 },
  { bucket: "a", label: 1 },
  { bucket: "a", label: 0 },
  { bucket: "b", label: -1 },
  { bucket: "b", label: 0 },
  { bucket: "b", label: 1 },
  { bucket: "b", label: -1 },
];
const SCORES = [[.8, .7, .9], [.6, .4], [.9, .3, .5], [.2, .6], [.5, .6], [.45], [.7, .35], [.3]];

Deno.test("processBenchTable(): hand-computed oracle, transfer and compat F1 per bucket", () => {
  const t = processBenchTable(ROWS, SCORES);
  // a: τ = 0.4 matches all four rows (d1) -> F1 1.
  assertEquals(t.oracle.byBucket.a, 1);
  assertEquals(t.oracle.thresholds.a, 0.4);
  // b, candidates .3 .35 .45 .5 .6 .7 +inf: at τ = .5 rows 1,2,3 match (acc_cor 1/2, acc_err 2/2)
  // -> F1 = 2·0.5·1/1.5 = 2/3, the best (τ=.45: 0.5; τ=.3: 0; τ=.6: 0).
  assertAlmostEquals(t.oracle.byBucket.b!, 2 / 3, 1e-12);
  assertEquals(t.oracle.thresholds.b, 0.5);
  assertAlmostEquals(t.oracle.mean, (1 + 2 / 3) / 2, 1e-12);
  // transfer: τ = 0.4 fitted on "a", applied to "b": preds (-1, -1, 1, 0) vs labels (-1, 0, 1, -1)
  // -> acc_cor 1/2, acc_err 1/2 -> F1 1/2; the mean is over the buckets it was applied to.
  assertEquals(t.transfer.fitBucket, "a");
  assertEquals(t.transfer.byBucket.b, 0.5);
  assertEquals(t.transfer.mean, 0.5);
  assertEquals(t.transfer.thresholds.b, 0.4);
  // compat: σ(0.001·s) ≈ 0.5 + s/4000 keeps the order, but the grid's spacing 2e-4 in σ-space is
  // 0.8 in score units, coarser than these gaps: compat can only tie or lose against the oracle.
  for (const b of ["a", "b"]) {
    assert(t.compat.byBucket[b]! <= t.oracle.byBucket[b]! + 1e-12);
    assert(t.compat.byBucket[b]! >= 0);
  }
  // With scores spread wide enough for the grid, compat equals the oracle.
  const wide = processBenchTable(ROWS, SCORES.map((r) => r.map((s) => (s - 0.5) * 4000)));
  assertEquals(wide.compat.byBucket, wide.oracle.byBucket);
});

Deno.test("processBenchTable(): transferFit picks the fitting bucket; errors name the bucket / argument", () => {
  const t = processBenchTable(ROWS, SCORES, { transferFit: "b" });
  assertEquals(t.transfer.fitBucket, "b");
  // τ = 0.5 on a: preds (-1, 1, 1, 0) -> acc_cor 1/2, acc_err 1 -> 2/3.
  assertAlmostEquals(t.transfer.byBucket.a!, 2 / 3, 1e-12);
  assertThrows(
    () => processBenchTable(ROWS, SCORES, { transferFit: "zzz" }),
    RangeError,
    "Invalid transferFit",
  );
  assertThrows(() => processBenchTable(ROWS, SCORES.slice(1)), RangeError, "Invalid scores");
  assertThrows(
    () => processBenchTable([{ bucket: "c", label: -1 }], [[1]]),
    RangeError,
    'bucket "c"',
  );
});

const mk = (scores: number[], correct: number[], answers: number[]) =>
  correct.map((c, i) => ({
    prompt: [1],
    response: [1 + i],
    correct: c as 0 | 1,
    answer: answers[i]!,
    _s: scores[i],
  }));
const PROBLEMS: BonProblem[] = [
  { key: "p1", split: "s", samples: mk([.1, .9, .5, .9], [0, 1, 0, 0], [3, 5, 3, 7]) },
  { key: "p2", split: "s", samples: mk([2, 1, 0, 3], [0, 0, 0, 1], [1, 2, 2, 4]) },
  { key: "p3", split: "t", samples: mk([0, 1, 2, 3], [1, 0, 0, 0], [5, 5, 6, 7]) },
];

Deno.test("bonTable(): hand-computed best-of-N, majority vote and pass@N per split and averaged", () => {
  const rm = [[.1, .9, .5, .9], [2, 1, 0, 3], [0, 1, 2, 3]];
  const r = bonTable(PROBLEMS, { pickers: { rm }, ns: [2, 4] });
  // s @2: p1 picks idx1 (correct), p2 idx0 (wrong) -> 0.5; @4: p1 idx1 (first of the tie), p2 idx3 -> 1.
  assertEquals(r.bySplit.s!.rm!.byN, { "2": 0.5, "4": 1 });
  assertEquals(r.bySplit.s!.rm!.mean, 0.75);
  // majority s @2: p1 3/5 tie -> 3 (wrong), p2 1/2 tie -> 1 (wrong); @4: p1 -> 3 wrong, p2 -> 2 wrong.
  assertEquals(r.bySplit.s!.majority!.byN, { "2": 0, "4": 0 });
  assertEquals(r.bySplit.s!.pass!.byN, { "2": 0.5, "4": 1 });
  // t: rm picks idx1 then idx3, both wrong; majority 5 (idx0, correct) at both N; pass 1.
  assertEquals(r.bySplit.t!.rm!.byN, { "2": 0, "4": 0 });
  assertEquals(r.bySplit.t!.majority!.byN, { "2": 1, "4": 1 });
  assertEquals(r.average.rm, (0.75 + 0) / 2);
  assertEquals(r.average.majority, (0 + 1) / 2);
  assertEquals(r.average.pass, (0.75 + 1) / 2);
  assertEquals(r.splits, ["s", "t"]);
});

function tinyPbRows(rng: Rng, n: number): PbEvalRow[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + rng.int(4);
    const response = Array.from({ length: len }, () => 1 + rng.int(TINY.vocab - 1));
    const ends = [1 + rng.int(len - 2)];
    ends.push(ends[0]! + 1 + rng.int(len - ends[0]! - 1));
    const label = i % 2 === 0 ? -1 : rng.int(ends.length);
    return {
      id: `r${i}`,
      bucket: i < n / 2 ? "x" : "y",
      prompt: [1, 2],
      response,
      label,
      stepEnds: ends,
    };
  });
}

Deno.test("evaluateProcessBench(): RM scorings and both baselines match loops over the per-token scores", async () => {
  const sft = createLM(TINY, { rng: new Rng(21) });
  const trained = createLM(TINY, { rng: new Rng(22) });
  const pair = { rm: await frozenCopy(trained), ref: await frozenCopy(sft) };
  const rows = tinyPbRows(new Rng(21), 12);
  const rep = await evaluateProcessBench(pair, rows, { seed: 3, batchSize: 5 });
  assertEquals(rep.buckets, ["x", "y"]);
  const scored = await scoreSequences(pair, rows, { beta: 1 });
  const lps = await responseLogprobs(sft, rows);
  const proc = scored.map((s, i) =>
    stepScores(Array.from(s.logratio), { stepEnds: rows[i]!.stepEnds })
  );
  const pre = scored.map((s, i) =>
    stepScores(Array.from(s.logratio), { stepEnds: rows[i]!.stepEnds, mode: "prefix" })
  );
  const sftSteps = lps.map((lp, i) => {
    let s = 0;
    return rows[i]!.stepEnds.map((e, k) => {
      s = 0;
      for (let t = k === 0 ? 0 : rows[i]!.stepEnds[k - 1]!; t < e; t++) s += lp[t]!;
      return s;
    });
  });
  assertEquals(rep.scorers.rm_process, processBenchTable(rows, proc));
  assertEquals(rep.scorers.rm_prefix, processBenchTable(rows, pre));
  for (const b of ["x", "y"]) {
    assertAlmostEquals(
      rep.scorers.sft_logprob.oracle.byBucket[b]!,
      processBenchTable(rows, sftSteps).oracle.byBucket[b]!,
      1e-9,
    );
  }
  assertEquals(rep.scorers.random, processBenchTable(rows, randomStepScores(rows, { seed: 3 })));
  assertNotEquals(randomStepScores(rows, { seed: 3 }), randomStepScores(rows, { seed: 4 }));
  for (const m of [sft, trained, pair.rm, pair.ref]) m.dispose();
});

Deno.test("evaluateBestOfN(): picks by v̄_T or Σℓ, min of step scores, SFT log-prob; seeded random", async () => {
  const sft = createLM(TINY, { rng: new Rng(31) });
  const trained = createLM(TINY, { rng: new Rng(32) });
  const pair = { rm: await frozenCopy(trained), ref: await frozenCopy(sft) };
  const rng = new Rng(31);
  const problems: BonProblem[] = ["u", "u", "v"].map((split, p) => ({
    key: `k${p}`,
    split,
    samples: Array.from({ length: 4 }, () => {
      const len = 2 + rng.int(5);
      return {
        prompt: [1, 3],
        response: Array.from({ length: len }, () => 1 + rng.int(TINY.vocab - 1)),
        correct: rng.int(2) as 0 | 1,
        answer: rng.int(3),
        stepEnds: [1, len],
      };
    }),
  }));
  for (const score of ["final_mean_value", "sum"] as const) {
    const rep = await evaluateBestOfN(pair, problems, { score, ns: [1, 4], seed: 1, beta: 10 });
    const flat = await scoreSequences(pair, problems.flatMap((p) => p.samples), { beta: 10 });
    const byP = problems.map((_, p) => flat.slice(4 * p, 4 * p + 4));
    const want = bonTable(problems, {
      ns: [1, 4],
      pickers: {
        rm: byP.map((ss) => ss.map((s) => (score === "sum" ? s.sum : s.finalMeanValue))),
        rm_min: byP.map((ss, p) =>
          ss.map((s, i) =>
            Math.min(
              ...stepScores(Array.from(s.logratio), {
                stepEnds: problems[p]!.samples[i]!.stepEnds!,
              }),
            )
          )
        ),
        sft_logprob: byP.map((ss) => ss.map((s) => s.logpRef.reduce((a, b) => a + b, 0))),
      },
    });
    for (const k of ["rm", "rm_min", "sft_logprob", "majority", "pass"] as const) {
      assertEquals(rep.bySplit.u![k], want.bySplit.u![k], `${score} ${k}`);
      assertEquals(rep.average[k], want.average[k], `${score} ${k}`);
    }
    assert(rep.bySplit.u!.random !== undefined);
  }
  for (const m of [sft, trained, pair.rm, pair.ref]) m.dispose();
});

Deno.test("evaluateBestOfN(): an empty response is never picked (NEVER_PICK) and does not break scoring", async () => {
  const sft = createLM(TINY, { rng: new Rng(41) });
  const pair = { rm: await frozenCopy(sft), ref: await frozenCopy(sft) };
  const problems: BonProblem[] = [{
    key: "k",
    split: "u",
    samples: [
      { prompt: [1], response: [], correct: 1, answer: 1 },
      { prompt: [1], response: [2, 3], correct: 0, answer: 2 },
    ],
  }];
  const rep = await evaluateBestOfN(pair, problems, { score: "sum", ns: [2], seed: 1 });
  assertEquals(rep.bySplit.u!.rm!.byN, { "2": 0 }); // picks the scored (wrong) sample
  assertEquals(rep.bySplit.u!.pass!.byN, { "2": 1 });
  for (const m of [sft, pair.rm, pair.ref]) m.dispose();
});

Deno.test("evaluate*Items(): the per-item records rebuild the report's F1 tables and BoN accuracies", async () => {
  const sft = createLM(TINY, { rng: new Rng(51) });
  const trained = createLM(TINY, { rng: new Rng(52) });
  const pair = { rm: await frozenCopy(trained), ref: await frozenCopy(sft) };
  const rows = tinyPbRows(new Rng(51), 12);
  const pb = await evaluateProcessBenchItems(pair, rows, { seed: 3, batchSize: 5 });
  assertEquals(pb.report, await evaluateProcessBench(pair, rows, { seed: 3, batchSize: 5 }));
  assertEquals(pb.items.labels, rows.map((r) => r.label));
  const back = pb.items.buckets.map((bucket, i) => ({ bucket, label: pb.items.labels[i]! }));
  assertEquals(processBenchTable(back, pb.items.scores.rm_process), pb.report.scorers.rm_process);
  // rm_prefix is the running sum of rm_process
  const prefix = pb.items.scores.rm_process.map((s) => {
    let acc = 0;
    return s.map((v) => (acc += v));
  });
  const pre = processBenchTable(back, prefix);
  for (const b of pb.report.buckets) {
    assertAlmostEquals(pre.oracle.byBucket[b]!, pb.report.scorers.rm_prefix.oracle.byBucket[b]!);
  }
  const rng = new Rng(53);
  const problems: BonProblem[] = ["u", "u", "v"].map((split, p) => ({
    key: `k${p}`,
    split,
    samples: Array.from({ length: 4 }, () => ({
      prompt: [1, 3],
      response: Array.from({ length: 3 }, () => 1 + rng.int(TINY.vocab - 1)),
      correct: rng.int(2) as 0 | 1,
      answer: rng.int(3),
    })),
  }));
  const bon = await evaluateBestOfNItems(pair, problems, { score: "sum", ns: [1, 4], seed: 1 });
  assertEquals(bon.items.keys, ["k0", "k1", "k2"]);
  for (const split of ["u", "v"]) {
    const idx = bon.items.splits.map((s, i) => (s === split ? i : -1)).filter((i) => i >= 0);
    for (const n of ["1", "4"]) {
      for (const picker of ["rm", "sft_logprob", "random"] as const) {
        const hits = idx.map((p) =>
          Number(bon.items.correct[p]![bon.items.picks[picker]![n]![p]!])
        );
        assertEquals(
          hits.reduce((a, b) => a + b, 0) / idx.length,
          bon.report.bySplit[split]![picker]!.byN[n],
          `${split} ${picker} @${n}`,
        );
      }
      const maj = idx.map((p) => bon.items.majority[n]![p]!);
      assertEquals(
        maj.reduce((a, b) => a + b, 0) / idx.length,
        bon.report.bySplit[split]!.majority!.byN[n],
      );
    }
  }
  for (const m of [sft, trained, pair.rm, pair.ref]) m.dispose();
});
