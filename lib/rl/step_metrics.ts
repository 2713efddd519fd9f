/**
 * The metric bookkeeping of the RL step (methods.md d5; each key is defined once in
 * docs/metrics.md): rollout and filter figures, then the figures of the update phases. It
 * only reads what the phases produced (and, for `rm/acc_after` with `rmUpdate: "after"`,
 * one more no-grad forward of the updated RM).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TinyLM } from "../model/lm.ts";
import { tokenLogprobs } from "../model/logprobs.ts";
import { logRatio, sequenceScore } from "../rm/prefix_values.ts";
import type { RmUpdate } from "./config.ts";
import { type OnlineRmResult, pairAccuracyOf } from "./online_rm.ts";
import type { PolicyUpdate } from "./policy_update.ts";
import type { RLBatch, Rollouts } from "./_rollout.ts";

/** Per-step metrics (docs/metrics.md defines each key once). */
export type StepMetrics = Record<string, number>;

/**
 * Rollout and filter metrics (B15 steps 1–3): verifier accuracy of all rollouts and of the
 * kept ones, the fraction of mixed groups drawn, the uniform groups that filled the batch,
 * response length and truncation.
 */
export function rolloutMetrics(
  roll: Rollouts,
  batch: RLBatch,
  groups: readonly number[],
): StepMetrics {
  const n = roll.labels.length, g = roll.groupSize;
  let mixed = 0;
  for (let k = 0; k < n / g; k++) {
    const mu = roll.labels.slice(k * g, (k + 1) * g).reduce((a, x) => a + x, 0) / g;
    if (mu > 0 && mu < 1) mixed++;
  }
  return {
    "verifier/accuracy": roll.labels.reduce((a, x) => a + x, 0) / n,
    "verifier/accuracy_kept": batch.labels.reduce((a, x) => a + x, 0) / batch.labels.length,
    "filter/mixed_frac": mixed / (n / g),
    "filter/kept_uniform": groups.length - Math.min(mixed, groups.length),
    "rollout/length": roll.responses.reduce((a, r) => a + r.length, 0) / n,
    "rollout/truncated_frac": roll.truncated.filter((x) => x).length / n,
  };
}

/** What the update phases produced, as {@linkcode updateMetrics} reads it. */
export interface UpdateFigures {
  /** The policy update (B15 step 10). */
  pol: PolicyUpdate;
  /** The online RM update, before or after the policy (null when none). */
  rm: OnlineRmResult | null;
  /** Sampled-token advantage `A [B,T]`. */
  advantages: tf.Tensor2D;
  /** σ_V (B9) or null. */
  sigmaV: tf.Scalar | null;
  /** Mean candidate-set size and mass (B8, d4) or null. */
  cand: { size: tf.Scalar; mass: tf.Scalar } | null;
  /** The rescoring's `ℓ [B,T]` (null without an RM). */
  logratio: tf.Tensor2D | null;
  /** `log π_ref` of the realised tokens `[B,T]`. */
  refLogp: tf.Tensor2D;
  /** When the RM was updated. */
  rmUpdate: RmUpdate;
}

/** Metrics of the update phases (B15 steps 4–10). Async: reads the scalars once. */
export async function updateMetrics(
  rm: TinyLM | null,
  batch: RLBatch,
  x: UpdateFigures,
): Promise<StepMetrics> {
  const out: StepMetrics = {
    "loss/policy": x.pol.loss,
    "loss/tok": x.pol.tokLoss,
    "loss/dist": x.pol.distLoss,
    "clip/tok_frac": x.pol.tokClipFrac,
    "clip/dist_frac": x.pol.distClipFrac,
    ...(Number.isFinite(x.pol.entropy) ? { "policy/entropy": x.pol.entropy } : {}),
    "policy/grad_norm": x.pol.gradNorm,
  };
  const named: Record<string, tf.Scalar> = {};
  const tmp: tf.Tensor[] = [];
  const scalar = (t: tf.Scalar) => (tmp.push(t), t);
  named["adv/mean"] = scalar(
    tf.tidy(() => x.advantages.mul(batch.mask).sum().div(batch.mask.sum())),
  );
  if (x.sigmaV) named["adv/sigma_v"] = x.sigmaV;
  if (x.cand) {
    named["cand/size"] = x.cand.size;
    named["cand/mass"] = x.cand.mass;
  }
  let lrAfter: tf.Tensor2D | null = null;
  if (x.logratio && rm) {
    const lr = x.logratio;
    // Eq. 19: (1/|y|) Σ_t ℓ_t, no β, mean over the batch's trajectories
    named["rm/score"] = scalar(
      tf.tidy(() => sequenceScore(lr, batch.mask, { reduce: "mean", beta: 1 }).mean() as tf.Scalar),
    );
    // acc after the update: the rescoring forward when the RM was updated before it,
    // else one more forward of the updated RM
    lrAfter = x.rmUpdate === "after"
      ? tf.tidy(() => logRatio(tokenLogprobs(rm, batch.tokens), x.refLogp, { mask: batch.mask }))
      : lr;
  }
  try {
    const keys = Object.keys(named);
    const stacked = tf.tidy(() => tf.stack(keys.map((k) => named[k]!)));
    const vals = await stacked.data();
    stacked.dispose();
    keys.forEach((k, i) => (out[k] = vals[i]!));
    if (lrAfter) {
      out["rm/acc_after"] = await pairAccuracyOf(lrAfter, batch.mask, {
        labels: batch.labels,
        groupSize: batch.groupSize,
      });
    }
  } finally {
    tf.dispose(tmp);
    if (lrAfter && lrAfter !== x.logratio) lrAfter.dispose();
  }
  if (x.rm) {
    out["rm/acc_before"] = x.rm.accBefore;
    out["rm/updates"] = x.rm.updates;
    if (x.rm.updates > 0) {
      out["loss/rm"] = x.rm.loss;
      out["rm/grad_norm"] = x.rm.gradNorm;
    }
  }
  return out;
}
