/**
 * Shared, cached stages of the experiments: the SFT policy, the RM data of a seed, the
 * evaluation sets, trained reward models, RM evaluations and RL runs. Every stage is an
 * {@linkcode ArtifactCache} entry keyed by its config and its inputs' keys, so experiments that
 * share a stage (01's IPVRM is 02's `uniform` arm and 06's `m = 5` arm; 03's DistRL is 04's
 * "with ADB/DLW", 05's behaviour-policy reference and 07's `P_min = 0.1`) build it once.
 *
 * Seeds: seed `s` varies the RM data's sampling (testbed.md: seeds must vary the data) and the
 * RM's shuffle, as `lib/cli/rm.ts` does; the SFT policy and the evaluation sets are one fixed
 * benchmark shared by every seed.
 * @module
 */
import { initBackendFromArgs } from "../backend.ts";
import type { TinyLM } from "../model/lm.ts";
import {
  buildAvgSet,
  buildBonSet,
  buildProcessBenchSet,
  readAvgSet,
  readBonSet,
  readProcessBenchSet,
} from "../pipeline/eval_sets.ts";
import { buildPolicy, loadPolicy } from "../pipeline/policy.ts";
import { type PipelineConfig, resolvePipelineConfig } from "../pipeline/presets.ts";
import { buildRmData, readRmData } from "../pipeline/rm_data.ts";
import type { PbRow, Rollout } from "../pipeline/types.ts";
import { bonProblemsFrom, pbRowsFrom, rmRolloutsFrom } from "../rm/_pipeline.ts";
import {
  type ResolvedRMConfig,
  resolveRMConfig,
  type RMConfig,
  trainingKeyConfig,
} from "../rm/config.ts";
import {
  type BonProblem,
  type BonReport,
  evaluateBestOfN,
  evaluateProcessBench,
  type PbEvalRow,
  type PbReport,
} from "../rm/evaluate.ts";
import { disposePair, type RewardModelPair } from "../rm/score.ts";
import { getOrTrainRewardModel, RM_STAGE_VERSION } from "../rm/train.ts";
import type { RMRollout } from "../rm/train.ts";
import { resolveRLConfig, type RLConfig, type RLConfigInput } from "../rl/config.ts";
import type { EvalSet } from "../rl/_eval.ts";
import { runRL, trainProblems } from "../rl/run.ts";
import {
  type CandidateSetStats,
  policyCandidateStats,
  tokenRollout,
} from "../eval/candidate_set.ts";
import { sampleRollouts } from "../pipeline/rollouts.ts";
import { Rng } from "../prng.ts";
import { type Artifact, ArtifactCache } from "../run/cache.ts";
import type { DeepPartial } from "../run/config.ts";
import { readJsonl } from "../run/results.ts";
import { type ExperimentPreset, pipelinePresetOf } from "./_runner.ts";

/** Version of the `rm_eval` cache stage (bump when the evaluation changes). */
export const RM_EVAL_VERSION = 1;
/** Version of the `rl_run` cache stage (bump when the RL loop changes what it produces). */
export const RL_RUN_VERSION = 1;

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
}

/** The outcome of one RL run (cached as stage `rl_run`). */
export interface RlOutcome {
  /** The resolved RL config. */
  config: RLConfig;
  /** `kind: "train"` records, one per step. */
  train: Record<string, number>[];
  /** `kind: "eval"` records (step 0 = the SFT policy, then every `evalEvery` and the last step). */
  evals: Record<string, number>[];
}

/** Options of {@linkcode Stages}. */
export interface StagesOptions {
  /** Artifact cache (default: the repo's `.cache/artifacts` or `$PVL_CACHE_DIR`). */
  cache?: ArtifactCache;
  /** Progress sink of the stages. */
  log?: (line: string) => void;
}

/** Cached stages of one preset (module doc). One instance per experiment run. */
export class Stages {
  /** The experiment preset. */
  readonly preset: ExperimentPreset;
  /** The artifact cache. */
  readonly cache: ArtifactCache;
  readonly #log: ((line: string) => void) | undefined;
  #policy: Promise<{ sft: Artifact }> | null = null;
  readonly #rmData = new Map<
    number,
    Promise<{ artifact: Artifact; rollouts: RMRollout[]; raw: Rollout[] }>
  >();
  #pb: Promise<{ artifact: Artifact; rows: PbEvalRow[]; raw: PbRow[] }> | null = null;
  #bon: Promise<{ artifact: Artifact; problems: BonProblem[] }> | null = null;
  #avg: Promise<EvalSet[]> | null = null;

  constructor(preset: ExperimentPreset, options: StagesOptions = {}) {
    this.preset = preset;
    this.cache = options.cache ?? new ArtifactCache();
    this.#log = options.log;
  }

  /** The pipeline config of `seed` (seed 1 = the preset's own RM data). */
  pipeline(seed = 1): PipelineConfig {
    return resolvePipelineConfig(pipelinePresetOf(this.preset), {
      ...(seed === 1 ? {} : { rmData: { seed } }),
    });
  }

