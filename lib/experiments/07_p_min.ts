/**
 * 07 · How do the candidate set's size and retained mass depend on P_min, and does DistRL's
 * avg@8 depend on it (Table 11, App. D)? The `p010` arm is 03's DistRL run (cache). Size and
 * mass are measured under pi_old on the RL rollouts (`cand/size`, `cand/mass`), averaged over steps.
 * @module
 */
import {
  type ArmSpec,
  type Claim,
  type Experiment,
  type ExperimentOptions,
  type ExperimentResult,
  type ExtraRow,
  type NamedFigure,
  rlCurves,
  rlGrid,
  runExperiment,
} from "./_experiment.ts";
import type { ExperimentPreset, UnitRecord } from "./_runner.ts";

const ID = "07_p_min";

/** P_min in {0.05, 0.10, 0.20} (App. D); 0.10 is the base (App. C). */
export const ARMS: readonly ArmSpec[] = [
  {
    name: "p005",
    label: "P_min=0.05",
    overrides: [{
      path: "switches.pMin",
      value: 0.05,
      reason: "App. D / Table 11 sweep: P_min = 0.05",
    }],
  },
  { name: "p010", label: "P_min=0.10", overrides: [] },
  {
    name: "p020",
    label: "P_min=0.20",
    overrides: [{
      path: "switches.pMin",
      value: 0.2,
      reason: "App. D / Table 11 sweep: P_min = 0.20",
    }],
  },
];

const side = (arm: string, label: string, column: string) => ({
  arm,
  label,
  paper: { table: 11, row: label, column },
});

/** Claims: a lower P_min keeps more candidates and more mass; a higher one fewer (directions from Table 11). */
export const CLAIMS: Claim[] = (
  [["train/cand/size", "Avg Candidate Size", "candidate-set size (tokens)", 1], [
    "train/cand/mass",
    "Prob. Mass Coverage",
    "retained mass (%)",
    100,
  ]] as const
).flatMap(([metric, column, metricLabel, scale]) => [
  {
    id: `${metric}_005_vs_010`,
    metric,
    metricLabel,
    scale,
    treatment: side("p005", "P_min=0.05", column),
    control: side("p010", "P_min=0.10", column),
  },
  {
    id: `${metric}_020_vs_010`,
    metric,
    metricLabel,
    scale,
    treatment: side("p020", "P_min=0.20", column),
    control: side("p010", "P_min=0.10", column),
  },
]);

const EXTRA: ExtraRow[] = ARMS.map((a) => ({
  arm: a.name,
  label: a.label,
  metric: "eval/avg/mean",
  metricLabel: "avg@8 Avg. (%) (no paper number)",
}));

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
export const experiment: Experiment = {
  id: ID,
  question:
    "How large is DistRL's candidate set and how much policy mass does it keep for P_min in {0.05, 0.10, 0.20}, and does avg@8 change?",
  claim: {
    quote:
      "These results make P_min=0.1 a well-justified operating point: it keeps the candidate set very small in practice while still retaining most of the policy mass. Lower thresholds yield only limited additional coverage, whereas larger thresholds start to discard nontrivial policy mass.",
    source: "arXiv 2604.13197v2, App. D, Table 11",
    tables: [11],
  },
  arms: (_preset: ExperimentPreset) => [...ARMS],
  configDiff: (preset) => rlGrid(preset, ARMS).diff,
  run: (preset: ExperimentPreset, options: ExperimentOptions = {}): Promise<ExperimentResult> =>
    runExperiment(preset, {
      id: ID,
      caption:
        "Candidate set per P_min, ours beside Table 11 (Qwen3-0.6B SFT policy in the paper; pi_old during RL here)",
      arms: [...ARMS],
      ...rlGrid(preset, ARMS),
      claims: CLAIMS,
      extra: EXTRA,
      figures,
      yTitle: "value",
    }, options),
};

/** Runs experiment 07. */
export const run = experiment.run;
