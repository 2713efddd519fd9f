/**
 * One offline trainer for the three implicit reward models (methods.md B3–B6; paper Sec. 4.1,
 * App. C): DPO-RM on (correct, wrong) pairs, Implicit PRM and IPVRM on labelled rollouts.
 *
 * Per step: the reference log-probs `log π_ref[B,W]` are computed in their own forward pass
 * OUTSIDE the differentiated closure (TF.js has no stopGradient, methods.md (f)); inside
 * `applyLossStep`'s closure only the RM forward runs, `ℓ = (log π_φ − log π_ref) ⊙ M`, and the
 * pure loss of lib/rm/losses.ts turns ℓ into a scalar. So gradients reach only the RM's
 * variables; the reference is a separate model that no optimiser sees.
 *
 * Around the step: seeded shuffles, a cosine (or linear/constant) schedule with warmup, gradient
 * clipping, progress on stderr, a per-epoch evaluation on held-out prompts, epoch checkpoints
 * with resume. The trainer takes data and returns weights: caching the trained RM (stage `rm`,
 * keyed by the resolved config and the SFT / RM-data keys) belongs to the stage graph,
 * lib/pipeline/stages.ts.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type TinyLM } from "../model/lm.ts";
import { exportWeights, importWeights } from "../model/exchange.ts";
import { tokenLogprobs } from "../model/logprobs.ts";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import {
  applyLossStep,
  createOptimizer,
  type LrSchedule,
  type Optimizer,
  type StepResult,
} from "../model/train.ts";
import { Rng } from "../prng.ts";
import { createProgress } from "../run/progress.ts";
import type { Pair } from "./losses.ts";
import { rmPairAccuracy } from "./pair_accuracy.ts";
import { logRatio } from "./prefix_values.ts";
import { type ResolvedRMConfig, trainingKeyConfig } from "./config.ts";
import { RM_LOSSES, type RMLossInputs } from "./kinds.ts";
import { type RewardModelPair, rowAligned, scoreSequences, type SequenceScores } from "./score.ts";
import { checkSequence, hostRows, rowTensors, type SequenceTokens } from "./_batch.ts";

/** A labelled rollout of the RM data (testbed.md step 2). */
export interface RMRollout extends SequenceTokens {
  /** Prompt group (problem key): rollouts of one prompt share it and are contiguous or not. */
  group: string;
  /** Verifier outcome `r_o`. */
  correct: 0 | 1;
}

/** Training units after pairing and the held-out split. */
export interface RMUnits {
  /** Pointwise training rollouts (Implicit PRM, IPVRM). */
  pointwise: RMRollout[];
  /** (chosen, rejected) training pairs (DPO-RM). */
  pairs: [RMRollout, RMRollout][];
  /** Held-out rollouts for the per-epoch evaluation, grouped by prompt. */
  evalGroups: RMRollout[][];
}

/** Groups rollouts by `group`, keeping first-appearance order of groups and of rollouts. */
export function groupRollouts(rollouts: readonly RMRollout[]): RMRollout[][] {
  const m = new Map<string, RMRollout[]>();
  for (const r of rollouts) {
    const g = m.get(r.group);
    if (g) g.push(r);
    else m.set(r.group, [r]);
  }
  return [...m.values()];
}

/**
 * Pairs of one prompt group: positives and negatives in rollout order, the first `k` zipped,
 * `k = 1` (`"one"`, paper) or `min(#pos, #neg)` (`"all"`, repo `best_worst`).
 */
export function pairsOfGroup(
  group: readonly RMRollout[],
  options: { pairsPerPrompt: "one" | "all" },
): [RMRollout, RMRollout][] {
  const pos = group.filter((r) => r.correct === 1), neg = group.filter((r) => r.correct === 0);
  const k = Math.min(pos.length, neg.length, options.pairsPerPrompt === "one" ? 1 : Infinity);
  return Array.from({ length: k }, (_, i) => [pos[i]!, neg[i]!]);
}

/**
 * Splits prompts into training and held-out (`evalFraction` of the groups, seeded; at least one
 * group held out when there are 2 or more and the fraction is > 0), then forms the units.
 */
