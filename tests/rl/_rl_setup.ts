/**
 * Shared fixture of the RL step/run tests: the wasm backend on one thread, a tiny LM over
 * the testbed vocabulary, k = 2 problems and a verifier that gives a random policy mixed
 * groups (the parity of the first response token), so every phase has work to do.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend.ts";
import { createLM, type TinyLM } from "../../lib/model/lm.ts";
import { exportWeights } from "../../lib/model/exchange.ts";
import { newPolicyOpt, newRmOpt } from "../../lib/rl/run.ts";
import { CounterRng, Rng } from "../../lib/prng.ts";
import { frozenCopy } from "../../lib/rm/score.ts";
import { resolveRLConfig, type RLConfig, type RLConfigInput } from "../../lib/rl/config.ts";
import { type RLModels } from "../../lib/rl/step.ts";
import {
  buildBatch,
  type RLBatch,
  rollout,
  type RolloutTask,
  selectGroups,
  testbedTask,
  verifyRollouts,
} from "../../lib/rl/_rollout.ts";
import { sampleProblems } from "../../lib/testbed/splits.ts";
import type { Problem } from "../../lib/testbed/task.ts";
import { CharTokenizer } from "../../lib/testbed/tokenizer.ts";

export const LM = {
  vocab: new CharTokenizer().vocabSize,
  width: 16,
  layers: 1,
  heads: 2,
  context: 28,
};

export async function setup(): Promise<void> {
  await initBackend("wasm", { threads: 1, log: () => {} });
}

/** The testbed task with a parity verifier (first response token id even = correct). */
export function parityTask(): RolloutTask {
  return { ...testbedTask(), verify: (_p, ids) => ((ids[0] ?? 1) % 2 === 0 ? 1 : 0) };
}

export function problems(seed: number, n: number): Problem[] {
  return sampleProblems(new Rng(seed), {
    role: "train",
    bucket: { name: "k2", minSteps: 2, maxSteps: 2 },
    n,
    unique: false,
  });
}

export function smokeConfig(input: RLConfigInput = {}): RLConfig {
  return resolveRLConfig({
    pipeline: "smoke",
    ...input,
    budget: { maxResponseTokens: 12, ...input.budget },
  });
}

/** Policy, RM (a different init), optimisers and the frozen SFT copy. */
export async function makeModels(c: RLConfig, seed = 1): Promise<RLModels> {
  const policy = createLM(LM, { rng: new Rng(seed) });
  const rm = c.rm ? createLM(LM, { rng: new Rng(seed + 100) }) : null;
  return {
    policy,
    policyOpt: newPolicyOpt(c),
    rm,
    rmOpt: rm && c.switches.rmUpdate !== "none" ? newRmOpt(c) : null,
    sft: c.switches.ref === "sft" ? await frozenCopy(policy) : null,
  };
}

export function disposeModels(m: RLModels): void {
  m.policy.dispose();
  m.rm?.dispose();
  m.sft?.dispose();
  m.policyOpt.dispose();
  m.rmOpt?.dispose();
}

/** Flat copy of every weight of a model (host arrays). */
export async function weightsOf(model: TinyLM): Promise<Record<string, Float32Array>> {
  const w = await exportWeights(model);
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.data]));
}

/** Names of the weights that differ between two snapshots. */
export function changed(
  a: Record<string, Float32Array>,
  b: Record<string, Float32Array>,
): string[] {
  return Object.keys(a).filter((k) => {
    const x = a[k]!, y = b[k]!;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return true;
    return false;
  });
}

export function numTensors(): number {
  return tf.memory().numTensors;
}

/** One rollout + filter of the policy on 11-seeded problems: a fixed batch for phase tests. */
export async function fixedBatch(c: RLConfig, m: RLModels): Promise<RLBatch> {
  const samples = await rollout(m.policy, problems(11, c.promptsDrawn), {
    task: parityTask(),
    groupSize: c.budget.groupSize,
    rng: new CounterRng(5, "fixed_batch"),
    temperature: 1,
    maxResponseTokens: c.budget.maxResponseTokens,
    samplingBatch: 64,
  });
  const roll = verifyRollouts(samples, parityTask());
  return buildBatch(
    roll,
    selectGroups(roll.labels, roll.truncated, { groupSize: 4, keep: c.budget.promptsPerStep }),
  );
}
