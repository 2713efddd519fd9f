/**
 * One RL run on the testbed (testbed.md "RL"; methods.md B15): loads the SFT policy and the
 * offline RM of the chosen kind from the artifact cache (building them when missing), then
 * runs GRPO / GRPO + RM / PRIME / DistRL with online RM updates, resumably. Results go to
 * `results/rl/<run_id>/`: `config.json`, `metrics.jsonl` (docs/metrics.md), `ckpt/`.
 *
 * ```
 * deno run -A lib/cli/rl.ts --method grpo|grpo_ipvrm|prime|distrl [--preset smoke|default|gpu]
 *   [--switches paper|repo] [--seed N] [--rm ipvrm|implicit_prm|dpo] [--ref old|sft]
 *   [--rm-update before|after|none] [--p-min X] [--no-adb] [--no-dlw] [--steps N]
 *   [--backend B] [--out DIR]
 * ```
 * Run it again with the same arguments to resume a killed run.
 * @module
 */
import { formatDuration } from "../run/progress.ts";
import { formatRunId } from "../run/run_id.ts";
import { PIPELINE_PRESET_NAMES, type PipelinePreset, SWITCH_PRESET_NAMES } from "../vocabulary.ts";
import { Stages } from "../pipeline/stages.ts";
import { sampleProblems } from "../testbed/splits.ts";
import {
  type Method,
  METHODS,
  resolveRLConfig,
  type RLConfigInput,
  type RLSwitches,
  variantName,
} from "../rl/config.ts";
import { RM_KINDS, type RMKind } from "../rm/kinds.ts";
import { runRL } from "../rl/run.ts";
import type { EvalSet } from "../rl/_eval.ts";
import { argValue, numberArg, oneOf } from "./_args.ts";
import { checkBackendArg, exitUsage, startBackend } from "./_main.ts";

/** Parses the command line into a config input (throws naming the flag). */
export function parseArgs(
  args: readonly string[],
): { input: RLConfigInput; variantTags: string[] } {
  const method = oneOf(args, "--method", METHODS) as Method | undefined;
  if (!method) {
    throw new RangeError(`Invalid --method: expected one of ${METHODS.join(", ")} (required)`);
  }
  const switches: Partial<RLSwitches> = {};
  const tags: string[] = [];
  const ref = oneOf(args, "--ref", ["old", "sft"] as const);
  if (ref) (switches.ref = ref), tags.push(`ref${ref}`);
  const upd = oneOf(args, "--rm-update", ["before", "after", "none"] as const);
  if (upd) (switches.rmUpdate = upd), tags.push(`rm${upd}`);
  const pMin = numberArg(args, "--p-min", (n) => n > 0 && n < 1, "a probability in (0, 1)");
  if (pMin !== undefined) {
    (switches.pMin = pMin), tags.push(`pmin${String(pMin).replace(".", "p")}`);
  }
  if (args.includes("--no-adb")) (switches.adb = false), tags.push("noadb");
  if (args.includes("--no-dlw")) (switches.dlw = "off"), tags.push("nodlw");
  const steps = numberArg(args, "--steps", (n) => Number.isInteger(n) && n >= 1, "an integer >= 1");
  const input: RLConfigInput = {
    method,
    pipeline: oneOf(args, "--preset", PIPELINE_PRESET_NAMES) ?? "default",
    preset: oneOf(args, "--switches", SWITCH_PRESET_NAMES) ?? "paper",
    seed: numberArg(args, "--seed", (n) => Number.isInteger(n) && n >= 1, "an integer >= 1") ?? 1,
    switches,
    ...(steps !== undefined ? { budget: { steps } } : {}),
  };
  const rm = oneOf(args, "--rm", RM_KINDS) as RMKind | undefined;
  if (rm) input.rm = rm;
  return { input, variantTags: tags };
}

if (import.meta.main) {
  const args = Deno.args;
  let parsed;
  let config;
  try {
    parsed = parseArgs(args);
    config = resolveRLConfig(parsed.input);
    checkBackendArg(args);
  } catch (e) {
    exitUsage(e);
  }
  const preset = config.pipeline as PipelinePreset;
  // The stage graph: the SFT policy, the RM data and the offline RM of this seed are the same
  // artifacts as `deno task rm --seed S` and the experiments' (seed 1 = the preset's own RM data).
  const stages = new Stages(preset, { backendArgs: args });
  const pipeline = stages.pipeline(config.seed);
  const backend = await startBackend(() => stages.backendInfo());
  const variant = [variantName(config), preset, ...parsed.variantTags].join("-");
  const runId = formatRunId({ ablation: "rl", variant, seed: config.seed });
  const outDir = argValue(args, "--out") ?? `results/rl/${runId}`;
  const t0 = performance.now();
  console.log(`run ${runId}: backend ${backend.name}, cache ${stages.cache.root}`);

  await stages.policy();
  const policy = await stages.loadSft();
  let rm = null;
  if (config.rm) {
    // the offline RM of this kind (the RL's initial RM), trained with the paper switches
    const { pair, artifact } = await stages.trainedRewardModel(
      stages.rmConfig({ kind: config.rm }, config.seed),
    );
    pair.ref.dispose();
    rm = pair.rm;
    console.log(`initial RM: offline ${config.rm} (key ${artifact.key.slice(0, 12)})`);
  }
  const avg = await stages.avgProblems();
  const evalSets: EvalSet[] = pipeline.split.policyEval.map((b) => ({
    name: b.name,
    problems: avg.filter((p) => p.split === b.name).map((p) => p.problem),
  }));
  const task = pipeline.task, split = pipeline.split;
  const bucket = { name: "train", minSteps: task.minSteps, maxSteps: task.maxSteps };
  const r = await runRL({
    config,
    dir: outDir,
    policy,
    rm,
    evalSets,
    drawProblems: (rng, n) =>
      sampleProblems(rng, { role: "train", bucket, n, unique: false, task, split }),
  });
  const e = r.lastEval as { mean: { avg: number } } | null;
  console.log(
    `done: ${r.step} steps (resumed from ${r.resumedFrom}); avg@${config.budget.evalK} ` +
      `${e ? (100 * e.mean.avg).toFixed(1) : "-"}%; results in ${outDir} ` +
      `(total ${formatDuration((performance.now() - t0) / 1000)})`,
  );
  policy.dispose();
  rm?.dispose();
  Deno.exit(0);
}
