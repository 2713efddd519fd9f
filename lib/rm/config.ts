/**
 * Typed configuration of the offline reward-model trainer (DPO-RM, Implicit PRM, IPVRM):
 * {@linkcode RMConfig}, {@linkcode DEFAULT_RM_CONFIG} and one {@linkcode resolveRMConfig}
 * that applies a switch preset (`paper` / `repo`, methods.md (e)), a budget preset per
 * pipeline preset (`smoke` / `default` / `gpu`), then the caller's overrides, derives the
 * kind's β and checks every invariant with a message that names the field.
 *
 * Hyperparameter mapping (paper App. C -> testbed) is recorded in docs/reward_models.md.
 * @module
 */
import { deepMerge, type DeepPartial } from "../run/config.ts";
import type { Reduction, Weighting } from "./losses.ts";
import { DPO_BETA, IPVRM_BETA, IPVRM_MARGIN } from "./losses.ts";
import { RM_LOSSES, type RMKind } from "./kinds.ts";
import { check, fail, is, type SchemaFor, show, validate } from "../schema.ts";
import type { PipelinePreset, SwitchPreset } from "../vocabulary.ts";

/** Learning-rate schedule of the RM optimiser (paper App. C: cosine). */
export type RMSchedule = "cosine" | "linear" | "constant";
/**
 * DPO pairs per prompt: `"one"` = one (correct, wrong) pair (paper Sec. 4.1, testbed.md step 2);
 * `"all"` = the first `min(#pos, #neg)` positives zipped with the first negatives
 * ([IPVRM] `build_preference_datasets.py` `best_worst`, `--max-pairs-per-prompt 0`; e16).
 */
export type PairsPerPrompt = "one" | "all";
/**
 * Data of the pointwise RMs (Implicit PRM, IPVRM): `"all_rollouts"` = every labelled rollout
 * of a mixed-outcome prompt (testbed.md step 2); `"pairs_split"` = the DPO pairs split into
 * their two members, 50/50 labels ([IPVRM] `build_preference_datasets.py` pointwise; (c) "RM data").
 */
export type PointwiseData = "all_rollouts" | "pairs_split";

/** Optimiser budget of one RM run. */
export interface RMTrainBudget {
  /** Passes over the training units (paper 3; testbed probe 5). */
  epochs: number;
  /** Peak learning rate (paper 5e-7 for a 0.6B model; Adam 1e-4 at testbed scale, testbed.md probe). */
  lr: number;
  /** Units per optimiser step: sequences (pointwise kinds) or pairs (DPO; 2 sequences each). Paper 64. */
  batchSize: number;
  /** Schedule shape (paper cosine). */
  schedule: RMSchedule;
  /** Linear warmup as a fraction of all steps (paper 0.03). */
  warmupRatio: number;
  /** Global gradient-norm clip (paper 1.0); null disables it. */
  maxGradNorm: number | null;
  /** Weight decay (paper 0). */
  weightDecay: number;
  /** Rows per forward pass when scoring (memory bound, no effect on results). */
  scoreBatch: number;
  /** Fraction of prompts held out for the per-epoch evaluation (repo 95/5 split by prompt). */
  evalFraction: number;
  /** Cap on held-out sequences scored per epoch (time bound). */
  evalMaxRows: number;
}

/** Every field of the RM trainer. */
export interface RMConfig {
  /** Which RM to train. */
  kind: RMKind;
  /**
   * β of the implicit reward `β Σ ℓ` / `v̄ = β Σ_{i≤t} ℓ_i / t`; null = the paper's value for the
   * kind: IPVRM 10 (B5, App. C), DPO-RM / Implicit PRM 0.05 (B3/B4, App. C).
   */
  beta: number | null;
  /** IPVRM switches (B5, B6). */
  ipvrm: {
    /** Margin m in `softplus(m − sgn·v̄_t)` (paper 5, App. C; repo offline `--gamma` default 0, e15). */
    margin: number;
    /** Temporal weighting w_t (B6, Eq. 16–18): uniform = Eq. 9; early = Eq. 17; late = Eq. 18. */
    weighting: Weighting;
    /** `"sequence"`: mean over sequences of Σ_t w_t λ_t (paper Eq. 9); `"token"`: token mean per batch (repo offline trainer, e20). */
    reduction: Reduction;
  };
  /** DPO-RM switches (B3). */
  dpo: {
    /** See {@linkcode PairsPerPrompt}. */
    pairsPerPrompt: PairsPerPrompt;
    /** SimPO-style offset γ of the repo's `bt_sum` (default 0, unused in the paper). */
    gamma: number;
  };
  /** See {@linkcode PointwiseData}. */
  pointwiseData: PointwiseData;
  /** Optimiser budget. */
  train: RMTrainBudget;
  /** Seed of the shuffle order and the held-out split (the RM data's own seed lives upstream). */
  seed: number;
}

