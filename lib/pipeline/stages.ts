/**
 * The one stage graph (architecture.md "Pipeline"): base -> SFT policy -> RM data of a seed ->
 * reward models -> evaluation sets (ProcessBench analogue, best-of-N, avg@k) -> RM evaluations ->
 * RL runs, plus the studies built on them (SFT candidate statistics, Monte-Carlo prefixes). Every
 * stage is an {@linkcode ArtifactCache} entry keyed by its config and its inputs' keys, and this
 * module is the only place that builds those keys and calls get-or-build: policy.ts, rm_data.ts,
 * eval_sets.ts and lib/rm/train.ts only write what goes into an entry. The command lines
 * (lib/cli/policy.ts, rm.ts, rl.ts, reproduce.ts) and the experiments call it, so experiments
 * that share a stage (01's IPVRM is
 * 02's `uniform` arm and 06's `m = 5` arm; 03's DistRL is 04's "with ADB/DLW", 05's
 * behaviour-policy reference and 07's `P_min = 0.1`) build it once, and `deno task rm` /
 * `deno task rl` reuse what the experiments built.
 *
 * Seeds: seed `s` varies the RM data's sampling (testbed.md: seeds must vary the data) and the
 * RM's shuffle; the SFT policy and the evaluation sets are one fixed benchmark shared by every
 * seed.
 * @module
 */
import { type BackendInfo, initBackendFromArgs } from "../backend.ts";
import { type TinyLM } from "../model/lm.ts";
import { nextTokenTopK } from "../model/logprobs.ts";
import { sample } from "../model/sample.ts";
import { saveCheckpoint } from "../model/checkpoint.ts";
import { dirname, join } from "node:path";
import type { ExchangeWeights } from "../model/exchange.ts";
import { readSafetensorsFile } from "../model/safetensors.ts";
import {
  type PolicySetOptions,
  readAvgSet,
  readBonSet,
  readProcessBenchSet,
  writeAvgSet,
  writeBonSet,
  writeProcessBenchSet,
  writeSftEval,
} from "./eval_sets.ts";
import { loadPolicy, type PolicyStage, stageConfig, writePolicyStage } from "./policy.ts";
import { fromSTensors } from "./_checkpoint.ts";
import { type PipelineConfig, resolvePipelineConfig } from "./presets.ts";
import type { PipelinePreset } from "../vocabulary.ts";
import { type BuildRmDataOptions, readRmData, type RmDataSummary, writeRmData } from "./rm_data.ts";
import { sampleRollouts } from "./rollouts.ts";
import type { EvalProblem, PbRow, RmPair, Rollout } from "./types.ts";
import { bonProblemsFrom, pbRowsFrom, rmRolloutsFrom } from "./_rm_inputs.ts";
import {
  type ResolvedRMConfig,
  resolveRMConfig,
  type RMConfig,
  trainingKeyConfig,
} from "../rm/config.ts";
import {
  type BonItems,
  type BonProblem,
  type BonReport,
  evaluateBestOfNItems,
  evaluateProcessBenchItems,
  type PbEvalRow,
  type PbItems,
  type PbReport,
} from "../rm/evaluate.ts";
import { disposePair, loadRewardModelPair, type RewardModelPair } from "../rm/score.ts";
import { RefLogps } from "../rm/ref_logps.ts";
import {
  type EpochRecord,
  type RMRollout,
  trainRewardModel,
  type TrainRMOptions,
} from "../rm/train.ts";
import { resolveRLConfig, type RLConfig, type RLConfigInput } from "../rl/config.ts";
import type { EvalSet } from "../rl/_eval.ts";
import { testbedTask } from "../rl/_rollout.ts";
import { evalRecord, evaluatePolicy, runRL, trainProblems } from "../rl/run.ts";
import {
  type CandidateSetStats,
  policyCandidateStats,
  tokenRollout,
} from "../eval/candidate_set.ts";
import { counterKey, CounterRng, Rng } from "../prng.ts";
import { type Artifact, ArtifactCache, type StageSpec } from "../run/cache.ts";
import type { DeepPartial } from "../run/config.ts";
import { readJsonl, writeJsonGz } from "../run/results.ts";

/** Code version of the policy stages (bump when their output changes for the same config). */
export const POLICY_VERSION = 1;
/** Code version of the RM-data stage. */
export const RM_DATA_VERSION = 2;
/** Code version of the evaluation-set stages. */
export const EVAL_SETS_VERSION = 2;

/** Options of {@linkcode buildPolicy}. */
export interface BuildPolicyOptions {
  /** Artifact cache (default: `new ArtifactCache()`, i.e. `PVL_CACHE_DIR` or `.cache/artifacts`). */
  cache?: ArtifactCache;
  /** Where unfinished runs keep checkpoints (default: `PVL_RUNS_DIR`, else `runs/` beside the cache root). */
  runsDir?: string;
  /** Progress sink (default stderr). */
  log?: (line: string) => void;
}

/** The cached policy stages. */
export interface PolicyArtifacts {
  /** Base model (`policy_base`). */
  base: Artifact;
  /** SFT policy (`policy_sft`): `weights.safetensors`, `train_log.json`. */
  sft: Artifact;
}

function defaultRunsDir(cache: ArtifactCache): string {
  try {
    const env = Deno.env.get("PVL_RUNS_DIR");
    if (env) return env;
  } catch { /* no --allow-env */ }
  return join(dirname(cache.root), "runs");
}