export function buildUnits(
  rollouts: readonly RMRollout[],
  config: ResolvedRMConfig,
): RMUnits {
  if (!Array.isArray(rollouts) || rollouts.length === 0) {
    throw new RangeError("Invalid rollouts: expected a non-empty array of labelled rollouts");
  }
  rollouts.forEach((r, i) => {
    if (r.correct !== 0 && r.correct !== 1) {
      throw new RangeError(`Invalid rollouts[${i}].correct: expected 0 or 1, got ${r.correct}`);
    }
    if (typeof r.group !== "string") {
      throw new RangeError(`Invalid rollouts[${i}].group: expected a string, got ${r.group}`);
    }
  });
  const groups = groupRollouts(rollouts);
  const order = new Rng(config.seed).fork("rm_eval_split").shuffle(groups.map((_, i) => i));
  const nEval = config.train.evalFraction > 0 && groups.length >= 2
    ? Math.max(1, Math.round(groups.length * config.train.evalFraction))
    : 0;
  const evalIdx = new Set(order.slice(0, nEval));
  const train = groups.filter((_, i) => !evalIdx.has(i));
  const evalGroups = nEval > 0 ? groups.filter((_, i) => evalIdx.has(i)) : groups;
  const pairs = train.flatMap((g) => pairsOfGroup(g, config.dpo));
  const pointwise = config.pointwiseData === "all_rollouts"
    ? train.flat()
    : train.flatMap((g) => pairsOfGroup(g, config.dpo).flat());
  return { pointwise, pairs, evalGroups };
}

/** One training batch in host form. */
export interface RMBatch {
  /** Sequences (DPO: chosen and rejected interleaved). */
  items: RMRollout[];
  /** DPO row pairs `[chosen, rejected]` into `items`. */
  pairs?: Pair[];
}

/** Constant tensors of a batch, made outside the differentiated closure. */
export interface RMBatchTensors {
  /** `[B, W]` int32. */
  tokens: tf.Tensor2D;
  /** `[B, W]` response mask. */
  mask: tf.Tensor2D;
  /** `[B, W]` `log π_ref` of each token (a constant: no gradient path to the reference). */
  refLogp: tf.Tensor2D;
  /** `[B]` outcomes. */
  labels: tf.Tensor1D;
}

/**
 * Builds {@linkcode RMBatchTensors}: the reference forward runs here, not inside the closure,
 * unless `refHost` gives each item's response-aligned `log π_ref` (a `RefLogps` cache, lib/rm/ref_logps.ts).
 */
export function batchTensors(
  ref: TinyLM,
  batch: RMBatch,
  refHost?: readonly Float32Array[],
): RMBatchTensors {
  return tf.tidy(() => {
    const rows = hostRows(batch.items);
    const { tokens, mask } = rowTensors(rows);
    const refLogp = refHost ? rowAligned(refHost, rows) : tokenLogprobs(ref, tokens);
    const labels = tf.tensor1d(batch.items.map((r) => r.correct), "float32");
    return { tokens, mask, refLogp, labels };
  });
}

/** Frees {@linkcode RMBatchTensors}. */
export function disposeBatchTensors(t: RMBatchTensors): void {
  tf.dispose([t.tokens, t.mask, t.refLogp, t.labels]);
}

/** The inputs of `RM_LOSSES[kind]` from a batch and a resolved config (offline: no ADB/DLW). */
function lossInputs(
  t: RMBatchTensors,
  c: ResolvedRMConfig,
  pairs: Pair[] | undefined,
): RMLossInputs {
  return {
    labels: t.labels,
    beta: c.beta,
    pairs,
    gamma: c.dpo.gamma,
    margin: c.ipvrm.margin,
    weighting: c.ipvrm.weighting,
    reduction: c.ipvrm.reduction,
  };
}

/**
 * The closure given to `applyLossStep`: RM forward -> `ℓ = (log π_φ − refLogp) ⊙ M` -> loss.
 * `refLogp` was computed outside, so it is a constant here.
 */
export function rmLossFn(
  tensors: RMBatchTensors,
  options: { config: ResolvedRMConfig; pairs?: Pair[] },
): (model: TinyLM) => tf.Scalar {
  const c = options.config;
  return (model) => {
    const lp = tokenLogprobs(model, tensors.tokens);
    const lr = logRatio(lp, tensors.refLogp, { mask: tensors.mask });
    return RM_LOSSES[c.kind](lr, tensors.mask, lossInputs(tensors, c, options.pairs));
  };
}

