/**
 * 00 · Quickstart: train (or load) the SFT policy, sample a few answers, verify them, and score
 * one correct and one wrong trace with IPVRM, plotting sigma(v̄_t) along each trace.
 * No claim is tested; the numbers show every stage running end to end.
 * @module
 */
import { scatter } from "../report/figures.ts";
// Beyond Pipeline/Report/Run (architecture.md): the quickstart scores two traces with the
// trained RM it got from the stage graph, which is what it shows a new user.
import { disposePair, scoreSequences } from "../rm/score.ts";
import {
  type ArmSpec,
  defineExperiment,
  type Experiment,
  type NamedFigure,
  type Stages,
} from "./_experiment.ts";
import type { RMConfig } from "../rm/config.ts";
import type { UnitOutput, UnitRecord } from "./_runner.ts";

const ID = "00_quickstart";
const ARMS: readonly ArmSpec<RMConfig>[] = [{ name: "ipvrm", label: "IPVRM", overrides: [] }];

async function unit(arm: ArmSpec<RMConfig>, seed: number, stages: Stages): Promise<UnitOutput> {
  const data = await stages.rmData(seed); // sampled from the SFT policy and verified (pipeline step 2)
  const rm = await stages.rewardModel({}, seed);
  try {
    const correct = data.raw.findIndex((r) => r.correct === 1);
    const wrong = data.raw.findIndex((r) => r.correct === 0);
    const picks = [correct, wrong].filter((i) => i >= 0);
    const scored = await scoreSequences(rm.pair, picks.map((i) => data.rollouts[i]!), {
      beta: rm.config.beta,
    });
    const series: Record<string, number[]> = {};
    picks.forEach((i, k) => {
      series[data.raw[i]!.correct ? "correct/sigma_vbar" : "wrong/sigma_vbar"] = Array.from(
        scored[k]!.meanValues,
        (v) => 1 / (1 + Math.exp(-v)),
      );
    });
    const acc = data.raw.reduce((a, r) => a + r.correct, 0) / data.raw.length;
    return {
      metrics: { "sft/accuracy_on_rm_prompts": acc, "rm_data/rollouts": data.raw.length },
      series,
      extra: {
        traces: picks.map((i) => ({
          prompt: data.raw[i]!.prompt,
          response: data.raw[i]!.response,
          correct: data.raw[i]!.correct,
          label: data.raw[i]!.label,
        })),
        arm: arm.name,
      },
    };
  } finally {
    disposePair(rm.pair);
  }
}

function figures(records: UnitRecord[]): NamedFigure[] {
  const r = records[0];
  if (!r?.series) return [];
  const lines = Object.entries(r.series).map(([name, ys]) => ({
    name: name.split("/")[0]!,
    x: ys.map((_, i) => i + 1),
    y: ys,
  }));
  return [{
    name: "trace_values",
    spec: scatter(lines, {
      title: "IPVRM sigma(v̄_t) along one correct and one wrong SFT trace",
      xTitle: "response token t",
      yTitle: "sigma(v̄_t)",
    }),
  }];
}

/** Experiment 00 (module doc). */
export const experiment: Experiment<"rm"> = defineExperiment({
  id: ID,
  question:
    "Does every stage run: SFT policy, sampling, verification, RM training and scoring a trace?",
  claim: {
    quote: 'σ(v̄_t) is read as "probability that the trajectory through token t ends correct"',
    source: "methods.md (a), after arXiv 2604.13197v2 Sec. 3",
    tables: [],
  },
  grid: "rm",
  arms: ARMS,
  caption: "Quickstart: the SFT policy's accuracy on the RM prompts",
  unit,
  claims: [],
  extra: [{
    arm: "ipvrm",
    label: "SFT policy",
    metric: "sft/accuracy_on_rm_prompts",
    metricLabel: "accuracy at T=1 on mixed RM prompts (%)",
  }],
  figures,
  yTitle: "%",
  seeds: [1],
});

/** Runs the quickstart. */
export const run = experiment.run;