async function cachedStage(
  config: PipelineConfig,
  stage: PolicyStage,
  options: BuildPolicyOptions & {
    cache: ArtifactCache;
    inputs: Record<string, string>;
    init?: () => Promise<ExchangeWeights>;
  },
): Promise<Artifact> {
  const spec = {
    stage: `policy_${stage}`,
    version: POLICY_VERSION,
    config: stageConfig(config, stage),
    inputs: options.inputs,
  };
  const runsDir = options.runsDir ?? defaultRunsDir(options.cache);
  return await options.cache.getOrBuild(spec, (dir, ctx) =>
    writePolicyStage(dir, config, {
      stage,
      runDir: join(runsDir, spec.stage, ctx.key.slice(0, 16)),
      ...(options.init ? { init: options.init } : {}),
      ...(options.log ? { log: options.log } : {}),
    }));
}

/**
 * Builds (or loads from the cache) the base model and the SFT policy.
 *
 * @example
 * ```ts ignore
 * const config = resolvePipelineConfig("smoke");
 * const { sft } = await buildPolicy(config, { cache: new ArtifactCache({ root: "/tmp/c" }) });
 * const model = await loadPolicy(sft, { config });
 * ```
 */
export async function buildPolicy(
  config: PipelineConfig,
  options: BuildPolicyOptions = {},
): Promise<PolicyArtifacts> {
  const cache = options.cache ?? new ArtifactCache();
  const base = await cachedStage(config, "base", { ...options, cache, inputs: {} });
  const sft = await cachedStage(config, "sft", {
    ...options,
    cache,
    inputs: { base: base.key },
    init: async () => {
      const w = await readSafetensorsFile(base.file("weights.safetensors"));
      return fromSTensors(w.tensors, base.file("weights.safetensors"));
    },
  });
  return { base, sft };
}

/** The cache spec of the RM data (exported so callers can look it up). */
export function rmDataSpec(config: PipelineConfig, sftKey: string) {
  return {
    stage: "rm_data",
    version: RM_DATA_VERSION,
    config: {
      rmData: config.rmData,
      task: config.task,
      split: config.split,
    },
    inputs: { policy: sftKey },
  };
}

/**
 * SFT accuracy per ProcessBench-analogue bucket, cached as stage `sft_eval` (get-or-build; the files: {@linkcode writeSftEval}).
 */
export async function buildSftEval(
  config: PipelineConfig,
  options: PolicySetOptions,
): Promise<Artifact> {
  const cache = options.cache ?? new ArtifactCache();
  const spec = {
    stage: "sft_eval",
    version: EVAL_SETS_VERSION,
    config: {
      sftEval: config.sftEval,
      evalSeed: config.evalSets.seed,
      task: config.task,
      split: config.split,
      sftData: config.sftData,
    },
    inputs: { policy: options.sft.key },
  };
  return await cache.getOrBuild(spec, (dir) => writeSftEval(dir, config, options));
}

/**
 * The ProcessBench analogue, cached as stage `eval_processbench` (get-or-build; the files: {@linkcode writeProcessBenchSet}).
 */
export async function buildProcessBenchSet(
  config: PipelineConfig,
  options: PolicySetOptions & { maxRounds?: number },
): Promise<Artifact> {
  const cache = options.cache ?? new ArtifactCache();
  const maxRounds = options.maxRounds ?? config.evalSets.processbenchMaxRounds;
  const e = config.evalSets;
  const spec = {
    stage: "eval_processbench",
    version: EVAL_SETS_VERSION,
    config: {
      rowsPerBucket: e.processbenchRowsPerBucket,
      temperature: e.processbenchTemperature,
      seed: e.seed,
      maxRounds,
      task: config.task,
      split: config.split,
      sftData: config.sftData,
    },
    inputs: { policy: options.sft.key },
  };
  return await cache.getOrBuild(spec, (dir) => writeProcessBenchSet(dir, config, options));
}

/**
 * The best-of-N set, cached as stage `eval_bon` (get-or-build; the files: {@linkcode writeBonSet}).
 */
export async function buildBonSet(
  config: PipelineConfig,
  options: PolicySetOptions,
): Promise<Artifact> {
  const cache = options.cache ?? new ArtifactCache();
  const e = config.evalSets;
  const spec = {
    stage: "eval_bon",
    version: EVAL_SETS_VERSION,
    config: {
      problemsPerSplit: e.bonProblemsPerSplit,
      n: e.bonN,
      temperature: e.bonTemperature,
      seed: e.seed,
      task: config.task,
      split: config.split,
    },
    inputs: { policy: options.sft.key },
  };
  return await cache.getOrBuild(spec, (dir) => writeBonSet(dir, config, options));
}

/**
 * The avg@k problem lists, cached as stage `eval_avg` (no policy needed) (get-or-build; the files: {@linkcode writeAvgSet}).
 */
export async function buildAvgSet(
  config: PipelineConfig,
  options: { cache?: ArtifactCache } = {},
): Promise<Artifact> {
  const cache = options.cache ?? new ArtifactCache();
  const e = config.evalSets;
  const spec = {
    stage: "eval_avg",
    version: EVAL_SETS_VERSION,
    config: {
      problemsPerSplit: e.avgProblemsPerSplit,
      seed: e.seed,
      task: config.task,
      split: config.split,
    },
  };
  return await cache.getOrBuild(spec, (dir) => writeAvgSet(dir, config));
}

