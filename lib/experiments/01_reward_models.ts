/**
 * 01 · Does IPVRM localise errors and pick best-of-N answers better than DPO-RM and Implicit PRM?
 *
 * Arms: the three implicit RMs (DPO-RM, Implicit PRM, IPVRM), each trained on the same seed's RM
 * data; ProcessBench-analogue F1 per bucket (process-level scoring, oracle thresholds, as the
 * paper's Table 2) and best-of-N @4/16/64 (Table 1), beside the random and SFT-log-prob baselines.
 * @module
 */
import {
  type Claim,
  defineExperiment,
  type Experiment,
  type ExtraRow,
  RM_ARMS,
} from "./_experiment.ts";

const ID = "01_reward_models";
const Q = "Qwen3-0.6B";
const PB_COLS: Record<string, string> = {
  gsm8k: "GSM8K",
  math: "MATH",
  olympiadbench: "OlympiadBench",
  omnimath: "OmniMath",
};

/** Claims: IPVRM vs each baseline on PB F1 Avg. (Table 2) and BoN Avg. (Table 1). */
export const CLAIMS: Claim[] = (["dpo", "implicit_prm"] as const).flatMap((c) => {
  const label = c === "dpo" ? "DPO-RM" : "Implicit PRM";
  return [
    {
      id: `pb_ipvrm_vs_${c}`,
      metric: "pb/rm_process/oracle/avg",
      metricLabel: "PB F1 Avg. (%)",
      treatment: {
        arm: "ipvrm",
        label: "IPVRM",
        paper: { table: 2, row: `${Q} | IPVRM`, column: "Avg." },
      },
      control: { arm: c, label, paper: { table: 2, row: `${Q} | ${label}`, column: "Avg." } },
    },
    {
      id: `bon_ipvrm_vs_${c}`,
      metric: "bon/rm/avg",
      metricLabel: "BoN acc. Avg. (%)",
      treatment: {
        arm: "ipvrm",
        label: "IPVRM",
        paper: { table: 1, row: `${Q} | IPVRM`, column: "Avg." },
      },
      control: { arm: c, label, paper: { table: 1, row: `${Q} | ${label}`, column: "Avg." } },
    },
  ];
});

/**
 * Baselines as verdict rows (statistics.md): every RM against the random scorer and the SFT
 * policy's log-prob on the ProcessBench analogue (process-level and prefix-based step scores,
 * oracle thresholds) and best-of-N, and against majority vote on best-of-N. The baseline
 * scorers run inside the same unit (same seed, same rows), so each difference is paired. These
 * rows say whether the testbed can tell an RM from no RM at all.
 */
export const BASELINES: Claim[] = RM_ARMS.flatMap((a) => {
  const pb = (
    [["process", "process-level"], ["prefix", "prefix-based"]] as const
  ).flatMap(([p, name]) =>
    ([["random", "random"], ["sft_logprob", "policy log-prob"]] as const).map(([b, bl]): Claim => ({
      id: `baseline_pb_${p}_${a.name}_vs_${b}`,
      kind: "baseline",
      metric: `pb/rm_${p}/oracle/avg`,
      metricLabel: `PB F1 Avg., ${name} (%)`,
      treatment: { arm: a.name, label: `${a.label} (${name})` },
      control: { arm: a.name, label: bl, metric: `pb/${b}/oracle/avg` },
      direction: "higher",
    }))
  );
  const bon = ([["random", "random"], ["sft_logprob", "policy log-prob"], [
    "majority",
    "majority vote",
  ]] as const).map(([b, bl]): Claim => ({
    id: `baseline_bon_${a.name}_vs_${b}`,
    kind: "baseline",
    metric: "bon/rm/avg",
    metricLabel: "BoN acc. Avg. (%)",
    treatment: { arm: a.name, label: a.label },
    control: { arm: a.name, label: bl, metric: `bon/${b}/avg` },
    direction: "higher",
  }));
  return [...pb, ...bon];
});

function extraRows(): ExtraRow[] {
  const rows: ExtraRow[] = [];
  for (const a of RM_ARMS) {
    for (const [b, col] of Object.entries(PB_COLS)) {
      rows.push({
        arm: a.name,
        label: a.label,
        metric: `pb/rm_process/oracle/${b}`,
        metricLabel: `PB F1 ${col} (%)`,
        paper: { table: 2, row: `${Q} | ${a.label}`, column: col },
      });
    }
    for (const [split, col] of [["math500", "MATH-500"], ["minerva", "Minerva-Math"]] as const) {
      for (const n of [4, 16, 64]) {
        rows.push({
          arm: a.name,
          label: a.label,
          metric: `bon/rm/${split}@${n}`,
          metricLabel: `BoN ${col} @${n} (%)`,
          paper: { table: 1, row: `${Q} | ${a.label}`, column: `${col} | @${n}` },
        });
      }
    }
  }
  // Baselines (testbed.md step 4): every table carries random scores and the SFT policy's log-prob.
  rows.push({
    arm: "ipvrm",
    label: "baseline: SFT log-prob",
    metric: "pb/sft_logprob/oracle/avg",
    metricLabel: "PB F1 Avg. (%)",
  });
  rows.push({
    arm: "ipvrm",
    label: "baseline: random",
    metric: "pb/random/oracle/avg",
    metricLabel: "PB F1 Avg. (%)",
  });
  rows.push({
    arm: "ipvrm",
    label: "baseline: SFT log-prob",
    metric: "bon/sft_logprob/avg",
    metricLabel: "BoN acc. Avg. (%)",
  });
  rows.push({
    arm: "ipvrm",
    label: "baseline: random",
    metric: "bon/random/avg",
    metricLabel: "BoN acc. Avg. (%)",
  });
  rows.push({
    arm: "ipvrm",
    label: "reference: majority vote",
    metric: "bon/majority/avg",
    metricLabel: "BoN acc. Avg. (%)",
  });
  rows.push({
    arm: "ipvrm",
    label: "reference: pass@N",
    metric: "bon/pass/avg",
    metricLabel: "BoN acc. Avg. (%)",
  });
  return rows;
}

/** Experiment 01 (module doc). */
export const experiment: Experiment<"rm"> = defineExperiment({
  id: ID,
  question:
    "Does IPVRM localise first errors (ProcessBench-analogue F1) and rank best-of-N samples better than DPO-RM and Implicit PRM?",
  claim: {
    quote:
      "By directly supervising prefix-conditioned values, IPVRM enforces prefix–outcome consistency and yields substantially stronger error localization across backbones (e.g., +11.3 F1 over DPO-RM on Qwen3-0.6B).",
    source: "arXiv 2604.13197v2, Sec. 4.2.1, Tables 1 and 2",
    tables: [1, 2],
  },
  grid: "rm",
  arms: RM_ARMS,
  caption:
    "RMs on the ProcessBench analogue (process-level, oracle threshold) and best-of-N, ours beside Tables 1-2 (Qwen3-0.6B)",
  claims: [...BASELINES, ...CLAIMS],
  extra: extraRows(),
  yTitle: "F1 / accuracy (%)",
});

/** Runs experiment 01. */
export const run = experiment.run;
