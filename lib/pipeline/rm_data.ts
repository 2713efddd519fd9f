/**
 * RM training data (testbed.md pipeline step 2): for each training prompt, sample
 * `rollouts` (5) responses from the SFT policy at temperature 1, verify and label
 * them, keep the prompts with mixed outcomes, form one (correct, wrong) pair per
 * kept prompt, and keep every labelled rollout of the kept prompts (Implicit PRM
 * and IPVRM train on outcome labels). The RM-data seed drives the prompts, the
 * sampling, the pair choice and the shuffle (seeds must vary the data, not only the
 * order). Cached as stage `rm_data` (files `pairs.jsonl`, `rollouts.jsonl`,
 * `summary.json`), keyed by the config and the policy's key.
 * @module
 */
import { join } from "node:path";
import type { TinyLM } from "../model/lm.ts";
import type { Artifact, ArtifactCache } from "../run/cache.ts";
import { sampleProblems } from "../testbed/splits.ts";
import { readJsonlFile, writeJsonlFile } from "./_io.ts";
import { loadPolicy } from "./policy.ts";
import { type PipelineConfig, streamRng } from "./presets.ts";
import { sampleRollouts } from "./rollouts.ts";
import type { RmPair, Rollout } from "./types.ts";
import { CounterRng, type Rng } from "../prng.ts";

/** Counts recorded with the RM data. */
export interface RmDataSummary {
  /** Prompts sampled. */
  prompts: number;
  /** Rollouts sampled (prompts x rollouts). */
  sampled: number;
  /** Accuracy of all sampled rollouts. */
  accuracy: number;
  /** Prompts with mixed outcomes (kept). */
  keptPrompts: number;
  /** Rollouts of the kept prompts. */
  keptRollouts: number;
  /** Pairs (one per kept prompt). */
  pairs: number;
  /** Prompts whose rollouts were all correct / all wrong. */
  allCorrect: number;
  /** See `allCorrect`. */
  allWrong: number;
  /** Kept rollouts that are correct but contain a wrong step (label >= 0). */
  correctWithWrongStep: number;
  /** Kept rollouts that did not end with EOS within the context. */
  unfinished: number;
}

/**
 * Keeps mixed-outcome groups and forms one (correct, wrong) pair per group, picked
 * with `rng`; groups are shuffled by `rng`. Pure (no model): tested on its own.
 *
 * @param rollouts rollouts of several prompts (grouped by `key`)
 *
 * @example
 * ```ts
 * import { selectMixed } from "./rm_data.ts";
 * import { Rng } from "../prng.ts";
 * import { assertEquals } from "@std/assert";
 * const r = (key: string, correct: 0 | 1) => ({ key, correct }) as never;
 * const out = selectMixed([r("a", 1), r("a", 0), r("b", 1), r("b", 1)], new Rng(1));
 * assertEquals(out.pairs.length, 1);
 * assertEquals(out.rollouts.length, 2);
 * ```
 */
export function selectMixed(
  rollouts: readonly Rollout[],
  rng: Rng,
): { pairs: RmPair[]; rollouts: Rollout[]; allCorrect: number; allWrong: number } {
  const groups = new Map<string, Rollout[]>();
  for (const r of rollouts) {
    const g = groups.get(r.key) ?? [];
    g.push(r);
    groups.set(r.key, g);
  }
  const kept: Rollout[][] = [];
  let allCorrect = 0, allWrong = 0;
  for (const g of groups.values()) {
    const c = g.filter((r) => r.correct === 1).length;
    if (c === g.length) allCorrect++;
    else if (c === 0) allWrong++;
    else kept.push(g);
  }
  rng.shuffle(kept);
  const pairs = kept.map((g): RmPair => ({
    key: g[0]!.key,
    chosen: rng.pick(g.filter((r) => r.correct === 1)),
    rejected: rng.pick(g.filter((r) => r.correct === 0)),
  }));
  return { pairs, rollouts: kept.flat(), allCorrect, allWrong };
}

/** Options of {@linkcode buildRmData}. */
export interface BuildRmDataOptions {
  /** The SFT policy artifact (its key is an input of the entry). */
  sft: Artifact;
  /** The loaded policy (default: loaded from `sft` and disposed after). */
  model?: TinyLM;
  /** Cache (default `new ArtifactCache()`). */
  cache?: ArtifactCache;
  /** Progress sink. */
  log?: (line: string) => void;
}

/**
 * Builds (or loads) the RM data of `config.rmData` from the SFT policy. The
 * manifest's `meta` holds the {@linkcode RmDataSummary}.
 */
export async function writeRmData(
  dir: string,
  config: PipelineConfig,
  options: BuildRmDataOptions,
) {
  const rc = config.rmData;
  const problems = sampleProblems(streamRng(rc.seed, "rm_data/prompts"), {
    role: "train",
    bucket: { name: "train", minSteps: config.task.minSteps, maxSteps: config.task.maxSteps },
    n: rc.prompts,
    task: config.task,
    split: config.split,
  });
  const model = options.model ?? await loadPolicy(options.sft, { config });
  let all: Rollout[];
  try {
    all = await sampleRollouts(model, problems.map((problem) => ({ problem, bucket: "train" })), {
      rng: new CounterRng(rc.seed, "rm_data/sampling"),
      n: rc.rollouts,
      temperature: rc.temperature,
      topP: rc.topP,
      batchRows: config.samplingBatch,
      label: "rm_data",
      ...(options.log ? { log: options.log } : {}),
    });
  } finally {
    if (!options.model) model.dispose();
  }
  const sel = selectMixed(all, streamRng(rc.seed, "rm_data/pairs"));
  const summary: RmDataSummary = {
    prompts: problems.length,
    sampled: all.length,
    accuracy: all.reduce((a, r) => a + r.correct, 0) / all.length,
    keptPrompts: sel.pairs.length,
    keptRollouts: sel.rollouts.length,
    pairs: sel.pairs.length,
    allCorrect: sel.allCorrect,
    allWrong: sel.allWrong,
    correctWithWrongStep: sel.rollouts.filter((r) => r.correct === 1 && r.label >= 0).length,
    unfinished: sel.rollouts.filter((r) => !r.finished).length,
  };
  await writeJsonlFile(join(dir, "pairs.jsonl"), sel.pairs);
  await writeJsonlFile(join(dir, "rollouts.jsonl"), sel.rollouts);
  await Deno.writeTextFile(join(dir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  return { ...summary };
}

/** Reads an RM-data artifact. */
export async function readRmData(
  artifact: Artifact,
): Promise<{ pairs: RmPair[]; rollouts: Rollout[]; summary: RmDataSummary }> {
  return {
    pairs: await readJsonlFile<RmPair>(artifact.file("pairs.jsonl")),
    rollouts: await readJsonlFile<Rollout>(artifact.file("rollouts.jsonl")),
    summary: JSON.parse(await Deno.readTextFile(artifact.file("summary.json"))),
  };
}