/**
 * The RM data of `config.rmData` from the SFT policy, cached as stage `rm_data` ({@linkcode rmDataSpec}); the manifest's `meta` holds the {@linkcode RmDataSummary} (get-or-build; the files: {@linkcode writeRmData}).
 */
export async function buildRmData(
  config: PipelineConfig,
  options: BuildRmDataOptions,
): Promise<Artifact> {
  const cache = options.cache ?? new ArtifactCache();
  return await cache.getOrBuild(
    rmDataSpec(config, options.sft.key),
    (dir) => writeRmData(dir, config, options),
  );
}

/** Version of the `rm` cache stage (bump when training changes for the same config; 2: the
 * reference log-probs come from the shared {@linkcode RefLogps} cache). */
export const RM_STAGE_VERSION = 2;
/** Version of the `rm_eval` cache stage (bump when the evaluation changes; 2: per-item files; 3:
 * distinct sequences scored once, reference log-probs cached). */
export const RM_EVAL_VERSION = 3;
/** Version of the `mc_prefixes` cache stage (2: counter-based sampling; 3: also TD candidates are
 * the next tokens, not the last's). */
export const MC_PREFIXES_VERSION = 3;
/** Version of the `rl_run` cache stage (bump when the RL loop changes what it produces; 2:
 * counter-based rollouts; 3: also final weights, per-problem counts; 4: no step-0 evaluation in the
 * run: the SFT row is the `sft_avg` stage, evaluated once per seed). */
export const RL_RUN_VERSION = 4;
/** Version of the `sft_avg` cache stage (the SFT policy's avg@k on the RL evaluation sets). */
export const SFT_AVG_VERSION = 1;

/**
 * The cache spec of a trained RM (stage `rm`): the resolved training config and the keys of the
 * SFT policy it starts from and of the RM data it trains on. The one place this key is written.
 */
export function rmStageSpec(
  config: ResolvedRMConfig,
  inputs: { sftKey: string; dataKey: string },
): StageSpec & { config: ReturnType<typeof trainingKeyConfig> } {
  return {
    stage: "rm",
    version: RM_STAGE_VERSION,
    config: trainingKeyConfig(config),
    inputs: { sft: inputs.sftKey, data: inputs.dataKey },
  };
}

/** Options of {@linkcode getOrTrainRewardModel}. */
export interface GetOrTrainOptions extends Omit<TrainRMOptions, "checkpointDir"> {
  /** Cache key of the SFT checkpoint artifact. Required. */
  sftKey: string;
  /** Cache key (or content hash) of the RM data. Required. */
  dataKey: string;
  /** The cache (default: a new {@linkcode ArtifactCache}). */
  cache?: ArtifactCache;
  /** Discard a cached entry and train again. */
  rebuild?: boolean;
  /** Reference log-probs shared by every RM of the run (set on the returned pair too). */
  refLogps?: RefLogps;
}

/**
 * The trained RM of `config` on `rollouts`, from the artifact cache or trained now with
 * lib/rm/train.ts's trainer (stage `rm`, {@linkcode rmStageSpec}). Returns the loaded pair
 * (caller disposes it), the artifact and the per-epoch history (`history.json` in the entry).
 * Interrupted training resumes from `<cache root>/rm_resume/<key>/`.
 */
export async function getOrTrainRewardModel(
  loadSft: () => Promise<TinyLM>,
  rollouts: readonly RMRollout[],
  options: GetOrTrainOptions,
): Promise<{ pair: RewardModelPair; artifact: Artifact; history: EpochRecord[] }> {
  const cache = options.cache ?? new ArtifactCache();
  const spec = rmStageSpec(options.config, options);
  const key = await cache.key(spec);
  const resumeDir = `${cache.root}/rm_resume/${key}`;
  const box: { trained: RewardModelPair | null; history: EpochRecord[] } = {
    trained: null,
    history: [],
  };
  const artifact = await cache.getOrBuild(spec, async (dir) => {
    const pair = await loadRewardModelPair(loadSft);
    if (options.refLogps) pair.refLogps = options.refLogps;
    try {
      const r = await trainRewardModel(pair, rollouts, { ...options, checkpointDir: resumeDir });
      await saveCheckpoint(dir, pair.rm, { metadata: { rm: JSON.stringify(spec.config) } });
      await Deno.writeTextFile(`${dir}/history.json`, JSON.stringify(r.history, null, 1));
      box.trained = pair;
      box.history = r.history;
      return { steps: r.steps, unitsPerEpoch: r.unitsPerEpoch, final: r.history.at(-1) ?? null };
    } catch (e) {
      disposePair(pair);
      throw e;
    }
  }, { rebuild: options.rebuild });
  await Deno.remove(resumeDir, { recursive: true }).catch(() => {});
  if (box.trained && !artifact.hit) return { pair: box.trained, artifact, history: box.history };
  if (box.trained) disposePair(box.trained);
  const pair = await loadRewardModelPair(loadSft, { rmDir: artifact.dir });
  if (options.refLogps) pair.refLogps = options.refLogps;
  const history = JSON.parse(
    await Deno.readTextFile(artifact.file("history.json")),
  ) as EpochRecord[];
  return { pair, artifact, history };
}