  /** Starts the tfjs backend (`--backend` / `$PVL_BACKEND`, default wasm); idempotent. */
  async backend(): Promise<void> {
    await initBackendFromArgs([], { log: this.#log });
  }

  /** The SFT policy artifact (base model + SFT, cached). */
  async policy(): Promise<Artifact> {
    this.#policy ??= (async () => {
      await this.backend();
      return await buildPolicy(this.pipeline(), { cache: this.cache, log: this.#log });
    })();
    return (await this.#policy).sft;
  }

  /** A fresh copy of the SFT policy (the caller disposes it). */
  async loadSft(): Promise<TinyLM> {
    return await loadPolicy(await this.policy(), { config: this.pipeline() });
  }

  /** The RM data of `seed` (cached). */
  rmData(seed: number): Promise<{ artifact: Artifact; rollouts: RMRollout[]; raw: Rollout[] }> {
    let p = this.#rmData.get(seed);
    if (!p) {
      p = (async () => {
        const sft = await this.policy();
        const artifact = await buildRmData(this.pipeline(seed), {
          sft,
          cache: this.cache,
          log: this.#log,
        });
        const data = await readRmData(artifact);
        if (data.rollouts.length === 0) {
          throw new RangeError(
            `RM data of seed ${seed} (preset ${this.preset}) has no mixed-outcome prompt: the SFT policy ` +
              `(${
                sft.key.slice(0, 12)
              }) answers every prompt the same way; see lib/pipeline/presets.ts`,
          );
        }
        return { artifact, rollouts: rmRolloutsFrom(data.rollouts), raw: data.rollouts };
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

  /** The avg@k problem lists, one {@linkcode EvalSet} per policy-eval split (cached). */
  avgSets(): Promise<EvalSet[]> {
    this.#avg ??= (async () => {
      const problems = await readAvgSet(await buildAvgSet(this.pipeline(), { cache: this.cache }));
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

  /** The resolved RM config of `overrides` for `seed` under this preset's budget. */
  rmConfig(overrides: DeepPartial<RMConfig>, seed: number): ResolvedRMConfig {
    return resolveRMConfig(pipelinePresetOf(this.preset), { ...overrides, seed });
  }

  /** The trained RM (cached; trained on the RM data of `seed`). The caller disposes the pair. */
  async rewardModel(
    overrides: DeepPartial<RMConfig>,
    seed: number,
  ): Promise<
    { pair: RewardModelPair; artifact: Artifact; config: ResolvedRMConfig; history: unknown[] }
  > {
    const config = this.rmConfig(overrides, seed);
    const sft = await this.policy();
    const data = await this.rmData(seed);
    const r = await getOrTrainRewardModel(() => this.loadSft(), data.rollouts, {
      config,
      sftKey: sft.key,
      dataKey: data.artifact.key,
      cache: this.cache,
      log: this.#log,
    });
    return { pair: r.pair, artifact: r.artifact, config, history: r.history };
  }

  /** ProcessBench analogue + best-of-N of the RM of `overrides` and `seed` (cached as `rm_eval`). */
  async rmEvaluation(overrides: DeepPartial<RMConfig>, seed: number): Promise<RmEvaluation> {
    const config = this.rmConfig(overrides, seed);
    const sft = await this.policy();
    const data = await this.rmData(seed);
    const pb = await this.processBench();
    const bon = await this.bestOfN();
    const rmKey = await this.cache.key({
      stage: "rm",
      version: RM_STAGE_VERSION,
      config: trainingKeyConfig(config),
      inputs: { sft: sft.key, data: data.artifact.key },
    });
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
          const pbRep = await evaluateProcessBench(rm.pair, pb.rows, {
            beta: config.beta,
            batchSize: config.train.scoreBatch,
            seed,
          });
          const bonRep = await evaluateBestOfN(rm.pair, bon.problems, {
            score: evalConfig.score as "sum" | "final_mean_value",
            beta: config.beta,
            ns: evalConfig.ns,
            batchSize: config.train.scoreBatch,
            seed,
          });
          const out: RmEvaluation = {
            pb: pbRep,
            bon: bonRep,
            keys: { rm: rm.artifact.key, processbench: pb.artifact.key, bon: bon.artifact.key },
            history: rm.history,
          };
          await Deno.writeTextFile(`${dir}/evaluation.json`, JSON.stringify(out));
          return { pbRows: pbRep.rows };
        } finally {
          disposePair(rm.pair);
        }
      },
    );
    return JSON.parse(await Deno.readTextFile(art.file("evaluation.json"))) as RmEvaluation;
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
      { stage: "cand_stats", version: 1, config, inputs: { sft: sft.key } },
      async (dir) => {
        const policy = await this.loadSft();
        try {
          const rng = new Rng(seed).fork("cand_stats");
          const problems = trainProblems(rng, prompts);
          const rollouts = await sampleRollouts(
            policy,
            problems.map((problem) => ({ problem, bucket: "train" })),
            { rng, n: 1, temperature: 1, label: "cand_stats", log: this.#log ?? (() => {}) },
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

  /** The resolved RL config of `input` for `seed` under this preset's budget. */
  rlConfig(input: RLConfigInput, seed: number): RLConfig {
    return resolveRLConfig({ ...input, pipeline: pipelinePresetOf(this.preset), seed });
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
    if (rmOverrides) {
      const rmCfg = this.rmConfig(rmOverrides, seed);
      const data = await this.rmData(seed);
      inputs.rm = await this.cache.key({
        stage: "rm",
        version: RM_STAGE_VERSION,
        config: trainingKeyConfig(rmCfg),
        inputs: { sft: sft.key, data: data.artifact.key },
      });
    }
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
          evalSets: evalSets.map((s) => ({
            name: s.name,
            problems: s.problems.slice(0, config.budget.evalProblemsPerSplit),
          })),
          write: this.#log,
        });
        await Deno.copyFile(`${work}/metrics.jsonl`, `${dir}/metrics.jsonl`);
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
    return {
      config,
      train: records.filter((r) => r.kind === "train").map(nums),
      evals: records.filter((r) => r.kind === "eval").map(nums),
    };
  }
}
