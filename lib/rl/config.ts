/**
 * Typed configuration of the RL stage (methods.md B7–B17, (c), (e); testbed.md "RL"):
 * {@linkcode RLConfig}, the switch presets {@linkcode SWITCH_PRESETS} (`paper` / `repo`,
 * one entry per methods.md (e) item), the budgets {@linkcode RL_BUDGETS} (standalone per
 * pipeline preset, and the experiments' ablation trims) and one {@linkcode resolveRLConfig} that applies, in order:
 * switch preset -> the method's defaults -> the caller's overrides -> the method's forced
 * switches, then checks every invariant with a message naming the field.
 *
 * Methods (paper Sec. 3.2–3.3, 4.3; Table 5 rows):
 * - `grpo`: GRPO with the verifiable reward only (B10 outcome term; `gaeCoef 0`, no RM).
 * - `grpo_ipvrm`: GRPO + an online implicit RM: GAE over the TD of the sampled tokens
 *   (B9–B10), `alpha 0`, K = 1 (no candidate set is built). With `rm: "dpo" | "implicit_prm"`
 *   it is Table 6's "GRPO w/ DPO-RM / Implicit PRM".
 * - `prime`: PRIME-style baseline (B16): Implicit PRM updated online with cross-entropy,
 *   RLOO process + outcome rewards, batch-whitened returns.
 * - `distrl`: DistRL (Eq. 14): token branch + `alpha` x distribution branch over the
 *   candidate set, TD advantages from the updated RM (B9–B13).
 * @module
 */
import { check, is, type SchemaFor, validate } from "../schema.ts";
import type { Aggregation } from "./policy_loss.ts";
import type { CandidateMode } from "./candidates.ts";
import type { GaeNorm } from "./advantages.ts";
import type { DlwMode } from "./adb_dlw.ts";
import { RM_KINDS, type RMKind } from "../rm/kinds.ts";
import type { ExperimentPreset, PipelinePreset, SwitchPreset } from "../vocabulary.ts";

/** RL method (module doc). */
export type Method = "grpo" | "grpo_ipvrm" | "prime" | "distrl";
/** Every method. */
export const METHODS: readonly Method[] = ["grpo", "grpo_ipvrm", "prime", "distrl"];
/** Reference of the log-ratio in the RM update and the TD advantages together (App. B, B14, e13). */
export type RefChoice = "old" | "sft";
/** When the online RM is updated relative to rescoring (B15, e14). */
export type RmUpdate = "before" | "after" | "none";

/** Every switch of methods.md (e) that the RL step reads. */
export interface RLSwitches {
  /** e1: GAE input normalisation, `"group"` (paper Eq. 26–28) or `"batch_mean_sigma_v"` (repo). */
  gaeNorm: GaeNorm;
  /** e2: whiten the GAE over the batch (repo; recommended for both, e4). */
  whitenGae: boolean;
  /** e3: `c_gae` (repo 0.05; literal Eq. 13 = 1 without whitening). */
  gaeCoef: number;
  /** B10: `c_out`, coefficient of the GRPO outcome term (1 in both). */
  outcomeCoef: number;
  /** e5: candidate set, `"threshold"` (paper Sec. 3.2) or `"sampled_plus_topk"` (repo B8). */
  candidateSet: CandidateMode;
  /** e5: cap K of `"sampled_plus_topk"` (repo 5); null = uncapped (paper). */
  topK: number | null;
  /** B8: P_min (App. C, D: 0.1). */
  pMin: number;
  /** e7, e8: dual clip c for A < 0 in both branches (repo 3); null = off (paper). */
  dualClip: number | null;
  /** e9: `"sequence"` (paper Eq. 11–12) or `"token"` (repo token-mean). */
  lossAgg: Aggregation;
  /** e10: zero the TD of the last valid token and drop it from the candidate set. */
  dropLastTd: boolean;
  /** e11: DLW `"paper"` (1−μ / μ), `"normalized"` (repo, sums to n), `"off"`. */
  dlw: DlwMode;
  /** B14: ADB margins `m ∓ V(x)` (Eq. 15). */
  adb: boolean;
  /** e12: uniform-outcome groups get RM weight 0 (repo). */
  rmSkipUniform: boolean;
  /** e13, App. B: reference of the RM update and the TD (`"old"` = behaviour policy). */
  ref: RefChoice;
  /** e14: online RM update `"before"` rescoring (repo/PRIME), `"after"` the policy update, `"none"`. */
  rmUpdate: RmUpdate;
  /** B13: α of the distribution branch (App. C: 0.1). */
  alpha: number;
  /** B11: token-branch lower clip ε_low (DAPO, App. C: 0.2). */
  epsLow: number;
  /** B11: token-branch upper clip ε_high (App. C: 0.28). */
  epsHigh: number;
  /** e7: symmetric distribution-branch clip (repo `clip_ratio` 0.2). */
  distEps: number;
  /** Entropy bonus `c` in `loss − c·H` (B16: PRIME 0.001; DistRL repo and paper 0). */
  entropyCoef: number;
}

