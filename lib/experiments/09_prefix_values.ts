/**
 * 09 · Are the RMs' prefix values meaningful? (a) calibration: sigma(v̄_t) at step boundaries of
 * SFT rollouts against the Monte-Carlo probability of eventual success from that prefix
 * (reliability diagram, ECE); (b) credit: AUC of per-step scores separating the first wrong step
 * from right steps on the ProcessBench analogue; (c) the paper's Sec. 4.3.3 TD analysis: at random
 * truncation points, the policy's top-5 next tokens, one MC rollout each; AUC of |V(s ⊕ y')| for
 * final correctness and the Pearson correlation of the one-step TD with the outcome.
 *
 * The Monte-Carlo rollouts depend only on the SFT policy and the seed, so they are computed once
 * per seed and shared by the three RMs (cached as stage `mc_prefixes`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { candidateLogprobs, type TinyLM } from "../model/lm.ts";
import { sample } from "../model/sample.ts";
import { Rng } from "../prng.ts";
import { reliabilityBins, reliabilityDiagram } from "../report/figures.ts";
import { stepScores } from "../eval/step_scores.ts";
import { testbedTask } from "../rl/_rollout.ts";
import { disposePair, scoreSequences } from "../rm/score.ts";
import { overridesObject } from "./_summary.ts";
import {
  type ArmSpec,
  type Claim,
  defineExperiment,
  type Experiment,
  type ExtraRow,
  type NamedFigure,
  RM_ARMS,
  Stages,
} from "./_experiment.ts";
import type { RMConfig } from "../rm/config.ts";
import type { UnitOutput, UnitRecord } from "./_runner.ts";
import { pipelinePresetOf } from "./_runner.ts";

const ID = "09_prefix_values";

/** Sizes of the Monte-Carlo study per pipeline preset. */
export const MC_SIZES = {
  smoke: { prefixes: 6, rollouts: 2, tdPoints: 4, topK: 5 },
  default: { prefixes: 120, rollouts: 8, tdPoints: 100, topK: 5 },
  gpu: { prefixes: 500, rollouts: 16, tdPoints: 500, topK: 5 },
} as const;

/** Area under the ROC curve of `scores` for binary `labels` (ties count half); NaN without both classes. */
export function auc(scores: readonly number[], labels: readonly number[]): number {
  const pos: number[] = [], neg: number[] = [];
  scores.forEach((s, i) => (labels[i] ? pos : neg).push(s));
  if (pos.length === 0 || neg.length === 0) return NaN;
  // Rank-sum (Mann-Whitney U) with average ranks for ties.
  const all = scores.map((s, i) => ({ s, y: labels[i] ? 1 : 0 })).sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const r = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.y) rankSum += r;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

/** Pearson correlation; NaN when either side is constant. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = Math.min(x.length, y.length);
  if (n < 2) return NaN;
  const mx = x.slice(0, n).reduce((a, b) => a + b, 0) / n,
    my = y.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** One prefix of an SFT rollout with its Monte-Carlo success rate. */
interface McPrefix {
  prompt: number[];
  /** The whole original response (scored by the RMs). */
  response: number[];
  /** Response tokens in the prefix (cut after a step). */
  cut: number;
  /** Fraction of continuations that end correct. */
  success: number;
}

