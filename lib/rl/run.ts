/**
 * A full RL run (testbed.md "RL"; STYLE 9): the steps loop around {@linkcode rlStep},
 * metrics written as JSON Lines as they happen, avg@k every `evalEvery` steps and at the
 * end, and checkpoints that make a killed run continue exactly where the last one left it.
 *
 * Layout of `dir`:
 * - `config.json`: the resolved {@linkcode RLConfig} (a different config refuses to resume).
 * - `metrics.jsonl`: one `{kind: "train", step, ...}` record per step and one
 *   `{kind: "eval", step, ...}` per evaluation (keys defined in docs/metrics.md).
 * - `ckpt/state.json`: `{step, rng, dir}`; `ckpt/<dir>/policy`, `ckpt/<dir>/rm`: weights and
 *   AdamW state (lib/model/checkpoint.ts). Written every `checkpointEvery` steps; the state
 *   file is replaced atomically after the weights, so a kill at any point leaves a
 *   consistent checkpoint.
 *
 * Resume is bit-exact: the policy, RM, both optimiser states, the RNG state and the step
 * counter are restored; records after the checkpoint's step are dropped and redone; eval
 * sampling uses its own stream per step, so it never shifts the training stream.
 * @module
 */
import { join } from "node:path";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import { type TinyLM } from "../model/lm.ts";
import { exportWeights, importWeights } from "../model/exchange.ts";
import { createOptimizer, type Optimizer } from "../model/train.ts";
import { CounterRng, hashString, Rng, type RngState } from "../prng.ts";
import { frozenCopy } from "../rm/score.ts";
import { createProgress } from "../run/progress.ts";
import { openJsonl, readJsonl, saveResolvedConfig } from "../run/results.ts";
import { sampleProblems } from "../testbed/splits.ts";
import type { Problem } from "../testbed/task.ts";
import type { RLConfig } from "./config.ts";
import { type AvgAtKResult, type EvalSet, evaluateAvgAtK, policyEvalSets } from "./_eval.ts";
import { type RolloutTask, testbedTask } from "./_rollout.ts";
import { type RLModels, rlStep, type StepOptions } from "./step.ts";

/** Options of {@linkcode runRL}. */
export interface RunRLOptions {
  /** Resolved config. */
  config: RLConfig;
  /** Output directory (created). */
  dir: string;
  /** The initial policy (the SFT checkpoint); trained in place. */
  policy: TinyLM;
  /** The initial RM (the offline RM); trained in place. Null for `grpo`. */
  rm: TinyLM | null;
  /** Prompt encoding and verifier (default: the testbed, SFT format). */
  task?: RolloutTask;
  /** Training prompts of a step (default: the `train` role, all chain lengths). */
  drawProblems?: (rng: Rng, n: number) => Problem[];
  /** avg@k sets (default: {@linkcode policyEvalSets} of the budget's size, seed-independent). */
  evalSets?: EvalSet[];
  /** Evaluate before the first step of a fresh run (the SFT row). Default true. */
  evalAtStart?: boolean;
  /** Stop after this step (a simulated kill in tests); the run resumes from its checkpoint. */
  stopAfter?: number;
  /** Progress line sink (default stderr). */
  write?: (line: string) => void;
  /** Called with every step's metrics (after they are written). */
  onStep?: (step: number, metrics: Record<string, number>) => void;
  /** Passed to the step (tests). */
  onPhase?: StepOptions["onPhase"];
}

/** What {@linkcode runRL} returns. */
export interface RunRLResult {
  /** Last step done. */
  step: number;
  /** Step the run resumed from (0 = fresh). */
  resumedFrom: number;
  /** Last avg@k (null when none ran in this call). */
  lastEval: AvgAtKResult | null;
}

interface RunState {
  step: number;
  rng: RngState;
  dir: string;
}

/** The default training-prompt source: the `train` role over the task's chain lengths. */
export function trainProblems(rng: Rng, n: number): Problem[] {
  return sampleProblems(rng, {
    role: "train",
    bucket: { name: "train", minSteps: 2, maxSteps: 8 },
    n,
    unique: false,
  });
}

/**
 * Runs (or resumes) an RL run. The policy and RM given are trained in place; on resume
 * their weights are replaced by the checkpoint's (the frozen SFT reference is copied from
 * the policy given, before that, so pass the SFT policy).
 */
