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
  // Sums of the unit seconds over seeds 1-3, measured 2026-11-26 on a fresh clone with
  // `--jobs 3` (three one-thread children on 2 cores, the own GEMM of lib/wasm_gemm): 48 min wall
  // in all, 9 of them shared. (With tfjs's matMul, 2026-11-25: 73 min.)
  default: {
    "00": 662,
    "01": 1023,
    "02": 1305,
    "03": 1291,
    "04": 328,
    "05": 179,
    "06": 1409,
    "07": 369,
    "08": 11,
    "09": 161,
  },
  // Not run: the 2026-11-25 estimate (default x 5/3 seeds, RL experiments x 6 more for the
  // 40-step x 32-prompt budget, docs/rl.md) scaled per experiment by default's speed-up:
  // about 8.1 h of units, near 2.8 h with `--jobs 3` on 2 cores.
  full: {
    "00": 1100,
    "01": 1700,
    "02": 2170,
    "03": 12910,
    "04": 3280,
    "05": 1790,
    "06": 2350,
    "07": 3690,
    "08": 15,
    "09": 270,
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
  // measured 2026-11-26, fresh clone: base 400 + SFT 1,500 steps and the evaluation sets, 9 min
  default: 540,
  full: 540,
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
 * assertEquals(expectedSeconds("default", ["01"], { seeds: [2], sharedBuilt: true })[0], all / 3);
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