/**
 * Switch presets (STYLE 7). `paper` follows the text; `repo` the released code ([IPVRM]
 * `dl_core_algos.py`, `dl_dp_actor.py`, `dl_ray_trainer.py`, `distrl_config.yaml`).
 * Both keep `whitenGae: true, gaeCoef: 0.05` and `dropLastTd: true` as methods.md e4 and
 * e10 recommend (the literal Eq. 13 is the ablation `{whitenGae: false, gaeCoef: 1}`).
 */
export const SWITCH_PRESETS: Readonly<Record<SwitchPreset, Readonly<RLSwitches>>> = {
  paper: {
    gaeNorm: "group", // Eq. 26–28: per-prompt mean/std of the TD
    whitenGae: true, // e4 recommendation (paper: none)
    gaeCoef: 0.05, // e4 recommendation (paper Eq. 13: 1)
    outcomeCoef: 1, // Eq. 13
    candidateSet: "threshold", // Sec. 3.2: {v : π_old(v|s) >= P_min}
    topK: null, // uncapped
    pMin: 0.1, // App. C, D
    dualClip: null, // not in the paper
    lossAgg: "sequence", // Eq. 11–12: (1/T_b) Σ_t, then batch mean
    dropLastTd: true, // e10 recommendation: the outcome is in the GRPO term
    dlw: "paper", // Sec. 3.3: w = 1−μ (correct), μ (wrong)
    adb: true, // Eq. 15
    rmSkipUniform: false, // paper is silent: the formulas apply (paper DLW gives 0 anyway)
    ref: "old", // Sec. 3.2, App. B
    rmUpdate: "before", // e14
    alpha: 0.1, // App. C
    epsLow: 0.2, // App. C
    epsHigh: 0.28, // App. C
    distEps: 0.2, // e7
    entropyCoef: 0, // (c) "entropy / KL": none
  },
  repo: {
    gaeNorm: "batch_mean_sigma_v", // dl_core_algos.py compute_distrl_advantages_and_returns
    whitenGae: true, // verl masked_whiten
    gaeCoef: 0.05, // reward_gae_coef
    outcomeCoef: 1, // reward_gt_coef
    candidateSet: "sampled_plus_topk", // dl_dp_actor.py topk_with_forced_top1
    topK: 5, // candidate_top_k
    pMin: 0.1, // candidate_min_p (strict >)
    dualClip: 3, // verl clip_ratio_c
    lossAgg: "token", // loss_agg_mode: token-mean
    dropLastTd: true, // last valid TD zeroed
    dlw: "normalized", // build_prompt_group_weight_margin_tensors
    adb: true, // use_adb
    rmSkipUniform: true, // uniform groups weight 0
    ref: "old", // ref_model_type: old, reuse_ref
    rmUpdate: "before", // update: before
    alpha: 0.1, // distrl_loss_coef
    epsLow: 0.2,
    epsHigh: 0.28,
    distEps: 0.2, // clip_ratio
    entropyCoef: 0, // entropy_coeff 0 (methods.md B15 notes)
  },
};