/** {@linkcode RMConfig} after {@linkcode resolveRMConfig}: β derived, presets recorded. */
export interface ResolvedRMConfig extends RMConfig {
  /** The effective β. */
  beta: number;
  /** The presets it was resolved from. */
  presets: { switches: SwitchPreset; budget: PipelinePreset };
}

/** Defaults: the paper's switches with the `default` (CPU) budget. */
export const DEFAULT_RM_CONFIG: Readonly<RMConfig> = Object.freeze({
  kind: "ipvrm",
  beta: null,
  ipvrm: { margin: IPVRM_MARGIN, weighting: "uniform", reduction: "sequence" },
  dpo: { pairsPerPrompt: "one", gamma: 0 },
  pointwiseData: "all_rollouts",
  train: {
    epochs: 5,
    lr: 1e-4,
    batchSize: 16,
    schedule: "cosine",
    warmupRatio: 0.03,
    maxGradNorm: 1.0,
    weightDecay: 0,
    scoreBatch: 64,
    evalFraction: 0.05,
    evalMaxRows: 256,
  },
  seed: 0,
}) as Readonly<RMConfig>;

/**
 * Switch presets (STYLE 7; methods.md (e)). Each entry overrides only what differs from the
 * paper, with its citation.
 */
export const SWITCH_PRESETS = {
  paper: {},
  repo: {
    // e15: the offline trainer's margin flag `--gamma` defaults to 0 and the README omits it.
    // e20: offline IPVRM reduction is a token mean over each micro-batch.
    ipvrm: { margin: 0, reduction: "token" },
    // e16 / (c) "RM data": best_worst pairs, all min(pos, neg) of them.
    dpo: { pairsPerPrompt: "all" },
    // (c) "RM data": pointwise data = the pairs split into their members (50/50 labels).
    pointwiseData: "pairs_split",
  },
} as const satisfies Record<SwitchPreset, DeepPartial<RMConfig>>;

/**
 * Budgets per pipeline preset. Paper (App. C): lr 5e-7, batch 64, 3 epochs, cosine, warmup 0.03,
 * clip 1.0, wd 0 on a 0.6B–8B model. Testbed (testbed.md probe): Adam lr 1e-4 for 5 epochs was
 * workable at ~156k parameters; 2e-4 hurt IPVRM, 3e-4 made it worse than random.
 */
export const BUDGET_PRESETS = {
  // Every stage in seconds: numbers are meaningless but finite.
  smoke: { train: { epochs: 1, lr: 1e-4, batchSize: 8, scoreBatch: 32, evalMaxRows: 32 } },
  // The CPU reproduction (Adam lr 1e-4). 2 epochs (was 5, testbed.md's probe; the paper: 3): the
  // held-out curves of the 3-seed 5-epoch run were nearly flat after epoch 2 (IPVRM eval loss
  // 4.726, 4.641, 4.608, 4.580, 4.580; pair accuracy 0.730, 0.795, 0.793, 0.798, 0.798; DPO-RM
  // pair accuracy peaked at epoch 2, 0.851), and RM training is the largest share of a seed, which
  // 6 seeds in the hour could not afford at 5 or 3 epochs (measured, issue 15 notes).
  default: { train: { epochs: 2, lr: 1e-4, batchSize: 16 } },
  // A bigger model on a GPU backend: the paper's batch 64, same lr scale.
  gpu: { train: { epochs: 5, lr: 1e-4, batchSize: 64, scoreBatch: 256, evalMaxRows: 1024 } },
} as const satisfies Record<PipelinePreset, DeepPartial<RMConfig>>;

/** Invalid RM configuration; the message names the field. */
export class RMConfigError extends Error {
  override name = "RMConfigError";
}

const WEIGHTINGS = { uniform: 1, early: 1, late: 1 } as const satisfies Record<Weighting, 1>;
const REDUCTIONS = { sequence: 1, token: 1 } as const satisfies Record<Reduction, 1>;
const SCHEDULES = { cosine: 1, linear: 1, constant: 1 } as const satisfies Record<RMSchedule, 1>;
const PAIRS = { one: 1, all: 1 } as const satisfies Record<PairsPerPrompt, 1>;
const POINTWISE = { all_rollouts: 1, pairs_split: 1 } as const satisfies Record<PointwiseData, 1>;

