/**
 * 07 · How do the candidate set's size and retained mass depend on P_min, and does DistRL's
 * avg@8 depend on it (Table 11, App. D)? The `p010` arm is 03's DistRL run (cache). Size and
 * mass are measured as the paper does, on the SFT policy's own samples over 1,000 training
 * prompts (`sftcand/*`, one draw per seed), and also under pi_old during RL (`train/cand/*`,
 * averaged over steps). Nested candidate sets on the same samples are ordered by construction,
 * so size and mass per P_min are `level` rows of the verdict table (ours with CIs beside the
 * paper's levels), never claims; so are the same statistics restricted to the positions where
 * the policy branches (more than one token with probability >= BRANCH_P = 0.01).
 * @module
 */
import {
  type ArmSpec,
  type Claim,
  defineExperiment,
  type Experiment,
  type ExtraRow,
  type NamedFigure,
  rlCurves,
  type Stages,
  type UnitFn,
} from "./_experiment.ts";
import type { RLConfigInput } from "../rl/config.ts";
import { BRANCH_P } from "../eval/candidate_set.ts";
import type { UnitOutput, UnitRecord } from "./_runner.ts";

const ID = "07_p_min";

/** The P_min of each arm. */
const P_MIN: Readonly<Record<string, number>> = { p005: 0.05, p010: 0.1, p020: 0.2 };

/** P_min in {0.05, 0.10, 0.20} (App. D); 0.10 is the base (App. C). */
export const ARMS: readonly ArmSpec<RLConfigInput>[] = [
  {
    name: "p005",
    label: "P_min=0.05",
    overrides: [{
      set: { switches: { pMin: 0.05 } },
      reason: "App. D / Table 11 sweep: P_min = 0.05",
    }],
  },
  { name: "p010", label: "P_min=0.10", overrides: [] },
  {
    name: "p020",
    label: "P_min=0.20",
    overrides: [{
      set: { switches: { pMin: 0.2 } },
      reason: "App. D / Table 11 sweep: P_min = 0.20",
    }],
  },
];

/**
 * No claims: nested candidate sets on the same samples are ordered by construction (a lower
 * P_min keeps a superset), so "P_min=0.05 keeps more than 0.10" is not a test. Size and mass per
 * P_min are `level` rows of the verdict table instead: ours with a CI beside the paper's levels,
 * measured as the paper does (on the SFT policy's samples of training prompts).
 */
export const CLAIMS: Claim[] = [];

const NOT_A_CLAIM =
  "ordered by construction (nested candidate sets on the same samples): a level, no verdict";

/** Table 11's levels: candidate-set size and retained mass per P_min on the SFT policy. */
const LEVELS: ExtraRow[] = ARMS.flatMap((a) => [
  {
    arm: a.name,
    label: a.label,
    metric: "sftcand/size",
    metricLabel: "candidate-set size, SFT policy (tokens)",
    scale: 1,
    paper: { table: 11, row: a.label, column: "Avg Candidate Size" },
    level: true,
    note: NOT_A_CLAIM,
  },
  {
    arm: a.name,
    label: a.label,
    metric: "sftcand/mass",
    metricLabel: "retained mass, SFT policy (%)",
    scale: 100,
    paper: { table: 11, row: a.label, column: "Prob. Mass Coverage" },
    level: true,
    note: NOT_A_CLAIM,
  },
  {
    arm: a.name,
    label: a.label,
    metric: "sftcand/branch_size",
    metricLabel:
      `candidate-set size at branching positions, SFT policy (tokens; > 1 token >= ${BRANCH_P})`,
    scale: 1,
    level: true,
    note: `${NOT_A_CLAIM}; no paper number (the paper averages over all positions)`,
  },
  {
    arm: a.name,
    label: a.label,
    metric: "sftcand/branch_mass",
    metricLabel: `retained mass at branching positions, SFT policy (%; > 1 token >= ${BRANCH_P})`,
    scale: 100,
    level: true,
    note: `${NOT_A_CLAIM}; no paper number (the paper averages over all positions)`,
  },
]);

const EXTRA: ExtraRow[] = [
  ...LEVELS,
  ...ARMS.flatMap((a) => [
    {
      arm: a.name,
      label: a.label,
      metric: "train/cand/size",
      metricLabel: "candidate-set size under pi_old during RL (tokens; paper: SFT policy)",
      scale: 1,
      paper: { table: 11, row: a.label, column: "Avg Candidate Size" },
    },
    {
      arm: a.name,
      label: a.label,
      metric: "train/cand/mass",
      metricLabel: "retained mass under pi_old during RL (%; paper: SFT policy)",
      scale: 100,
      paper: { table: 11, row: a.label, column: "Prob. Mass Coverage" },
    },
    {
      arm: a.name,
      label: a.label,
      metric: "sftcand/empty_frac",
      metricLabel: "positions with an empty candidate set, SFT policy (%) (no paper number)",
      scale: 100,
    },
    {
      arm: a.name,
      label: a.label,
      metric: "eval/avg/mean",
      metricLabel: "avg@8 Avg. (%) (no paper number)",
    },
  ]),
];

/** The RL unit plus the SFT policy's candidate-set statistics at the arm's P_min. */
async function unit(
  arm: ArmSpec<RLConfigInput>,
  seed: number,
  stages: Stages,
  grid: UnitFn<RLConfigInput>,
): Promise<UnitOutput> {
  const out = await grid(arm, seed, stages);
  const pMin = P_MIN[arm.name]!;
  const stats = await stages.sftCandidateStats(Object.values(P_MIN), seed);
  const s = stats.find((x) => x.pMin === pMin)!;
  return {
    ...out,
    metrics: {
      ...out.metrics,
      "sftcand/size": s.size,
      "sftcand/mass": s.mass,
      "sftcand/empty_frac": s.emptyFrac,
      // NaN when a seed has no branching position: the record stores null (finiteOrNull).
      "sftcand/branch_size": s.branchSize,
      "sftcand/branch_mass": s.branchMass,
      "sftcand/branch_frac": s.branchFrac,
    },
    extra: { ...out.extra, sftcand: { positions: s.positions, pMin } },
  };
}

function figures(records: UnitRecord[]): NamedFigure[] {
  return [
    rlCurves(records, {
      arms: ARMS,
      series: "cand/size",
      title: "Candidate-set size per RL step",
      yTitle: "tokens",
    }),
    rlCurves(records, {
      arms: ARMS,
      series: "cand/mass",
      title: "Retained pi_old mass per RL step",
      yTitle: "mass (%)",
      scale: 100,
    }),
  ].filter((f): f is NamedFigure => f !== null);
}

/** Experiment 07 (module doc). */
export const experiment: Experiment<"rl"> = defineExperiment({
  id: ID,
  question:
    "How large is DistRL's candidate set and how much policy mass does it keep for P_min in {0.05, 0.10, 0.20}, and does avg@8 change?",
  claim: {
    quote:
      "These results make P_min=0.1 a well-justified operating point: it keeps the candidate set very small in practice while still retaining most of the policy mass. Lower thresholds yield only limited additional coverage, whereas larger thresholds start to discard nontrivial policy mass.",
    source: "arXiv 2604.13197v2, App. D, Table 11",
    tables: [11],
  },
  grid: "rl",
  arms: ARMS,
  unit,
  caption:
    "Candidate set per P_min on the SFT policy's samples of 1,000 training prompts, ours beside Table 11 (Qwen3-0.6B SFT policy); pi_old during RL and avg@8 below",
  claims: CLAIMS,
  extra: EXTRA,
  figures,
  yTitle: "value",
});

/** Runs experiment 07. */
export const run = experiment.run;