/** Budgets of one pipeline preset (testbed scale; methods.md (c) "our default"). */
export interface RLBudget {
  /** RL steps. */
  steps: number;
  /** Prompt groups kept per step after filtering (paper: 256). */
  promptsPerStep: number;
  /** Rollouts per prompt n (paper App. C: 4). */
  groupSize: number;
  /** Prompts drawn per step = `promptsPerStep · oversample` (paper: 512 → 256, i.e. 2). */
  oversample: number;
  /** Prompt groups per policy mini-batch (one optimiser step each, one epoch). */
  miniBatchPrompts: number;
  /** Prompt groups per online-RM mini-batch. */
  rmMiniBatchPrompts: number;
  /** Policy AdamW learning rate (constant). */
  policyLr: number;
  /** Policy AdamW weight decay (verl default 0.01). */
  policyWeightDecay: number;
  /** Policy gradient clip (B15: 1.0). */
  policyGradClip: number;
  /** Online RM AdamW learning rate (repo 2e-6, paper 1e-4 with LoRA: tuned for the testbed). */
  rmLr: number;
  /** Online RM gradient clip (repo 10; PRIME 1). */
  rmGradClip: number;
  /** Rollout temperature (keep 1: methods.md (f)). */
  rolloutTemperature: number;
  /** Longest response in tokens (EOS included), capped by the context. */
  maxResponseTokens: number;
  /** Rows per sampling call. */
  samplingBatch: number;
  /** avg@k every this many steps (and at the end). */
  evalEvery: number;
  /** k of avg@k (d3: 8). */
  evalK: number;
  /** avg@k temperature (d3: 0.6). */
  evalTemperature: number;
  /** avg@k nucleus (d3: 0.95). */
  evalTopP: number;
  /** Problems per policy-eval split. */
  evalProblemsPerSplit: number;
  /** Checkpoint (policy, RM, optimisers, RNG, step) every this many steps (and at the end). */
  checkpointEvery: number;
}

const DEFAULT_BUDGET: RLBudget = {
  steps: 40,
  promptsPerStep: 32,
  groupSize: 4,
  oversample: 2,
  miniBatchPrompts: 16,
  rmMiniBatchPrompts: 32,
  policyLr: 1e-4,
  policyWeightDecay: 0.01,
  policyGradClip: 1,
  rmLr: 5e-5,
  rmGradClip: 10,
  rolloutTemperature: 1,
  maxResponseTokens: 96,
  samplingBatch: 512,
  evalEvery: 20,
  evalK: 8,
  evalTemperature: 0.6,
  evalTopP: 0.95,
  evalProblemsPerSplit: 40,
  checkpointEvery: 5,
};

/**
 * The RL budgets, both uses in one table:
 * - `standalone`: one whole budget per pipeline preset, what {@linkcode resolveRLConfig}
 *   starts from (and so `deno task rl`); `smoke` runs in seconds, numbers meaningless but finite.
 * - `ablation`: what the experiments (lib/experiments/) lay over `standalone` for every RL arm,
 *   per experiment preset, shared so that 03's DistRL run is reused by 04, 05 and 07 from the
 *   cache. `default` trims the 40-step budget so that the 8 RL arms x 3 seeds fit next to the
 *   RM grids in about an hour; `full` and `gpu` keep the standalone budget.
 */
