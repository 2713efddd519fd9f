/**
 * Cost of one RL update step (methods.md B15 steps 5–10) of GRPO + IPVRM against DistRL on
 * the SAME batch: the rollouts are fixed (synthetic token rows of the default preset's
 * shape), so only the update differs: DistRL adds the candidate set (one full-distribution
 * forward replaces the sampled-token forward), the candidate log-probs in the RM rescoring,
 * and the distribution branch of the policy loss. Both start from the same weights and
 * optimiser states every repetition.
 *
 * {@linkcode rlStepBench} prints JSON lines `{workload, ms, peak_bytes, ...}` (median of `reps`
 * after a warm-up; `peak_bytes` = tf.profile's peak over the step minus the bytes held before it),
 * then a `{workload: "rl_step_ratio", ratio, time, peak_bytes}` line per DistRL variant against
 * GRPO + IPVRM. Targets (issue "RL"): time <= 1.15x, peak memory <= 1.05x. `deno task bench`
 * runs it as its `rl_step` workload; alone:
 *
 * ```
 * deno run -A bench/rl_bench.ts [--preset smoke|default] [--reps N] [--backend B]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackendFromArgs } from "../lib/backend.ts";
import { createLM } from "../lib/model/lm.ts";
import { exportWeights, importWeights } from "../lib/model/exchange.ts";
import { CounterRng, Rng } from "../lib/prng.ts";
import type { PipelinePreset } from "../lib/vocabulary.ts";
import { resolvePipelineConfig } from "../lib/pipeline/presets.ts";
import { resolveRLConfig, type RLConfig } from "../lib/rl/config.ts";
import { type RLModels, updateOnBatch } from "../lib/rl/step.ts";
import { newPolicyOpt, newRmOpt } from "../lib/rl/run.ts";
import {
  buildBatch,
  disposeBatch,
  type RLBatch,
  type Rollouts,
  testbedTask,
} from "../lib/rl/_rollout.ts";
import { EOS_ID } from "../lib/testbed/tokenizer.ts";
import type { LMConfig } from "../lib/model/config.ts";

/** Synthetic rollouts with the shape of a real step: prompts 8–20 tokens, responses 20–70. */
function fixedBatch(c: RLConfig, lm: LMConfig, seed: number): RLBatch {
  const rng = new Rng(seed);
  const g = c.budget.groupSize, p = c.budget.promptsPerStep;
  const prompts: number[][] = [], responses: number[][] = [], labels: number[] = [];
  for (let k = 0; k < p; k++) {
    const prompt = [1, ...Array.from({ length: 7 + rng.int(13) }, () => 3 + rng.int(lm.vocab - 3))];
    for (let j = 0; j < g; j++) {
      const n = Math.min(20 + rng.int(51), lm.context - prompt.length) - 1;
      prompts.push(prompt);
      responses.push([...Array.from({ length: n }, () => 3 + rng.int(lm.vocab - 3)), EOS_ID]);
      labels.push(j === 0 ? 1 : j === 1 ? 0 : rng.int(2)); // mixed groups
    }
  }
  const roll: Rollouts = {
    problems: Array.from({ length: p }, () => ({ start: 0, ops: [], modulus: 7 })),
    groupSize: g,
    prompts,
    responses,
    truncated: responses.map(() => false),
    labels,
  };
  return buildBatch(roll, Array.from({ length: p }, (_, k) => k));
}

interface Workload {
  name: string;
  config: RLConfig;
}

/**
 * Runs the three RL update workloads (`rl_step_grpo_ipvrm`, `rl_step_distrl`,
 * `rl_step_distrl_repo`) on the started backend, `reps` interleaved repetitions after a warm-up,
 * printing one JSON line each (and returning them), then the ratio lines.
 */
