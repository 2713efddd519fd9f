/**
 * THE RL step (methods.md B15; paper Sec. 3.2–3.3, Eq. 10–15; App. B), one linear function
 * whose phases are calls into the pure maths of lib/rl and lib/rm:
 *
 *   rollout → verify → filter → recompute π_old → RM update → rescore → candidates →
 *   advantages → policy update → metrics
 *
 * Everything the policy loss treats as a constant (π_old and reference log-probs, candidate
 * ids / mask / `p_old`, advantages, σ_V, DLW weights, ADB margins) is computed by a forward
 * outside the closure given to `tf.variableGrads` (TF.js has no stopGradient). π_old is the
 * policy at the start of the step: its log-probs are read once, before any update, so they
 * are a frozen snapshot; the SFT reference is a frozen copy (`frozenCopy`).
 *
 * Shapes: `B` rows (= prompts × G, groups consecutive), `T` columns (BOS + prompt +
 * response + PAD, response mask token-aligned), `K` candidate slots, `V` vocabulary.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type TinyLM } from "../model/lm.ts";
import { candidateLogprobs, nextTokenLogprobs, tokenLogprobs } from "../model/logprobs.ts";
import { applyLossStep, type Optimizer } from "../model/train.ts";
import type { Rng } from "../prng.ts";
import { sequenceScore } from "../rm/prefix_values.ts";
import type { Problem } from "../testbed/task.ts";
import { distrlAdvantages, grpoAdvantages } from "./advantages.ts";
import { candidateSet, gatherCandidates } from "./candidates.ts";
import type { Method, RLConfig } from "./config.ts";
import { type OnlineRmResult, onlineRmUpdate, pairAccuracyOf } from "./online_rm.ts";
import { aggregateEntropy, type PolicyLoss, policyLoss, tokenEntropy } from "./policy_loss.ts";
import { primeAdvantages } from "./prime.ts";
import { tidyRecord } from "./_tidy.ts";
import {
  buildBatch,
  disposeBatch,
  type RLBatch,
  rollout,
  type RolloutTask,
  selectGroups,
} from "./_rollout.ts";

/** The networks and optimiser states an RL run trains. */
export interface RLModels {
  /** π_θ (also π_old at the start of each step). */
  policy: TinyLM;
  /** AdamW of the policy. */
  policyOpt: Optimizer;
  /** π_φ, the online RM (null for `grpo`). */
  rm: TinyLM | null;
  /** AdamW of the RM (null when no RM is trained). */
  rmOpt: Optimizer | null;
  /** Frozen SFT copy, the reference when `ref: "sft"` (else null). */
  sft: TinyLM | null;
}

/** Phases of the step, in order (for tests and tracing). */
export type Phase =
  | "rollout"
  | "filter"
  | "recompute_old"
  | "rm_update"
  | "rescore"
  | "advantages"
  | "policy_update"
  | "metrics";

/** Options of {@linkcode rlStep} / {@linkcode updateOnBatch}. */
export interface StepOptions {
  /** Resolved config. */
  config: RLConfig;
  /** Prompt encoding and verifier. */
  task: RolloutTask;
  /** Sampling stream (rollouts). */
  rng: Rng;
  /**
   * Called as each phase ends, with the constants it produced (read-only; disposed after
   * the step: clone what you keep).
   */
  onPhase?: (phase: Phase, tensors: Record<string, tf.Tensor>) => void;
}

/** Per-step metrics (docs/metrics.md defines each key once). */
export type StepMetrics = Record<string, number>;

// ---------------------------------------------------------------------------------------
// The step

/**
 * One RL step: draws `G` rollouts of every problem (`problems.length = promptsPerStep ·
 * oversample`), keeps `promptsPerStep` groups and updates RM and policy on them.
 */
