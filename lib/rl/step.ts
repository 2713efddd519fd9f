/**
 * THE RL step (methods.md B15; paper Sec. 3.2–3.3, Eq. 10–15; App. B): one function per
 * phase, called in B15's order, each a call into the pure maths of lib/rl and lib/rm:
 *
 *   1 rollout → 2 verify → 3 filter → 4 ADB/DLW → 5 recompute π_old → 5/8 candidate set →
 *   6 RM update → 7 rescore → 9 token advantage (Eq. 13) → 9 candidate advantage (Eq. 10) →
 *   10 policy update (Eq. 14) → log
 *
 * (The numbers are B15's. The candidate set of B8 is built at step 5, from the same π_old
 * distribution that step 5 reads, because rescoring at step 7 reads the RM at its ids; its
 * mask is B15 step 8. B15 step 11, pushing weights to a sampler, has no counterpart: the
 * policy samples itself.)
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
import type { Optimizer } from "../model/train.ts";
import type { CounterRng } from "../prng.ts";
import { logRatio } from "../rm/prefix_values.ts";
import type { Problem } from "../testbed/task.ts";
import { adbDlw } from "./adb_dlw.ts";
import {
  candidateAdvantages,
  candidateTd,
  grpoAdvantages,
  tokenAdvantages,
  tokenTd,
} from "./advantages.ts";
import { candidateSet, gatherCandidates } from "./candidates.ts";
import type { Method, RLConfig } from "./config.ts";
import { type OnlineRmResult, onlineRmUpdate } from "./online_rm.ts";
import { type PolicyUpdate, updatePolicy } from "./policy_update.ts";
import { primeAdvantages } from "./prime.ts";
import { rolloutMetrics, type StepMetrics, updateMetrics } from "./step_metrics.ts";
import { tidyRecord } from "./_tidy.ts";
import {
  buildBatch,
  disposeBatch,
  type RLBatch,
  rollout,
  type RolloutTask,
  selectGroups,
  verifyRollouts,
} from "./_rollout.ts";
import { tensorsOf } from "./_minibatch.ts";

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

/**
 * The phases of the step, in B15's order (`rm_update` runs after `policy_update` instead
 * when `rmUpdate: "after"`, and not at all when `"none"`).
 */
export const PHASES = [
  "rollout", // 1
  "verify", // 2
  "filter", // 3
  "adb_dlw", // 4
  "recompute_old", // 5
  "candidate_set", // 5 (ids, log π_old[K]) and 8 (mask), B8
  "rm_update", // 6
  "rescore", // 7
  "token_advantage", // 9, Eq. 13
  "candidate_advantage", // 9, Eq. 10
  "policy_update", // 10, Eq. 14
  "log",
] as const;

/** One phase of the step (for tests and tracing). */
export type Phase = typeof PHASES[number];

/** Options of {@linkcode rlStep} / {@linkcode updateOnBatch}. */
export interface StepOptions {
  /** Resolved config. */
  config: RLConfig;
  /** Prompt encoding and verifier. */
  task: RolloutTask;
  /**
   * Counter-based draws of the rollouts (`runRL`: seed and step in the stream name; rollout
   * `j` of a prompt draws `rng.uniform(prompt key, j, t)` at token `t`).
   */
  rng: CounterRng;
  /**
   * Called as each phase ends, with the constants it produced (read-only; disposed after
   * the step: clone what you keep).
   */
  onPhase?: (phase: Phase, tensors: Record<string, tf.Tensor>) => void;
}

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
  const trace = options.onPhase ?? (() => {});
  const t0 = performance.now();
  // 1. rollout: G responses per prompt from π_old at the rollout temperature
  const samples = await rollout(models.policy, problems, {
    task: options.task,
    groupSize: bud.groupSize,
    rng: options.rng,
    temperature: bud.rolloutTemperature,
    maxResponseTokens: bud.maxResponseTokens,
    samplingBatch: bud.samplingBatch,
  });
  trace("rollout", {});
  // 2. verify: outcomes r_o
  const roll = verifyRollouts(samples, options.task);
  trace("verify", {});
  const t1 = performance.now();
  // 3. filter: mixed groups first, uniform groups fill when short (oversampling)
  const groups = selectGroups(roll.labels, roll.truncated, {
    groupSize: bud.groupSize,
    keep: bud.promptsPerStep,
  });
  const batch = buildBatch(roll, groups);
  trace("filter", { tokens: batch.tokens, mask: batch.mask });
  try {
    const m = await updateOnBatch(models, batch, options);
    return {
      ...rolloutMetrics(roll, batch, groups),
      ...m,
      "time/rollout_ms": t1 - t0,
      "time/step_ms": performance.now() - t0,
    };
  } finally {
    disposeBatch(batch);
  }
}

