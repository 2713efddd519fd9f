/**
 * The writer calculator (../shared/spec/testbed_v2.md "The writer's exact statistics";
 * lib/testbed/calculator.ts): the SFT data writer's exact candidate-set statistics,
 * entropy, accuracy and group shares for the default preset's task, with its v1 SFT data
 * or {@linkcode SFT_DATA_V2}. Seconds, no model: tune the writer here first, then confirm
 * with one SFT run.
 *
 * ```
 * deno task calculator [--writer v1|v2] [--json] [--samples N] [--seed N]
 * ```
 * @module
 */
import { resolvePipelineConfig, SFT_DATA_V2 } from "../pipeline/presets.ts";
import type { DeepPartial } from "../run/config.ts";
import type { PipelineConfig } from "../pipeline/presets.ts";
import { type WriterStatistics, writerStatistics } from "../testbed/calculator.ts";
import { WRITER_VERSIONS, type WriterVersion } from "../testbed/misconceptions.ts";
import { oneOf, positiveIntArg } from "./_args.ts";
import { exitUsage } from "./_main.ts";

/** The default preset's pipeline config with the SFT data of a writer version. */
export function calculatorPipeline(writer: WriterVersion): PipelineConfig {
  const overrides = writer === "v2" ? { sftData: SFT_DATA_V2 } : {};
  return resolvePipelineConfig("default", overrides as DeepPartial<PipelineConfig>);
}

const pct = (x: number) => (100 * x).toFixed(1);

/**
 * The statistics as a markdown report (the paper's Table 11 levels beside the writer's).
 *
 * @example
 * ```ts
 * import { formatWriterStatistics } from "./calculator.ts";
 * import { writerStatistics } from "../testbed/calculator.ts";
 * import { DEFAULT_SFT_DATA_CONFIG } from "../testbed/misconceptions.ts";
 * import { assert } from "@std/assert";
 * const text = formatWriterStatistics(writerStatistics(DEFAULT_SFT_DATA_CONFIG, { samples: 20 }));
 * assert(text.includes("| 0.05 |"));
 * ```
 */
export function formatWriterStatistics(s: WriterStatistics): string {
  const paper: Record<number, [string, string]> = {
    0.05: ["1.54", "97.6"],
    0.1: ["1.33", "96.1"],
    0.2: ["1.16", "93.6"],
  };
  const o = s.options;
  return [
    `# Writer ${s.writer}: exact statistics (mod ${o.task.modulus}, k ${o.task.minSteps}..${o.task.maxSteps})`,
    "",
    `Response tokens: ${s.tokensPerResponse.toFixed(1)} on average (EOS included). ` +
    `Entropy: ${s.entropy.toFixed(3)} nats per response token. ` +
    `Branching positions (>1 token with p >= 0.01): ${pct(s.branchFraction)}%.`,
    "",
    "| P_min | size | mass (%) | size, branching | mass, branching (%) | paper size | paper mass (%) |",
    "|---|---|---|---|---|---|---|",
    ...s.candidates.map((c) =>
      `| ${c.pMin} | ${c.size.toFixed(3)} | ${pct(c.mass)} | ${c.branchSize.toFixed(3)} | ${
        pct(c.branchMass)
      } | ${paper[c.pMin]?.[0] ?? "-"} | ${paper[c.pMin]?.[1] ?? "-"} |`
    ),
    "",
    `Accuracy (%) at T ${o.rollout.temperature} / top-p ${o.rollout.topP} (rollout) and ` +
    `T ${o.evaluation.temperature} / top-p ${o.evaluation.topP} (evaluation); groups of ` +
    `${o.groupSize} rollouts on one problem, all wrong / all right (%):`,
    "",
    "| k | acc rollout | acc evaluation | all wrong, rollout | all wrong, evaluation | all right, rollout | groups from |",
    "|---|---|---|---|---|---|---|",
    ...s.accuracy.map((a, i) => {
      const g = s.groups[i]!;
      return `| ${a.k} | ${pct(a.rollout)} | ${pct(a.evaluation)} | ${pct(g.allWrongRollout)} | ${
        pct(g.allWrongEvaluation)
      } | ${pct(g.allRightRollout)} | ${
        g.method === "exact" ? `all ${g.problems} problems` : `${g.problems} drawn (seed ${o.seed})`
      } |`;
    }),
    `| mean | | | ${pct(s.meanGroup.allWrongRollout)} | ${pct(s.meanGroup.allWrongEvaluation)} | ${
      pct(s.meanGroup.allRightRollout)
    } | |`,
    "",
    "| avg@k bucket | acc rollout | acc evaluation |",
    "|---|---|---|",
    ...s.buckets.map((b) => `| ${b.name} | ${pct(b.rollout)} | ${pct(b.evaluation)} |`),
    `| mean (avg@k analogue) | ${pct(s.meanBucket.rollout)} | ${pct(s.meanBucket.evaluation)} |`,
    "",
  ].join("\n");
}

if (import.meta.main) {
  let writer: WriterVersion, samples: number | undefined, seed: number | undefined;
  try {
    writer = oneOf(Deno.args, "--writer", WRITER_VERSIONS, "v1")!;
    samples = positiveIntArg(Deno.args, "--samples");
    seed = positiveIntArg(Deno.args, "--seed");
  } catch (e) {
    exitUsage(e);
  }
  const c = calculatorPipeline(writer);
  const s = writerStatistics(c.sftData, {
    task: c.task,
    buckets: c.split.policyEval,
    evaluation: { temperature: c.evalSets.avgTemperature, topP: c.evalSets.avgTopP },
    ...(samples !== undefined ? { samples } : {}),
    ...(seed !== undefined ? { seed } : {}),
  });
  console.log(
    Deno.args.includes("--json") ? JSON.stringify(s, null, 1) : formatWriterStatistics(s),
  );
}
