/**
 * 05 · Is the behaviour policy (pi_old) a better reference for DistRL's log-ratio than the
 * fixed SFT policy (Table 9, App. B)? The `old` arm is 03's DistRL run (cache).
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
} from "./_experiment.ts";
import type { RLConfigInput } from "../rl/config.ts";
import type { UnitRecord } from "./_runner.ts";

const ID = "05_reference_choice";
const Q = "Qwen3-0.6B";
const SPLITS = [["aime", "AIME"], ["math500", "MATH-500"], ["minerva", "Minerva-Math"], [
  "olympiadbench",
  "OlympiadBench",
], ["amc", "AMC"]] as const;

/** Behaviour policy (the base, Sec. 3.2) vs the SFT model as the reference. */
export const ARMS: readonly ArmSpec<RLConfigInput>[] = [
  { name: "old", label: "Behavior Policy", overrides: [] },
  {
    name: "sft",
    label: "SFT Model",
    overrides: [{
      set: { switches: { ref: "sft" } },
      reason:
        "App. B / Table 9 'SFT Model': pi_ref fixed to the initial supervised fine-tuned policy",
    }],
  },
];

/** Claim: behaviour policy > SFT model on avg@8 Avg. (Table 9). */
export const CLAIMS: Claim[] = [{
  id: "avg_old_vs_sft",
  metric: "eval/avg/mean",
  metricLabel: "avg@8 Avg. (%)",
  treatment: {
    arm: "old",
    label: "Behavior Policy",
    paper: { table: 9, row: `${Q} | Behavior Policy`, column: "Avg." },
  },
  control: {
    arm: "sft",
    label: "SFT Model",
    paper: { table: 9, row: `${Q} | SFT Model`, column: "Avg." },
  },
}];

const EXTRA: ExtraRow[] = ARMS.flatMap((a) =>
  SPLITS.map(([s, col]) => ({
    arm: a.name,
    label: a.label,
    metric: `eval/avg/${s}`,
    metricLabel: `avg@8 ${col} (%)`,
    paper: { table: 9, row: `${Q} | ${a.label}`, column: col },
  }))
);

function figures(records: UnitRecord[]): NamedFigure[] {
  const f = rlCurves(records, {
    arms: ARMS,
    series: "eval/avg/mean",
    title: "avg@8 during RL by reference",
    yTitle: "avg@8 (%)",
    scale: 100,
  });
  return f ? [f] : [];
}

/** Experiment 05 (module doc). */
export const experiment: Experiment<"rl"> = defineExperiment({
  id: ID,
  question:
    "Does measuring DistRL's log-ratio against the behaviour policy beat measuring it against the fixed SFT policy?",
  claim: {
    quote:
      "As shown in Table 9, the Behavior Policy reference consistently outperforms the SFT Model. For Qwen3-0.6B, using the behavior policy reference improves the average accuracy from 15.2% to 16.7%",
    source: "arXiv 2604.13197v2, App. B, Table 9",
    tables: [9],
  },
  grid: "rl",
  arms: ARMS,
  caption: "Reference choice for DistRL, ours beside Table 9 (Qwen3-0.6B)",
  claims: CLAIMS,
  extra: EXTRA,
  figures,
  yTitle: "avg@8 (%)",
});

/** Runs experiment 05. */
export const run = experiment.run;
