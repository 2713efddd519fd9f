/**
 * 03 · Does DistRL with IPVRM improve the policy (avg@8) more than GRPO with the verifiable
 * reward, a PRIME-style baseline and GRPO with IPVRM (Tables 5-7, Fig. 6)?
 * @module
 */
import {
  type ArmSpec,
  type Claim,
  defineExperiment,
  type Experiment,
  type ExtraRow,
  type NamedFigure,
  RL_METHOD_ARMS,
  rlCurves,
} from "./_experiment.ts";
import type { RLConfigInput } from "../rl/config.ts";
import type { UnitRecord } from "./_runner.ts";

const ID = "03_main_rl";

/** Table 6's other reward models: GRPO and DistRL, each with DPO-RM and with Implicit PRM online. */
export const TABLE6_ARMS: readonly ArmSpec<RLConfigInput>[] = ([
  ["dpo", "DPO-RM"],
  ["implicit_prm", "Implicit PRM"],
] as const).flatMap(([rm, rmLabel]): ArmSpec<RLConfigInput>[] => [
  {
    name: `grpo_${rm}`,
    label: `GRPO w/ ${rmLabel}`,
    overrides: [
      {
        set: { method: "grpo_ipvrm" },
        reason: `Table 6 'GRPO w/ ${rmLabel}': GAE over TD, alpha 0`,
      },
      {
        set: { rm },
        reason: `Table 6: ${rmLabel} as the online RM (same update pipeline)`,
      },
    ],
  },
  {
    name: `distrl_${rm}`,
    label: `DistRL w/ ${rmLabel}`,
    overrides: [
      {
        set: { rm },
        reason: `Table 6 'DistRL w/ ${rmLabel}': ${rmLabel} as the online RM`,
      },
    ],
  },
]);

/** Every arm of 03: Table 5's methods, then Table 6's reward-model rows. */
export const ARMS: readonly ArmSpec<RLConfigInput>[] = [...RL_METHOD_ARMS, ...TABLE6_ARMS];
const Q = "Qwen3-0.6B";
const SPLITS = [["aime", "AIME"], ["math500", "MATH-500"], ["minerva", "Minerva-Math"], [
  "olympiadbench",
  "OlympiadBench",
], ["amc", "AMC"]] as const;

/**
 * Claims: DistRL w/ IPVRM beats each baseline on avg@8 Avg. (Table 5); Table 7's verifier
 * accuracy (points) vs GRPO w/ IPVRM. Table 7's RM score is on the paper's RM scale and ours on
 * the testbed RM's, so it is no difference row: each arm's level is a `level` row (EXTRA).
 */
export const CLAIMS: Claim[] = [
  ...RL_METHOD_ARMS.filter((a) => a.name !== "distrl").map((a): Claim => ({
    id: `avg_distrl_vs_${a.name}`,
    metric: "eval/avg/mean",
    metricLabel: "avg@8 Avg. (%)",
    treatment: {
      arm: "distrl",
      label: "DistRL w/ IPVRM",
      paper: { table: 5, row: `${Q} | DistRL w/ IPVRM`, column: "Avg." },
    },
    control: {
      arm: a.name,
      label: a.label,
      paper: { table: 5, row: `${Q} | ${a.label}`, column: "Avg." },
    },
  })),
  {
    id: "verifier_distrl_vs_grpo",
    metric: "train/verifier/accuracy",
    metricLabel: "mean verifier accuracy during training (%)",
    treatment: {
      arm: "distrl",
      label: "DistRL w/ IPVRM",
      paper: { table: 7, row: Q, column: "Verifier acc. | DistRL" },
    },
    control: {
      arm: "grpo_ipvrm",
      label: "GRPO w/ IPVRM",
      paper: { table: 7, row: Q, column: "Verifier acc. | GRPO" },
    },
    scale: 100, // points, as the paper's 23.5 / 23.0
  },
];

const t6 = (label: string) => ({ table: 6, row: `${Q} | ${label}`, column: "Avg." });

