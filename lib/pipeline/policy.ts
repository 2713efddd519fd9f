/**
 * The SFT policy (testbed.md pipeline steps 0 and 1): a base model trained on a
 * mix of formats, then SFT on the SFT format with planted misconceptions, each
 * stage a resumable training run and a cached artifact.
 *
 * Resume is exact: the data order comes from an Rng whose state is saved with each
 * checkpoint (weights and Adam moments in float32, step count), so a run killed
 * after any update and restarted ends with weights bit-identical to an
 * uninterrupted run. The final weights become an artifact-cache entry keyed by the
 * resolved config (stage `policy_base`; `policy_sft` with the base key as input) in
 * lib/pipeline/stages.ts's `buildPolicy`, so a second call is a cache hit and a
 * corrupt entry is rebuilt.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { createLM, type TinyLM } from "../model/lm.ts";
import { type ExchangeWeights, exportWeights, importWeights } from "../model/exchange.ts";
import {
  createOptimizer,
  exportOptimizerState,
  importOptimizerState,
  type Optimizer,
  trainStep,
} from "../model/train.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../model/safetensors.ts";
import { Rng } from "../prng.ts";
import type { Artifact } from "../run/cache.ts";
import { createProgress } from "../run/progress.ts";
import { saveResolvedConfig } from "../run/results.ts";
import { encodePairs, lmBatchTensors } from "./batching.ts";
import { drawExamples } from "./corpus.ts";
import {
  fromSTensors,
  loadCheckpoint,
  type LoopState,
  saveCheckpoint,
  toSTensors,
} from "./_checkpoint.ts";
import { type PipelineConfig, streamRng } from "./presets.ts";

/** The two training stages. */
export type PolicyStage = "base" | "sft";

/** Options of {@linkcode trainStage}. */
export interface TrainStageOptions {
  /** Which stage. */
  stage: PolicyStage;
  /** Run directory for checkpoints (resumed from when it holds one). */
  runDir: string;
  /** Initial weights (SFT: the base model's); default a fresh init from the seed. */
  init?: ExchangeWeights;
  /** Progress sink; default stderr. Pass `() => {}` to silence. */
  log?: (line: string) => void;
  /**
   * Testing hook that simulates a kill: return after this many updates without
   * saving a checkpoint for them (unless one was due there anyway).
   */
  stopAfter?: number;
}

/** What {@linkcode trainStage} returns; dispose `model`. */
export interface TrainStageResult {
  /** The trained model (caller disposes). */
  model: TinyLM;
  /** Updates done (less than the stage's steps only with `stopAfter`). */
  step: number;
  /** Loss of every update. */
  losses: number[];
  /** Real tokens trained on. */
  tokens: number;
  /** Training wall time over all sessions, seconds. */
  seconds: number;
  /** Step the run resumed from (0 = fresh). */
  resumedFrom: number;
}

function makeOptimizer(config: PipelineConfig, stage: PolicyStage): Optimizer {
  const s = config[stage];
  return createOptimizer({
    kind: "adamw",
    lr: s.lr,
    weightDecay: s.weightDecay,
    maxGradNorm: s.maxGradNorm,
    schedule: {
      kind: "cosine",
      warmupSteps: s.warmup,
      totalSteps: s.steps,
      minLr: s.lr * s.minLrFraction,
    },
  });
}

/** The part of the config a stage depends on (its cache key and run-dir identity). */
export function stageConfig(config: PipelineConfig, stage: PolicyStage): Record<string, unknown> {
  return {
    stage,
    seed: config.seed,
    task: config.task,
    split: config.split,
    sftData: config.sftData,
    model: config.model,
    train: config[stage],
  };
}

/**
 * Trains one stage with the model's train step, checkpointing into `runDir` every
 * `checkpointEvery` updates and at the end, resuming from the latest checkpoint
 * there. Progress (step, loss, tokens/s, ETA) goes to stderr.
 */