export async function rlStep(
  models: RLModels,
  problems: readonly Problem[],
  options: StepOptions,
): Promise<StepMetrics> {
  const c = options.config, bud = c.budget;
  const t0 = performance.now();
  // 1–2. rollout (G per prompt, temperature 1) and verify
  const roll = await rollout(models.policy, problems, {
    task: options.task,
    groupSize: bud.groupSize,
    rng: options.rng,
    temperature: bud.rolloutTemperature,
    maxResponseTokens: bud.maxResponseTokens,
    samplingBatch: bud.samplingBatch,
  });
  options.onPhase?.("rollout", {});
  const t1 = performance.now();
  // 3. mixed-group filter with oversampling (uniform groups fill when short)
  const groups = selectGroups(roll.labels, roll.truncated, {
    groupSize: bud.groupSize,
    keep: bud.promptsPerStep,
  });
  const batch = buildBatch(roll, groups);
  options.onPhase?.("filter", { tokens: batch.tokens, mask: batch.mask });
  try {
    const m = await updateOnBatch(models, batch, options);
    const n = roll.labels.length, g = bud.groupSize;
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
      ...m,
      "time/rollout_ms": t1 - t0,
      "time/step_ms": performance.now() - t0,
    };
  } finally {
    disposeBatch(batch);
  }
}

/**
 * Phases 4–10 of the step on a fixed batch (the benchmark runs methods on the same one):
 * recompute π_old → RM update → rescore → candidates → advantages → policy update → metrics.
 */
export async function updateOnBatch(
  models: RLModels,
  batch: RLBatch,
  options: StepOptions,
): Promise<StepMetrics> {
  const c = options.config;
  const trace = options.onPhase ?? (() => {});
  const t0 = performance.now();
  const owned = new Set<tf.Tensor>();
  try {
    // 4. π_old with the training network and the rollout temperature (+ candidate set)
    const old = own(owned, await recomputeOld(models.policy, batch, c));
    trace("recompute_old", flat(old));
    // reference of ℓ in the RM update and the TD, switched together (App. B)
    const ref = own(owned, referenceLogprobs(models.sft, batch, old, c));
    // 5. online RM update with ADB margins + DLW weights, before rescoring (B15 step 6)
    const rmPre = c.switches.rmUpdate === "before" ? await updateRm(models, batch, ref, c) : null;
    if (rmPre) trace("rm_update", {});
    // 6. rescore with the updated RM: a separate forward without gradient (B15 step 7)
    const scores = own(owned, rescore(models.rm, batch, old, ref, c));
    trace("rescore", flat(scores));
    // 7–8. candidate mask (from 4) and advantages
    const adv = own(owned, computeAdvantages(c, batch, scores, old));
    trace("advantages", flat(adv));
    // 9. policy update: mini-batches of whole groups, one epoch, grad clip
    const pol = await updatePolicy(models.policy, models.policyOpt, batch, { old, adv, config: c });
    trace("policy_update", {});
    const rmPost = c.switches.rmUpdate === "after" ? await updateRm(models, batch, ref, c) : null;
    if (rmPost) trace("rm_update", {});
    // 10. metrics
    const m = await stepMetrics(models, batch, {
      old,
      ref,
      scores,
      adv,
      pol,
      rm: rmPre ?? rmPost,
      config: c,
    });
    trace("metrics", {});
    return { ...m, "time/update_ms": performance.now() - t0 };
  } finally {
    tf.dispose([...owned]);
  }
}

// ---------------------------------------------------------------------------------------
// Phases (each returns constants of the phases after it)

/** π_old constants (B15 step 5). */
export interface OldPolicy {
  /** `log π_old(y_t|s_t)` `[B,T]`. */
  logp: tf.Tensor2D;
  /** Candidate set (B8), only when the distribution branch is on. */
  cand:
    | { ids: tf.Tensor3D; mask: tf.Tensor3D; logp: tf.Tensor3D; size: tf.Scalar; mass: tf.Scalar }
    | null;
}

/**
 * Recomputes π_old with the training network at the rollout temperature (methods.md (f)).
 * DistRL reads the full next-token distribution once and builds the candidate set from it
 * (B8); other methods need only the sampled tokens.
 */
export async function recomputeOld(
  policy: TinyLM,
  batch: RLBatch,
  config: RLConfig,
): Promise<OldPolicy> {
  const s = config.switches, temperature = config.budget.rolloutTemperature;
  if (s.alpha === 0) {
    return {
      logp: tf.tidy(() => tokenLogprobs(policy, batch.tokens, { temperature })),
      cand: null,
    };
  }
  const full = await nextTokenLogprobs(policy, batch.tokens, { temperature, align: "token" });
  return tidyRecord(() => {
    const lp = tf.tensor3d(full.data, full.shape);
    const c = candidateSet(lp, {
      sampled: batch.tokens,
      mask: batch.mask,
      mode: s.candidateSet,
      pMin: s.pMin,
      topK: s.topK ?? full.shape[2],
      dropLast: s.dropLastTd,
    });
    const logp = gatherCandidates(lp, batch.tokens.expandDims(2) as tf.Tensor3D).squeeze([2]);
    return {
      logp: logp as tf.Tensor2D,
      cand: { ids: c.ids, mask: c.mask, logp: c.logp, size: c.meanSize, mass: c.meanMass },
    };
  });
}