export async function rlStepBench(
  options: { preset?: Exclude<PipelinePreset, "gpu">; reps?: number } = {},
): Promise<Record<string, unknown>[]> {
  const preset = options.preset ?? "default";
  const reps = options.reps ?? 3;
  if (!Number.isInteger(reps) || reps < 1) {
    throw new RangeError(`Invalid reps: expected an integer >= 1, got ${reps}`);
  }
  const lm = resolvePipelineConfig(preset).model;
  const rows: Record<string, unknown>[] = [];
  const emit = (r: Record<string, unknown>) => {
    rows.push(r);
    console.log(JSON.stringify(r));
  };
  const base = { pipeline: preset } as const;
  const workloads: Workload[] = [
    { name: "rl_step_grpo_ipvrm", config: resolveRLConfig({ ...base, method: "grpo_ipvrm" }) },
    { name: "rl_step_distrl", config: resolveRLConfig({ ...base, method: "distrl" }) },
    {
      name: "rl_step_distrl_repo",
      config: resolveRLConfig({ ...base, method: "distrl", preset: "repo" }),
    },
  ];

  const policy = createLM(lm, { rng: new Rng(1) }), rm = createLM(lm, { rng: new Rng(2) });
  const policy0 = await exportWeights(policy);
  const rm0 = await exportWeights(rm);
  const batch = fixedBatch(workloads[0]!.config, lm, 7);

  /** The same starting weights and fresh optimisers for every repetition. */
  const freshModels = (c: RLConfig): RLModels => {
    importWeights(policy, policy0);
    importWeights(rm, rm0);
    return { policy, policyOpt: newPolicyOpt(c), rm, rmOpt: newRmOpt(c), sft: null };
  };

  const results: Record<string, { ms: number; peak: number }> = {};
  const times: Record<string, number[]> = {};
  const cands: Record<string, number> = {};
  async function once(w: Workload, profile: boolean): Promise<number> {
    const m = freshModels(w.config);
    const opts = { config: w.config, task: testbedTask(), rng: new CounterRng(1, "bench/rl") };
    try {
      if (profile) {
        const held = tf.memory().numBytes;
        const prof = await tf.profile(async () => void await updateOnBatch(m, batch, opts));
        return prof.peakBytes - held;
      }
      const t = performance.now();
      const out = await updateOnBatch(m, batch, opts);
      cands[w.name] = out["cand/size"] ?? NaN;
      return performance.now() - t;
    } finally {
      m.policyOpt.dispose();
      m.rmOpt?.dispose();
    }
  }
  // interleaved repetitions (r = 0 warms up), so load drift on a shared machine hits all alike
  for (let r = 0; r <= reps; r++) {
    for (const w of workloads) {
      const ms = await once(w, false);
      if (r > 0) (times[w.name] ??= []).push(ms);
    }
  }
  for (const w of workloads) {
    const peak = await once(w, true); // profiling slows the step: memory measured separately
    const ts = (times[w.name] ?? []).sort((a, b) => a - b);
    const ms = ts[Math.floor(ts.length / 2)] ?? NaN;
    const cand = cands[w.name] ?? NaN;
    results[w.name] = { ms, peak };
    const [b, t] = batch.tokens.shape;
    emit({
      workload: w.name,
      impl: tf.getBackend(),
      ms: Math.round(ms),
      ms_all: ts.map(Math.round),
      peak_bytes: peak,
      rows: b,
      columns: t,
      candidate_set: w.config.switches.alpha > 0 ? w.config.switches.candidateSet : null,
      mean_candidates: Number.isFinite(cand) ? cand : null,
      preset,
      reps,
    });
  }
  const g = results["rl_step_grpo_ipvrm"]!;
  for (const name of ["rl_step_distrl", "rl_step_distrl_repo"]) {
    const d = results[name]!;
    emit({
      workload: "rl_step_ratio",
      ratio: `${name}/rl_step_grpo_ipvrm`,
      time: Math.round((d.ms / g.ms) * 1000) / 1000,
      peak_bytes: Math.round((d.peak / g.peak) * 1000) / 1000,
      target_time: 1.15,
      target_peak_bytes: 1.05,
    });
  }
  disposeBatch(batch);
  policy.dispose();
  rm.dispose();
  return rows;
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  await initBackendFromArgs(Deno.args, { log: () => {} });
  await rlStepBench({
    preset: (arg("--preset") ?? "default") as Exclude<PipelinePreset, "gpu">,
    reps: Number(arg("--reps") ?? 3),
  });
  Deno.exit(0); // wasm worker threads would keep the process alive
}
