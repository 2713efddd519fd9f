/**
 * Training data of the base and SFT stages: an endless stream of train-role
 * problems, each solved by the SFT data writer (planted misconceptions at rate q
 * plus random corruption, misconceptions.ts) and rendered in a format drawn from
 * the stage's mix. The stream is a pure function of an {@linkcode Rng}, so a
 * checkpoint that saves the generator's state resumes the exact data order.
 * @module
 */
import type { Rng } from "../prng.ts";
import { type Format, FORMATS, renderPrompt, renderResponse } from "../testbed/format.ts";
import { writeSftSolution } from "../testbed/misconceptions.ts";
import { sampleProblems } from "../testbed/splits.ts";
import type { Problem } from "../testbed/task.ts";
import type { PipelineConfig, StageConfig } from "./presets.ts";

/** One training example. */
export interface Example {
  /** The problem (train role). */
  problem: Problem;
  /** The format of `response`. */
  format: Format;
  /** Prompt text. */
  prompt: string;
  /** Response text as the data writer wrote it. */
  response: string;
}

/**
 * Draws one format from normalised mix weights.
 *
 * @example
 * ```ts
 * import { pickFormat } from "./corpus.ts";
 * import { Rng } from "../prng.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(pickFormat(new Rng(1), { sft: 1, shifted: 0, numbered: 0, inline: 0 }), "sft");
 * ```
 */
export function pickFormat(rng: Rng, mix: Readonly<Record<Format, number>>): Format {
  let total = 0;
  for (const f of FORMATS) total += mix[f];
  if (!(total > 0)) throw new RangeError("mix: expected a positive total weight");
  let u = rng.next() * total;
  for (const f of FORMATS) {
    if (mix[f] <= 0) continue;
    u -= mix[f];
    if (u < 0) return f;
  }
  // float round-off: the last format with weight
  return [...FORMATS].reverse().find((f) => mix[f] > 0)!;
}

/**
 * `n` training examples of a stage, drawn from `rng` (problems of the train role,
 * k uniform over the task's range, formats from `stage.formatMix`).
 *
 * @example
 * ```ts
 * import { drawExamples } from "./corpus.ts";
 * import { resolvePipelineConfig } from "./presets.ts";
 * import { Rng } from "../prng.ts";
 * import { assertEquals } from "@std/assert";
 * const c = resolvePipelineConfig("smoke");
 * const examples = drawExamples(new Rng(1), { config: c, stage: c.sft, n: 3 });
 * assertEquals(examples.map((e) => e.format), ["sft", "sft", "sft"]);
 * ```
 */
export function drawExamples(
  rng: Rng,
  options: { config: PipelineConfig; stage: StageConfig; n: number },
): Example[] {
  const { config, stage, n } = options;
  const problems = sampleProblems(rng, {
    role: "train",
    bucket: { name: "train", minSteps: config.task.minSteps, maxSteps: config.task.maxSteps },
    n,
    unique: false,
    task: config.task,
    split: config.split,
  });
  return problems.map((problem) => {
    const format = pickFormat(rng, stage.formatMix);
    const { trace } = writeSftSolution(problem, rng, { config: config.sftData });
    return {
      problem,
      format,
      prompt: renderPrompt(problem),
      response: renderResponse(trace, format).text,
    };
  });
}