/**
 * Phases 4–10 of the step and the log, on a fixed batch (the benchmark runs methods on the
 * same one).
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
  const rmUpdate = c.switches.rmUpdate;
  try {
    // 4. ADB margins and DLW weights (B14), from the verifier outcomes only
    const constants = adbDlwConstants(batch, c);
    trace("adb_dlw", {});
    // 5. π_old with the training network at the rollout temperature
    const old = own(owned, await recomputeOld(models.policy, batch, c));
    trace("recompute_old", flat({ logp: old.logp }));
    // 5/8. candidate set (B8) from the same π_old distribution
    const cand = own(owned, candidates(old, batch, c));
    trace("candidate_set", flat(cand));
    // the reference of ℓ in the RM update and the TD, switched together (App. B, e13)
    const ref = own(owned, referenceLogprobs(models.sft, batch, { old, cand }, c));
    // 6. online RM update before rescoring (B14)
    const rmPre = rmUpdate === "before" ? await updateRm(models, batch, ref, constants, c) : null;
    if (rmPre) trace("rm_update", {});
    // 7. rescore with the updated RM: a separate forward without gradient
    const scores = own(owned, rescore(models.rm, batch, { cand, ref }, c));
    trace("rescore", flat(scores));
    // 9. sampled-token advantage (Eq. 13)
    const tok = own(owned, tokenAdvantage(batch, scores, c));
    trace("token_advantage", flat(tok));
    // 9. candidate advantage (Eq. 10)
    const candAdv = own(owned, candidateAdvantage(batch, { scores, sigmaV: tok.sigmaV }, c));
    trace("candidate_advantage", candAdv ? { candAdvantages: candAdv } : {});
    // 10. policy update: mini-batches of whole groups, one epoch, grad clip (Eq. 14)
    const pol = await policyUpdate(models, batch, { old, cand, tok, candAdv }, c);
    trace("policy_update", {});
    const rmPost = rmUpdate === "after" ? await updateRm(models, batch, ref, constants, c) : null;
    if (rmPost) trace("rm_update", {});
    // log
    const m = await updateMetrics(models.rm, batch, {
      pol,
      rm: rmPre ?? rmPost,
      advantages: tok.advantages,
      sigmaV: tok.sigmaV,
      cand: cand ? { size: cand.size, mass: cand.mass } : null,
      logratio: scores?.logratio ?? null,
      refLogp: ref.logp,
      rmUpdate,
    });
    trace("log", {});
    return { ...m, "time/update_ms": performance.now() - t0 };
  } finally {
    tf.dispose([...owned]);
  }
}

// ---------------------------------------------------------------------------------------
// Phases (each returns constants of the phases after it)

/** DLW weights and ADB margins per row (B14), host float64. */
export interface SampleConstants {
  weights: number[];
  margins: number[];
}

/**
 * Phase 4 (B14, paper Eq. 15): per-row DLW weights and ADB margins from the outcomes alone,
 * or null when the step updates no RM.
 */
export function adbDlwConstants(batch: RLBatch, config: RLConfig): SampleConstants | null {
  if (config.switches.rmUpdate === "none" || !config.rm) return null;
  const s = config.switches;
  return adbDlw(batch.labels, {
    groupSize: batch.groupSize,
    margin: config.rmHyper.margin,
    dlw: s.dlw,
    adb: s.adb,
    skipUniform: s.rmSkipUniform,
  });
}

/** π_old constants (B15 step 5). */
export interface OldPolicy {
  /** `log π_old(y_t|s_t)` `[B,T]`. */
  logp: tf.Tensor2D;
  /** The full next-token log-distribution `[B,T,V]` when the distribution branch is on. */
  dist: tf.Tensor3D | null;
}

/**
 * Phase 5: recomputes π_old with the training network at the rollout temperature
 * (methods.md (f)). DistRL reads the full next-token distribution once (the candidate set
 * is built from it); other methods need only the sampled tokens.
 */