/** One optimiser step on one batch; every tensor it makes is freed before it returns. */
export async function rmTrainStep(
  pair: RewardModelPair,
  batch: RMBatch,
  options: { config: ResolvedRMConfig; optimizer: Optimizer },
): Promise<StepResult> {
  const refHost = pair.refLogps ? await pair.refLogps.get(batch.items) : undefined;
  const t = batchTensors(pair.ref, batch, refHost);
  try {
    return await applyLossStep(
      pair.rm,
      rmLossFn(t, { config: options.config, pairs: batch.pairs }),
      { optimizer: options.optimizer },
    );
  } finally {
    disposeBatchTensors(t);
  }
}

/** Batches of one epoch, in a seeded order (`seed`, `epoch`). */
export function epochBatches(
  units: RMUnits,
  options: { config: ResolvedRMConfig; epoch: number },
): RMBatch[] {
  const c = options.config;
  const rng = new Rng(c.seed).fork(`rm_epoch_${options.epoch}`);
  const bs = c.train.batchSize;
  const out: RMBatch[] = [];
  if (c.kind === "dpo") {
    const order = rng.shuffle(units.pairs.map((_, i) => i));
    for (let i = 0; i < order.length; i += bs) {
      const ps = order.slice(i, i + bs).map((j) => units.pairs[j]!);
      out.push({ items: ps.flat(), pairs: ps.map((_, k) => [2 * k, 2 * k + 1] as Pair) });
    }
  } else {
    const order = rng.shuffle(units.pointwise.map((_, i) => i));
    for (let i = 0; i < order.length; i += bs) {
      out.push({ items: order.slice(i, i + bs).map((j) => units.pointwise[j]!) });
    }
  }
  return out;
}

/** One epoch's logged evaluation (metric names as in docs/reward_models.md). */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Optimiser steps done so far. */
  step: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  /** Held-out loss of the kind (pure loss on the held-out rollouts / pairs). */
  evalLoss: number;
  /** Held-out fraction of valid (b,t) with `[v̄_t > 0] == r_o` (B5). */
  prefixAccuracy: number;
  /** Mean sequence score (IPVRM `v̄_T`, others `β Σ ℓ`) over held-out correct rollouts. */
  scoreCorrect: number;
  /** Same over held-out wrong rollouts. */
  scoreWrong: number;
  /** Pairwise accuracy of the sequence score within held-out prompts (rm_pair_accuracy, B14). */
  pairAccuracy: number;
  /** Held-out rollouts scored. */
  evalRows: number;
  /** Seconds spent in the epoch (training + evaluation). */
  seconds: number;
}

/** The kind's sequence score from scores (β-scaled): IPVRM `v̄_T`, others `β Σ ℓ`. */
export function kindScore(s: SequenceScores, c: ResolvedRMConfig): number {
  return c.kind === "ipvrm" ? s.finalMeanValue : c.beta * s.sum;
}

/**
 * Loss of the kind from host log-ratios (response-aligned), through the same pure function as
 * training, on `[B, L]` tensors built here (used by the per-epoch evaluation and by tests).
 */
export async function lossFromLogratios(
  logratios: readonly ArrayLike<number>[],
  options: { config: ResolvedRMConfig; labels: readonly number[]; pairs?: Pair[] },
): Promise<number> {
  const b = logratios.length;
  const l = Math.max(1, ...logratios.map((r) => r.length));
  const lrData = new Float32Array(b * l), mData = new Float32Array(b * l);
  logratios.forEach((r, i) => {
    for (let t = 0; t < r.length; t++) lrData[i * l + t] = r[t]!, mData[i * l + t] = 1;
  });
  const loss = tf.tidy(() => {
    const lr = tf.tensor2d(lrData, [b, l]), mask = tf.tensor2d(mData, [b, l]);
    const labels = tf.tensor1d([...options.labels], "float32");
    const t = { tokens: lr, mask, refLogp: lr, labels } as unknown as RMBatchTensors;
    return RM_LOSSES[options.config.kind](lr, mask, lossInputs(t, options.config, options.pairs));
  });
  try {
    return (await loss.data())[0]!;
  } finally {
    loss.dispose();
  }
}