export const RL_BUDGETS: {
  readonly standalone: Readonly<Record<PipelinePreset, Readonly<RLBudget>>>;
  readonly ablation: Readonly<Record<ExperimentPreset, Readonly<Partial<RLBudget>>>>;
} = {
  standalone: {
    smoke: {
      ...DEFAULT_BUDGET,
      steps: 3,
      promptsPerStep: 4,
      miniBatchPrompts: 2,
      rmMiniBatchPrompts: 2,
      policyLr: 1e-3,
      rmLr: 1e-3,
      maxResponseTokens: 24,
      samplingBatch: 64,
      evalEvery: 2,
      evalK: 2,
      evalProblemsPerSplit: 2,
      checkpointEvery: 1,
    },
    default: DEFAULT_BUDGET,
    gpu: {
      ...DEFAULT_BUDGET,
      steps: 200,
      promptsPerStep: 128,
      miniBatchPrompts: 32,
      rmMiniBatchPrompts: 64,
      samplingBatch: 2048,
      evalEvery: 25,
      evalProblemsPerSplit: 100,
      checkpointEvery: 10,
    },
  },
  ablation: {
    // Seconds per run: two steps, avg@2 on two problems per split at the start and the end.
    smoke: { steps: 2, evalEvery: 2 },
    // 12 steps of 16 prompts x 4 rollouts; one evaluation, at the end (the SFT row is the
    // shared `sft_avg` stage): every problem of each split (40) with k = 32 samples, which
    // estimates avg@8's expected accuracy with a quarter of its variance (statistics.md).
    default: {
      steps: 12,
      promptsPerStep: 16,
      miniBatchPrompts: 8,
      rmMiniBatchPrompts: 16,
      evalEvery: 12,
      evalK: 32,
    },
    full: { evalK: 32 },
    gpu: { evalK: 32 },
  },
};

/** Per-kind RM hyperparameters (methods.md (c)). */
export interface RmHyper {
  /** β of `V_t = β Σ ℓ` (IPVRM 10; DPO-RM / Implicit PRM 0.05). */
  beta: number;
  /** Base margin m (IPVRM 5; Implicit PRM 0 = Eq. 4; DPO γ 0). */
  margin: number;
}

/** Defaults per RM kind. */
export const RM_HYPER: Readonly<Record<RMKind, Readonly<RmHyper>>> = {
  ipvrm: { beta: 10, margin: 5 },
  implicit_prm: { beta: 0.05, margin: 0 },
  dpo: { beta: 0.05, margin: 0 },
};

/** What a caller may override (everything optional). */
export interface RLConfigInput {
  /** RL method. Default `"distrl"`. */
  method?: Method;
  /** RM kind; default per method (`ipvrm`; `prime`: `implicit_prm`; `grpo`: none). */
  rm?: RMKind | null;
  /** Switch preset. Default `"paper"`. */
  preset?: SwitchPreset;
  /** Pipeline preset of the budget. Default `"default"`. */
  pipeline?: PipelinePreset;
  /** Seed (>= 1). Default 1. */
  seed?: number;
  /** Switch overrides on top of the preset and the method's defaults. */
  switches?: Partial<RLSwitches>;
  /** Budget overrides. */
  budget?: Partial<RLBudget>;
  /** RM hyperparameter overrides. */
  rmHyper?: Partial<RmHyper>;
}

/** A resolved config: every field present and checked. */
export interface RLConfig {
  method: Method;
  /** null for `grpo` (verifiable reward only). */
  rm: RMKind | null;
  preset: SwitchPreset;
  pipeline: PipelinePreset;
  seed: number;
  switches: RLSwitches;
  budget: RLBudget;
  rmHyper: RmHyper;
  /** Derived: rows per step `B = promptsPerStep · groupSize`. */
  batchRows: number;
  /** Derived: prompts drawn per step. */
  promptsDrawn: number;
}

/** Thrown for an invalid config; the message names the field. */
export class RLConfigError extends Error {
  override name = "RLConfigError";
}

interface MethodRule {
  /** Applied after the preset, before the caller's overrides. */
  defaults: Partial<RLSwitches>;
  /** Must hold; a contradicting override is an error (with the reason). */
  forced: Partial<RLSwitches>;
  reason: string;
  /** Default RM kind (null = none allowed). */
  rm: RMKind | null;
  /** Allowed RM kinds. */
  rms: readonly RMKind[];
}

