/**
 * 09 · Are the RMs' prefix values meaningful? (a) calibration: each RM's natural success
 * probability at step boundaries of SFT rollouts (IPVRM `sigma(v̄_t)`, also with margin 0; DPO-RM
 * and Implicit PRM `sigma(β Σ_{s≤t} ℓ_s)`) against the Monte-Carlo probability of eventual
 * success from that prefix: Brier score, log loss, AUC, ECE and reliability diagrams
 * (statistics.md "Calibration of prefix values"); (b) credit: AUC of per-step scores separating
 * the first wrong step from right steps on the ProcessBench analogue, beside the SFT policy's
 * log-prob scorer and the random scorer (0.5); (c) the paper's Sec. 4.3.3 TD analysis: at random
 * truncation points, the policy's top-5 next tokens, one MC rollout each; AUC of |V(s ⊕ y')| for
 * final correctness and the Pearson correlation of the one-step TD with the outcome.
 *
 * The Monte-Carlo rollouts depend only on the SFT policy and the seed, so they are computed once
 * per seed and shared by the three RMs (the stage graph's `mc_prefixes`,
 * lib/pipeline/stages.ts).
 * @module
 */
import { reliabilityBins, reliabilityDiagram } from "../report/figures.ts";
import { auc, brierScore, logLoss, mean, pearson } from "../report/stats.ts";
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

/**
 * 09's arms: the three RMs of 01, plus IPVRM with margin 0 (the same RM as 06's `m0` arm): a
 * margin-trained IPVRM pushes `v̄_t` past +-m, so it is overconfident by construction; m = 0 shows
 * how much of its calibration is the margin (statistics.md "Calibration of prefix values").
 */
export const ARMS: readonly ArmSpec<RMConfig>[] = [
  ...RM_ARMS,
  {
    name: "ipvrm_m0",
    label: "IPVRM m=0",
    overrides: [{
      set: { ipvrm: { margin: 0 } },
      reason:
        "statistics.md: an IPVRM arm with margin 0 beside m = 5 (the margin makes sigma(v̄_t) overconfident by construction)",
    }],
  },
];

/**
 * The natural success logit of an RM at the prefix ending after response token `t` (0-based):
 * IPVRM `v̄_t` (the mean prefix value, Sec. 3), Implicit PRM and DPO-RM `β Σ_{s≤t} ℓ_s` (the
 * cumulative implicit Q of the PRIME paper, not divided by t). `sigma` of it is the probability.
 */
export function naturalLogit(
  kind: RMConfig["kind"],
  s: { values: ArrayLike<number>; meanValues: ArrayLike<number> },
  t: number,
): number {
  return (kind === "ipvrm" ? s.meanValues[t] : s.values[t]) ?? 0;
}

/** The random scorer's step-credit AUC: 0.5 in expectation, whatever the rows. */
const RANDOM_AUC = 0.5;

/** Step-credit AUC of per-step scores (a low score flags the first wrong step). */
function creditAuc(
  rows: readonly { label: number; stepEnds: readonly number[] }[],
  perToken: readonly ArrayLike<number>[],
): number {
  const creditScores: number[] = [], wrong: number[] = [];
  rows.forEach((row, i) => {
    const s = stepScores(Array.from(perToken[i]!), { stepEnds: row.stepEnds, mode: "process" });
    s.forEach((v, j) => {
      if (row.label >= 0 && j > row.label) return; // after the first error: no ground truth of "right"
      creditScores.push(-v); // a low step score flags a wrong step
      wrong.push(j === row.label ? 1 : 0);
    });
  });
  return auc(creditScores, wrong);
}

async function unit(arm: ArmSpec<RMConfig>, seed: number, stages: Stages): Promise<UnitOutput> {
  const mc = await stages.mcPrefixes(seed, MC_SIZES[stages.preset]);
  const pb = await stages.processBench();
  const rm = await stages.rewardModel(overridesObject(arm.overrides), seed);
  try {
    const beta = rm.config.beta;
    // (a) calibration of the natural success probability against Monte-Carlo success. Each
    // prefix contributes its M rollouts' binary outcomes (round(success * M) ones), all at that
    // prefix's predicted probability, so Brier, log loss, AUC and ECE all read binary outcomes.
    const scored = await scoreSequences(
      rm.pair,
      mc.prefixes.map((p) => ({ prompt: p.prompt, response: p.response })),
      { beta },
    );
    const m = MC_SIZES[stages.preset].rollouts;
    const logits: number[] = [], probs: number[] = [], success: number[] = [];
    mc.prefixes.forEach((p, i) => {
      const z = naturalLogit(rm.config.kind, scored[i]!, p.cut - 1);
      const ones = Math.round(p.success * m);
      for (let k = 0; k < m; k++) {
        logits.push(z), probs.push(sigmoid(z)), success.push(k < ones ? 1 : 0);
      }
    });
    const ece = probs.length > 0 ? reliabilityBins(probs, success).ece : NaN;
    // (b) credit: the first wrong step (label) vs right steps (before it, or every step of a
    // correct row), for the RM and for its baselines on the same rows: the SFT policy's own
    // log-probs (step sums of log pi_sft) and the random scorer (AUC 0.5).
    const pbScored = await scoreSequences(rm.pair, pb.rows, { beta });
    const creditRm = creditAuc(pb.rows, pbScored.map((s) => s.logratio));
    const creditSft = creditAuc(pb.rows, pbScored.map((s) => s.logpRef));
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
    const none = probs.length === 0;
    return {
      metrics: {
        "calib/brier": none ? NaN : brierScore(probs, success),
        "calib/logloss": none ? NaN : logLoss(logits, success),
        "calib/auc": auc(probs, success),
        "calib/ece": ece,
        "calib/base_rate": none ? NaN : mean(success),
        "calib/n": probs.length,
        "credit/auc": creditRm,
        "credit/auc_sft_logprob": creditSft,
        "credit/auc_vs_sft_logprob": creditRm - creditSft,
        "credit/auc_vs_random": creditRm - RANDOM_AUC,
        "credit/auc_random": RANDOM_AUC,
        "td/auc_abs_v": auc(vAfter.map(Math.abs), outcomes),
        "td/pearson": pearson(td, outcomes),
        "td/n": outcomes.length,
      },
      series: { "calib/probs": probs, "calib/success": success },
      models: { rm: rm.artifact.file("model.safetensors") },
    };
  } finally {
    disposePair(rm.pair);
  }
}