/** Per-epoch evaluation on held-out groups. */
export async function evaluateEpoch(
  pair: RewardModelPair,
  groups: readonly RMRollout[][],
  options: { config: ResolvedRMConfig },
): Promise<Omit<EpochRecord, "epoch" | "step" | "trainLoss" | "seconds">> {
  const c = options.config;
  // Cap whole groups so pair accuracy keeps its groups.
  const kept: RMRollout[][] = [];
  let n = 0;
  for (const g of groups) {
    if (n > 0 && n + g.length > c.train.evalMaxRows) break;
    kept.push(g);
    n += g.length;
  }
  const items = kept.flat();
  const scores = await scoreSequences(pair, items, { beta: c.beta, batchSize: c.train.scoreBatch });
  const labels = items.map((r) => r.correct);
  let hit = 0, tot = 0;
  scores.forEach((s, i) => {
    for (const v of s.meanValues) hit += (v > 0 ? 1 : 0) === labels[i] ? 1 : 0, tot++;
  });
  const seq = scores.map((s) => kindScore(s, c));
  const mean = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  let acc = 0, off = 0;
  for (const g of kept) {
    acc += rmPairAccuracy(seq.slice(off, off + g.length), labels.slice(off, off + g.length), {
      groupSize: g.length,
    });
    off += g.length;
  }
  let pairs: Pair[] | undefined;
  if (c.kind === "dpo") {
    pairs = [];
    off = 0;
    for (const g of kept) {
      for (const [w, l] of pairsOfGroup(g, c.dpo)) {
        pairs.push([off + g.indexOf(w), off + g.indexOf(l)]);
      }
      off += g.length;
    }
  }
  const evalLoss = c.kind === "dpo" && pairs!.length === 0 ? NaN : await lossFromLogratios(
    scores.map((s) => s.logratio),
    { config: c, labels, pairs },
  );
  return {
    evalLoss,
    prefixAccuracy: tot ? hit / tot : NaN,
    scoreCorrect: mean(seq.filter((_, i) => labels[i] === 1)),
    scoreWrong: mean(seq.filter((_, i) => labels[i] === 0)),
    pairAccuracy: kept.length ? acc / kept.length : NaN,
    evalRows: items.length,
  };
}

/** Options of {@linkcode trainRewardModel}. */
export interface TrainRMOptions {
  /** Resolved config ({@linkcode resolveRMConfig}). Required. */
  config: ResolvedRMConfig;
  /** Epoch checkpoints go here (RM + optimiser + epoch); an existing one resumes the run. */
  checkpointDir?: string;
  /** Called with each epoch's record as it completes (e.g. append to a JSONL writer). */
  onEpoch?: (record: EpochRecord) => Promise<void> | void;
  /** Progress line sink (default stderr); `() => {}` silences. */
  log?: (line: string) => void;
  /** Called after every optimiser step (tests: leak checks). */
  onStep?: (step: number, result: StepResult) => void;
}

/** What {@linkcode trainRewardModel} returns. */
export interface TrainRMResult {
  /** Per-epoch records (resumed epochs included). */
  history: EpochRecord[];
  /** Optimiser steps in total. */
  steps: number;
  /** Training units (pairs or sequences) per epoch. */
  unitsPerEpoch: number;
}

function schedule(c: ResolvedRMConfig, total: number): LrSchedule {
  const warm = Math.min(Math.ceil(c.train.warmupRatio * total), Math.max(0, total - 1));
  return c.train.schedule === "constant"
    ? { kind: "constant", warmupSteps: warm }
    : { kind: c.train.schedule, warmupSteps: warm, totalSteps: Math.max(total, warm + 1) };
}

/**
 * Trains `pair.rm` in place on labelled rollouts (the reference is only read). Deterministic for
 * a seed: the held-out split and each epoch's order derive from `config.seed`.
 */
