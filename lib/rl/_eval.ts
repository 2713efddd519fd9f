/**
 * avg@k of the policy on held-out problem splits (methods.md d3): k samples per problem at
 * temperature 0.6, top-p 0.95, verified; `avg@k` per split and the unweighted mean over
 * splits (the paper's "Avg." column).
 * @module
 */
import { avgAtK } from "../eval/avg_at_k.ts";
import type { TinyLM } from "../model/lm.ts";
import type { CounterRng, Rng } from "../prng.ts";
import { sampleProblems } from "../testbed/splits.ts";
import { DEFAULT_SPLIT_CONFIG, type SplitConfig } from "../testbed/splits.ts";
import type { Problem, TaskConfig } from "../testbed/task.ts";
import { rollout, type RolloutTask, verifyRollouts } from "./_rollout.ts";

/** A named list of held-out problems (a Table 5 column analogue). */
export interface EvalSet {
  name: string;
  problems: Problem[];
}

/**
 * Policy-eval splits drawn from the `policy_eval` role, one per bucket of the split config
 * (AIME / MATH-500 / Minerva / OlympiadBench / AMC analogues). The pipeline's eval sets
 * (lib/pipeline/eval_sets.ts) should be passed instead where available.
 */
export function policyEvalSets(
  rng: Rng,
  options: { problemsPerSplit: number; task?: Partial<TaskConfig>; split?: Partial<SplitConfig> },
): EvalSet[] {
  const buckets = options.split?.policyEval ?? DEFAULT_SPLIT_CONFIG.policyEval;
  return buckets.map((bucket) => ({
    name: bucket.name,
    problems: sampleProblems(rng.fork(bucket.name), {
      role: "policy_eval",
      bucket,
      n: options.problemsPerSplit,
      task: options.task,
      split: options.split,
    }),
  }));
}

/** avg@k / pass@k per split and their means. */
export interface AvgAtKResult {
  /** Per split: avg@k, pass@k and each problem's number of correct samples out of k (set order). */
  perSet: Record<string, { avg: number; pass: number; correct: number[] }>;
  mean: { avg: number; pass: number };
}

/** Runs avg@k (d3) of `policy` on `sets`. */
export async function evaluateAvgAtK(
  policy: TinyLM,
  sets: readonly EvalSet[],
  options: {
    task: RolloutTask;
    k: number;
    temperature: number;
    topP: number;
    maxResponseTokens: number;
    samplingBatch: number;
    /** Counter-based draws (a problem's samples do not depend on the batching). */
    rng: CounterRng;
  },
): Promise<AvgAtKResult> {
  if (sets.length === 0) throw new RangeError("Invalid sets: expected at least one eval set");
  const perSet: AvgAtKResult["perSet"] = {};
  for (const s of sets) {
    const samples = await rollout(policy, s.problems, {
      task: options.task,
      groupSize: options.k,
      rng: options.rng,
      temperature: options.temperature,
      topP: options.topP,
      maxResponseTokens: options.maxResponseTokens,
      samplingBatch: options.samplingBatch,
    });
    const roll = verifyRollouts(samples, options.task);
    const rows = s.problems.map((_, p) => roll.labels.slice(p * options.k, (p + 1) * options.k));
    perSet[s.name] = { ...avgAtK(rows), correct: rows.map((r) => r.reduce((a, b) => a + b, 0)) };
  }
  const vals = Object.values(perSet);
  return {
    perSet,
    mean: {
      avg: vals.reduce((a, v) => a + v.avg, 0) / vals.length,
      pass: vals.reduce((a, v) => a + v.pass, 0) / vals.length,
    },
  };
}