/** Table 6: IPVRM is the better online RM under GRPO, and DistRL helps with every RM. */
const TABLE6_CLAIMS: Claim[] = [
  ...(["dpo", "implicit_prm"] as const).map((rm): Claim => {
    const l = rm === "dpo" ? "DPO-RM" : "Implicit PRM";
    return {
      id: `t6_grpo_ipvrm_vs_grpo_${rm}`,
      metric: "eval/avg/mean",
      metricLabel: "avg@8 Avg. (%)",
      treatment: { arm: "grpo_ipvrm", label: "GRPO w/ IPVRM", paper: t6("GRPO w/ IPVRM") },
      control: { arm: `grpo_${rm}`, label: `GRPO w/ ${l}`, paper: t6(`GRPO w/ ${l}`) },
    };
  }),
  ...(["dpo", "implicit_prm"] as const).map((rm): Claim => {
    const l = rm === "dpo" ? "DPO-RM" : "Implicit PRM";
    return {
      id: `t6_distrl_vs_grpo_${rm}`,
      metric: "eval/avg/mean",
      metricLabel: "avg@8 Avg. (%)",
      treatment: { arm: `distrl_${rm}`, label: `DistRL w/ ${l}`, paper: t6(`DistRL w/ ${l}`) },
      control: { arm: `grpo_${rm}`, label: `GRPO w/ ${l}`, paper: t6(`GRPO w/ ${l}`) },
    };
  }),
];

const RM_SCORE_NOTE =
  "Eq. 19 on the testbed RM's scale; the paper's number is on its own RM's scale: levels side by side, no difference row";

const EXTRA: ExtraRow[] = [
  ...([["distrl", "DistRL w/ IPVRM", "RM score | DistRL"], [
    "grpo_ipvrm",
    "GRPO w/ IPVRM",
    "RM score | GRPO",
  ]] as const).map(([arm, label, column]): ExtraRow => ({
    arm,
    label,
    metric: "train/rm/score",
    metricLabel: "mean per-step RM score during training (Eq. 19, own RM scale)",
    scale: 1,
    paper: { table: 7, row: Q, column },
    level: true,
    note: RM_SCORE_NOTE,
  })),
  ...RL_METHOD_ARMS.flatMap((a) =>
    SPLITS.map(([s, col]) => ({
      arm: a.name,
      label: a.label,
      metric: `eval/avg/${s}`,
      metricLabel: `avg@8 ${col} (%)`,
      paper: { table: 5, row: `${Q} | ${a.label}`, column: col },
    }))
  ),
  {
    arm: "grpo",
    label: "SFT (before RL)",
    metric: "sft/avg/mean",
    metricLabel: "avg@8 Avg. (%)",
    paper: { table: 5, row: `${Q} | SFT`, column: "Avg." },
  },
];

function figures(records: UnitRecord[]): NamedFigure[] {
  const out: NamedFigure[] = [];
  const arms = RL_METHOD_ARMS;
  for (
    const [series, title, y, scale] of [
      ["eval/avg/mean", "avg@8 (mean over splits) during RL", "avg@8 (%)", 100],
      ["verifier/accuracy", "Verifier accuracy of the rollouts per step", "accuracy (%)", 100],
      ["rm/score", "Mean per-step RM score per step (Eq. 19)", "RM score", 1],
    ] as const
  ) {
    const f = rlCurves(records, { arms, series, title, yTitle: y, scale });
    if (f) out.push(f);
  }
  return out;
}

/** Experiment 03 (module doc). */
export const experiment: Experiment<"rl"> = defineExperiment({
  id: ID,
  question:
    "Does DistRL with IPVRM reach a higher avg@8 than GRPO (verifiable reward), PRIME and GRPO with IPVRM?",
  claim: {
    quote:
      "Compared with outcome- or process-based methods such as GRPO, PRIME, SPRO, and Reinforce w/ Q-RM, DistRL w/ IPVRM achieves the best average performance on all four backbones.",
    source: "arXiv 2604.13197v2, Sec. 4.3, Tables 5-7, Fig. 6",
    tables: [5, 6, 7],
  },
  grid: "rl",
  arms: ARMS,
  caption:
    "RL methods: final avg@8 per split, ours beside Table 5 (Qwen3-0.6B); RM x optimiser beside Table 6; RM score and verifier accuracy beside Table 7",
  claims: [...CLAIMS, ...TABLE6_CLAIMS],
  extra: EXTRA,
  figures,
  yTitle: "value",
  note:
    "Table 7's RM scores are the paper's Eq. 19 on its own RM scale; ours are on the testbed RM's scale, so they are shown as levels side by side, with no difference row and no verdict.",
});

/** Runs experiment 03. */
export const run = experiment.run;