/** The evaluation of one trained RM (cached as stage `rm_eval`). */
export interface RmEvaluation {
  /** ProcessBench analogue, every scorer and threshold mode. */
  pb: PbReport;
  /** Best-of-N @4/16/64 (those <= the set's N). */
  bon: BonReport;
  /** Cache keys of the RM and the sets. */
  keys: { rm: string; processbench: string; bon: string };
  /** Per-epoch history of the RM's training. */
  history: unknown[];
  /**
   * The per-item records beside it (set when read back, not stored in `evaluation.json`):
   * `pbItems` ({@linkcode PbItems}) and `bonItems` ({@linkcode BonItems}) as gzip JSON in the
   * `rm_eval` entry, `rmWeights` the RM's `model.safetensors` in its `rm` entry (null if gone).
   */
  files?: { pbItems: string; bonItems: string; rmWeights: string | null };
}

/** The outcome of one RL run (cached as stage `rl_run`). */
export interface RlOutcome {
  /** The resolved RL config. */
  config: RLConfig;
  /** `kind: "train"` records, one per step. */
  train: Record<string, number>[];
  /** `kind: "eval"` records (step 0 = the SFT policy, then every `evalEvery` and the last step). */
  evals: Record<string, number>[];
  /**
   * Per-item record of the last evaluation: `k` and, per split, each problem's number of correct
   * samples out of `k` (the split's problem order; `eval/correct/<split>`). Null without an eval.
   */
  avgItems: { step: number; k: number; correct: Record<string, number[]> } | null;
  /** The final policy's `model.safetensors` in the `rl_run` entry (exchange layout). */
  policyWeights: string;
}

/** The RM data of one seed as files hold it (pairs, rollouts, summary) and its artifact. */
export interface RmDataRecords {
  /** The `rm_data` artifact. */
  artifact: Artifact;
  /** One (correct, wrong) pair per kept prompt. */
  pairs: RmPair[];
  /** Every labelled rollout of the kept prompts. */
  rollouts: Rollout[];
  /** Counts recorded with the data. */
  summary: RmDataSummary;
}

/** Sizes of the Monte-Carlo prefix study (stage `mc_prefixes`). */
export interface McSizes {
  /** Prefixes (cut after a step) whose success rate is estimated. */
  prefixes: number;
  /** Continuations per prefix. */
  rollouts: number;
  /** Random truncation points of the TD analysis. */
  tdPoints: number;
  /** Candidate tokens per truncation point, one rollout each. */
  topK: number;
}

/** One prefix of an SFT rollout with its Monte-Carlo success rate. */
export interface McPrefix {
  prompt: number[];
  /** The whole original response (scored by the RMs). */
  response: number[];
  /** Response tokens in the prefix (cut after a step). */
  cut: number;
  /** Fraction of continuations that end correct. */
  success: number;
}

/** One TD branch: prefix of `cut` tokens, then candidate `token`, one rollout's outcome. */
export interface TdBranch {
  prompt: number[];
  response: number[];
  cut: number;
  token: number;
  outcome: number;
}

/** The RL evaluation sets of `config`: the first `evalProblemsPerSplit` problems of each split. */
export function rlEvalSets(sets: readonly EvalSet[], config: RLConfig): EvalSet[] {
  return sets.map((s) => ({
    name: s.name,
    problems: s.problems.slice(0, config.budget.evalProblemsPerSplit),
  }));
}

/** Options of {@linkcode Stages}. */
export interface StagesOptions {
  /** Artifact cache (default: the repo's `.cache/artifacts` or `$PVL_CACHE_DIR`). */
  cache?: ArtifactCache;
  /** Progress sink of the stages. */
  log?: (line: string) => void;
  /** Command-line arguments whose `--backend` picks the tfjs backend (default none: `$PVL_BACKEND`, else wasm). */
  backendArgs?: readonly string[];
}

/** Cached stages of one pipeline preset (module doc). One instance per run. */
export class Stages {
  /** The pipeline preset. */
  readonly preset: PipelinePreset;
  /** The artifact cache. */
  readonly cache: ArtifactCache;
  readonly #log: ((line: string) => void) | undefined;
  readonly #backendArgs: readonly string[];
  #policy: Promise<{ sft: Artifact }> | null = null;
  readonly #rmRecords = new Map<number, Promise<RmDataRecords>>();
  readonly #rmData = new Map<
    number,
    Promise<{ artifact: Artifact; rollouts: RMRollout[]; raw: Rollout[] }>
  >();
  #pb: Promise<{ artifact: Artifact; rows: PbEvalRow[]; raw: PbRow[] }> | null = null;
  #bon: Promise<{ artifact: Artifact; problems: BonProblem[] }> | null = null;
  #avgProblems: Promise<EvalProblem[]> | null = null;
  #avg: Promise<EvalSet[]> | null = null;
  #refLogps: Promise<RefLogps> | null = null;

  constructor(preset: PipelinePreset, options: StagesOptions = {}) {
    this.preset = preset;
    this.cache = options.cache ?? new ArtifactCache();
    this.#log = options.log;
    this.#backendArgs = options.backendArgs ?? [];
  }

  /** The pipeline config of `seed` (seed 1 = the preset's own RM data). */
  pipeline(seed = 1): PipelineConfig {
    return resolvePipelineConfig(this.preset, {
      ...(seed === 1 ? {} : { rmData: { seed } }),
    });
  }