/** Reference log-probs of the realised tokens `[B,T]` and the candidates `[B,T,K]`. */
export interface RefLogprobs {
  logp: tf.Tensor2D;
  candLogp: tf.Tensor3D | null;
}

/**
 * The reference of `ℓ` (App. B, B14, e13): `"old"` = the behaviour policy (the π_old
 * constants, reused); `"sft"` = the frozen SFT copy (a no-grad forward).
 */
export function referenceLogprobs(
  sft: TinyLM | null,
  batch: RLBatch,
  old: OldPolicy,
  config: RLConfig,
): RefLogprobs {
  if (config.switches.ref === "old") return { logp: old.logp, candLogp: old.cand?.logp ?? null };
  if (!sft) {
    throw new RangeError('Invalid models.sft: ref "sft" needs the frozen SFT copy, got null');
  }
  return tidyRecord(() => {
    if (!old.cand) return { logp: tokenLogprobs(sft, batch.tokens), candLogp: null };
    const r = candidateLogprobs(sft, batch.tokens, { candidates: old.cand.ids });
    return { logp: r.logp, candLogp: r.candidateLogp };
  });
}

async function updateRm(
  models: RLModels,
  batch: RLBatch,
  ref: RefLogprobs,
  c: RLConfig,
): Promise<OnlineRmResult> {
  if (!models.rm || !models.rmOpt || !c.rm) {
    throw new RangeError(
      `Invalid models.rm: rmUpdate "${c.switches.rmUpdate}" needs an RM and its optimiser`,
    );
  }
  return await onlineRmUpdate(models.rm, batch, {
    kind: c.rm,
    optimizer: models.rmOpt,
    labels: batch.labels,
    groupSize: batch.groupSize,
    logpRef: ref.logp,
    miniBatchRows: c.budget.rmMiniBatchPrompts * batch.groupSize,
    beta: c.rmHyper.beta,
    margin: c.rmHyper.margin,
    adb: c.switches.adb,
    dlw: c.switches.dlw,
    skipUniform: c.switches.rmSkipUniform,
  });
}

/** RM scores of the batch: `ℓ [B,T]` (masked) and the candidate TD `δ [B,T,K]` (β-scaled). */
export interface Scores {
  logratio: tf.Tensor2D;
  tdCand: tf.Tensor3D | null;
}

/**
 * Rescoring (B9, B15 step 7): a no-grad forward of the RM (after its update when
 * `rmUpdate: "before"`): `ℓ = (log π_φ − log π_ref) ⊙ M`, and at the candidates
 * `δ = β (log π_φ(c) − log π_ref(c))`. Null when there is no RM (`grpo`).
 */
export function rescore(
  rm: TinyLM | null,
  batch: RLBatch,
  old: OldPolicy,
  ref: RefLogprobs,
  config: RLConfig,
): Scores | null {
  if (!rm) return null;
  const beta = config.rmHyper.beta;
  return tidyRecord(() => {
    if (!old.cand || !ref.candLogp) {
      const logp = tokenLogprobs(rm, batch.tokens);
      return { logratio: logp.sub(ref.logp).mul(batch.mask) as tf.Tensor2D, tdCand: null };
    }
    const r = candidateLogprobs(rm, batch.tokens, { candidates: old.cand.ids });
    return {
      logratio: r.logp.sub(ref.logp).mul(batch.mask) as tf.Tensor2D,
      tdCand: r.candidateLogp.sub(ref.candLogp).mul(beta).mul(old.cand.mask) as tf.Tensor3D,
    };
  });
}

/** Advantages (constants of the policy loss). */
export interface Advantages {
  /** Sampled-token advantage `A [B,T]`. */
  advantages: tf.Tensor2D;
  /** `Â^TD [B,T,K]` (DistRL) or null. */
  candAdvantages: tf.Tensor3D | null;
  /** σ_V (B9) or null (`grpo`, `prime`). */
  sigmaV: tf.Scalar | null;
}

