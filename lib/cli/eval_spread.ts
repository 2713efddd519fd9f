/**
 * How much of a row's seed-to-seed spread the evaluation alone explains (statistics.md
 * "Variance reduction"; issue 15 item 4): the SFT policy's avg@k over `--eval-seeds` evaluation
 * seeds (the counter stream `rl/eval` of each seed, the same draws an RL arm's evaluation uses),
 * once with the evaluation before this change (k = 8 on 20 problems per split) and once with the
 * current one (the preset's ablation budget: k = 32 on every problem of each split). The SD over
 * evaluation seeds is the evaluation's own noise; against each avg@k row of
 * `results/<preset>/verdicts.json` (when present) it gives the share of the row's variance that
 * evaluation noise alone would produce: `2 SD_eval² / SD_row²` for a difference of two
 * independently evaluated arms (an upper bound: arms share their uniforms, which lowers it).
 *
 * ```
 * deno task eval-spread [--preset default|smoke|full|gpu] [--eval-seeds N] [--results DIR]
 * ```
 * Writes `<results>/eval_spread.json` and `.md`; prints the table. Needs the SFT policy (built
 * and cached if missing).
 * @module
 */
import { rlEvalSets, Stages } from "../pipeline/stages.ts";
import { evaluatePolicy } from "../rl/run.ts";
import { resolveRLConfig, RL_BUDGETS } from "../rl/config.ts";
import { mean, sampleStd, studentTQuantile } from "../report/stats.ts";
import { EXPERIMENT_PRESET_NAMES, type ExperimentPreset } from "../vocabulary.ts";
import { pipelinePresetOf } from "../experiments/_runner.ts";
import { argValue, oneOf, positiveIntArg } from "./_args.ts";
import { exitUsage } from "./_main.ts";

/** One evaluation protocol of the SFT policy. */
export interface SpreadProtocol {
  name: string;
  k: number;
  problemsPerSplit: number;
  /** avg@k (mean over splits, fraction) per evaluation seed. */
  values: number[];
  mean: number;
  /** SD over evaluation seeds (fraction). */
  sd: number;
}

/** A verdict row's spread against the evaluation's. */
export interface RowShare {
  experiment: string;
  claim: string;
  n: number;
  /** SD of the row's per-seed values (points), from its CI. */
  sdRow: number;
  /** Upper bound of the row variance that evaluation noise explains (0..1). */
  evalShare: number;
}

/**
 * The SD of a row's per-seed values recovered from its Student-t CI: `half / t(0.975, n−1) · √n`.
 *
 * @example
 * ```ts
 * import { assertAlmostEquals } from "@std/assert";
 * import { sdFromCi } from "./eval_spread.ts";
 * // [1, 2, 3]: mean 2, SD 1, half-width 4.302653 / sqrt(3)
 * assertAlmostEquals(sdFromCi(2 - 2.484138, 2 + 2.484138, 3), 1, 1e-6);
 * ```
 */
export function sdFromCi(lo: number, hi: number, n: number): number {
  if (!(n >= 2)) throw new RangeError(`Invalid n: expected >= 2 seeds, got ${n}`);
  return ((hi - lo) / 2) / studentTQuantile(0.975, n - 1) * Math.sqrt(n);
}

/** `min(1, 2 sdEval² / sdRow²)`: both in the same units. */
export function evalShareOf(sdEval: number, sdRow: number): number {
  return sdRow > 0 ? Math.min(1, (2 * sdEval * sdEval) / (sdRow * sdRow)) : NaN;
}

async function protocol(
  stages: Stages,
  preset: ExperimentPreset,
  name: string,
  over: { evalK: number; evalProblemsPerSplit: number },
  seeds: number[],
): Promise<SpreadProtocol> {
  const sft = await stages.loadSft();
  const sets = await stages.avgSets();
  const values: number[] = [];
  try {
    for (const s of seeds) {
      const config = resolveRLConfig({
        method: "grpo",
        budget: { ...RL_BUDGETS.ablation[preset], ...over },
        pipeline: pipelinePresetOf(preset),
        seed: s,
      });
      const t0 = performance.now();
      const r = await evaluatePolicy(sft, rlEvalSets(sets, config), config);
      values.push(r.mean.avg);
      console.error(
        `[eval-spread] ${name} seed ${s}: avg ${(100 * r.mean.avg).toFixed(2)}% in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        }s`,
      );
    }
  } finally {
    sft.dispose();
  }
  return {
    name,
    ...{ k: over.evalK, problemsPerSplit: over.evalProblemsPerSplit },
    values,
    mean: mean(values),
    sd: sampleStd(values),
  };
}

