/**
 * The shape every `lib/experiments/NN_name.ts` shares, and the two grid kinds most of them are:
 * reward-model grids (train an RM per arm and seed, evaluate it on the ProcessBench analogue and
 * best-of-N) and RL grids (one RL run per arm and seed, avg@8 per split and training curves).
 * An experiment module declares its question, the paper's claim, its arms as config overrides
 * with reasons, and the claims to test; {@linkcode runExperiment} does the rest.
 *
 * Imports beyond architecture.md's Pipeline / Report / Run, with their reason: the RM and RL
 * config modules (`RMConfig`, `RLConfigInput`, their resolvers and the RL budgets), because an
 * arm IS a typed partial of those configs and its config diff is printed resolved.
 * @module
 */
import type pl from "nodejs-polars";
import { PaperIndex } from "../report/paper.ts";
import { lineWithBands } from "../report/figures.ts";
import { summarizeSteps } from "../report/stats.ts";
import { resolveRMConfig, type RMConfig } from "../rm/config.ts";
import type { DeepPartial } from "../run/config.ts";
import { resolveRLConfig, RL_BUDGETS, type RLConfigInput } from "../rl/config.ts";
import {
  checkPreset,
  defaultSeeds,
  type ExperimentPreset,
  figuresRoot,
  type GridResult,
  type Metrics,
  pipelinePresetOf,
  runGrid,
  type RunOptions,
  type Series,
  seriesOf,
  type UnitOutput,
  type UnitRecord,
} from "./_runner.ts";
import { type RlOutcome, type RmEvaluation, Stages } from "../pipeline/stages.ts";
import {
  type Claim,
  claimBars,
  type ClaimResult,
  claimTable,
  evaluateClaim,
  evaluateLevels,
  type ExtraRow,
  formatArmDiffs,
  type LevelResult,
  type NamedFigure,
  type Override,
  overridesObject,
  readingOf,
  writeReport,
} from "./_summary.ts";

/** The paper's claim an experiment tests. */
export interface PaperClaim {
  /** The paper's sentence, verbatim. */
  quote: string;
  /** Where: section and table. */
  source: string;
  /** Paper tables this experiment puts our numbers beside. */
  tables: number[];
}

/** What the arms of each grid kind override: the RM trainer's config, or the RL config input. */
export interface GridConfigs {
  rm: RMConfig;
  rl: RLConfigInput;
}

/** The two grid kinds: train and evaluate an RM per unit, or run RL per unit. */
export type GridKind = keyof GridConfigs;

/**
 * One arm: a run-id name, a table label and its typed overrides of the base config (`C`:
 * {@linkcode RMConfig} for RM grids, {@linkcode RLConfigInput} for RL grids), each with a reason.
 */
export interface ArmSpec<C = unknown> {
  name: string;
  label: string;
  overrides: Override<C>[];
}

/** What every experiment's `run()` returns. */
export interface ExperimentResult {
  /** `NN_name`. */
  id: string;
  preset: ExperimentPreset;
  seeds: number[];
  /** Per (arm, seed) records (read back or new). */
  records: UnitRecord[];
  /** Every claim with our numbers and its verdict. */
  claims: ClaimResult[];
  /** The level rows (extra rows marked `level`): estimates beside the paper's, no verdict. */
  levels: LevelResult[];
  /** Ours beside the paper's (polars). */
  table: pl.DataFrame;
  /** Figures (also written under `figures/NN_name/`). */
  figures: NamedFigure[];
  /** Reading generated from the verdicts. */
  reading: string;
  /** The config diff of every arm, with reasons. */
  configDiff: string;
  /** Units run now / read back. */
  ran: string[];
  resumed: string[];
  /** Where results and figures went. */
  paths: { jsonl: string; parquet: string; figures: string };
  /** Wall seconds of this call. */
  seconds: number;
}

/** The public face of an experiment module (made by {@linkcode defineExperiment}). */
export interface Experiment<K extends GridKind = GridKind> {
  /** `NN_name` (run-id ablation segment and figures directory). */
  id: string;
  /** One question, as a sentence. */
  question: string;
  /** The paper's claim. */
  claim: PaperClaim;
  /** `"rm"`: an RM per unit; `"rl"`: an RL run per unit. */
  grid: K;
  /** The arms (a fresh copy: edit it and pass it to `run` / `configDiff`). */
  arms(): ArmSpec<GridConfigs[K]>[];
  /** The config diff of every arm (default the experiment's) against the base config, with reasons. */
  configDiff(preset: ExperimentPreset, arms?: readonly ArmSpec<GridConfigs[K]>[]): string;
  /** Runs (or resumes) the grid and writes its report. */
  run(preset: ExperimentPreset, options?: ExperimentOptions<K>): Promise<ExperimentResult>;
}

