/**
 * The online reward-model update of the RL step (methods.md B14, B16; paper Eq. 15,
 * Sec. 3.3): one pass over the batch in mini-batches of whole groups, AdamW with a
 * gradient clip, the loss of the RM kind over `ℓ = log π_φ − log π_ref` where the
 * reference log-probs are constants computed outside the differentiated closure.
 *
 * - `ipvrm`: `mean_b w_b (1/T_b) Σ_t softplus(m_b − sgn_b v̄_bt)` (`ipvrmLoss` with
 *   `sampleWeights` = DLW and `sampleMargins` = ADB from `adbDlw`).
 * - `implicit_prm`: `mean_b w_b softplus(m_b − sgn_b β Σ_t ℓ_t)` (B4; PRIME's online CE when
 *   ADB/DLW are off, e23 otherwise).
 * - `dpo`: `softplus(−(R_w − R_l))` over the repo's in-group pairs (B3).
 *
 * The per-sample DLW weights and ADB margins are constants built before the update from the
 * verifier outcomes alone (`adbDlw`, its own phase of the RL step, B15 step 4).
 *
 * Pairwise RM accuracy (B14, `rmPairAccuracy`) is read from the sequence-sum scores of the
 * same forward that builds each mini-batch's loss, before its optimiser step (`acc_before`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type TinyLM } from "../model/lm.ts";
import { tokenLogprobs } from "../model/logprobs.ts";
import { applyLossStep, type Optimizer } from "../model/train.ts";
import { dpoPairsFromGroups } from "../rm/losses.ts";
import { RM_LOSSES, type RMKind } from "../rm/kinds.ts";
import { rmPairAccuracy } from "../rm/pair_accuracy.ts";
import { checkGroupSize, checkShape } from "../checks.ts";
import { logRatio } from "../rm/prefix_values.ts";
import { overMiniBatches, rowSlice } from "./_minibatch.ts";

/** Options of {@linkcode onlineRmUpdate}. */
export interface OnlineRmOptions {
  /** RM kind (selects the loss). */
  kind: RMKind;
  /** AdamW state of the RM (lr, clip inside). */
  optimizer: Optimizer;
  /** Verifier outcomes `[B]`, 0/1. */
  labels: readonly number[];
  /** Rollouts per prompt G (rows of a group are consecutive). */
  groupSize: number;
  /** `log π_ref` of the realised tokens `[B,T]` (π_old or SFT; a constant). */
  logpRef: tf.Tensor2D;
  /** Rows per mini-batch (a multiple of G). */
  miniBatchRows: number;
  /** β of the RM. */
  beta: number;
  /** DLW weight per row `[B]` (B14; `adbDlw(labels).weights`, 0 = not trained on). */
  sampleWeights: readonly number[];
  /** ADB margin per row `[B]` (B14; `adbDlw(labels).margins`, the base margin without ADB). */
  sampleMargins: readonly number[];
}

/** What {@linkcode onlineRmUpdate} reports (host numbers). */
export interface OnlineRmResult {
  /** Mean loss over the mini-batches that stepped (NaN when none did). */
  loss: number;
  /** Mean pre-clip gradient norm over those mini-batches (NaN when none). */
  gradNorm: number;
  /** Pairwise accuracy of the scores each mini-batch had before its own step (B14 `dpo_acc_before`). */
  accBefore: number;
  /** Optimiser steps taken (mini-batches with no weight or no pair are skipped). */
  updates: number;
}

/** Constants of one RM mini-batch (all outside the gradient closure). */
export interface RmMiniBatch {
  tokens: tf.Tensor2D;
  mask: tf.Tensor2D;
  logpRef: tf.Tensor2D;
  labels: tf.Tensor1D;
  weights: tf.Tensor1D;
  margins: tf.Tensor1D;
  /** Row-index pairs within the mini-batch (DPO). */
  pairs: Array<readonly [number, number]>;
}

/**
 * The RM loss of one mini-batch as a function of the RM's variables only: `log π_φ` is
 * the one differentiated forward; everything in `mb` is a constant. Also returns the
 * sequence-sum scores `Σ_t ℓ_t` `[b]` of the same forward (for `acc_before`).
 */
export function rmLossFn(
  rm: TinyLM,
  mb: RmMiniBatch,
  options: { kind: RMKind; beta: number },
): { loss: tf.Scalar; scores: tf.Tensor1D } {
  return tf.tidy(() => {
    const lr = logRatio(tokenLogprobs(rm, mb.tokens), mb.logpRef, { mask: mb.mask });
    const scores = lr.sum(1) as tf.Tensor1D;
    const loss = RM_LOSSES[options.kind](lr, mb.mask, {
      labels: mb.labels,
      beta: options.beta,
      pairs: mb.pairs,
      sampleWeights: mb.weights,
      sampleMargins: mb.margins,
    });
    return { loss, scores };
  });
}

