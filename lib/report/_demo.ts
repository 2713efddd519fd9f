/**
 * A synthetic stand-in experiment for `notebooks/_template.ipynb` and the report tests:
 * per-seed scores of two arms drawn from fixed normals with a seeded {@linkcode Rng}, plus a
 * per-step curve. Not an experiment: real notebooks call `lib/experiments/<name>.ts`.
 * @module
 */
import { Rng } from "../prng.ts";

/** Config of the demo (a real experiment has its own typed config). */
export interface DemoConfig {
  /** Seeds, one run per seed per arm. */
  seeds: number[];
  /** Steps in the curve. */
  steps: number;
  /** True mean of the treatment arm minus the control arm. */
  effect: number;
}

/** Defaults: 3 seeds, 20 steps, effect 10. */
export const DEFAULT_DEMO_CONFIG: DemoConfig = { seeds: [1, 2, 3], steps: 20, effect: 10 };

/** Per-seed results of the demo. */
export interface DemoResult {
  config: DemoConfig;
  /** arm -> one final score per seed (same seed order as config.seeds). */
  final: Record<"control" | "treatment", number[]>;
  /** arm -> per seed -> per step score. */
  curves: Record<"control" | "treatment", number[][]>;
}

/** Run the synthetic demo: scores ~ N(28 (+effect for treatment), 1.5), seeded. */
export function runDemo(diff: Partial<DemoConfig> = {}): DemoResult {
  const config = { ...DEFAULT_DEMO_CONFIG, ...diff };
  const arm = (name: "control" | "treatment", mu: number) => {
    const final: number[] = [];
    const curves: number[][] = [];
    for (const seed of config.seeds) {
      const rng = new Rng(seed).fork(name);
      const end = mu + 1.5 * rng.normal();
      final.push(end);
      curves.push(
        Array.from(
          { length: config.steps },
          (_, t) => end * (1 - Math.exp(-4 * (t + 1) / config.steps)) + 0.5 * rng.normal(),
        ),
      );
    }
    return { final, curves };
  };
  const c = arm("control", 28);
  const t = arm("treatment", 28 + config.effect);
  return {
    config,
    final: { control: c.final, treatment: t.final },
    curves: { control: c.curves, treatment: t.curves },
  };
}
