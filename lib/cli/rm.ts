/**
 * Trains (or loads from the artifact cache) one implicit reward model on the pipeline's RM data
 * and evaluates it: ProcessBench-analogue F1 per bucket (process-level and prefix-based scoring,
 * oracle / transfer / compat thresholds) and best-of-N @4/16/64, each beside the random and
 * SFT-log-prob baselines (and majority vote / pass@N for BoN). Results go to
 * `results/rm/<run_id>/` (`config.json`, `results.jsonl` as records complete, `results.json`).
 *
 * ```
 * deno run -A lib/cli/rm.ts --rm dpo|implicit_prm|ipvrm [--weighting uniform|early|late]
 *   [--margin M] [--reduction sequence|token] [--switches paper|repo]
 *   [--preset smoke|default|gpu] [--seed N] [--backend B] [--rebuild] [--out DIR]
 * ```
 * `--seed N` seeds the RM's shuffle/held-out split AND the RM data's sampling (testbed.md:
 * seeds must vary both); N = 1 uses the pipeline's default RM data.
 * @module
 */
import { formatDuration } from "../run/progress.ts";
import { openJsonl, saveResolvedConfig } from "../run/results.ts";
import { formatRunId } from "../run/run_id.ts";
import {
  PIPELINE_PRESET_NAMES,
  type PipelinePreset,
  SWITCH_PRESET_NAMES,
  type SwitchPreset,
} from "../vocabulary.ts";
import { Stages } from "../pipeline/stages.ts";
import { type ResolvedRMConfig, resolveRMConfig, variantName } from "../rm/config.ts";
import { RM_KINDS, type RMKind } from "../rm/kinds.ts";
import type { Reduction, Weighting } from "../rm/losses.ts";
import { disposePair } from "../rm/score.ts";
import {
  type BonReport,
  evaluateBestOfN,
  evaluateProcessBench,
  type PbReport,
} from "../rm/evaluate.ts";
import { argValue, numberArg, oneOf } from "./_args.ts";
import { checkBackendArg, exitUsage, startBackend } from "./_main.ts";

const pct = (
  x: number | undefined,
) => (x === undefined || !Number.isFinite(x) ? "   -  " : (100 * x).toFixed(1).padStart(6));

/** Prints the oracle-mode F1 table (RM process/prefix beside both baselines). */
export function formatPbTable(
  rep: PbReport,
  mode: "oracle" | "transfer" | "compat" = "oracle",
): string {
  const head = [
    "scorer".padEnd(14),
    ...rep.buckets.map((b) => b.slice(0, 8).padStart(9)),
    "     avg",
  ].join("");
  const lines = [`ProcessBench analogue F1 (%) [${mode}], ${rep.rows} rows`, head];
  for (const s of ["rm_process", "rm_prefix", "sft_logprob", "random"] as const) {
    const m = rep.scorers[s][mode];
    lines.push(
      [
        s.padEnd(14),
        ...rep.buckets.map((b) => pct(m.byBucket[b]).padStart(9)),
        pct(m.mean).padStart(8),
      ].join(""),
    );
  }
  return lines.join("\n");
}