/** Options of an experiment's `run()`. */
export interface ExperimentOptions<K extends GridKind = GridKind> extends RunOptions {
  /** Shared stages (reproduce passes one instance to every experiment). */
  stages?: Stages;
  /** Arms to run instead of the experiment's own (a notebook's edited arms). */
  arms?: readonly ArmSpec<GridConfigs[K]>[];
}

/** Runs one unit of a grid. */
export type UnitFn<C> = (arm: ArmSpec<C>, seed: number, stages: Stages) => Promise<UnitOutput>;

/** What {@linkcode runExperiment} needs from an experiment module. */
export interface ExperimentDef<C> {
  id: string;
  /** Caption of the comparison table. */
  caption: string;
  arms: ArmSpec<C>[];
  /** Runs one unit. */
  unit: UnitFn<C>;
  /** Resolved config of an arm (saved beside its results). */
  config: (arm: ArmSpec<C>, seed: number, stages: Stages) => Record<string, unknown>;
  claims: Claim[];
  extra?: ExtraRow[];
  /** Figures from the records (the claim bars are added first). */
  figures?: (records: UnitRecord[], claims: ClaimResult[]) => NamedFigure[];
  /** Extra sentence for the reading. */
  note?: string;
  /** Axis title of the claim bars. */
  yTitle: string;
  diff: string;
}

