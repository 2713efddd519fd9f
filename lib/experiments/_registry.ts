/**
 * Every experiment, in notebook order (`NN` = the notebook's number).
 * @module
 */
import type { Experiment } from "./_experiment.ts";
import { defaultSeeds, type ExperimentPreset } from "./_runner.ts";
import { experiment as e00 } from "./00_quickstart.ts";
import { experiment as e01 } from "./01_reward_models.ts";
import { experiment as e02 } from "./02_temporal_weighting.ts";
import { experiment as e03 } from "./03_main_rl.ts";
import { experiment as e04 } from "./04_online_update.ts";
import { experiment as e05 } from "./05_reference_choice.ts";
import { experiment as e06 } from "./06_margin.ts";
import { experiment as e07 } from "./07_p_min.ts";
import { experiment as e08 } from "./08_processbench_protocols.ts";
import { experiment as e09 } from "./09_prefix_values.ts";

/** All experiments by id order. */
export const EXPERIMENTS: readonly Experiment[] = [
  e00,
  e01,
  e02,
  e03,
  e04,
  e05,
  e06,
  e07,
  e08,
  e09,
];

/**
 * Expected wall seconds per experiment (for the overall ETA only; the per-unit ETA uses measured
 * times): all of the preset's seeds, shared stages excluded ({@linkcode SHARED_SECONDS}), on 2
 * cores. The reproduce loop rescales by the speed it measures, so these need only be roughly right.
 */
export const EXPECTED_SECONDS: Readonly<
  Record<ExperimentPreset, Readonly<Record<string, number>>>
> = {
  smoke: {
    "00": 60,
    "01": 40,
    "02": 20,
    "03": 60,
    "04": 20,
    "05": 15,
    "06": 20,
    "07": 25,
    "08": 2,
    "09": 30,
  },
  // Estimated 2026-12-05 for 6 seeds from single-thread timings of the new stages (RM 2 epochs
  // ~32 s + PB/BoN scoring ~22 s, RL 12 steps ~17 s + final avg@k at k = 32 ~16 s per run), two
  // one-thread children on 2 cores: about 44 min of children after ~10 min of shared stages.
  // (3 seeds, 5 RM epochs, small evaluations, 2026-12-05: 36 min; 2026-11-26: 48 min.)
  default: {
    "00": 300,
    "01": 800,
    "02": 650,
    "03": 1680,
    "04": 400,
    "05": 200,
    "06": 650,
    "07": 430,
    "08": 12,
    "09": 180,
  },
  // Not run: default's per-seed estimate for 10 seeds with the standalone RL budget (40 steps x
  // 32 prompts, ~6.7x the RL training of default): about 3 h of children on 2 cores.
  full: {
    "00": 500,
    "01": 1330,
    "02": 1080,
    "03": 10480,
    "04": 2580,
    "05": 1290,
    "06": 1080,
    "07": 2630,
    "08": 20,
    "09": 300,
  },
  gpu: {
    "00": 600,
    "01": 1200,
    "02": 800,
    "03": 3000,
    "04": 800,
    "05": 800,
    "06": 800,
    "07": 1600,
    "08": 5,
    "09": 800,
  },
};

/**
 * Expected wall seconds of the shared stages of a preset (SFT policy, evaluation sets), built once
 * by the first experiment (or by the parent of `--jobs`) and cached.
 */
export const SHARED_SECONDS: Readonly<Record<ExperimentPreset, number>> = {
  smoke: 30,
  // base 400 + SFT 1,500 steps (7.3 min, 2026-12-05) and the evaluation sets (BoN 25,600
  // samples ~1.3 min, PB 4,000 rows), about 10 min
  default: 600,
  full: 600,
  gpu: 1800,
};

/**
 * Expected wall seconds of each experiment `ids[i]` of `preset` for `seeds` (scaled by their share
 * of the preset's default seeds), the shared stages charged to the first one unless `sharedBuilt`
 * (a child of `--jobs`, whose parent built them). Unknown ids count 60 s.
 *
 * @example
 * ```ts
 * import { EXPECTED_SECONDS, expectedSeconds } from "./_registry.ts";
 * import { assertEquals } from "@std/assert";
 * const all = expectedSeconds("default", ["01"], { sharedBuilt: true })[0]!;
 * assertEquals(all, EXPECTED_SECONDS.default!["01"]);
 * assertEquals(expectedSeconds("default", ["01"], { seeds: [2], sharedBuilt: true })[0], all / 6);
 * ```
 */
export function expectedSeconds(
  preset: ExperimentPreset,
  ids: readonly string[],
  options: { seeds?: readonly number[]; sharedBuilt?: boolean } = {},
): number[] {
  const table = EXPECTED_SECONDS[preset] ?? {};
  const all = defaultSeeds(preset).length;
  const mine = options.seeds ? options.seeds.length : all;
  const shared = options.sharedBuilt ? 0 : SHARED_SECONDS[preset] ?? 0;
  return ids.map((id, i) => ((table[id] ?? 60) * mine) / all + (i === 0 ? shared : 0));
}

/** Experiments whose `NN` is in `only` (all when empty); throws naming unknown numbers. */
export function selectExperiments(only: readonly string[]): Experiment[] {
  const known = EXPERIMENTS.map((e) => e.id.slice(0, 2));
  for (const o of only) {
    if (!known.includes(o.padStart(2, "0"))) {
      throw new RangeError(
        `Invalid --only: expected experiment numbers among ${known.join(",")}, got ${
          JSON.stringify(o)
        }`,
      );
    }
  }
  const want = new Set(only.map((o) => o.padStart(2, "0")));
  return EXPERIMENTS.filter((e) => want.size === 0 || want.has(e.id.slice(0, 2)));
}