export async function runRL(options: RunRLOptions): Promise<RunRLResult> {
  const c = options.config, b = c.budget;
  const { dir, policy, rm } = options;
  if (c.rm !== null && !rm) {
    throw new RangeError(`Invalid rm: method "${c.method}" needs an RM, got null`);
  }
  const task = options.task ?? testbedTask();
  const draw = options.drawProblems ?? trainProblems;
  await Deno.mkdir(dir, { recursive: true });
  await saveResolvedConfig(dir, c as unknown as Record<string, unknown>);
  const evalSets = options.evalSets ??
    policyEvalSets(new Rng(hashString("rl/eval_sets")), {
      problemsPerSplit: b.evalProblemsPerSplit,
    });

  const sft = c.switches.ref === "sft" ? await frozenCopy(policy) : null;
  const models: RLModels = {
    policy,
    policyOpt: newPolicyOpt(c),
    rm: c.rm !== null ? rm : null,
    rmOpt: c.rm !== null && c.switches.rmUpdate !== "none" ? newRmOpt(c) : null,
    sft,
  };
  let rng = new Rng(c.seed);
  let start = 0;
  const state = await readState(dir);
  const metricsPath = join(dir, "metrics.jsonl");
  try {
    if (state) {
      start = state.step;
      rng = Rng.fromState(state.rng);
      await restore(join(dir, "ckpt", state.dir), models);
    }
    // a fresh start (no checkpoint) redoes everything, including the step-0 eval
    await truncateRecords(metricsPath, state ? start : -1);
    const out = await openJsonl(metricsPath);
    const progress = createProgress(`rl:${c.method}`, {
      total: b.steps,
      startStep: start,
      everySeconds: 0,
      write: options.write,
    });
    let lastEval: AvgAtKResult | null = null;
    const evaluate = async (step: number) => {
      lastEval = await evaluatePolicy(policy, evalSets, c, task);
      await out.append(evalRecord(step, b.evalK, lastEval));
    };
    let step = start;
    try {
      if (start === 0 && (options.evalAtStart ?? true)) await evaluate(0);
      while (step < b.steps && (options.stopAfter === undefined || step < options.stopAfter)) {
        step++;
        const problems = draw(rng, c.promptsDrawn);
        const m = await rlStep(models, problems, {
          config: c,
          task,
          // (seed, step) here, (prompt, rollout, position) in the draw: arms share rollout
          // uniforms; `rng` itself only draws the prompts, so arms share those too.
          rng: new CounterRng(c.seed, `rl/rollout/${step}`),
          onPhase: options.onPhase,
        });
        await out.append({ kind: "train", step, ...m });
        options.onStep?.(step, m);
        progress.update(step, {
          loss: m["loss/policy"],
          metrics: { acc: m["verifier/accuracy"] ?? NaN, ms: m["time/step_ms"] ?? NaN },
        });
        if (step % b.evalEvery === 0 || step === b.steps) await evaluate(step);
        if (step % b.checkpointEvery === 0 || step === b.steps) {
          await checkpoint(dir, models, rng, step);
        }
      }
      if (step === b.steps) progress.finish();
    } finally {
      await out.close();
    }
    return { step, resumedFrom: start, lastEval };
  } finally {
    models.policyOpt.dispose();
    models.rmOpt?.dispose();
    sft?.dispose();
  }
}

/**
 * avg@k of `policy` on `evalSets` under `config`'s budget (k, temperature, top-p, length): the
 * evaluation of {@linkcode runRL}, also used for the SFT row outside a run. One counter stream
 * per seed for every step and arm: evaluations of two steps or two arms (or the SFT policy) on a
 * problem share their uniforms (common random numbers).
 */
export async function evaluatePolicy(
  policy: TinyLM,
  evalSets: readonly EvalSet[],
  config: RLConfig,
  task: RolloutTask = testbedTask(),
): Promise<AvgAtKResult> {
  const b = config.budget;
  return await evaluateAvgAtK(policy, evalSets, {
    task,
    k: b.evalK,
    temperature: b.evalTemperature,
    topP: b.evalTopP,
    maxResponseTokens: b.maxResponseTokens,
    samplingBatch: b.samplingBatch,
    rng: new CounterRng(config.seed, "rl/eval"),
  });
}