export async function recomputeOld(
  policy: TinyLM,
  batch: RLBatch,
  config: RLConfig,
): Promise<OldPolicy> {
  const temperature = config.budget.rolloutTemperature;
  if (config.switches.alpha === 0) {
    return {
      logp: tf.tidy(() => tokenLogprobs(policy, batch.tokens, { temperature })),
      dist: null,
    };
  }
  const full = await nextTokenLogprobs(policy, batch.tokens, { temperature, align: "token" });
  return tidyRecord(() => {
    const dist = tf.tensor3d(full.data, full.shape);
    const logp = gatherCandidates(dist, batch.tokens.expandDims(2) as tf.Tensor3D).squeeze([2]);
    return { logp: logp as tf.Tensor2D, dist };
  });
}

/** The candidate set of the step (B8): `[B,T,K]` ids, mask, `log π_old`, and its mean size / mass. */
export interface Candidates {
  ids: tf.Tensor3D;
  mask: tf.Tensor3D;
  logp: tf.Tensor3D;
  size: tf.Scalar;
  mass: tf.Scalar;
}

/**
 * Phase 5/8 (B8): the candidate set from π_old's full distribution (null when the
 * distribution branch is off). The distribution is freed here: nothing later reads it.
 */
export function candidates(old: OldPolicy, batch: RLBatch, config: RLConfig): Candidates | null {
  if (!old.dist) return null;
  const s = config.switches, dist = old.dist;
  try {
    return tidyRecord(() => {
      const c = candidateSet(dist, {
        sampled: batch.tokens,
        mask: batch.mask,
        mode: s.candidateSet,
        pMin: s.pMin,
        topK: s.topK ?? dist.shape[2],
        dropLast: s.dropLastTd,
      });
      return { ids: c.ids, mask: c.mask, logp: c.logp, size: c.meanSize, mass: c.meanMass };
    });
  } finally {
    dist.dispose();
    old.dist = null;
  }
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
  x: { old: OldPolicy; cand: Candidates | null },
  config: RLConfig,
): RefLogprobs {
  if (config.switches.ref === "old") return { logp: x.old.logp, candLogp: x.cand?.logp ?? null };
  if (!sft) {
    throw new RangeError('Invalid models.sft: ref "sft" needs the frozen SFT copy, got null');
  }
  return tidyRecord(() => {
    if (!x.cand) return { logp: tokenLogprobs(sft, batch.tokens), candLogp: null };
    const r = candidateLogprobs(sft, batch.tokens, { candidates: x.cand.ids });
    return { logp: r.logp, candLogp: r.candidateLogp };
  });
}

/** Phase 6 (B14): the online RM update on the batch, reference as switched. */
async function updateRm(
  models: RLModels,
  batch: RLBatch,
  ref: RefLogprobs,
  constants: SampleConstants | null,
  c: RLConfig,
): Promise<OnlineRmResult> {
  if (!models.rm || !models.rmOpt || !c.rm || !constants) {
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
    sampleWeights: constants.weights,
    sampleMargins: constants.margins,
  });
}

/** RM scores of the batch: `ℓ [B,T]` (masked, B1) and the candidate TD `δ [B,T,K]` (Eq. 10). */
export interface Scores {
  logratio: tf.Tensor2D;
  tdCand: tf.Tensor3D | null;
}

/**
 * Phase 7 (B9, B15 step 7): a no-grad forward of the RM (after its update when
 * `rmUpdate: "before"`): `ℓ = logRatio(log π_φ, log π_ref)` and at the candidates
 * `δ = candidateTd(log π_φ(c), log π_ref(c))`. Null when there is no RM (`grpo`).
 */
export function rescore(
  rm: TinyLM | null,
  batch: RLBatch,
  x: { cand: Candidates | null; ref: RefLogprobs },
  config: RLConfig,
): Scores | null {
  if (!rm) return null;
  const beta = config.rmHyper.beta, { cand, ref } = x;
  return tidyRecord(() => {
    if (!cand || !ref.candLogp) {
      const logp = tokenLogprobs(rm, batch.tokens);
      return { logratio: logRatio(logp, ref.logp, { mask: batch.mask }), tdCand: null };
    }
    const r = candidateLogprobs(rm, batch.tokens, { candidates: cand.ids });
    return {
      logratio: logRatio(r.logp, ref.logp, { mask: batch.mask }),
      tdCand: candidateTd(r.candidateLogp, ref.candLogp, { beta, mask: cand.mask }),
    };
  });
}

/** The sampled-token advantage and σ_V (constants of the policy loss). */
export interface TokenAdvantage {
  /** `A [B,T]`. */
  advantages: tf.Tensor2D;
  /** σ_V (B9) or null (`grpo`, `prime`). */
  sigmaV: tf.Scalar | null;
}