if (import.meta.main) {
  let preset: ExperimentPreset, n: number, resultsDir: string;
  try {
    preset = oneOf(Deno.args, "--preset", EXPERIMENT_PRESET_NAMES) ?? "default";
    n = positiveIntArg(Deno.args, "--eval-seeds") ?? 10;
    resultsDir = argValue(Deno.args, "--results") ?? `results/${preset}`;
  } catch (e) {
    exitUsage(e);
  }
  const stages = new Stages(pipelinePresetOf(preset), { log: (l) => console.error(l) });
  await stages.backend();
  const seeds = Array.from({ length: n }, (_, i) => i + 1);
  const now = resolveRLConfig({
    method: "grpo",
    budget: RL_BUDGETS.ablation[preset],
    pipeline: pipelinePresetOf(preset),
    seed: 1,
  }).budget;
  const before = await protocol(stages, preset, "before (k=8, 20 problems/split)", {
    evalK: 8,
    evalProblemsPerSplit: 20,
  }, seeds);
  const after = await protocol(
    stages,
    preset,
    `now (k=${now.evalK}, ${now.evalProblemsPerSplit} problems/split)`,
    { evalK: now.evalK, evalProblemsPerSplit: now.evalProblemsPerSplit },
    seeds,
  );
  const rows: RowShare[] = [];
  try {
    const v = JSON.parse(await Deno.readTextFile(`${resultsDir}/verdicts.json`));
    for (const r of v.rows as Record<string, unknown>[]) {
      if (r.kind !== "claim" || !String(r.metric).startsWith("avg@")) continue;
      const nn = Number(r.n);
      if (!(nn >= 2) || typeof r.ci_low !== "number" || typeof r.ci_high !== "number") continue;
      const sdRow = sdFromCi(r.ci_low, r.ci_high, nn);
      rows.push({
        experiment: String(r.experiment),
        claim: String(r.claim),
        n: nn,
        sdRow,
        evalShare: evalShareOf(100 * after.sd, sdRow),
      });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const pct = (x: number) => (100 * x).toFixed(2);
  const md = [
    `# Evaluation noise of avg@k (${preset}, SFT policy, ${n} evaluation seeds)`,
    "",
    "| protocol | mean avg@k (%) | SD over evaluation seeds (points) |",
    "|---|---|---|",
    ...[before, after].map((p) => `| ${p.name} | ${pct(p.mean)} | ${pct(p.sd)} |`),
    "",
    `Variance ratio now / before: ${(after.sd ** 2 / before.sd ** 2).toFixed(3)}.`,
    "",
    ...(rows.length
      ? [
        "Share of each avg@k row's seed-to-seed variance that the evaluation alone explains (upper bound `2 SD_eval² / SD_row²`, arms evaluated independently; shared uniforms lower it):",
        "",
        "| experiment | claim | n | SD of the row (points) | evaluation share |",
        "|---|---|---|---|---|",
        ...rows.map((r) =>
          `| ${r.experiment} | ${r.claim} | ${r.n} | ${r.sdRow.toFixed(2)} | ${
            Number.isFinite(r.evalShare) ? (100 * r.evalShare).toFixed(0) + "%" : "—"
          } |`
        ),
      ]
      : [`(no ${resultsDir}/verdicts.json: run \`deno task reproduce\` for the per-row shares)`]),
    "",
  ].join("\n");
  await Deno.mkdir(resultsDir, { recursive: true });
  await Deno.writeTextFile(
    `${resultsDir}/eval_spread.json`,
    JSON.stringify({ preset, evalSeeds: seeds, protocols: [before, after], rows }, null, 1),
  );
  await Deno.writeTextFile(`${resultsDir}/eval_spread.md`, md);
  console.log(md);
  Deno.exit(0);
}