export async function trainRewardModel(
  pair: RewardModelPair,
  rollouts: readonly RMRollout[],
  options: TrainRMOptions,
): Promise<TrainRMResult> {
  const c = options?.config;
  if (!c || !c.kind || typeof c.beta !== "number") {
    throw new RangeError("Invalid options.config: expected resolveRMConfig()'s result");
  }
  if (pair.rm === pair.ref) {
    throw new RangeError("Invalid pair: rm and ref must be separate models");
  }
  rollouts.forEach((r, i) => checkSequence(pair.rm, r, `rollouts[${i}]`));
  const units = buildUnits(rollouts, c);
  const unitsPerEpoch = c.kind === "dpo" ? units.pairs.length : units.pointwise.length;
  if (unitsPerEpoch === 0) {
    throw new RangeError(
      `Invalid rollouts: no training ${
        c.kind === "dpo" ? "pairs (no prompt has both outcomes)" : "rollouts"
      } after holding out ${units.evalGroups.length} prompt(s)`,
    );
  }
  const stepsPerEpoch = Math.ceil(unitsPerEpoch / c.train.batchSize);
  const total = stepsPerEpoch * c.train.epochs;
  let optimizer = createOptimizer({
    kind: "adam",
    lr: c.train.lr,
    weightDecay: c.train.weightDecay,
    maxGradNorm: c.train.maxGradNorm ?? undefined,
    schedule: schedule(c, total),
  });
  // A checkpoint resumes only the run of the same training config (same JSON).
  const configJson = JSON.stringify(trainingKeyConfig(c));
  let history: EpochRecord[] = [];
  let startEpoch = 0;
  const dir = options.checkpointDir;
  if (dir) {
    try {
      const ck = await loadCheckpoint(dir, { expectConfig: pair.rm.config });
      if (ck.metadata.rmConfig === configJson && ck.optimizer) {
        importWeights(pair.rm, await exportWeights(ck.model), { source: dir });
        optimizer.dispose();
        optimizer = ck.optimizer;
        history = JSON.parse(ck.metadata.history ?? "[]");
        startEpoch = Number(ck.metadata.epoch);
        (options.log ?? console.error)(
          `[rm:${c.kind}] resumed from ${dir} after epoch ${startEpoch}`,
        );
      } else ck.optimizer?.dispose();
      ck.model.dispose();
    } catch (e) {
      if (!(e instanceof Error && /does not exist/.test(e.message))) throw e;
    }
  }
  const progress = createProgress(`rm:${c.kind}`, {
    total,
    startStep: optimizer.step,
    write: options.log,
  });
  try {
    for (let epoch = startEpoch + 1; epoch <= c.train.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0, n = 0;
      for (const batch of epochBatches(units, { config: c, epoch })) {
        const r = await rmTrainStep(pair, batch, { config: c, optimizer });
        if (!Number.isFinite(r.loss)) {
          throw new Error(`rm:${c.kind}: non-finite loss ${r.loss} at step ${optimizer.step}`);
        }
        lossSum += r.loss, n++;
        options.onStep?.(optimizer.step, r);
        progress.update(optimizer.step, { loss: r.loss, metrics: { lr: r.lr } });
      }
      const ev = await evaluateEpoch(pair, units.evalGroups, { config: c });
      const record: EpochRecord = {
        epoch,
        step: optimizer.step,
        trainLoss: lossSum / Math.max(1, n),
        ...ev,
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(record);
      (options.log ?? console.error)(
        `[rm:${c.kind}] epoch ${epoch}/${c.train.epochs} train_loss ${
          record.trainLoss.toFixed(4)
        } ` +
          `eval_loss ${record.evalLoss.toFixed(4)} prefix_acc ${
            record.prefixAccuracy.toFixed(3)
          } ` +
          `score+ ${record.scoreCorrect.toFixed(3)} score- ${record.scoreWrong.toFixed(3)} ` +
          `pair_acc ${record.pairAccuracy.toFixed(3)}`,
      );
      if (dir) {
        await saveCheckpoint(dir, pair.rm, {
          optimizer,
          metadata: {
            rmConfig: configJson,
            epoch: String(epoch),
            history: JSON.stringify(history),
          },
        });
      }
      await options.onEpoch?.(record);
    }
    progress.finish();
    return { history, steps: optimizer.step, unitsPerEpoch };
  } finally {
    optimizer.dispose();
  }
}