  /** Starts the tfjs backend (`backendArgs`' `--backend` / `$PVL_BACKEND`, default wasm); idempotent. */
  async backend(): Promise<void> {
    await this.backendInfo();
  }

  /** {@linkcode Stages.backend}, returning what started. */
  async backendInfo(): Promise<BackendInfo> {
    return await initBackendFromArgs(this.#backendArgs, { log: this.#log });
  }

  /** The SFT policy artifact (base model + SFT, cached). */
  async policy(): Promise<Artifact> {
    this.#policy ??= (async () => {
      await this.backend();
      return await buildPolicy(this.pipeline(), { cache: this.cache, log: this.#log });
    })();
    return (await this.#policy).sft;
  }

  /**
   * `log π_ref` of the SFT policy per distinct sequence, shared by every RM this instance trains
   * or scores (every RM's reference is the SFT policy): each sequence is forwarded once.
   */
  refLogps(): Promise<RefLogps> {
    this.#refLogps ??= (async () => new RefLogps(await this.loadSft()))();
    return this.#refLogps;
  }

  /** A fresh copy of the SFT policy (the caller disposes it). */
  async loadSft(): Promise<TinyLM> {
    return await loadPolicy(await this.policy(), { config: this.pipeline() });
  }

  /** The RM data of `seed` as its files hold it (cached; may hold no pair). */
  rmDataRecords(seed: number): Promise<RmDataRecords> {
    let p = this.#rmRecords.get(seed);
    if (!p) {
      p = (async () => {
        const artifact = await buildRmData(this.pipeline(seed), {
          sft: await this.policy(),
          cache: this.cache,
          log: this.#log,
        });
        return { artifact, ...(await readRmData(artifact)) };
      })();
      this.#rmRecords.set(seed, p);
    }
    return p;
  }

  /** The RM data of `seed` as the RM trainer reads it (cached); throws when it holds no rollout. */
  rmData(seed: number): Promise<{ artifact: Artifact; rollouts: RMRollout[]; raw: Rollout[] }> {
    let p = this.#rmData.get(seed);
    if (!p) {
      p = (async () => {
        const sft = await this.policy();
        const data = await this.rmDataRecords(seed);
        if (data.rollouts.length === 0) {
          throw new RangeError(
            `RM data of seed ${seed} (preset ${this.preset}) has no mixed-outcome prompt: the SFT policy ` +
              `(${
                sft.key.slice(0, 12)
              }) answers every prompt the same way; see lib/pipeline/presets.ts`,
          );
        }
        return {
          artifact: data.artifact,
          rollouts: rmRolloutsFrom(data.rollouts),
          raw: data.rollouts,
        };
      })();
      this.#rmData.set(seed, p);
    }
    return p;
  }

  /** The ProcessBench-analogue set (shifted format, cached). */
  processBench(): Promise<{ artifact: Artifact; rows: PbEvalRow[]; raw: PbRow[] }> {
    this.#pb ??= (async () => {
      const artifact = await buildProcessBenchSet(this.pipeline(), {
        sft: await this.policy(),
        cache: this.cache,
        log: this.#log,
      });
      const raw = await readProcessBenchSet(artifact);
      return { artifact, rows: pbRowsFrom(raw), raw };
    })();
    return this.#pb;
  }

