/**
 * Runs every experiment headlessly as plain Deno modules (not through the Jupyter kernel):
 * a progress line per unit with an ETA, each unit's results written as it completes
 * (`results/<preset>/<NN_name>/results.jsonl` and `results/<preset>/<NN_name>.parquet`), resume
 * after a kill (finished units are read back, cached stages are reused), figure bundles under
 * `figures/NN_name/` (default preset) and a verdict table `results/<preset>/verdicts.{json,md}`.
 *
 * ```
 * deno task reproduce [--preset smoke|default|full|gpu] [--only 01,03] [--seeds 1,2,3]
 *   [--fresh] [--results DIR] [--figures DIR] [--backend wasm|cpu|webgpu|tensorflow]
 * ```
 * With no flags it runs the `default` preset (the README's "embedded default").
 * @module
 */
import {
  EXPERIMENT_PRESETS,
  type ExperimentPreset,
  figuresRoot,
  resultsRoot,
} from "../experiments/_runner.ts";
import { EXPECTED_SECONDS, selectExperiments } from "../experiments/_registry.ts";
import { Stages } from "../experiments/_stages.ts";
import type { ExperimentResult } from "../experiments/_experiment.ts";
import { formatDuration } from "../run/progress.ts";
import { toMarkdown } from "../report/tables.ts";
import { writeIndexPage } from "../report/index_page.ts";

/** Parsed command line of reproduce. */
export interface ReproduceArgs {
  preset: ExperimentPreset;
  only: string[];
  seeds?: number[];
  fresh: boolean;
  resultsDir?: string;
  figuresDir?: string;
}

function argValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === name) return args[i + 1];
    if (a.startsWith(name + "=")) return a.slice(name.length + 1);
  }
  return undefined;
}

/** Parses reproduce's flags; errors name the flag and what was expected. */
export function parseReproduceArgs(args: readonly string[]): ReproduceArgs {
  const preset = (argValue(args, "--preset") ?? "default") as ExperimentPreset;
  if (!EXPERIMENT_PRESETS.includes(preset)) {
    throw new RangeError(
      `Invalid --preset: expected one of ${EXPERIMENT_PRESETS.join(", ")}, got ${
        JSON.stringify(preset)
      }`,
    );
  }
  const only = (argValue(args, "--only") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const seedsArg = argValue(args, "--seeds");
  let seeds: number[] | undefined;
  if (seedsArg !== undefined) {
    seeds = seedsArg.split(",").map(Number);
    if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 1)) {
      throw new RangeError(
        `Invalid --seeds: expected a comma list of integers >= 1, got ${JSON.stringify(seedsArg)}`,
      );
    }
  }
  return {
    preset,
    only,
    seeds,
    fresh: args.includes("--fresh"),
    resultsDir: argValue(args, "--results"),
    figuresDir: argValue(args, "--figures"),
  };
}

/** One verdict line of the summary. */
export interface VerdictLine {
  experiment: string;
  claim: string;
  metric: string;
  ours: string;
  paper: string;
  verdict: string;
  reason: string;
}

/** The verdict lines of finished experiments. */
export function verdictLines(results: readonly ExperimentResult[]): VerdictLine[] {
  const f = (
    x: number | null | undefined,
  ) => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(2));
  return results.flatMap((r) =>
    r.claims.map((c) => ({
      experiment: r.id,
      claim: `${c.claim.treatment.label} − ${c.claim.control.label}`,
      metric: c.claim.metricLabel,
      ours: c.diff
        ? `${f(c.diff.mean)} [${f(c.diff.ciLow)}, ${f(c.diff.ciHigh)}] (n=${c.diff.n})`
        : "n/a",
      paper: c.paperTreatment !== null && c.paperControl !== null
        ? f(c.paperTreatment - c.paperControl)
        : `claims ${c.direction}`,
      verdict: c.verdict.verdict,
      reason: c.verdict.reason,
    }))
  );
}

/** Runs the selected experiments in order with one shared {@linkcode Stages}. */
export async function reproduce(
  args: ReproduceArgs,
  options: { log?: (line: string) => void } = {},
): Promise<ExperimentResult[]> {
  const log = options.log ?? ((l: string) => console.error(l));
  const experiments = selectExperiments(args.only);
  const stages = new Stages(args.preset, { log });
  const expected = EXPECTED_SECONDS[args.preset] ?? {};
  const total = experiments.reduce((a, e) => a + (expected[e.id.slice(0, 2)] ?? 60), 0);
  const t0 = performance.now();
  let doneExpected = 0;
  // Measured speed over experiments that did real work: one answered from the cache in seconds
  // would otherwise scale every later estimate towards zero.
  let workExpected = 0, workSeconds = 0;
  const results: ExperimentResult[] = [];
  for (const [i, e] of experiments.entries()) {
    const elapsed = (performance.now() - t0) / 1000;
    const speed = workExpected > 0 ? workSeconds / workExpected : 1;
    log(
      `[reproduce] ${i + 1}/${experiments.length} ${e.id} (preset ${args.preset}) elapsed ${
        formatDuration(elapsed)
      } eta ${formatDuration((total - doneExpected) * speed)}`,
    );
    const r = await e.run(args.preset, {
      seeds: args.seeds,
      resume: !args.fresh,
      log,
      stages,
      resultsDir: args.resultsDir,
      figuresDir: args.figuresDir,
    });
    results.push(r);
    const exp = expected[e.id.slice(0, 2)] ?? 60;
    doneExpected += exp;
    if (r.seconds >= 0.2 * exp) {
      workExpected += exp;
      workSeconds += r.seconds;
    }
    log(
      `[reproduce] ${e.id} done in ${
        formatDuration(r.seconds)
      } (${r.ran.length} units run, ${r.resumed.length} resumed)`,
    );
  }
  const root = resultsRoot(args.preset, args);
  const lines = verdictLines(results);
  await Deno.mkdir(root, { recursive: true });
  await Deno.writeTextFile(
    `${root}/verdicts.json`,
    JSON.stringify(
      {
        preset: args.preset,
        seconds: (performance.now() - t0) / 1000,
        experiments: results.map((r) => ({ id: r.id, seconds: r.seconds, seeds: r.seeds })),
        verdicts: lines,
      },
      null,
      1,
    ) + "\n",
  );
  await Deno.writeTextFile(
    `${root}/verdicts.md`,
    `# Verdicts (preset ${args.preset})\n\n` +
      toMarkdown({
        columns: ["experiment", "claim", "metric", "ours", "paper", "verdict"],
        rows: lines as unknown as Record<string, unknown>[],
      }),
  );
  await writeIndexPage(figuresRoot(args.preset, args));
  log(
    `[reproduce] all ${experiments.length} experiments done in ${
      formatDuration((performance.now() - t0) / 1000)
    }; verdicts in ${root}/verdicts.md`,
  );
  return results;
}

if (import.meta.main) {
  let args: ReproduceArgs;
  try {
    args = parseReproduceArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  await reproduce(args);
  Deno.exit(0); // wasm worker threads would keep the process alive
}