/** One TD branch: prefix of `cut` tokens, then candidate `token`, one rollout's outcome. */
interface TdBranch {
  prompt: number[];
  response: number[];
  cut: number;
  token: number;
  outcome: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

async function continuations(
  model: TinyLM,
  rows: number[][],
  options: {
    rng: Rng;
    problem: Parameters<ReturnType<typeof testbedTask>["verify"]>[0];
    promptLen: number;
  },
): Promise<number[]> {
  const task = testbedTask();
  const len = rows[0]!.length;
  const maxNew = model.config.context - len;
  if (maxNew < 1) return rows.map((r) => task.verify(options.problem, r.slice(options.promptLen)));
  const out = await sample(model, rows, {
    rng: options.rng,
    maxNewTokens: maxNew,
    temperature: 1,
    eosId: task.eosId,
    padId: task.padId,
  });
  return rows.map((r, i) => {
    const gen = Array.from(
      out.tokens.subarray(i * out.shape[1], i * out.shape[1] + out.lengths[i]!),
    );
    return task.verify(options.problem, [...r.slice(options.promptLen), ...gen]);
  });
}

async function nextTokenTopK(model: TinyLM, ids: number[], k: number): Promise<number[]> {
  const V = model.config.vocab;
  const logp = tf.tidy(() => {
    const tokens = tf.tensor2d([ids], [1, ids.length], "int32");
    const cands = tf.tensor3d([ids.map(() => [...Array(V).keys()])].flat(1).flat(), [
      1,
      ids.length,
      V,
    ], "int32");
    // candidateLogp[0, t, v] = log pi(v | ids[<=t]) at the last position (the next token).
    const { candidateLogp } = candidateLogprobs(model, tokens, { candidates: cands });
    return candidateLogp.slice([0, ids.length - 1, 0], [1, 1, V]).reshape([V]);
  });
  const p = Array.from(await logp.data());
  logp.dispose();
  return [...p.keys()].sort((a, b) => p[b]! - p[a]!).slice(0, k);
}

/** The Monte-Carlo study of one seed (module doc), cached as stage `mc_prefixes`. */
async function mcStudy(
  stages: Stages,
  seed: number,
): Promise<{ prefixes: McPrefix[]; branches: TdBranch[] }> {
  const sizes = MC_SIZES[pipelinePresetOf(stages.preset)];
  const data = await stages.rmData(seed);
  const sft = await stages.policy();
  const art = await stages.cache.getOrBuild(
    {
      stage: "mc_prefixes",
      version: 1,
      config: { sizes, seed },
      inputs: { sft: sft.key, data: data.artifact.key },
    },
    async (dir) => {
      const model = await stages.loadSft();
      try {
        const rng = new Rng(seed).fork("mc_prefixes");
        const raw = data.raw.filter((r) => r.finished && r.stepEnds.length > 0);
        const prefixes: McPrefix[] = [];
        const branches: TdBranch[] = [];
        for (let i = 0; i < sizes.prefixes && raw.length > 0; i++) {
          const r = raw[Math.floor(rng.next() * raw.length)]!;
          const prompt = data.rollouts[data.raw.indexOf(r)]!.prompt as number[];
          const cut = r.stepEnds[Math.floor(rng.next() * r.stepEnds.length)]!;
          const rows = Array.from(
            { length: sizes.rollouts },
            () => [...prompt, ...r.tokens.slice(0, cut)],
          );
          const outs = await continuations(model, rows, {
            rng,
            problem: r.problem,
            promptLen: prompt.length,
          });
          prefixes.push({
            prompt,
            response: r.tokens,
            cut,
            success: outs.reduce((a, b) => a + b, 0) / outs.length,
          });
        }
        for (let i = 0; i < sizes.tdPoints && raw.length > 0; i++) {
          const r = raw[Math.floor(rng.next() * raw.length)]!;
          const prompt = data.rollouts[data.raw.indexOf(r)]!.prompt as number[];
          const cut = Math.floor(rng.next() * Math.max(1, r.tokens.length - 1));
          const ids = [...prompt, ...r.tokens.slice(0, cut)];
          for (const token of await nextTokenTopK(model, ids, sizes.topK)) {
            const [outcome] = await continuations(model, [[...ids, token]], {
              rng,
              problem: r.problem,
              promptLen: prompt.length,
            });
            branches.push({
              prompt,
              response: [...r.tokens.slice(0, cut), token],
              cut,
              token,
              outcome: outcome ?? 0,
            });
          }
        }
        await Deno.writeTextFile(`${dir}/mc.json`, JSON.stringify({ prefixes, branches }));
        return { prefixes: prefixes.length, branches: branches.length };
      } finally {
        model.dispose();
      }
    },
  );
  return JSON.parse(await Deno.readTextFile(art.file("mc.json")));
}

async function unit(arm: ArmSpec<RMConfig>, seed: number, stages: Stages): Promise<UnitOutput> {
  const mc = await mcStudy(stages, seed);
  const pb = await stages.processBench();
  const rm = await stages.rewardModel(overridesObject(arm.overrides), seed);
  try {
    const beta = rm.config.beta;
    // (a) calibration
    const scored = await scoreSequences(
      rm.pair,
      mc.prefixes.map((p) => ({ prompt: p.prompt, response: p.response })),
      { beta },
    );
    // reliabilityBins takes binary outcomes: each prefix contributes its M rollouts' outcomes
    // (round(success * M) ones), all at that prefix's predicted probability.
    const m = MC_SIZES[pipelinePresetOf(stages.preset)].rollouts;
    const probs: number[] = [], success: number[] = [];
    mc.prefixes.forEach((p, i) => {
      const q = sigmoid(scored[i]!.meanValues[p.cut - 1] ?? 0);
      const ones = Math.round(p.success * m);
      for (let k = 0; k < m; k++) probs.push(q), success.push(k < ones ? 1 : 0);
    });
    const ece = probs.length > 0 ? reliabilityBins(probs, success).ece : NaN;
    // (b) credit: the first wrong step (label) vs right steps (before it, or every step of a correct row)
    const pbScored = await scoreSequences(rm.pair, pb.rows, { beta });
    const creditScores: number[] = [], wrong: number[] = [];
    pb.rows.forEach((row, i) => {
      const s = stepScores(Array.from(pbScored[i]!.logratio), {
        stepEnds: row.stepEnds,
        mode: "process",
      });
      s.forEach((v, j) => {
        if (row.label >= 0 && j > row.label) return; // after the first error: no ground truth of "right"
        creditScores.push(-v); // a low step score flags a wrong step
        wrong.push(j === row.label ? 1 : 0);
      });
    });
    // (c) TD analysis
    const tdScored = await scoreSequences(
      rm.pair,
      mc.branches.map((b) => ({ prompt: b.prompt, response: b.response })),
      { beta },
    );
    const vAfter = tdScored.map((s) => s.values[s.values.length - 1] ?? 0);
    const td = tdScored.map((s, i) =>
      vAfter[i]! - (s.values.length >= 2 ? s.values[s.values.length - 2]! : 0)
    );
    const outcomes = mc.branches.map((b) => b.outcome);
    return {
      metrics: {
        "calib/ece": ece,
        "calib/n": probs.length,
        "credit/auc": auc(creditScores, wrong),
        "td/auc_abs_v": auc(vAfter.map(Math.abs), outcomes),
        "td/pearson": pearson(td, outcomes),
        "td/n": outcomes.length,
      },
      series: { "calib/probs": probs, "calib/success": success },
    };
  } finally {
    disposePair(rm.pair);
  }
}

/** Claims: IPVRM is better calibrated (lower ECE) and credits steps better (higher AUC) than each baseline. */
export const CLAIMS: Claim[] = (["dpo", "implicit_prm"] as const).flatMap((c) => {
  const label = c === "dpo" ? "DPO-RM" : "Implicit PRM";
  return [
    {
      id: `ece_ipvrm_vs_${c}`,
      metric: "calib/ece",
      metricLabel: "ECE of sigma(v̄_t) vs MC success (%)",
      treatment: { arm: "ipvrm", label: "IPVRM" },
      control: { arm: c, label },
      direction: "lower" as const,
    },
    {
      id: `credit_ipvrm_vs_${c}`,
      metric: "credit/auc",
      metricLabel: "step-credit AUC (%)",
      treatment: { arm: "ipvrm", label: "IPVRM" },
      control: { arm: c, label },
      direction: "higher" as const,
    },
  ];
});

const EXTRA: ExtraRow[] = RM_ARMS.flatMap((a) => [
  {
    arm: a.name,
    label: a.label,
    metric: "td/auc_abs_v",
    metricLabel: "TD analysis: AUC of |V(s ⊕ y')| (x100)",
    paper: 64,
  },
  {
    arm: a.name,
    label: a.label,
    metric: "td/pearson",
    metricLabel: "TD analysis: Pearson(TD, outcome) (x100)",
    paper: 2.26,
  },
]);

function figures(records: UnitRecord[]): NamedFigure[] {
  const out: NamedFigure[] = [];
  for (const a of RM_ARMS) {
    const rs = records.filter((r) => r.arm === a.name);
    const probs = rs.flatMap((r) => r.series?.["calib/probs"] ?? []);
    const labels = rs.flatMap((r) => r.series?.["calib/success"] ?? []);
    if (probs.length === 0) continue;
    out.push({
      name: `reliability_${a.name}`,
      spec: reliabilityDiagram({ probs, labels, name: a.label }, {
        title: `${a.label}: sigma(v̄_t) vs Monte-Carlo success (all seeds)`,
      }),
    });
  }
  return out;
}

/** Experiment 09 (module doc). */
export const experiment: Experiment<"rm"> = defineExperiment({
  id: ID,
  question:
    "Do IPVRM's prefix values behave as success probabilities (calibration), credit the wrong step (AUC), and what does the one-step TD carry (Sec. 4.3.3)?",
  claim: {
    quote:
      "the absolute prefix value |V(s_t ⊕ y'_t)| achieves an AUC-ROC of 0.64. In contrast, the correlation between one-step TD and single-rollout binary outcomes is very weak (Pearson 0.0226)",
    source: "arXiv 2604.13197v2, Sec. 3 (sigma(v̄_t) as a success probability) and Sec. 4.3.3",
    tables: [],
  },
  grid: "rm",
  arms: RM_ARMS,
  caption:
    "Prefix values: calibration, step credit and the TD analysis (paper: AUC 0.64, Pearson 0.0226, Sec. 4.3.3)",
  unit,
  claims: CLAIMS,
  extra: EXTRA,
  figures,
  yTitle: "%",
  note:
    "The calibration and credit claims have no paper number (the paper reads sigma(v̄_t) as a success probability, Sec. 3); the TD rows sit beside the paper's prose numbers (AUC 0.64, Pearson 0.0226, x100).",
});

/** Runs experiment 09. */
export const run = experiment.run;