/** Runs an experiment: the grid, the claims, the table, figures and reading, the report on disk. */
export async function runExperiment<C>(
  preset: ExperimentPreset,
  def: ExperimentDef<C>,
  options: RunOptions & { stages?: Stages } = {},
): Promise<ExperimentResult> {
  checkPreset(preset);
  const t0 = performance.now();
  const stages = options.stages ?? new Stages(pipelinePresetOf(preset), { log: options.log });
  const seeds = [...(options.seeds ?? defaultSeeds(preset))];
  const byName = new Map(def.arms.map((a) => [a.name, a]));
  const grid: GridResult = await runGrid({
    ...options,
    ablation: def.id,
    preset,
    seeds,
    arms: def.arms.map((a) => ({ name: a.name, config: (seed) => def.config(a, seed, stages) })),
    runUnit: (arm, seed) => def.unit(byName.get(arm)!, seed, stages),
    before: () => stages.backend(),
  });
  const paper = await PaperIndex.load();
  const armsRun = new Set(grid.records.map((r) => r.arm));
  const claims = def.claims
    .filter((c) => armsRun.has(c.treatment.arm) && armsRun.has(c.control.arm))
    .map((c) => evaluateClaim(grid.records, c, { paper }));
  const table = claimTable(claims, { paper, records: grid.records, extra: def.extra });
  const levels = evaluateLevels(grid.records, def.extra ?? [], { paper });
  const figures: NamedFigure[] = [];
  // One bar chart per metric: arms of different metrics do not share an axis.
  const metrics = [...new Set(claims.map((c) => c.claim.metricLabel))];
  for (const label of metrics) {
    const slug = label.toLowerCase().replace(/\(.*?\)/g, "").replace(/[^a-z0-9]+/g, "_").replace(
      /^_|_$/g,
      "",
    );
    figures.push({
      name: `claims_${slug}`,
      spec: claimBars(claims.filter((c) => c.claim.metricLabel === label), {
        title: `${label}: ours (mean, 95% CI over seeds) and the paper's (diamonds)`,
        yTitle: def.yTitle,
      }),
    });
  }
  figures.push(...(def.figures?.(grid.records, claims) ?? []));
  const reading = readingOf(claims, { preset, seeds, note: def.note });
  const figDir = `${figuresRoot(preset, options)}/${def.id}`;
  if (options.report ?? true) {
    await writeReport(figDir, { figures, table, reading, caption: def.caption });
  }
  return {
    id: def.id,
    preset,
    seeds,
    records: grid.records,
    claims,
    levels,
    table,
    figures,
    reading,
    configDiff: def.diff,
    ran: grid.ran,
    resumed: grid.resumed,
    paths: { ...grid.paths, figures: figDir },
    seconds: (performance.now() - t0) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Reward-model grids.

/** Flattens an RM evaluation into namespaced scalars (fractions, not percent). */
export function rmMetrics(ev: RmEvaluation): Metrics {
  const m: Metrics = {};
  for (const [scorer, f] of Object.entries(ev.pb.scorers)) {
    for (const mode of ["oracle", "transfer", "compat"] as const) {
      const r = f[mode];
      m[`pb/${scorer}/${mode}/avg`] = r.mean;
      for (const [b, v] of Object.entries(r.byBucket)) m[`pb/${scorer}/${mode}/${b}`] = v;
    }
  }
  for (const [picker, v] of Object.entries(ev.bon.average)) {
    if (v !== undefined) m[`bon/${picker}/avg`] = v;
  }
  for (const [split, line] of Object.entries(ev.bon.bySplit)) {
    for (const [picker, l] of Object.entries(line)) {
      if (!l) continue;
      m[`bon/${picker}/${split}/avg`] = l.mean;
      for (const [n, v] of Object.entries(l.byN)) m[`bon/${picker}/${split}@${n}`] = v;
    }
  }
  const last = ev.history.at(-1) as Record<string, unknown> | undefined;
  for (const k of ["evalLoss", "pairAccuracy", "prefixAccuracy", "trainLoss"]) {
    const v = last?.[k];
    if (typeof v === "number") m[`rm/${k}`] = v;
  }
  return m;
}

/** The resolved RM config of an arm (for diffs and config.json). */
export function resolveRmArm(
  preset: ExperimentPreset,
  overrides: DeepPartial<RMConfig>,
  seed = 1,
) {
  return resolveRMConfig(pipelinePresetOf(preset), { ...overrides, seed });
}

/** An {@linkcode ExperimentDef}'s unit/config/diff for a reward-model grid. */
export function rmGrid(preset: ExperimentPreset, arms: readonly ArmSpec<RMConfig>[]) {
  return {
    unit: async (arm: ArmSpec<RMConfig>, seed: number, stages: Stages): Promise<UnitOutput> => {
      const ev = await stages.rmEvaluation(overridesObject(arm.overrides), seed);
      return {
        metrics: rmMetrics(ev),
        extra: { keys: ev.keys },
        ...(ev.files
          ? {
            files: { "pb_items.json.gz": ev.files.pbItems, "bon_items.json.gz": ev.files.bonItems },
            ...(ev.files.rmWeights ? { models: { rm: ev.files.rmWeights } } : {}),
          }
          : {}),
      };
    },
    config: (arm: ArmSpec<RMConfig>, seed: number, stages: Stages) => ({
      rm: stages.rmConfig(overridesObject(arm.overrides), seed) as unknown as Record<
        string,
        unknown
      >,
      pipeline: stages.pipeline(seed) as unknown as Record<string, unknown>,
    }),
    diff: formatArmDiffs(arms, {
      resolve: (o) => resolveRmArm(preset, o),
      base: `resolveRMConfig("${
        pipelinePresetOf(preset)
      }") (lib/rm/config.ts: the paper's switches, the testbed budget)`,
    }),
  };
}

/** The three RMs of Tables 1, 2 and 14 (paper rows for Qwen3-0.6B). */
export const RM_ARMS: readonly ArmSpec<RMConfig>[] = [
  {
    name: "dpo",
    label: "DPO-RM",
    overrides: [{ set: { kind: "dpo" }, reason: "Eq. 1-2: the DPO-RM baseline (B3)" }],
  },
  {
    name: "implicit_prm",
    label: "Implicit PRM",
    overrides: [{
      set: { kind: "implicit_prm" },
      reason: "Eq. 4: Implicit PRM, cross-entropy on outcome labels (B4)",
    }],
  },
  { name: "ipvrm", label: "IPVRM", overrides: [] },
];

// ---------------------------------------------------------------------------------------------
// RL grids.

/** The resolved RL config of an arm. */
export function resolveRlArm(
  preset: ExperimentPreset,
  overrides: DeepPartial<RLConfigInput>,
  seed = 1,
) {
  const o = overrides as RLConfigInput;
  return resolveRLConfig({
    ...o,
    budget: { ...RL_BUDGETS.ablation[preset], ...o.budget },
    pipeline: pipelinePresetOf(preset),
    seed,
  });
}

function meanOf(xs: readonly number[]): number {
  const f = xs.filter((x) => Number.isFinite(x));
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
}

/** Metrics and curves of one RL run (fractions). */
export function rlMetrics(out: RlOutcome): UnitOutput {
  const m: Metrics = {};
  const last = out.evals.at(-1) ?? {};
  const first = out.evals.find((e) => e.step === 0) ?? {};
  for (const [k, v] of Object.entries(last)) if (k.startsWith("eval/")) m[k] = v;
  for (const [k, v] of Object.entries(first)) if (k.startsWith("eval/")) m[`sft/${k.slice(5)}`] = v;
  const keys = [
    "verifier/accuracy",
    "rm/score",
    "cand/size",
    "cand/mass",
    "rm/acc_before",
    "loss/policy",
  ];
  const series: Series = {};
  for (const k of keys) {
    const s = out.train.map((r) => r[k] ?? NaN);
    if (s.some((x) => Number.isFinite(x))) {
      series[k] = s;
      m[`train/${k}`] = meanOf(s);
    }
  }
  series["eval/avg/mean"] = out.evals.map((e) => e["eval/avg/mean"] ?? NaN);
  series["eval/step"] = out.evals.map((e) => e.step ?? NaN);
  return { metrics: m, series };
}

/** An {@linkcode ExperimentDef}'s unit/config/diff for an RL grid. */
export function rlGrid(preset: ExperimentPreset, arms: readonly ArmSpec<RLConfigInput>[]) {
  return {
    unit: async (
      arm: ArmSpec<RLConfigInput>,
      seed: number,
      stages: Stages,
    ): Promise<UnitOutput> => {
      const o = overridesObject(arm.overrides) as RLConfigInput;
      const run = await stages.rlRun(
        { ...o, budget: { ...RL_BUDGETS.ablation[preset], ...o.budget } },
        seed,
      );
      return {
        ...rlMetrics(run),
        ...(run.avgItems ? { files: { "avg_items.json": { json: run.avgItems } } } : {}),
        models: { policy: run.policyWeights },
      };
    },
    config: (arm: ArmSpec<RLConfigInput>, seed: number) =>
      resolveRlArm(preset, overridesObject(arm.overrides), seed) as unknown as Record<
        string,
        unknown
      >,
    diff: formatArmDiffs(arms, {
      resolve: (o) => resolveRlArm(preset, o),
      base:
        `resolveRLConfig({ method: "distrl", preset: "paper", pipeline: "${
          pipelinePresetOf(preset)
        }" }) with the RL budget ` +
        `${
          JSON.stringify(RL_BUDGETS.ablation[preset])
        } (lib/rl/config.ts RL_BUDGETS.ablation: fits the ${preset} preset's time)`,
    }),
  };
}

/** Per-arm training curves (mean and 95% band over seeds) of an RL grid. */
export function rlCurves(
  records: readonly UnitRecord[],
  options: {
    arms: readonly ArmSpec[];
    series: string;
    title: string;
    yTitle: string;
    scale?: number;
  },
): NamedFigure | null {
  const scale = options.scale ?? 1;
  const lines = options.arms.flatMap((a) => {
    const runs = seriesOf(records, { arm: a.name, series: options.series }).map((s) =>
      s.map((v) => v * scale)
    );
    if (
      runs.length < 2 || runs[0]!.length === 0 ||
      runs.some((r) => r.some((v) => !Number.isFinite(v)))
    ) return [];
    const steps = seriesOf(records, {
      arm: a.name,
      series: options.series === "eval/avg/mean" ? "eval/step" : options.series,
    })[0]!;
    const x = options.series === "eval/avg/mean" ? steps : runs[0]!.map((_, i) => i + 1);
    return [{ name: a.label, x, ...summarizeSteps(runs) }];
  });
  if (lines.length === 0) return null;
  return {
    name: options.series.replaceAll("/", "_"),
    spec: lineWithBands(lines, { title: options.title, xTitle: "RL step", yTitle: options.yTitle }),
  };
}

/** The RL arms of Table 5 (Qwen3-0.6B rows). */
export const RL_METHOD_ARMS: readonly ArmSpec<RLConfigInput>[] = [
  {
    name: "grpo",
    label: "GRPO w/ VR",
    overrides: [{
      set: { method: "grpo" },
      reason: "Table 5 'GRPO w/ VR': verifiable reward only (B10)",
    }],
  },
  {
    name: "prime",
    label: "PRIME",
    overrides: [{
      set: { method: "prime" },
      reason: "Table 5 'PRIME': Implicit PRM online, RLOO (B16)",
    }],
  },
  {
    name: "grpo_ipvrm",
    label: "GRPO w/ IPVRM",
    overrides: [{
      set: { method: "grpo_ipvrm" },
      reason: "Table 5 'GRPO w/ IPVRM': GAE over sampled-token TD, alpha 0 (B9-B10)",
    }],
  },
  { name: "distrl", label: "DistRL w/ IPVRM", overrides: [] },
];

// ---------------------------------------------------------------------------------------------
// One definition per experiment.

/** What an experiment module declares: its question, claim, arms, claims and report. */
export interface ExperimentSpec<K extends GridKind> {
  /** `NN_name` (run-id ablation segment and figures directory). */
  id: string;
  /** One question, as a sentence. */
  question: string;
  /** The paper's claim. */
  claim: PaperClaim;
  /** Caption of the comparison table. */
  caption: string;
  /** `"rm"`: train and evaluate an RM per unit; `"rl"`: one RL run per unit. */
  grid: K;
  /** The arms: typed overrides of the base config, each with its reason. */
  arms: readonly ArmSpec<GridConfigs[K]>[];
  /**
   * Runs one unit, when the experiment measures more than the grid's unit (RM: ProcessBench
   * and best-of-N; RL: avg@k and curves); `grid` is that unit, for experiments that extend it.
   */
  unit?: (
    arm: ArmSpec<GridConfigs[K]>,
    seed: number,
    stages: Stages,
    grid: UnitFn<GridConfigs[K]>,
  ) => Promise<UnitOutput>;
  /** The claims to test (arms of this experiment). */
  claims: Claim[];
  /** Extra rows of the comparison table. */
  extra?: ExtraRow[];
  /** Figures from the records (the claim bars are added first). */
  figures?: (records: UnitRecord[], claims: ClaimResult[]) => NamedFigure[];
  /** Extra sentence for the reading. */
  note?: string;
  /** Axis title of the claim bars. */
  yTitle: string;
  /** Seeds when the caller names none (default: the preset's, {@linkcode defaultSeeds}). */
  seeds?: readonly number[];
}

/** The grid (unit, config, diff) of each kind. */
const GRIDS: {
  [K in GridKind]: (
    preset: ExperimentPreset,
    arms: readonly ArmSpec<GridConfigs[K]>[],
  ) => {
    unit: UnitFn<GridConfigs[K]>;
    config: ExperimentDef<GridConfigs[K]>["config"];
    diff: string;
  };
} = { rm: rmGrid, rl: rlGrid };

/**
 * The one way to declare an experiment: its arms are data (typed overrides with reasons),
 * and `run` / `configDiff` take edited arms, so a notebook can change an arm and re-run.
 */
export function defineExperiment<K extends GridKind>(spec: ExperimentSpec<K>): Experiment<K> {
  const grid = (preset: ExperimentPreset, arms: readonly ArmSpec<GridConfigs[K]>[]) =>
    GRIDS[spec.grid](preset, arms);
  const copy = (arms: readonly ArmSpec<GridConfigs[K]>[]) => structuredClone([...arms]);
  return {
    id: spec.id,
    question: spec.question,
    claim: spec.claim,
    grid: spec.grid,
    arms: () => copy(spec.arms),
    configDiff: (preset, arms = spec.arms) => grid(preset, arms).diff,
    run: (preset, options = {}) => {
      const arms = [...(options.arms ?? spec.arms)];
      const g = grid(preset, arms);
      const unit: UnitFn<GridConfigs[K]> = spec.unit
        ? (arm, seed, stages) => spec.unit!(arm, seed, stages, g.unit)
        : g.unit;
      return runExperiment(preset, {
        id: spec.id,
        caption: spec.caption,
        arms,
        unit,
        config: g.config,
        diff: g.diff,
        claims: spec.claims,
        extra: spec.extra,
        figures: spec.figures,
        note: spec.note,
        yTitle: spec.yTitle,
      }, { ...options, seeds: options.seeds ?? spec.seeds });
    },
  };
}

/** Re-export for experiment modules. */
export { defaultSeeds, Stages };
export type { Claim, ExtraRow, NamedFigure, Override };