  /** The best-of-N set (cached). */
  bestOfN(): Promise<{ artifact: Artifact; problems: BonProblem[] }> {
    this.#bon ??= (async () => {
      const artifact = await buildBonSet(this.pipeline(), {
        sft: await this.policy(),
        cache: this.cache,
        log: this.#log,
      });
      const set = await readBonSet(artifact);
      return { artifact, problems: bonProblemsFrom(set.problems, set.rollouts) };
    })();
    return this.#bon;
  }

  /** The avg@k problems of every policy-eval split, split after split (cached). */
  avgProblems(): Promise<EvalProblem[]> {
    this.#avgProblems ??=
      (async () => await readAvgSet(await buildAvgSet(this.pipeline(), { cache: this.cache })))();
    return this.#avgProblems;
  }

  /** The avg@k problem lists, one {@linkcode EvalSet} per policy-eval split (cached). */
  avgSets(): Promise<EvalSet[]> {
    this.#avg ??= (async () => {
      const problems = await this.avgProblems();
      const bySplit = new Map<string, EvalSet>();
      for (const p of problems) {
        const s = bySplit.get(p.split) ?? { name: p.split, problems: [] };
        s.problems.push(p.problem);
        bySplit.set(p.split, s);
      }
      return [...bySplit.values()];
    })();
    return this.#avg;
  }

  /** The resolved RM config of `overrides` for `seed` under this preset's budget (paper switches). */
  rmConfig(overrides: DeepPartial<RMConfig>, seed: number): ResolvedRMConfig {
    return resolveRMConfig(this.preset, { ...overrides, seed });
  }

  /** The cache key of the RM of `config`, trained on the RM data of `config.seed` (not trained here). */
  async rmKey(config: ResolvedRMConfig): Promise<string> {
    return await this.cache.key(await this.rmSpec(config));
  }

  /** The cache spec of the RM of `config` ({@linkcode rmStageSpec} with this run's input keys). */
  async rmSpec(config: ResolvedRMConfig): Promise<ReturnType<typeof rmStageSpec>> {
    const sft = await this.policy();
    const data = await this.rmData(config.seed);
    return rmStageSpec(config, { sftKey: sft.key, dataKey: data.artifact.key });
  }

  /** The trained RM (cached; trained on the RM data of `seed`). The caller disposes the pair. */
  async rewardModel(
    overrides: DeepPartial<RMConfig>,
    seed: number,
  ): Promise<
    { pair: RewardModelPair; artifact: Artifact; config: ResolvedRMConfig; history: unknown[] }
  > {
    const config = this.rmConfig(overrides, seed);
    const r = await this.trainedRewardModel(config);
    return { pair: r.pair, artifact: r.artifact, config, history: r.history };
  }

  /**
   * The trained RM of a resolved `config` (cached; trained on the RM data of `config.seed`).
   * The caller disposes the pair.
   */
  async trainedRewardModel(
    config: ResolvedRMConfig,
    options: Pick<GetOrTrainOptions, "rebuild" | "onEpoch"> = {},
  ): Promise<{ pair: RewardModelPair; artifact: Artifact; history: EpochRecord[] }> {
    const sft = await this.policy();
    const data = await this.rmData(config.seed);
    return await getOrTrainRewardModel(() => this.loadSft(), data.rollouts, {
      config,
      sftKey: sft.key,
      dataKey: data.artifact.key,
      cache: this.cache,
      log: this.#log,
      refLogps: await this.refLogps(),
      ...options,
    });
  }

  /** ProcessBench analogue + best-of-N of the RM of `overrides` and `seed` (cached as `rm_eval`). */
  async rmEvaluation(overrides: DeepPartial<RMConfig>, seed: number): Promise<RmEvaluation> {
    const config = this.rmConfig(overrides, seed);
    await this.policy();
    await this.rmData(seed); // built before the sets, as they always were
    const pb = await this.processBench();
    const bon = await this.bestOfN();
    const rmSpec = await this.rmSpec(config);
    const rmKey = await this.cache.key(rmSpec);
    const bonN = this.pipeline().evalSets.bonN;
    const ns = [4, 16, 64].filter((n) => n <= bonN);
    const evalConfig = {
      seed,
      beta: config.beta,
      score: config.kind === "ipvrm" ? "final_mean_value" : "sum",
      ns: ns.length ? ns : [bonN],
    };
    const art = await this.cache.getOrBuild(
      {
        stage: "rm_eval",
        version: RM_EVAL_VERSION,
        config: evalConfig,
        inputs: { rm: rmKey, processbench: pb.artifact.key, bon: bon.artifact.key },
      },
      async (dir) => {
        const rm = await this.rewardModel(overrides, seed);
        try {
          const { report: pbRep, items: pbItems } = await evaluateProcessBenchItems(
            rm.pair,
            pb.rows,
            {
              beta: config.beta,
              batchSize: config.train.scoreBatch,
              seed,
            },
          );
          const { report: bonRep, items: bonItems } = await evaluateBestOfNItems(
            rm.pair,
            bon.problems,
            {
              score: evalConfig.score as "sum" | "final_mean_value",
              beta: config.beta,
              ns: evalConfig.ns,
              batchSize: config.train.scoreBatch,
              seed,
            },
          );
          const out: RmEvaluation = {
            pb: pbRep,
            bon: bonRep,
            keys: { rm: rm.artifact.key, processbench: pb.artifact.key, bon: bon.artifact.key },
            history: rm.history,
          };
          await Deno.writeTextFile(`${dir}/evaluation.json`, JSON.stringify(out));
          await writeJsonGz(`${dir}/pb_items.json.gz`, pbItems satisfies PbItems);
          await writeJsonGz(`${dir}/bon_items.json.gz`, bonItems satisfies BonItems);
          return { pbRows: pbRep.rows };
        } finally {
          disposePair(rm.pair);
        }
      },
    );
    const ev = JSON.parse(await Deno.readTextFile(art.file("evaluation.json"))) as RmEvaluation;
    const rmArt = await this.cache.get(rmSpec);
    return {
      ...ev,
      files: {
        pbItems: art.file("pb_items.json.gz"),
        bonItems: art.file("bon_items.json.gz"),
        rmWeights: rmArt ? rmArt.file("model.safetensors") : null,
      },
    };
  }

  /**
   * P_min candidate-set statistics of the SFT policy on its own samples (cached as
   * `cand_stats`): one T = 1 rollout on each of `prompts` training prompts drawn with `seed`
   * (the paper: the SFT policy over 1,000 training prompts, Table 11).
   */
  async sftCandidateStats(
    pMins: readonly number[],
    seed: number,
    prompts = this.preset === "smoke" ? 64 : 1000,
  ): Promise<CandidateSetStats[]> {
    const sft = await this.policy();
    const config = { pMins: [...pMins], seed, prompts, temperature: 1, role: "train" };
    const art = await this.cache.getOrBuild(
      { stage: "cand_stats", version: 2, config, inputs: { sft: sft.key } },
      async (dir) => {
        const policy = await this.loadSft();
        try {
          const rng = new Rng(seed).fork("cand_stats");
          const problems = trainProblems(rng, prompts);
          const rollouts = await sampleRollouts(
            policy,
            problems.map((problem) => ({ problem, bucket: "train" })),
            {
              rng: new CounterRng(seed, "cand_stats"),
              n: 1,
              temperature: 1,
              label: "cand_stats",
              log: this.#log ?? (() => {}),
            },
          );
          const stats = await policyCandidateStats(policy, rollouts.map(tokenRollout), pMins);
          await Deno.writeTextFile(`${dir}/stats.json`, JSON.stringify(stats));
          return { positions: stats[0]?.positions ?? 0 };
        } finally {
          policy.dispose();
        }
      },
    );
    return JSON.parse(await Deno.readTextFile(art.file("stats.json"))) as CandidateSetStats[];
  }

  /**
   * The Monte-Carlo prefix study of one seed (cached as `mc_prefixes`; experiment 09): prefixes
   * of the seed's RM-data rollouts cut after a step, each continued `sizes.rollouts` times by the
   * SFT policy at T = 1 (success rate), and random truncation points with the top `sizes.topK`
   * candidate tokens, each continued once (the paper's Sec. 4.3.3 TD analysis). It depends only
   * on the SFT policy and the seed, so the RMs share it.
   */
  async mcPrefixes(
    seed: number,
    sizes: McSizes,
  ): Promise<{ prefixes: McPrefix[]; branches: TdBranch[] }> {
    const data = await this.rmData(seed);
    const sft = await this.policy();
    const art = await this.cache.getOrBuild(
      {
        stage: "mc_prefixes",
        version: MC_PREFIXES_VERSION,
        config: { sizes, seed },
        inputs: { sft: sft.key, data: data.artifact.key },
      },
      async (dir) => {
        const model = await this.loadSft();
        try {
          const out = await monteCarloPrefixes(model, data, { seed, sizes });
          await Deno.writeTextFile(`${dir}/mc.json`, JSON.stringify(out));
          return { prefixes: out.prefixes.length, branches: out.branches.length };
        } finally {
          model.dispose();
        }
      },
    );
    return JSON.parse(await Deno.readTextFile(art.file("mc.json")));
  }

  /** The resolved RL config of `input` for `seed` under this preset's budget. */
  rlConfig(input: RLConfigInput, seed: number): RLConfig {
    return resolveRLConfig({ ...input, pipeline: this.preset, seed });
  }

  /**
   * The SFT policy's evaluation record (step 0) under an RL config's evaluation budget and seed
   * (cached as `sft_avg`): what the run's step-0 evaluation would give (same sets, same counter
   * stream), computed once per seed and budget instead of once per arm.
   */
  async sftAvg(config: RLConfig): Promise<Record<string, unknown>> {
    const sft = await this.policy();
    const sets = rlEvalSets(await this.avgSets(), config);
    const b = config.budget;
    const spec = {
      stage: "sft_avg",
      version: SFT_AVG_VERSION,
      config: {
        seed: config.seed,
        k: b.evalK,
        temperature: b.evalTemperature,
        topP: b.evalTopP,
        maxResponseTokens: b.maxResponseTokens,
        problemsPerSplit: b.evalProblemsPerSplit,
      },
      inputs: {
        sft: sft.key,
        avg: (await buildAvgSet(this.pipeline(), { cache: this.cache })).key,
      },
    };
    const art = await this.cache.getOrBuild(spec, async (dir) => {
      const policy = await this.loadSft();
      try {
        const r = await evaluatePolicy(policy, sets, config);
        await Deno.writeTextFile(`${dir}/eval.json`, JSON.stringify(evalRecord(0, b.evalK, r)));
        return { mean: r.mean.avg };
      } finally {
        policy.dispose();
      }
    });
    return JSON.parse(await Deno.readTextFile(art.file("eval.json")));
  }

  /**
   * One RL run of `input` and `seed` (cached as `rl_run`): the SFT policy trained in place, the
   * online RM initialised from the offline RM of the method's kind trained on the same seed's RM
   * data (methods.md (a): an RM is initialised from the SFT checkpoint, then trained offline).
   * A killed run resumes from its checkpoints in `<cache>/rl_resume/<key>/`.
   */
  async rlRun(input: RLConfigInput, seed: number): Promise<RlOutcome> {
    const config = this.rlConfig(input, seed);
    const sft = await this.policy();
    const inputs: Record<string, string> = { sft: sft.key };
    const rmOverrides: DeepPartial<RMConfig> | null = config.rm === null
      ? null
      : { kind: config.rm };
    if (rmOverrides) inputs.rm = await this.rmKey(this.rmConfig(rmOverrides, seed));
    const evalSets = await this.avgSets();
    const spec = { stage: "rl_run", version: RL_RUN_VERSION, config, inputs };
    const key = await this.cache.key(spec);
    const work = `${this.cache.root}/rl_resume/${key}`;
    const art = await this.cache.getOrBuild(spec, async (dir) => {
      const policy = await this.loadSft();
      let rm: RewardModelPair | null = null;
      try {
        if (rmOverrides) rm = (await this.rewardModel(rmOverrides, seed)).pair;
        await runRL({
          config,
          dir: work,
          policy,
          rm: rm?.rm ?? null,
          evalSets: rlEvalSets(evalSets, config),
          evalAtStart: false, // the SFT row: sftAvg, once per seed
          write: this.#log,
        });
        await Deno.copyFile(`${work}/metrics.jsonl`, `${dir}/metrics.jsonl`);
        await saveCheckpoint(dir, policy, { metadata: { rl: JSON.stringify(config) } });
        return { steps: config.budget.steps };
      } finally {
        policy.dispose();
        if (rm) disposePair(rm);
      }
    });
    await Deno.remove(work, { recursive: true }).catch(() => {});
    const { records } = await readJsonl<Record<string, unknown>>(art.file("metrics.jsonl"));
    const nums = (r: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v === "number")) as Record<
        string,
        number
      >;
    const last = records.filter((r) => r.kind === "eval").at(-1);
    const correct: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(last ?? {})) {
      if (k.startsWith("eval/correct/") && Array.isArray(v)) {
        correct[k.slice("eval/correct/".length)] = v as number[];
      }
    }
    const sftEval = await this.sftAvg(config);
    return {
      config,
      train: records.filter((r) => r.kind === "train").map(nums),
      evals: [sftEval, ...records.filter((r) => r.kind === "eval")].map(nums),
      avgItems: last ? { step: Number(last.step), k: Number(last["eval/k"]), correct } : null,
      policyWeights: art.file("model.safetensors"),
    };
  }
}