/** Method rules (module doc); each reason cites the equation. */
export const METHOD_RULES: Readonly<Record<Method, MethodRule>> = {
  grpo: {
    defaults: {},
    forced: { gaeCoef: 0, rmUpdate: "none", alpha: 0 },
    reason: "GRPO w/ VR is the B10 outcome term alone (c_gae = 0, no RM update, no Dist branch)",
    rm: null,
    rms: [],
  },
  grpo_ipvrm: {
    defaults: {},
    forced: { alpha: 0 },
    reason: "GRPO + IPVRM is DistRL with alpha = 0 and K = 1 (B13)",
    rm: "ipvrm",
    rms: RM_KINDS,
  },
  prime: {
    // PRIME: CE without ADB/DLW (Table 8 baseline), frozen reference (ref_type: freeze).
    defaults: { adb: false, dlw: "off", ref: "sft", entropyCoef: 0.001 }, // B16 entropy bonus
    forced: { alpha: 0 },
    reason: "PRIME-style advantages (B16) have no distribution branch",
    rm: "implicit_prm",
    rms: ["implicit_prm"],
  },
  distrl: {
    defaults: {},
    forced: {},
    reason: "",
    rm: "ipvrm",
    rms: RM_KINDS,
  },
};

const GAE_NORMS = { group: 1, batch_mean_sigma_v: 1 } as const satisfies Record<GaeNorm, 1>;
const CANDIDATE_SETS = { threshold: 1, sampled_plus_topk: 1 } as const satisfies Record<
  CandidateMode,
  1
>;
const AGGREGATIONS = { sequence: 1, token: 1 } as const satisfies Record<Aggregation, 1>;
const DLW_MODES = { paper: 1, normalized: 1, off: 1 } as const satisfies Record<DlwMode, 1>;
const REFS = { old: 1, sft: 1 } as const satisfies Record<RefChoice, 1>;
const RM_UPDATES = { before: 1, after: 1, none: 1 } as const satisfies Record<RmUpdate, 1>;

/** Every switch's rule (lib/schema.ts); cross-field invariants are checked after it. */
const SWITCHES_SCHEMA: SchemaFor<RLSwitches> = {
  gaeNorm: is.oneOf(GAE_NORMS),
  whitenGae: is.boolean(),
  gaeCoef: is.number(),
  outcomeCoef: is.number(),
  candidateSet: is.oneOf(CANDIDATE_SETS),
  topK: is.nullable(is.integer({ min: 1 })),
  pMin: is.number({ gt: 0, lt: 1, what: "a probability" }),
  dualClip: is.nullable(is.number({ gt: 1 })),
  lossAgg: is.oneOf(AGGREGATIONS),
  dropLastTd: is.boolean(),
  dlw: is.oneOf(DLW_MODES),
  adb: is.boolean(),
  rmSkipUniform: is.boolean(),
  ref: is.oneOf(REFS),
  rmUpdate: is.oneOf(RM_UPDATES),
  alpha: is.number({ min: 0 }),
  epsLow: is.number({ gt: 0, lt: 1 }),
  epsHigh: is.number({ gt: 0 }),
  distEps: is.number({ gt: 0, lt: 1 }),
  entropyCoef: is.number({ min: 0 }),
};

const count = is.integer({ min: 1 });

