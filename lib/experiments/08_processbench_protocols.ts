/**
 * 08 · Does IPVRM's lead hold under every ProcessBench protocol: oracle vs transfer thresholds,
 * process-level vs prefix-based step scores (Table 14)? Reuses 01's RMs and evaluations (cache).
 * @module
 */
import {
  type Claim,
  defineExperiment,
  type Experiment,
  type ExtraRow,
  RM_ARMS,
} from "./_experiment.ts";

const ID = "08_processbench_protocols";
const LABEL: Record<string, string> = {
  dpo: "DPO-RM",
  implicit_prm: "Implicit PRM",
  ipvrm: "IPVRM",
};
const PROTOCOLS = [["process", "Process-level"], ["prefix", "Prefix-based"]] as const;

/**
 * Claims: IPVRM beats each baseline with prefix-based step scores (oracle thresholds, Table 14)
 * and under transfer thresholds (fitted on one bucket, applied to all; the paper gives only the
 * direction). The process-level oracle comparison is 01's claim on the same RMs and evaluations
 * (cache): it appears once in the verdict table, there, and only as table rows here.
 */
export const CLAIMS: Claim[] = [
  ...PROTOCOLS.filter(([p]) => p === "prefix").flatMap(([p, name]) =>
    (["dpo", "implicit_prm"] as const).map((c): Claim => ({
      id: `${p}_ipvrm_vs_${c}`,
      metric: `pb/rm_${p}/oracle/avg`,
      metricLabel: `PB F1 Avg., ${name} (%)`,
      treatment: {
        arm: "ipvrm",
        label: `IPVRM (${name})`,
        ...(p === "prefix" ? { paper: { table: 14, row: `${name} | IPVRM`, column: "Avg." } } : {}),
      },
      control: {
        arm: c,
        label: `${LABEL[c]} (${name})`,
        paper: { table: 14, row: `${name} | ${LABEL[c]}`, column: "Avg." },
      },
      direction: "higher", // "IPVRM consistently outperforms DPO-RM and Implicit PRM under both formulations"
    }))
  ),
  ...(["dpo", "implicit_prm", "ipvrm"] as const).map((a): Claim => ({
    id: `transfer_ipvrm_vs_${a}`,
    metric: "pb/rm_process/transfer/avg",
    metricLabel: "PB F1 Avg., process-level, transfer threshold (%)",
    treatment: { arm: "ipvrm", label: "IPVRM (transfer)" },
    control: { arm: a, label: `${LABEL[a]} (transfer)` },
    direction: "higher",
  })).filter((c) => c.control.arm !== "ipvrm"),
];

const EXTRA: ExtraRow[] = RM_ARMS.flatMap((a) =>
  (["oracle", "transfer", "compat"] as const).flatMap((mode) =>
    PROTOCOLS.map(([p, name]) => ({
      arm: a.name,
      label: `${a.label} (${name}, ${mode})`,
      metric: `pb/rm_${p}/${mode}/avg`,
      metricLabel: "PB F1 Avg. (%)",
      ...(mode === "oracle" && !(p === "process" && a.name === "ipvrm")
        ? { paper: { table: 14, row: `${name} | ${a.label}`, column: "Avg." } }
        : {}),
    }))
  )
);

/** Experiment 08 (module doc). */
export const experiment: Experiment<"rm"> = defineExperiment({
  id: ID,
  question:
    "Does IPVRM's error-localisation lead hold under oracle and transfer thresholds and under process-level and prefix-based step scores?",
  claim: {
    quote:
      "IPVRM consistently outperforms DPO-RM and Implicit PRM under both formulations, demonstrating that its advantage is not dependent on the choice of evaluation protocol. At the same time, the process-level formulation yields consistently higher F1 scores across all methods",
    source: "arXiv 2604.13197v2, App. G, Table 14",
    tables: [14],
  },
  grid: "rm",
  arms: RM_ARMS,
  caption: "ProcessBench-analogue protocols, ours beside Table 14",
  claims: CLAIMS,
  extra: EXTRA,
  yTitle: "F1 (%)",
  note:
    "Table 14's 'Process-level | IPVRM' row is missing from the paper's source text; that cell is left empty, never filled in.",
});

/** Runs experiment 08. */
export const run = experiment.run;
