/**
 * 04 · Do the balanced online RM updates (ADB + DLW, Eq. 15) help DistRL, and does IPVRM beat
 * Implicit PRM as DistRL's online RM (Table 8)? The `adb_dlw` arm is 03's DistRL run (cache).
 * @module
 */
import {
  type ArmSpec,
  type Claim,
  defineExperiment,
  type Experiment,
  type NamedFigure,
  rlCurves,
} from "./_experiment.ts";
import type { RLConfigInput } from "../rl/config.ts";
import type { UnitRecord } from "./_runner.ts";

const ID = "04_online_update";

/** DistRL with IPVRM, with / without ADB+DLW, and with Implicit PRM without them (Table 8 rows). */
export const ARMS: readonly ArmSpec<RLConfigInput>[] = [
  { name: "adb_dlw", label: "IPVRM w/ ADB/DLW", overrides: [] },
  {
    name: "no_adb_dlw",
    label: "IPVRM w/o ADB/DLW",
    overrides: [
      {
        set: { switches: { adb: false } },
        reason:
          "Table 8 'IPVRM w/o ADB/DLW': no adaptive difficulty boundary (Eq. 15 margin m only)",
      },
      {
        set: { switches: { dlw: "off" } },
        reason: "Table 8 'IPVRM w/o ADB/DLW': no dynamic loss weighting",
      },
    ],
  },
  {
    name: "implicit_prm",
    label: "Implicit PRM w/o ADB/DLW",
    overrides: [
      {
        set: { rm: "implicit_prm" },
        reason: "Table 8 'Implicit PRM w/o ADB/DLW': the same DistRL pipeline with Implicit PRM",
      },
      { set: { switches: { adb: false } }, reason: "Table 8: w/o ADB/DLW" },
      { set: { switches: { dlw: "off" } }, reason: "Table 8: w/o ADB/DLW" },
    ],
  },
];

const ref = (row: string) => ({ table: 8, row, column: "Avg." });

/** Claims of Table 8 (avg@8 Avg.) and Fig. 6's RM accuracy during training. */
export const CLAIMS: Claim[] = [
  {
    id: "avg_adb_dlw_vs_none",
    metric: "eval/avg/mean",
    metricLabel: "avg@8 Avg. (%)",
    treatment: { arm: "adb_dlw", label: "IPVRM w/ ADB/DLW", paper: ref("IPVRM w/ ADB/DLW") },
    control: { arm: "no_adb_dlw", label: "IPVRM w/o ADB/DLW", paper: ref("IPVRM w/o ADB/DLW") },
  },
  {
    id: "avg_ipvrm_vs_implicit_prm",
    metric: "eval/avg/mean",
    metricLabel: "avg@8 Avg. (%)",
    treatment: { arm: "no_adb_dlw", label: "IPVRM w/o ADB/DLW", paper: ref("IPVRM w/o ADB/DLW") },
    control: {
      arm: "implicit_prm",
      label: "Implicit PRM w/o ADB/DLW",
      paper: ref("Implicit PRM w/o ADB/DLW"),
    },
  },
  {
    id: "rm_acc_adb_dlw_vs_none",
    metric: "train/rm/acc_before",
    metricLabel: "online RM pair accuracy during training (%)",
    treatment: { arm: "adb_dlw", label: "IPVRM w/ ADB/DLW" },
    control: { arm: "no_adb_dlw", label: "IPVRM w/o ADB/DLW" },
    direction: "higher", // Fig. 6: "naive online updating is unstable: RM accuracy quickly collapses toward chance level"
  },
];

function figures(records: UnitRecord[]): NamedFigure[] {
  return [
    rlCurves(records, {
      arms: ARMS,
      series: "rm/acc_before",
      title: "Online RM pair accuracy per RL step (Fig. 6 analogue)",
      yTitle: "accuracy (%)",
      scale: 100,
    }),
    rlCurves(records, {
      arms: ARMS,
      series: "eval/avg/mean",
      title: "avg@8 during RL",
      yTitle: "avg@8 (%)",
      scale: 100,
    }),
  ].filter((f): f is NamedFigure => f !== null);
}

/** Experiment 04 (module doc). */
export const experiment: Experiment<"rl"> = defineExperiment({
  id: ID,
  question:
    "Do balanced online RM updates (ADB + DLW) improve DistRL, and is IPVRM a better online RM than Implicit PRM?",
  claim: {
    quote:
      "Replacing Implicit PRM with IPVRM under the same DistRL pipeline improves the average score from 14.7 to 15.4 even without ADB/DLW, and adding ADB/DLW further raises it to 16.2.",
    source: "arXiv 2604.13197v2, Sec. 4.3.2, Table 8, Fig. 6",
    tables: [8],
  },
  grid: "rl",
  arms: ARMS,
  caption: "Online RM update with / without ADB+DLW, ours beside Table 8 (Qwen3-0.6B)",
  claims: CLAIMS,
  figures,
  yTitle: "value",
});

/** Runs experiment 04. */
export const run = experiment.run;
