/**
 * Every experiment, in notebook order (`NN` = the notebook's number).
 * @module
 */
import type { Experiment } from "./_experiment.ts";
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
 * Rough wall seconds per experiment on 2 shared cores (for the overall ETA only; the per-unit
 * ETA uses measured times). Shared stages are charged to the first experiment that builds them.
 */
export const EXPECTED_SECONDS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
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
  // From scratch on 2 cores, one process: measured unit times of 2026-11-23 (RMs 4-6 min each,
  // RL units 35-70 s) plus the SFT policy (base + SFT, about 30 min, charged to 00).
  default: {
    "00": 2200,
    "01": 2500,
    "02": 1700,
    "03": 1150,
    "04": 300,
    "05": 150,
    "06": 1650,
    "07": 380,
    "08": 5,
    "09": 200,
  },
  full: {
    "00": 900,
    "01": 2000,
    "02": 1200,
    "03": 6000,
    "04": 1500,
    "05": 1500,
    "06": 1200,
    "07": 3000,
    "08": 5,
    "09": 1000,
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