interface AdvInput {
  c: RLConfig;
  batch: RLBatch;
  scores: Scores | null;
}

function needScores(scores: Scores | null, method: Method): Scores {
  if (!scores) throw new RangeError(`Invalid models.rm: method "${method}" needs an RM, got null`);
  return scores;
}

function tdAdvantages({ c, batch, scores }: AdvInput, withCandidates: boolean): Advantages {
  const s = needScores(scores, c.method), sw = c.switches;
  const r = distrlAdvantages(s.logratio.mul(c.rmHyper.beta) as tf.Tensor2D, batch.mask, {
    outcomes: batch.outcomes,
    groupSize: batch.groupSize,
    tdCandidates: withCandidates ? s.tdCand ?? undefined : undefined,
    gaeNorm: sw.gaeNorm,
    whitenGae: sw.whitenGae,
    gaeCoef: sw.gaeCoef,
    outcomeCoef: sw.outcomeCoef,
    dropLastTd: sw.dropLastTd,
  });
  tf.dispose([r.gae, r.outcomeAdvantages]);
  if (!withCandidates) r.candidateAdvantages.dispose();
  return {
    advantages: r.advantages,
    candAdvantages: withCandidates ? r.candidateAdvantages : null,
    sigmaV: r.sigmaV,
  };
}

/** Advantage estimator per method (B10, B9–B10, B16). */
const ADVANTAGES = {
  // GRPO w/ VR: c_out · (r − μ)/s broadcast over the response
  grpo: ({ c, batch }) => ({
    advantages: grpoAdvantages(batch.outcomes, { groupSize: batch.groupSize })
      .mul(c.switches.outcomeCoef).expandDims(1).mul(batch.mask) as tf.Tensor2D,
    candAdvantages: null,
    sigmaV: null,
  }),
  // GRPO + RM: c_out · GRPO + c_gae · whiten(GAE(norm(β ℓ)))
  grpo_ipvrm: (x) => tdAdvantages(x, false),
  // PRIME: RLOO(implicit) + RLOO(outcome), returns, whitening
  prime: ({ c, batch, scores }) => ({
    advantages: primeAdvantages(needScores(scores, "prime").logratio, batch.mask, {
      outcomes: batch.outcomes,
      groupSize: batch.groupSize,
      beta: c.rmHyper.beta,
    }).advantages,
    candAdvantages: null,
    sigmaV: null,
  }),
  // DistRL: the same sampled-token advantage + δ_cand / σ_V
  distrl: (x) => tdAdvantages(x, true),
} as const satisfies Record<Method, (x: AdvInput) => Advantages>;

/** Advantages of the method (all constants: no gradient flows into them). */
export function computeAdvantages(
  config: RLConfig,
  batch: RLBatch,
  scores: Scores | null,
  _old: OldPolicy,
): Advantages {
  return tidyRecord(() => {
    const r = ADVANTAGES[config.method]({ c: config, batch, scores });
    // prime/grpo intermediate tensors are inside this tidy; keep only the outputs
    return r;
  });
}

/** Constants of one policy mini-batch. */
export interface PolicyMiniBatch {
  tokens: tf.Tensor2D;
  mask: tf.Tensor2D;
  logpOld: tf.Tensor2D;
  advantages: tf.Tensor2D;
  cand:
    | { ids: tf.Tensor3D; mask: tf.Tensor3D; logpOld: tf.Tensor3D; advantages: tf.Tensor3D }
    | null;
}

/**
 * The policy loss of one mini-batch (B11–B13) as a function of the policy's variables:
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
 */
