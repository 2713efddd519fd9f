/**
 * 09 · Are the RMs' prefix values meaningful? (a) calibration: sigma(v̄_t) at step boundaries of
 * SFT rollouts against the Monte-Carlo probability of eventual success from that prefix
 * (reliability diagram, ECE); (b) credit: AUC of per-step scores separating the first wrong step
 * from right steps on the ProcessBench analogue; (c) the paper's Sec. 4.3.3 TD analysis: at random
 * truncation points, the policy's top-5 next tokens, one MC rollout each; AUC of |V(s ⊕ y')| for
 * final correctness and the Pearson correlation of the one-step TD with the outcome.
 *
 * The Monte-Carlo rollouts depend only on the SFT policy and the seed, so they are computed once
 * per seed and shared by the three RMs (the stage graph's `mc_prefixes`,
 * lib/pipeline/stages.ts).
 * @module
 */
import { reliabilityBins, reliabilityDiagram } from "../report/figures.ts";
import { auc, pearson } from "../report/stats.ts";
import type { PipelinePreset } from "../vocabulary.ts";
import type { McSizes } from "../pipeline/stages.ts";
// Beyond Pipeline/Report/Run (architecture.md): 09's question is what the RMs' per-token
// scores mean, so its unit reads them (step sums, prefix values) from the trained RMs.
import { stepScores } from "../eval/step_scores.ts";
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

const ID = "09_prefix_values";

/** Sizes of the Monte-Carlo study per pipeline preset. */
export const MC_SIZES: Readonly<Record<PipelinePreset, McSizes>> = {
  smoke: { prefixes: 6, rollouts: 2, tdPoints: 4, topK: 5 },
  default: { prefixes: 120, rollouts: 8, tdPoints: 100, topK: 5 },
  gpu: { prefixes: 500, rollouts: 16, tdPoints: 500, topK: 5 },
} as const;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

async function unit(arm: ArmSpec<RMConfig>, seed: number, stages: Stages): Promise<UnitOutput> {
  const mc = await stages.mcPrefixes(seed, MC_SIZES[stages.preset]);
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
    const m = MC_SIZES[stages.preset].rollouts;
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