/** Every budget field's rule; the mini-batch divisibility is checked after it. */
const BUDGET_SCHEMA: SchemaFor<RLBudget> = {
  steps: count,
  promptsPerStep: count,
  // GRPO statistics and RLOO need at least 2 rollouts per prompt.
  groupSize: is.check(
    (v) => Number.isInteger(v) && (v as number) >= 2,
    "n >= 2 rollouts per prompt",
  ),
  oversample: count,
  miniBatchPrompts: count,
  rmMiniBatchPrompts: count,
  policyLr: is.number({ gt: 0 }),
  policyWeightDecay: is.number({ min: 0 }),
  policyGradClip: is.number({ gt: 0 }),
  rmLr: is.number({ gt: 0 }),
  rmGradClip: is.number({ gt: 0 }),
  rolloutTemperature: is.number({ gt: 0 }),
  maxResponseTokens: count,
  samplingBatch: count,
  evalEvery: count,
  evalK: count,
  evalTemperature: is.number({ min: 0 }),
  evalTopP: is.number({ gt: 0, max: 1 }),
  evalProblemsPerSplit: count,
  checkpointEvery: count,
};

const RM_HYPER_SCHEMA: SchemaFor<RmHyper> = {
  beta: is.number({ gt: 0 }),
  margin: is.number({ min: 0 }),
};

/** The caller's input: known keys only (each sub-object is merged, then checked whole). */
const INPUT_SCHEMA = {
  method: is.oneOf(METHOD_RULES),
  rm: is.nullable(is.oneOf(RM_KINDS)),
  preset: is.oneOf(SWITCH_PRESETS),
  pipeline: is.oneOf(RL_BUDGETS.standalone),
  seed: is.integer({ min: 1 }),
  switches: is.check(isObject, "an object"),
  budget: is.check(isObject, "an object"),
  rmHyper: is.check(isObject, "an object"),
} as const satisfies SchemaFor<RLConfigInput>;

function isObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const ERR = { error: RLConfigError, prefix: "" };

function fail(msg: string): never {
  throw new RLConfigError(msg);
}

/** Checks the keys of an override object against the full record it overrides. */
function known(over: object | undefined, full: object, path: string): void {
  if (over === undefined) return;
  // Rules are irrelevant here: only the key set counts (values are checked after merging).
  const keys = Object.fromEntries(Object.keys(full).map((k) => [k, () => undefined]));
  validate(over, keys, { ...ERR, strict: true, path });
}

/** Mini-batches hold whole groups (B15): each mini-batch size divides the prompts per step. */
function checkBatching(b: RLBudget): void {
  if (b.promptsPerStep % b.miniBatchPrompts !== 0) {
    const B = b.promptsPerStep * b.groupSize, mb = b.miniBatchPrompts * b.groupSize;
    fail(
      `budget.miniBatchPrompts must divide budget.promptsPerStep (mini-batches hold whole groups): ` +
        `B=${B}, mini-batch=${mb}, G=${b.groupSize}`,
    );
  }
  if (b.promptsPerStep % b.rmMiniBatchPrompts !== 0) {
    fail(
      `budget.rmMiniBatchPrompts must divide budget.promptsPerStep (RM mini-batches hold whole groups): ` +
        `promptsPerStep=${b.promptsPerStep}, rmMiniBatchPrompts=${b.rmMiniBatchPrompts}`,
    );
  }
}

/**
 * Resolves a config: switch preset -> method defaults -> overrides -> method-forced switches;
 * derives the RM kind and the batch sizes; checks invariants (messages name the field).
 *
 * @example
 * ```ts
 * import { assertEquals, assertThrows } from "@std/assert";
 * import { resolveRLConfig } from "./config.ts";
 * const c = resolveRLConfig({ method: "grpo_ipvrm", pipeline: "smoke", preset: "repo" });
 * assertEquals(c.switches.alpha, 0); // forced: GRPO + IPVRM = DistRL with alpha 0
 * assertEquals(c.rm, "ipvrm");
 * assertEquals(c.batchRows, 16); // 4 prompts x 4 rollouts
 * assertThrows(() => resolveRLConfig({ method: "ppo" as never }), Error, "method");
 * ```
 */