/** Prints the best-of-N table per split and averaged. */
export function formatBonTable(rep: BonReport): string {
  const cols = rep.splits.flatMap((s) => rep.ns.map((n) => `${s.slice(0, 6)}@${n}`));
  const lines = [
    `Best-of-N accuracy (%)`,
    ["picker".padEnd(12), ...cols.map((c) => c.padStart(11)), "     avg"].join(""),
  ];
  for (const p of ["rm", "rm_min", "sft_logprob", "random", "majority", "pass"] as const) {
    if (rep.average[p] === undefined) continue;
    const vals = rep.splits.flatMap((s) => rep.ns.map((n) => rep.bySplit[s]![p]!.byN[String(n)]));
    lines.push(
      [p.padEnd(12), ...vals.map((v) => pct(v).padStart(11)), pct(rep.average[p]).padStart(8)].join(
        "",
      ),
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const args = Deno.args;
  let kind: RMKind, preset: PipelinePreset, switches: SwitchPreset;
  let weighting: Weighting | undefined,
    reduction: Reduction | undefined,
    margin: number | undefined,
    seed: number,
    rmConfig: ResolvedRMConfig;
  try {
    const k = oneOf(args, "--rm", RM_KINDS);
    if (!k) throw new RangeError(`Invalid --rm: expected one of ${RM_KINDS.join(", ")} (required)`);
    kind = k;
    preset = oneOf(args, "--preset", PIPELINE_PRESET_NAMES, "default")!;
    switches = oneOf(args, "--switches", SWITCH_PRESET_NAMES, "paper")!;
    weighting = oneOf(args, "--weighting", ["uniform", "early", "late"] as const);
    reduction = oneOf(args, "--reduction", ["sequence", "token"] as const);
    margin = numberArg(args, "--margin", (n) => Number.isFinite(n) && n >= 0, "a number >= 0");
    seed = numberArg(args, "--seed", (n) => Number.isInteger(n) && n >= 1, "an integer >= 1") ?? 1;
    if (kind !== "ipvrm" && (weighting || margin !== undefined || reduction)) {
      throw new RangeError(
        `Invalid --weighting/--margin/--reduction: only --rm ipvrm takes them, got --rm ${kind}`,
      );
    }
    checkBackendArg(args);
    rmConfig = resolveRMConfig({ budget: preset, switches }, {
      kind,
      seed,
      ipvrm: {
        ...(weighting ? { weighting } : {}),
        ...(margin !== undefined ? { margin } : {}),
        ...(reduction ? { reduction } : {}),
      },
    });
  } catch (e) {
    exitUsage(e);
  }
  // The stage graph: the same cached artifacts as the experiments' (seed 1 = the preset's own
  // RM data).
  const stages = new Stages(preset, { backendArgs: args });
  const pipeline = stages.pipeline(seed);
  const backend = await startBackend(() => stages.backendInfo());
  const cache = stages.cache;
  const variant = `${variantName(rmConfig)}-${preset}${switches === "repo" ? "-repo" : ""}`;
  const runId = formatRunId({ ablation: "rm", variant, seed });
  const outDir = argValue(args, "--out") ?? `results/rm/${runId}`;
  const t0 = performance.now();
  console.log(`run ${runId}: backend ${backend.name}, cache ${cache.root}`);

  const sft = await stages.policy();
  const data = await stages.rmDataRecords(seed);
  const dataArt = data.artifact;
  const pbSet = await stages.processBench();
  const bonSet = await stages.bestOfN();
  console.log(
    `data: ${data.rollouts.length} rollouts / ${data.pairs.length} prompts (key ${
      dataArt.key.slice(0, 12)
    })`,
  );
  if (data.pairs.length === 0) {
    console.error(
      `No mixed-outcome prompt in the RM data of preset "${preset}" (summary ${
        JSON.stringify(data.summary)
      }): ` +
        `the SFT policy is all-right or all-wrong on every prompt, so there is nothing to train an RM on.`,
    );
    Deno.exit(3);
  }

  await saveResolvedConfig(outDir, {
    runId,
    rm: rmConfig,
    pipelinePreset: preset,
    keys: {
      sft: sft.key,
      rmData: dataArt.key,
      processbench: pbSet.artifact.key,
      bon: bonSet.artifact.key,
    },
    backend: backend.name,
  }, { onMismatch: "overwrite" });
  const jsonl = await openJsonl(`${outDir}/results.jsonl`);
  const tTrain = performance.now();
  const { pair, artifact, history } = await stages.trainedRewardModel(rmConfig, {
    rebuild: args.includes("--rebuild"),
    onEpoch: (r) => jsonl.append({ type: "epoch", runId, ...r }),
  });
  const trainSeconds = (performance.now() - tTrain) / 1000;
  if (artifact.hit) {
    for (const r of history) await jsonl.append({ type: "epoch", runId, cached: true, ...r });
  }
  console.log(
    `RM ${artifact.hit ? "loaded from cache" : "trained"} (key ${artifact.key.slice(0, 12)}) in ${
      formatDuration(trainSeconds)
    }`,
  );
  try {
    const tEval = performance.now();
    const pb = await evaluateProcessBench(pair, pbSet.rows, {
      beta: rmConfig.beta,
      batchSize: rmConfig.train.scoreBatch,
      seed,
    });
    await jsonl.append({ type: "processbench", runId, ...pb });
    const ns = [4, 16, 64].filter((n) => n <= pipeline.evalSets.bonN);
    const bon = await evaluateBestOfN(pair, bonSet.problems, {
      score: kind === "ipvrm" ? "final_mean_value" : "sum",
      beta: rmConfig.beta,
      ns: ns.length ? ns : [pipeline.evalSets.bonN],
      batchSize: rmConfig.train.scoreBatch,
      seed,
    });
    await jsonl.append({ type: "bon", runId, ...bon });
    const evalSeconds = (performance.now() - tEval) / 1000;
    const summary = {
      runId,
      kind,
      variant,
      seed,
      rmKey: artifact.key,
      cached: artifact.hit,
      trainSeconds,
      evalSeconds,
      history,
      processbench: pb,
      bon,
    };
    await Deno.writeTextFile(`${outDir}/results.json`, JSON.stringify(summary, null, 1) + "\n");
    console.log("\n" + formatPbTable(pb, "oracle"));
    console.log("\n" + formatPbTable(pb, "transfer"));
    console.log("\n" + formatBonTable(bon));
    console.log(
      `\nresults in ${outDir} (total ${formatDuration((performance.now() - t0) / 1000)})`,
    );
  } finally {
    await jsonl.close();
    disposePair(pair);
  }
  Deno.exit(0);
}