async function continuations(
  model: TinyLM,
  rows: number[][],
  options: {
    /** Counter-based draws: row `i` is sample `i` of problem `key`. */
    rng: CounterRng;
    key: number;
    problem: Parameters<ReturnType<typeof testbedTask>["verify"]>[0];
    promptLen: number;
  },
): Promise<number[]> {
  const task = testbedTask();
  const len = rows[0]!.length;
  const maxNew = model.config.context - len;
  if (maxNew < 1) return rows.map((r) => task.verify(options.problem, r.slice(options.promptLen)));
  const out = await sample(model, rows, {
    rng: options.rng,
    keys: rows.map((_, i) => ({ problem: options.key, sample: i })),
    maxNewTokens: maxNew,
    temperature: 1,
    eosId: task.eosId,
    padId: task.padId,
  });
  return rows.map((r, i) => {
    const gen = Array.from(
      out.tokens.subarray(i * out.shape[1], i * out.shape[1] + out.lengths[i]!),
    );
    return task.verify(options.problem, [...r.slice(options.promptLen), ...gen]);
  });
}

/**
 * The `k` most likely next tokens after the whole of `ids`, most likely first: the top of
 * `log pi(. | ids)` (next-aligned, lib/model/logprobs.ts `nextTokenTopK`), i.e. the candidate
 * continuations y' of the paper's Sec. 4.3.3 TD analysis. (Until mc_prefixes version 2 this read
 * the distribution `ids[L-1]` was drawn from, one position too early.)
 *
 * @example
 * ```ts ignore
 * const top5 = await nextTokenCandidates(model, [...prompt, ...response.slice(0, cut)], 5);
 * ```
 */