export function resolveRLConfig(input: RLConfigInput = {}): RLConfig {
  if (!isObject(input)) fail(`Invalid config: expected an object, got ${JSON.stringify(input)}`);
  // Absent keys take their defaults; present ones must pass their rule.
  known(input, INPUT_SCHEMA, "config");
  for (const [k, rule] of Object.entries(INPUT_SCHEMA)) {
    const v = input[k as keyof RLConfigInput];
    if (v !== undefined) check(v, rule, k, ERR);
  }
  const method: Method = input.method ?? "distrl";
  const preset: SwitchPreset = input.preset ?? "paper";
  const pipeline: PipelinePreset = input.pipeline ?? "default";
  const seed = input.seed ?? 1;
  const rule = METHOD_RULES[method];
  const rm: RMKind | null = input.rm === undefined ? rule.rm : input.rm;
  if (rule.rm === null && rm !== null) {
    fail(
      `rm: method "grpo" uses the verifiable reward only and takes no RM, got "${rm}" (use method "grpo_ipvrm" for GRPO w/ an RM)`,
    );
  }
  if (rule.rm !== null && (rm === null || !rule.rms.includes(rm))) {
    fail(
      `rm: method "${method}" needs one of ${rule.rms.map((r) => `"${r}"`).join(", ")}, got ${
        JSON.stringify(rm)
      }`,
    );
  }
  known(input.switches, SWITCHES_SCHEMA, "switches");
  const switches: RLSwitches = { ...SWITCH_PRESETS[preset], ...rule.defaults, ...input.switches };
  for (const [k, v] of Object.entries(rule.forced)) {
    const given = input.switches?.[k as keyof RLSwitches];
    if (given !== undefined && given !== v) {
      fail(
        `switches.${k}: method "${method}" needs ${JSON.stringify(v)} (${rule.reason}), got ${
          JSON.stringify(given)
        }`,
      );
    }
    (switches as unknown as Record<string, unknown>)[k] = v;
  }
  validate(switches, SWITCHES_SCHEMA, { ...ERR, path: "switches" });
  if (method === "distrl" && switches.alpha <= 0) {
    fail(
      `switches.alpha: method "distrl" needs alpha > 0 (alpha 0 is "grpo_ipvrm"), got ${switches.alpha}`,
    );
  }
  if (rm === null && switches.rmUpdate !== "none") {
    fail(`switches.rmUpdate: no RM to update (rm null), got "${switches.rmUpdate}"`);
  }
  if (rm === "dpo" && (switches.adb || switches.dlw !== "off")) {
    // DPO pairs have no per-sample margin or weight (B3); say so instead of ignoring them.
    if (input.switches?.adb === true || (input.switches?.dlw ?? "off") !== "off") {
      fail(`switches.adb/dlw: rm "dpo" trains on pairs (B3) and takes no ADB margin or DLW weight`);
    }
    switches.adb = false;
    switches.dlw = "off";
  }
  known(input.budget, BUDGET_SCHEMA, "budget");
  const budget: RLBudget = { ...RL_BUDGETS.standalone[pipeline], ...input.budget };
  if (method === "prime" && input.budget?.rmGradClip === undefined) budget.rmGradClip = 1; // [PRIME] grad_clip 1.0
  validate(budget, BUDGET_SCHEMA, { ...ERR, path: "budget" });
  checkBatching(budget);
  known(input.rmHyper, RM_HYPER_SCHEMA, "rmHyper");
  const rmHyper: RmHyper = { ...RM_HYPER[rm ?? "ipvrm"], ...input.rmHyper };
  validate(rmHyper, RM_HYPER_SCHEMA, { ...ERR, path: "rmHyper" });
  return {
    method,
    rm,
    preset,
    pipeline,
    seed,
    switches,
    budget,
    rmHyper,
    batchRows: budget.promptsPerStep * budget.groupSize,
    promptsDrawn: budget.promptsPerStep * budget.oversample,
  };
}

/** The run-id variant of a config, e.g. `distrl-ipvrm-paper`, `grpo-vr-repo`. */
export function variantName(c: RLConfig): string {
  return `${c.method.replace("_", "-")}-${(c.rm ?? "vr").replace("_", "-")}-${c.preset}`;
}