export async function trainStage(
  config: PipelineConfig,
  options: TrainStageOptions,
): Promise<TrainStageResult> {
  const { stage, runDir } = options;
  if (stage !== "base" && stage !== "sft") {
    throw new RangeError(`stage: expected "base" or "sft", got ${JSON.stringify(stage)}`);
  }
  const s = config[stage];
  await saveResolvedConfig(runDir, stageConfig(config, stage));
  const ckpt = await loadCheckpoint(runDir);
  const model = createLM(config.model, { rng: streamRng(config.seed, `${stage}/init`) });
  let optimizer: Optimizer | undefined;
  try {
    let rng: Rng;
    let state: LoopState;
    if (ckpt) {
      importWeights(model, ckpt.weights, { source: `${runDir} checkpoint` });
      optimizer = importOptimizerState(ckpt.optimizer, model, { source: `${runDir} checkpoint` });
      rng = Rng.fromState(ckpt.state.rng);
      state = { ...ckpt.state, losses: [...ckpt.state.losses] };
    } else {
      if (options.init) importWeights(model, options.init, { source: "init" });
      optimizer = makeOptimizer(config, stage);
      rng = streamRng(config.seed, `${stage}/data`);
      state = { step: 0, rng: rng.state(), tokens: 0, losses: [], seconds: 0 };
    }
    const resumedFrom = state.step;
    const progress = createProgress(stage, {
      total: s.steps,
      startStep: state.step,
      everySeconds: 10,
      ...(options.log ? { write: options.log } : {}),
    });
    const t0 = performance.now();
    const secondsBefore = state.seconds;
    let tokensSession = 0;
    while (state.step < s.steps) {
      const examples = drawExamples(rng, { config, stage: s, n: s.batch });
      const enc = encodePairs(examples, { context: config.model.context });
      const batch = lmBatchTensors(enc, { loss: s.loss });
      let loss: number;
      try {
        loss = (await trainStep(model, batch, { optimizer })).loss;
      } finally {
        tf.dispose([batch.tokens, batch.targets, batch.mask]);
      }
      if (!Number.isFinite(loss)) {
        throw new Error(`${stage}: non-finite loss ${loss} at step ${state.step + 1}`);
      }
      const n = enc.length.reduce((a, b) => a + b, 0);
      tokensSession += n;
      state.step++;
      state.tokens += n;
      state.losses.push(loss);
      state.rng = rng.state();
      state.seconds = secondsBefore + (performance.now() - t0) / 1000;
      progress.update(state.step, { loss, tokens: tokensSession });
      if (state.step % s.checkpointEvery === 0 || state.step === s.steps) {
        await saveCheckpoint(runDir, {
          weights: await exportWeights(model),
          optimizer: await exportOptimizerState(optimizer, model),
          state,
        });
      }
      if (options.stopAfter !== undefined && state.step >= options.stopAfter) break;
    }
    progress.finish();
    return {
      model,
      step: state.step,
      losses: state.losses,
      tokens: state.tokens,
      seconds: state.seconds,
      resumedFrom,
    };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer?.dispose();
  }
}

/**
 * Trains one policy stage into `runDir` (resuming from it) and writes the artifact files into
 * `dir`: `weights.safetensors` and `train_log.json`; removes `runDir` when done. Returns the
 * manifest's `meta`. The cached stage around it is lib/pipeline/stages.ts's `buildPolicy`.
 */
export async function writePolicyStage(
  dir: string,
  config: PipelineConfig,
  options: {
    stage: PolicyStage;
    runDir: string;
    init?: () => Promise<ExchangeWeights>;
    log?: (line: string) => void;
  },
): Promise<Record<string, unknown>> {
  const { stage, runDir } = options;
  const init = options.init ? await options.init() : undefined;
  const r = await trainStage(config, {
    stage,
    runDir,
    ...(init ? { init } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  try {
    await writeSafetensorsFile(
      join(dir, "weights.safetensors"),
      toSTensors(await exportWeights(r.model)),
      {
        model: JSON.stringify(config.model),
      },
    );
  } finally {
    r.model.dispose();
  }
  const tail = r.losses.slice(-Math.min(20, r.losses.length));
  const finalLoss = tail.reduce((a, b) => a + b, 0) / tail.length;
  await Deno.writeTextFile(
    join(dir, "train_log.json"),
    JSON.stringify({
      losses: r.losses,
      tokens: r.tokens,
      seconds: r.seconds,
      resumedFrom: r.resumedFrom,
    }) + "\n",
  );
  await Deno.remove(runDir, { recursive: true }).catch(() => {});
  return {
    steps: r.step,
    finalLoss,
    firstLoss: r.losses[0] ?? null,
    tokens: r.tokens,
    seconds: Math.round(r.seconds * 10) / 10,
  };
}

/**
 * The model stored in a policy artifact (or a `weights.safetensors` path). The
 * caller disposes it.
 */
export async function loadPolicy(
  source: Artifact | string,
  options: { config: PipelineConfig },
): Promise<TinyLM> {
  const path = typeof source === "string" ? source : source.file("weights.safetensors");
  const w = await readSafetensorsFile(path);
  const model = createLM(options.config.model, { rng: new Rng(1) });
  try {
    importWeights(model, fromSTensors(w.tensors, path), { source: path });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