export async function nextTokenCandidates(
  model: TinyLM,
  ids: readonly number[],
  k: number,
): Promise<number[]> {
  if (ids.length === 0) throw new RangeError("Invalid ids: expected at least one token");
  const top = await nextTokenTopK(model, [ids], { k });
  const last = ids.length - 1;
  return Array.from(top.ids.subarray(last * k, (last + 1) * k));
}

/** The Monte-Carlo study itself ({@linkcode Stages.mcPrefixes}), on a loaded SFT policy. */
async function monteCarloPrefixes(
  model: TinyLM,
  data: { rollouts: RMRollout[]; raw: Rollout[] },
  options: { seed: number; sizes: McSizes },
): Promise<{ prefixes: McPrefix[]; branches: TdBranch[] }> {
  const { seed, sizes } = options;
  const rng = new Rng(seed).fork("mc_prefixes");
  const draws = new CounterRng(seed, "mc_prefixes");
  const raw = data.raw.filter((r) => r.finished && r.stepEnds.length > 0);
  const prefixes: McPrefix[] = [];
  const branches: TdBranch[] = [];
  for (let i = 0; i < sizes.prefixes && raw.length > 0; i++) {
    const r = raw[Math.floor(rng.next() * raw.length)]!;
    const prompt = data.rollouts[data.raw.indexOf(r)]!.prompt as number[];
    const cut = r.stepEnds[Math.floor(rng.next() * r.stepEnds.length)]!;
    const rows = Array.from(
      { length: sizes.rollouts },
      () => [...prompt, ...r.tokens.slice(0, cut)],
    );
    const outs = await continuations(model, rows, {
      rng: draws,
      key: counterKey(`prefix/${i}`),
      problem: r.problem,
      promptLen: prompt.length,
    });
    prefixes.push({
      prompt,
      response: r.tokens,
      cut,
      success: outs.reduce((a, b) => a + b, 0) / outs.length,
    });
  }
  for (let i = 0; i < sizes.tdPoints && raw.length > 0; i++) {
    const r = raw[Math.floor(rng.next() * raw.length)]!;
    const prompt = data.rollouts[data.raw.indexOf(r)]!.prompt as number[];
    const cut = Math.floor(rng.next() * Math.max(1, r.tokens.length - 1));
    const ids = [...prompt, ...r.tokens.slice(0, cut)];
    for (const token of await nextTokenCandidates(model, ids, sizes.topK)) {
      const [outcome] = await continuations(model, [[...ids, token]], {
        rng: draws,
        key: counterKey(`td/${i}/${token}`),
        problem: r.problem,
        promptLen: prompt.length,
      });
      branches.push({
        prompt,
        response: [...r.tokens.slice(0, cut), token],
        cut,
        token,
        outcome: outcome ?? 0,
      });
    }
  }
  return { prefixes, branches };
}