/**
 * The `kind: "eval"` record of an evaluation (docs/metrics.md): avg@k and pass@k per split and
 * their means, and each problem's correct count out of k (`eval/correct/<split>`, per-item).
 */
export function evalRecord(step: number, k: number, r: AvgAtKResult): Record<string, unknown> {
  const rec: Record<string, unknown> = { kind: "eval", step, "eval/k": k };
  for (const [name, v] of Object.entries(r.perSet)) {
    rec[`eval/avg/${name}`] = v.avg;
    rec[`eval/pass/${name}`] = v.pass;
    rec[`eval/correct/${name}`] = v.correct;
  }
  rec["eval/avg/mean"] = r.mean.avg;
  rec["eval/pass/mean"] = r.mean.pass;
  return rec;
}

/** The policy's optimiser of a run: AdamW with the budget's lr, weight decay and grad clip. */
export function newPolicyOpt(c: RLConfig): Optimizer {
  return createOptimizer({
    kind: "adamw",
    lr: c.budget.policyLr,
    weightDecay: c.budget.policyWeightDecay,
    maxGradNorm: c.budget.policyGradClip,
  });
}

/** The online RM's optimiser of a run: AdamW, the budget's lr and grad clip, no weight decay. */
export function newRmOpt(c: RLConfig): Optimizer {
  // repo: AdamW, constant lr, weight decay 0, grad clip 10 (B14)
  return createOptimizer({
    kind: "adamw",
    lr: c.budget.rmLr,
    weightDecay: 0,
    maxGradNorm: c.budget.rmGradClip,
  });
}

async function readState(dir: string): Promise<RunState | null> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, "ckpt", "state.json"))) as RunState;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(
      `${join(dir, "ckpt", "state.json")}: unreadable checkpoint state: ${(e as Error).message}`,
    );
  }
}

/** Writes weights + optimiser states, then points `state.json` at them, then drops older ones. */
async function checkpoint(dir: string, models: RLModels, rng: Rng, step: number): Promise<void> {
  const ck = join(dir, "ckpt");
  const name = `step-${String(step).padStart(6, "0")}`;
  await Deno.remove(join(ck, name), { recursive: true }).catch(() => {});
  await saveCheckpoint(join(ck, name, "policy"), models.policy, { optimizer: models.policyOpt });
  if (models.rm) {
    await saveCheckpoint(join(ck, name, "rm"), models.rm, { optimizer: models.rmOpt ?? undefined });
  }
  const state: RunState = { step, rng: rng.state(), dir: name };
  const tmp = join(ck, `state.json.${crypto.randomUUID()}.tmp`);
  await Deno.writeTextFile(tmp, JSON.stringify(state) + "\n");
  await Deno.rename(tmp, join(ck, "state.json"));
  for await (const e of Deno.readDir(ck)) {
    if (e.isDirectory && e.name.startsWith("step-") && e.name !== name) {
      await Deno.remove(join(ck, e.name), { recursive: true });
    }
  }
}

async function restore(ckDir: string, models: RLModels): Promise<void> {
  const load = async (sub: string, model: TinyLM, setOpt: (o: Optimizer) => void) => {
    const l = await loadCheckpoint(join(ckDir, sub), { expectConfig: model.config });
    try {
      importWeights(model, await exportWeights(l.model), { source: join(ckDir, sub) });
      if (l.optimizer) setOpt(l.optimizer);
    } finally {
      l.model.dispose();
    }
  };
  await load("policy", models.policy, (o) => {
    models.policyOpt.dispose();
    models.policyOpt = o;
  });
  if (models.rm) {
    await load("rm", models.rm, (o) => {
      if (models.rmOpt) {
        models.rmOpt.dispose();
        models.rmOpt = o;
      } else o.dispose();
    });
  }
}

/** Keeps only the records of steps `<= step` (a killed run redoes the rest). */
async function truncateRecords(path: string, step: number): Promise<void> {
  let records: Record<string, unknown>[];
  try {
    records = (await readJsonl(path)).records as Record<string, unknown>[];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  const keep = records.filter((r) => typeof r.step === "number" && r.step <= step);
  if (keep.length === records.length) return;
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, keep.map((r) => JSON.stringify(r) + "\n").join(""));
  await Deno.rename(tmp, path);
}