/**
 * Claims: IPVRM's natural success probability is better calibrated than each baseline's
 * (lower Brier score: a proper scoring rule, so a constant base-rate forecast does not win as it
 * can under ECE) and IPVRM credits the wrong step better (higher AUC). No paper numbers: the
 * paper reads sigma(v̄_t) as a success probability (Sec. 3).
 */
export const CLAIMS: Claim[] = (["dpo", "implicit_prm"] as const).flatMap((c) => {
  const label = c === "dpo" ? "DPO-RM" : "Implicit PRM";
  return [
    {
      id: `brier_ipvrm_vs_${c}`,
      metric: "calib/brier",
      metricLabel: "Brier score of the natural success probability vs MC success (x100)",
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

/**
 * Baseline rows (statistics.md): each RM's step-credit AUC against the SFT policy's log-prob
 * scorer on the same rows (paired within the unit) and against a random scorer (AUC 50).
 */
export const BASELINES: Claim[] = ARMS.flatMap((a) => [
  {
    id: `baseline_credit_${a.name}_vs_sft_logprob`,
    kind: "baseline" as const,
    metric: "credit/auc",
    metricLabel: "step-credit AUC (%)",
    treatment: { arm: a.name, label: a.label },
    control: { arm: a.name, metric: "credit/auc_sft_logprob", label: "policy log-prob" },
    direction: "higher" as const,
  },
  {
    id: `baseline_credit_${a.name}_vs_random`,
    kind: "baseline" as const,
    metric: "credit/auc",
    metricLabel: "step-credit AUC (%)",
    treatment: { arm: a.name, label: a.label },
    control: { arm: a.name, metric: "credit/auc_random", label: "random" },
    direction: "higher" as const,
  },
]);

/**
 * Level rows (no directional verdict): per arm the three calibration scores beside ECE (never
 * ECE alone), the SFT policy's step-credit AUC, and the TD analysis beside the paper's prose.
 */
export const EXTRA: ExtraRow[] = [
  ...ARMS.flatMap((a) => [
    {
      arm: a.name,
      label: a.label,
      metric: "calib/brier",
      metricLabel: "Brier score of the natural success probability vs MC success (x100)",
    },
    {
      arm: a.name,
      label: a.label,
      metric: "calib/logloss",
      metricLabel: "log loss (nats) of the natural success probability vs MC success",
      scale: 1,
    },
    {
      arm: a.name,
      label: a.label,
      metric: "calib/auc",
      metricLabel: "AUC of the natural success probability for MC success (%)",
    },
    {
      arm: a.name,
      label: a.label,
      metric: "calib/ece",
      metricLabel: "ECE of the natural success probability vs MC success (%)",
    },
  ]),
  {
    arm: "ipvrm",
    label: "SFT policy log-prob",
    metric: "credit/auc_sft_logprob",
    metricLabel: "step-credit AUC of the policy log-prob scorer (%)",
  },
  ...RM_ARMS.flatMap((a) => [
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
  ]),
];

function figures(records: UnitRecord[]): NamedFigure[] {
  const out: NamedFigure[] = [];
  for (const a of ARMS) {
    const rs = records.filter((r) => r.arm === a.name);
    const probs = rs.flatMap((r) => r.series?.["calib/probs"] ?? []);
    const labels = rs.flatMap((r) => r.series?.["calib/success"] ?? []);
    if (probs.length === 0) continue;
    out.push({
      name: `reliability_${a.name}`,
      spec: reliabilityDiagram({ probs, labels, name: a.label }, {
        title: `${a.label}: natural success probability vs Monte-Carlo success (all seeds)`,
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
  arms: ARMS,
  caption:
    "Prefix values: calibration, step credit and the TD analysis (paper: AUC 0.64, Pearson 0.0226, Sec. 4.3.3)",
  unit,
  claims: [...BASELINES, ...CLAIMS],
  extra: EXTRA.map((r) => ({ ...r, level: true })),
  figures,
  yTitle: "%",
  note:
    "The calibration and credit claims have no paper number (the paper reads sigma(v̄_t) as a success probability, Sec. 3). Calibration reads each RM's natural success probability (IPVRM sigma(v̄_t), DPO-RM and Implicit PRM sigma(β Σ_{s≤t} ℓ_s)) with Brier score, log loss and AUC beside ECE; IPVRM m=0 shows what the margin does. The step-credit baselines are the SFT policy's log-prob scorer and the random scorer (AUC 50). The TD rows sit beside the paper's prose numbers (AUC 0.64, Pearson 0.0226, x100).",
});

/** Runs experiment 09. */
export const run = experiment.run;
