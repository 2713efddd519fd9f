/**
 * 02 · Does IPVRM's temporal weighting (uniform vs early vs late, Eq. 16-18) change error
 * localisation and best-of-N? The paper reports uniform best on average (Tables 3, 4).
 * @module
 */
import {
  type ArmSpec,
  type Claim,
  defineExperiment,
  type Experiment,
  type ExtraRow,
} from "./_experiment.ts";
import type { RMConfig } from "../rm/config.ts";

const ID = "02_temporal_weighting";
const Q = "Qwen3-0.6B";

/** Uniform (the base), early and late weighting of the per-prefix losses. */
export const ARMS: readonly ArmSpec<RMConfig>[] = [
  { name: "uniform", label: "IPVRM", overrides: [] },
  {
    name: "early",
    label: "IPVRM_early",
    overrides: [{
      set: { ipvrm: { weighting: "early" } },
      reason: "Eq. 17: w_t decreasing in t (Table 3/4 IPVRM_early)",
    }],
  },
  {
    name: "late",
    label: "IPVRM_late",
    overrides: [{
      set: { ipvrm: { weighting: "late" } },
      reason: "Eq. 18: w_t increasing in t (Table 3/4 IPVRM_late)",
    }],
  },
];

/**
 * Claims (Sec. 4.2.2): early weighting beats uniform on ProcessBench F1 (Table 4) and late
 * weighting beats uniform on best-of-N (Table 3); directions come from the paper's numbers.
 */
export const CLAIMS: Claim[] = [
  ...(["early", "late"] as const).map((w) => ({
    id: `pb_${w}_vs_uniform`,
    metric: "pb/rm_process/oracle/avg",
    metricLabel: "PB F1 Avg. (%)",
    treatment: {
      arm: w,
      label: `IPVRM_${w}`,
      paper: { table: 4, row: `${Q} | IPVRM_${w}`, column: "Avg." },
    },
    control: {
      arm: "uniform",
      label: "IPVRM",
      paper: { table: 4, row: `${Q} | IPVRM`, column: "Avg." },
    },
  })),
  ...(["early", "late"] as const).map((w) => ({
    id: `bon_${w}_vs_uniform`,
    metric: "bon/rm/math500/avg",
    metricLabel: "BoN MATH-500 Avg. (%)",
    treatment: {
      arm: w,
      label: `IPVRM_${w}`,
      paper: { table: 3, row: `${Q} | IPVRM_${w}`, column: "Avg." },
    },
    control: {
      arm: "uniform",
      label: "IPVRM",
      paper: { table: 3, row: `${Q} | IPVRM`, column: "Avg." },
    },
  })),
];

const EXTRA: ExtraRow[] = ARMS.flatMap((a) =>
  [4, 16, 64].map((n) => ({
    arm: a.name,
    label: a.label,
    metric: `bon/rm/math500@${n}`,
    metricLabel: `BoN MATH-500 @${n} (%)`,
    paper: { table: 3, row: `${Q} | ${a.label}`, column: `MATH-500 | @${n}` },
  }))
);

/** Experiment 02 (module doc). */
export const experiment: Experiment<"rm"> = defineExperiment({
  id: ID,
  question:
    "Does weighting early prefixes help error localisation, and weighting late prefixes help best-of-N, relative to IPVRM's uniform weighting?",
  claim: {
    quote:
      "On BoN, IPVRM_late performs best, indicating that upweighting later prefixes is more helpful for whole-trajectory reranking [...] On ProcessBench, IPVRM_early achieves the best F1, suggesting that emphasizing earlier prefixes better supports process-level discrimination [...] The standard uniform objective remains the most balanced default across both settings.",
    source: "arXiv 2604.13197v2, Sec. 4.2.2, Tables 3 and 4",
    tables: [3, 4],
  },
  grid: "rm",
  arms: ARMS,
  caption: "IPVRM temporal weighting, ours beside Tables 3-4 (Qwen3-0.6B)",
  claims: CLAIMS,
  extra: EXTRA,
  yTitle: "F1 / accuracy (%)",
});

/** Runs experiment 02. */
export const run = experiment.run;