/** Every field's rule (lib/schema.ts); the cross-field invariant is checked after it. */
const RM_SCHEMA: SchemaFor<RMConfig> = {
  kind: is.oneOf(RM_LOSSES),
  beta: is.nullable(is.number({ gt: 0 })),
  ipvrm: {
    margin: is.number({ min: 0 }),
    weighting: is.oneOf(WEIGHTINGS),
    reduction: is.oneOf(REDUCTIONS),
  },
  dpo: { pairsPerPrompt: is.oneOf(PAIRS), gamma: is.number() },
  pointwiseData: is.oneOf(POINTWISE),
  train: {
    epochs: is.integer({ min: 1 }),
    lr: is.number({ gt: 0 }),
    batchSize: is.integer({ min: 1 }),
    schedule: is.oneOf(SCHEDULES),
    warmupRatio: is.number({ min: 0, max: 0.5 }),
    maxGradNorm: is.nullable(is.number({ gt: 0 })),
    weightDecay: is.number({ min: 0 }),
    scoreBatch: is.integer({ min: 1 }),
    evalFraction: is.number({ min: 0, max: 0.5 }),
    evalMaxRows: is.integer({ min: 0 }),
  },
  seed: is.integer({ min: 0 }),
};

const ERR = { error: RMConfigError };

/** Preset selection of {@linkcode resolveRMConfig}: a budget name (paper switches) or both names. */
export type RMPreset = PipelinePreset | { budget: PipelinePreset; switches?: SwitchPreset };

/**
 * Resolves a config: defaults, then the switch preset, then the budget preset, then `overrides`;
 * derives β from the kind when null and checks invariants.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { resolveRMConfig } from "./config.ts";
 * const c = resolveRMConfig({ budget: "smoke", switches: "repo" }, { kind: "ipvrm" });
 * assertEquals(c.beta, 10);
 * assertEquals(c.ipvrm.margin, 0); // repo offline default, methods.md e15
 * ```
 */
export function resolveRMConfig(
  preset: RMPreset = "default",
  overrides: DeepPartial<RMConfig> = {},
): ResolvedRMConfig {
  const p = typeof preset === "string" ? { budget: preset } : preset;
  if (typeof p !== "object" || p === null) {
    const budgets = Object.keys(BUDGET_PRESETS).map((k) => JSON.stringify(k)).join(", ");
    fail("preset", `expected one of ${budgets} or { budget, switches }, got ${show(preset)}`, ERR);
  }
  const switches = p.switches ?? "paper";
  check(switches, is.oneOf(SWITCH_PRESETS), "preset.switches", ERR);
  check(p.budget, is.oneOf(BUDGET_PRESETS), "preset.budget", ERR);
  let c: RMConfig = deepMerge<RMConfig>(
    DEFAULT_RM_CONFIG as RMConfig,
    SWITCH_PRESETS[switches] as DeepPartial<RMConfig>,
    {
      path: "preset",
    },
  );
  c = deepMerge<RMConfig>(c, BUDGET_PRESETS[p.budget] as DeepPartial<RMConfig>, { path: "preset" });
  c = deepMerge<RMConfig>(c, overrides);
  validate(c, RM_SCHEMA, ERR);
  if (c.kind === "ipvrm" && c.ipvrm.reduction === "token" && c.ipvrm.weighting !== "uniform") {
    fail(
      "ipvrm.weighting",
      `reduction "token" needs "uniform" (a token mean has no per-sequence weights), got "${c.ipvrm.weighting}"`,
      ERR,
    );
  }
  const beta = c.beta ?? (c.kind === "ipvrm" ? IPVRM_BETA : DPO_BETA);
  return { ...c, beta, presets: { switches, budget: p.budget } };
}

/**
 * The config fields that change the trained weights for `kind` (others are normalised away so
 * that, e.g., a DPO-RM's cache key does not depend on IPVRM's margin).
 */
export function trainingKeyConfig(c: ResolvedRMConfig): Record<string, unknown> {
  const train = { ...c.train } as Record<string, unknown>;
  delete train.scoreBatch;
  delete train.evalMaxRows;
  const base: Record<string, unknown> = { kind: c.kind, beta: c.beta, train, seed: c.seed };
  if (c.kind === "ipvrm") base.ipvrm = c.ipvrm;
  if (c.kind === "dpo") base.dpo = c.dpo;
  else base.pointwiseData = c.pointwiseData;
  return base;
}

/** A short variant name for run ids: `dpo`, `implicit_prm`, `ipvrm-late-m5`. */
export function variantName(c: ResolvedRMConfig): string {
  if (c.kind !== "ipvrm") return c.kind.replace("_", "-");
  const parts = ["ipvrm"];
  if (c.ipvrm.weighting !== "uniform") parts.push(c.ipvrm.weighting);
  if (c.ipvrm.margin !== IPVRM_MARGIN) parts.push(`m${String(c.ipvrm.margin).replace(".", "p")}`);
  if (c.ipvrm.reduction !== "sequence") parts.push("tok");
  return parts.join("-");
}
