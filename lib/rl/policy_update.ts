/**
 * The policy update of the RL step (methods.md B11–B13, B15 step 10; paper Eq. 11–14): one
 * epoch over mini-batches of whole groups, in order, one AdamW step each with the
 * optimiser's gradient clip, on `L = L_Tok + α L_Dist` (+ PRIME's entropy bonus).
 *
 * `log π_θ` at the sampled tokens (and candidates) is the only differentiated forward;
 * π_old log-probs, candidate ids / mask and the advantages are constants computed before.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TinyLM } from "../model/lm.ts";
import { candidateLogprobs, tokenLogprobs } from "../model/logprobs.ts";
import { applyLossStep, type Optimizer } from "../model/train.ts";
import type { RLConfig } from "./config.ts";
import { aggregateEntropy, type PolicyLoss, policyLoss, tokenEntropy } from "./policy_loss.ts";
import { overMiniBatches, rowSlice } from "./_minibatch.ts";
import { tidyRecord } from "./_tidy.ts";

/** Constants of the policy loss for a batch (or one mini-batch of it). */
export interface PolicyMiniBatch {
  /** `[B,T]` int32. */
  tokens: tf.Tensor2D;
  /** `[B,T]` response mask. */
  mask: tf.Tensor2D;
  /** `log π_old(y_t|s_t)` `[B,T]`. */
  logpOld: tf.Tensor2D;
  /** Sampled-token advantage `A [B,T]` (Eq. 13). */
  advantages: tf.Tensor2D;
  /** Candidate ids, mask, `log π_old` and `Â^TD` (Eq. 10), `[B,T,K]` each; null without the dist branch. */
  cand:
    | { ids: tf.Tensor3D; mask: tf.Tensor3D; logpOld: tf.Tensor3D; advantages: tf.Tensor3D }
    | null;
}

/**
 * The policy loss of one mini-batch (B11–B13, Eq. 14) as a function of the policy's variables:
 * `log π_θ` at the sampled tokens (and candidates) is the only differentiated forward.
 */
export function policyLossFn(
  policy: TinyLM,
  mb: PolicyMiniBatch,
  config: RLConfig,
): PolicyLoss & { metrics: { entropy: tf.Scalar } } {
  const s = config.switches, temperature = config.budget.rolloutTemperature;
  return tidyRecord(() => {
    const common = {
      logpOld: mb.logpOld,
      advantages: mb.advantages,
      mask: mb.mask,
      epsLow: s.epsLow,
      epsHigh: s.epsHigh,
      distEps: s.distEps,
      dualClip: s.dualClip,
      alpha: s.alpha,
      agg: s.lossAgg,
    };
    // The entropy bonus needs the full next-token distribution: one forward picks every id.
    const vocab = s.entropyCoef > 0
      ? candidateLogprobs(policy, mb.tokens, { candidates: allIds(policy, mb.tokens), temperature })
      : null;
    let r: PolicyLoss;
    if (!mb.cand) {
      r = policyLoss(
        vocab?.logp ?? tokenLogprobs(policy, mb.tokens, { temperature }),
        null,
        common,
      );
    } else {
      const c = candidateLogprobs(policy, mb.tokens, { candidates: mb.cand.ids, temperature });
      r = policyLoss(c.logp, c.candidateLogp, {
        ...common,
        candLogpOld: mb.cand.logpOld,
        candAdvantages: mb.cand.advantages,
        candMask: mb.cand.mask,
      });
    }
    if (!vocab) return { ...r, metrics: { ...r.metrics, entropy: tf.scalar(NaN) } };
    const h = aggregateEntropy(tokenEntropy(vocab.candidateLogp), mb.mask, s.lossAgg);
    return {
      loss: r.loss.sub(h.mul(s.entropyCoef)) as tf.Scalar,
      metrics: { ...r.metrics, entropy: h },
    };
  });
}

/** Every vocabulary id at every position, `[B,L,V]` int32. */
function allIds(policy: TinyLM, tokens: tf.Tensor2D): tf.Tensor3D {
  const [b, l] = tokens.shape, v = policy.config.vocab;
  return tf.tidy(() =>
    tf.broadcastTo(tf.range(0, v, 1, "int32").reshape([1, 1, v]), [b, l, v]) as tf.Tensor3D
  );
}

/** Mean policy-update figures over the mini-batches. */
export interface PolicyUpdate {
  loss: number;
  tokLoss: number;
  distLoss: number;
  tokClipFrac: number;
  distClipFrac: number;
  /** Mean aggregated policy entropy (NaN when the entropy bonus is off: not computed). */
  entropy: number;
  gradNorm: number;
  updates: number;
}

/**
 * Policy update (B15 step 10): one epoch over mini-batches of `miniBatchPrompts` whole
 * groups, in order, one AdamW step each with the optimiser's grad clip.
 *
 * @param batch the constants of the whole batch (sliced per mini-batch).
 */
export async function updatePolicy(
  policy: TinyLM,
  optimizer: Optimizer,
  batch: PolicyMiniBatch & { groupSize: number },
  config: RLConfig,
): Promise<PolicyUpdate> {
  const rows = config.budget.miniBatchPrompts * batch.groupSize;
  const { sums, steps } = await overMiniBatches(batch.tokens.shape[0], {
    miniBatchRows: rows,
    slice: (s, n): PolicyMiniBatch => ({
      tokens: rowSlice(batch.tokens, s, n),
      mask: rowSlice(batch.mask, s, n),
      logpOld: rowSlice(batch.logpOld, s, n),
      advantages: rowSlice(batch.advantages, s, n),
      cand: batch.cand
        ? {
          ids: rowSlice(batch.cand.ids, s, n),
          mask: rowSlice(batch.cand.mask, s, n),
          logpOld: rowSlice(batch.cand.logpOld, s, n),
          advantages: rowSlice(batch.cand.advantages, s, n),
        }
        : null,
    }),
    step: async (mb) => {
      let kept: tf.Tensor | null = null;
      try {
        const r = await applyLossStep(policy, () => {
          const { loss, metrics: m } = policyLossFn(policy, mb, config);
          kept = tf.keep(
            tf.stack([m.tokLoss, m.distLoss, m.tokClipFrac, m.distClipFrac, m.entropy]),
          );
          return loss;
        }, { optimizer });
        const m = await (kept as unknown as tf.Tensor).data();
        return {
          loss: r.loss,
          gradNorm: r.gradNorm,
          tokLoss: m[0]!,
          distLoss: m[1]!,
          tokClipFrac: m[2]!,
          distClipFrac: m[3]!,
          entropy: m[4]!,
        };
      } finally {
        if (kept) (kept as tf.Tensor).dispose();
      }
    },
  });
  const u = Math.max(steps, 1);
  const mean = (k: keyof typeof sums) => (sums[k] ?? 0) / u;
  return {
    loss: mean("loss"),
    tokLoss: mean("tokLoss"),
    distLoss: mean("distLoss"),
    tokClipFrac: mean("tokClipFrac"),
    distClipFrac: mean("distClipFrac"),
    entropy: mean("entropy"),
    gradNorm: mean("gradNorm"),
    updates: steps,
  };
}