function needScores(scores: Scores | null, method: Method): Scores {
  if (!scores) throw new RangeError(`Invalid models.rm: method "${method}" needs an RM, got null`);
  return scores;
}

type TokenAdvantageFn = (batch: RLBatch, scores: Scores | null, c: RLConfig) => TokenAdvantage;

/** Eq. 13 with the RM's TD: `c_out · GRPO + c_gae · whiten(GAE(norm(β ℓ)))`. */
const tdTokenAdvantage: TokenAdvantageFn = (batch, scores, c) => {
  const s = needScores(scores, c.method), sw = c.switches;
  const r = tokenAdvantages(tokenTd(s.logratio, { beta: c.rmHyper.beta }), batch.mask, {
    outcomes: batch.outcomes,
    groupSize: batch.groupSize,
    gaeNorm: sw.gaeNorm,
    whitenGae: sw.whitenGae,
    gaeCoef: sw.gaeCoef,
    outcomeCoef: sw.outcomeCoef,
    dropLastTd: sw.dropLastTd,
  });
  return { advantages: r.advantages, sigmaV: r.sigmaV };
};

/** Sampled-token advantage per method (B10, B16). */
const TOKEN_ADVANTAGES = {
  // GRPO w/ VR: c_out · (r − μ)/s broadcast over the response
  grpo: (batch, _scores, c) => ({
    advantages: grpoAdvantages(batch.outcomes, { groupSize: batch.groupSize })
      .mul(c.switches.outcomeCoef).expandDims(1).mul(batch.mask) as tf.Tensor2D,
    sigmaV: null,
  }),
  grpo_ipvrm: tdTokenAdvantage,
  // PRIME: RLOO(implicit) + RLOO(outcome), returns, whitening
  prime: (batch, scores, c) => ({
    advantages: primeAdvantages(needScores(scores, "prime").logratio, batch.mask, {
      outcomes: batch.outcomes,
      groupSize: batch.groupSize,
      beta: c.rmHyper.beta,
    }).advantages,
    sigmaV: null,
  }),
  distrl: tdTokenAdvantage,
} as const satisfies Record<Method, TokenAdvantageFn>;

/** Phase 9, token branch (B10, paper Eq. 13; B16 for PRIME): all constants. */
export function tokenAdvantage(
  batch: RLBatch,
  scores: Scores | null,
  config: RLConfig,
): TokenAdvantage {
  // the estimators' intermediate tensors are freed by this tidy; only the outputs stay
  return tidyRecord(() => TOKEN_ADVANTAGES[config.method](batch, scores, config));
}

/**
 * Phase 9, distribution branch (B9, paper Eq. 10): `Â^TD = δ_cand / σ_V` for DistRL with a
 * candidate set; null otherwise.
 */
export function candidateAdvantage(
  batch: RLBatch,
  x: { scores: Scores | null; sigmaV: tf.Scalar | null },
  config: RLConfig,
): tf.Tensor3D | null {
  const td = x.scores?.tdCand;
  if (config.method !== "distrl" || !td || !x.sigmaV) return null;
  return candidateAdvantages(td, batch.mask, {
    sigmaV: x.sigmaV,
    dropLastTd: config.switches.dropLastTd,
  });
}

/** Phase 10 (B11–B13, paper Eq. 14): the policy update on the step's constants. */
function policyUpdate(
  models: RLModels,
  batch: RLBatch,
  x: {
    old: OldPolicy;
    cand: Candidates | null;
    tok: TokenAdvantage;
    candAdv: tf.Tensor3D | null;
  },
  config: RLConfig,
): Promise<PolicyUpdate> {
  return updatePolicy(models.policy, models.policyOpt, {
    groupSize: batch.groupSize,
    tokens: batch.tokens,
    mask: batch.mask,
    logpOld: x.old.logp,
    advantages: x.tok.advantages,
    cand: x.cand && x.candAdv
      ? { ids: x.cand.ids, mask: x.cand.mask, logpOld: x.cand.logp, advantages: x.candAdv }
      : null,
  }, config);
}

// ---------------------------------------------------------------------------------------
// Helpers

/** Every tensor reachable in a (nested) record, by dotted path. */
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
  for (const t of tensorsOf(x)) set.add(t);
  return x;
}

export { buildBatch, disposeBatch, rollout, selectGroups, verifyRollouts };
export type { RLBatch, RolloutTask, StepMetrics };