export async function updatePolicy(
  policy: TinyLM,
  optimizer: Optimizer,
  batch: RLBatch,
  options: { old: OldPolicy; adv: Advantages; config: RLConfig },
): Promise<PolicyUpdate> {
  const { old, adv, config } = options;
  const b = batch.labels.length;
  const rows = config.budget.miniBatchPrompts * batch.groupSize;
  const acc = {
    loss: 0,
    tokLoss: 0,
    distLoss: 0,
    tokClipFrac: 0,
    distClipFrac: 0,
    entropy: 0,
    gradNorm: 0,
    updates: 0,
  };
  const useCand = old.cand !== null && adv.candAdvantages !== null;
  for (let s = 0; s < b; s += rows) {
    const n = Math.min(rows, b - s);
    const sl2 = (x: tf.Tensor2D) => x.slice([s, 0], [n, -1]) as tf.Tensor2D;
    const sl3 = (x: tf.Tensor3D) => x.slice([s, 0, 0], [n, -1, -1]) as tf.Tensor3D;
    const mb: PolicyMiniBatch = tidyRecord(() => ({
      tokens: sl2(batch.tokens),
      mask: sl2(batch.mask),
      logpOld: sl2(old.logp),
      advantages: sl2(adv.advantages),
      cand: useCand
        ? {
          ids: sl3(old.cand!.ids),
          mask: sl3(old.cand!.mask),
          logpOld: sl3(old.cand!.logp),
          advantages: sl3(adv.candAdvantages!),
        }
        : null,
    }));
    let kept: tf.Tensor | null = null;
    try {
      const r = await applyLossStep(policy, () => {
        const { loss, metrics } = policyLossFn(policy, mb, config);
        const m = metrics;
        kept = tf.keep(
          tf.stack([m.tokLoss, m.distLoss, m.tokClipFrac, m.distClipFrac, m.entropy]),
        );
        return loss;
      }, { optimizer });
      const m = await (kept as unknown as tf.Tensor).data();
      acc.loss += r.loss;
      acc.gradNorm += r.gradNorm;
      acc.tokLoss += m[0]!;
      acc.distLoss += m[1]!;
      acc.tokClipFrac += m[2]!;
      acc.distClipFrac += m[3]!;
      acc.entropy += m[4]!;
      acc.updates++;
    } finally {
      if (kept) (kept as tf.Tensor).dispose();
      tf.dispose(flat(mb));
    }
  }
  const u = Math.max(acc.updates, 1);
  return {
    loss: acc.loss / u,
    tokLoss: acc.tokLoss / u,
    distLoss: acc.distLoss / u,
    tokClipFrac: acc.tokClipFrac / u,
    distClipFrac: acc.distClipFrac / u,
    entropy: acc.entropy / u,
    gradNorm: acc.gradNorm / u,
    updates: acc.updates,
  };
}

async function stepMetrics(
  models: RLModels,
  batch: RLBatch,
  x: {
    old: OldPolicy;
    ref: RefLogprobs;
    scores: Scores | null;
    adv: Advantages;
    pol: PolicyUpdate;
    rm: OnlineRmResult | null;
    config: RLConfig;
  },
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
    tf.tidy(() => x.adv.advantages.mul(batch.mask).sum().div(batch.mask.sum())),
  );
  if (x.adv.sigmaV) named["adv/sigma_v"] = x.adv.sigmaV;
  if (x.old.cand) {
    named["cand/size"] = x.old.cand.size;
    named["cand/mass"] = x.old.cand.mass;
  }
  let lrAfter: tf.Tensor2D | null = null;
  if (x.scores && models.rm) {
    // Eq. 19: (1/|y|) Σ_t ℓ_t, no β, mean over the batch's trajectories
    named["rm/score"] = scalar(
      tf.tidy(() =>
        sequenceScore(x.scores!.logratio, batch.mask, { reduce: "mean", beta: 1 })
          .mean() as tf.Scalar
      ),
    );
    // acc after the update: the rescoring forward when the RM was updated before it,
    // else one more forward of the updated RM
    lrAfter = x.config.switches.rmUpdate === "after"
      ? tf.tidy(() =>
        tokenLogprobs(models.rm!, batch.tokens).sub(x.ref.logp).mul(batch.mask) as tf.Tensor2D
      )
      : x.scores.logratio;
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
    if (lrAfter && lrAfter !== x.scores?.logratio) lrAfter.dispose();
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

// ---------------------------------------------------------------------------------------
// Helpers

/** Every tensor reachable in a (nested) record. */
function flat(x: unknown): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  const walk = (v: unknown, p: string) => {
    if (v instanceof tf.Tensor) out[p] = v;
    else if (v && typeof v === "object") {
      for (const [k, y] of Object.entries(v)) walk(y, p ? `${p}.${k}` : k);
    }
  };
  walk(x, "");
  return out;
}

/** Registers every tensor of `x` for disposal at the end of the step and returns `x`. */
function own<T>(set: Set<tf.Tensor>, x: T): T {
  for (const t of Object.values(flat(x))) set.add(t);
  return x;
}

export { buildBatch, disposeBatch, rollout, selectGroups };
export type { RLBatch, RolloutTask };