/**
 * Online RM update (B14): one epoch over the batch in mini-batches of whole groups, one
 * AdamW step each (`applyLossStep`, grad clip from the optimiser). A mini-batch whose DLW
 * weights are all 0 (only uniform groups) or, for DPO, that has no pair is skipped: it has
 * nothing to learn and a zero-gradient Adam step would still move the weights through
 * the moments and weight decay.
 *
 * @param rm π_φ (trained in place).
 * @param batch `tokens [B,T]` int32, `mask [B,T]` response mask.
 */
export async function onlineRmUpdate(
  rm: TinyLM,
  batch: { tokens: tf.Tensor2D; mask: tf.Tensor2D },
  options: OnlineRmOptions,
): Promise<OnlineRmResult> {
  const { tokens, mask } = batch;
  checkShape(mask, "mask", tokens.shape, "[B,T]");
  checkShape(options.logpRef, "logpRef", tokens.shape, "[B,T]");
  const b = tokens.shape[0];
  if (options.labels.length !== b) {
    throw new RangeError(`Invalid labels: expected length B=${b}, got ${options.labels.length}`);
  }
  checkGroupSize(b, options.groupSize);
  const mbRows = options.miniBatchRows;
  if (!Number.isInteger(mbRows) || mbRows < 1 || mbRows % options.groupSize !== 0) {
    throw new RangeError(
      `Invalid miniBatchRows: mini-batches must hold whole groups: got ${mbRows}, G=${options.groupSize}`,
    );
  }
  for (
    const [name, xs] of [["sampleWeights", options.sampleWeights], [
      "sampleMargins",
      options.sampleMargins,
    ]] as const
  ) {
    if (xs.length !== b) {
      throw new RangeError(`Invalid ${name}: expected length B=${b}, got ${xs.length}`);
    }
  }
  const scores: number[] = [];
  const { sums, steps } = await overMiniBatches(b, {
    miniBatchRows: mbRows,
    slice: (s, n): RmMiniBatch => {
      const ys = options.labels.slice(s, s + n);
      return {
        tokens: rowSlice(tokens, s, n),
        mask: rowSlice(mask, s, n),
        logpRef: rowSlice(options.logpRef, s, n),
        labels: tf.tensor1d(ys, "float32"),
        weights: tf.tensor1d(options.sampleWeights.slice(s, s + n), "float32"),
        margins: tf.tensor1d(options.sampleMargins.slice(s, s + n), "float32"),
        pairs: options.kind === "dpo"
          ? dpoPairsFromGroups(ys, { groupSize: options.groupSize })
          : [],
      };
    },
    step: async (mb, s, n) => {
      // no weight (only uniform groups) or, for DPO, no pair: nothing to learn, no step
      const skip = options.kind === "dpo"
        ? mb.pairs.length === 0
        : options.sampleWeights.slice(s, s + n).every((w) => w === 0);
      let kept: tf.Tensor1D | null = null;
      try {
        let figures: { loss: number; gradNorm: number } | null = null;
        if (skip) {
          kept = tf.tidy(() =>
            logRatio(tokenLogprobs(rm, mb.tokens), mb.logpRef, { mask: mb.mask }).sum(1)
          );
        } else {
          const r = await applyLossStep(rm, () => {
            const { loss, scores: sc } = rmLossFn(rm, mb, options);
            kept = tf.keep(sc); // same forward, before this mini-batch's step
            return loss;
          }, { optimizer: options.optimizer });
          figures = { loss: r.loss, gradNorm: r.gradNorm };
        }
        scores.push(...await (kept as tf.Tensor1D | null)!.data());
        return figures;
      } finally {
        if (kept) (kept as tf.Tensor).dispose();
      }
    },
  });
  return {
    loss: steps > 0 ? sums.loss / steps : NaN,
    gradNorm: steps > 0 ? sums.gradNorm / steps : NaN,
    accBefore: rmPairAccuracy(scores, options.labels, { groupSize: options.groupSize }),
    updates: steps,
  };
}

/**
 * Pairwise RM accuracy (B14) of sequence-sum scores `Σ_t ℓ_t` of a log-ratio `[B,T]`
 * (β does not change the order). Async: reads the scores.
 */
export async function pairAccuracyOf(
  logratio: tf.Tensor2D,
  mask: tf.Tensor2D,
  options: { labels: readonly number[]; groupSize: number },
): Promise<number> {
  const s = tf.tidy(() => logratio.mul(mask).sum(1));
  try {
    return rmPairAccuracy(await s.data(), options.labels, { groupSize: options.groupSize });
  } finally {
    s.dispose();
  }
}
