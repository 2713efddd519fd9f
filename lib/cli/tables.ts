/**
 * Rewrites the per-experiment tables from the per-item records under `results/<preset>/`
 * (lib/experiments/_items.ts): per arm and metric, the seed mean with its Student-t CI over
 * seeds beside a percentile bootstrap over evaluation items; nothing is retrained or rescored.
 *
 * ```
 * deno task tables [--preset smoke|default|gpu|full] [--results DIR] [--resamples N] [--seed N]
 * ```
 * Writes `results/<preset>/<experiment>/items_table.{json,md}` and prints where (docs/runs.md).
 * @module
 */
import { EXPERIMENT_PRESET_NAMES } from "../vocabulary.ts";
import { itemTables } from "../experiments/_items.ts";
import { argValue, oneOf, positiveIntArg } from "./_args.ts";
import { exitUsage } from "./_main.ts";

/** Parses the command line (throws naming the flag). */
export function parseArgs(
  args: readonly string[],
): { resultsDir: string; resamples: number; seed: number } {
  const preset = oneOf(args, "--preset", EXPERIMENT_PRESET_NAMES) ?? "default";
  return {
    resultsDir: argValue(args, "--results") ?? `results/${preset}`,
    resamples: positiveIntArg(args, "--resamples") ?? 1000,
    seed: positiveIntArg(args, "--seed") ?? 0,
  };
}

if (import.meta.main) {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(Deno.args);
  } catch (e) {
    exitUsage(e);
  }
  const t0 = performance.now();
  const rows = await itemTables(opts.resultsDir, { resamples: opts.resamples, seed: opts.seed });
  const experiments = [...new Set(rows.map((r) => r.experiment))];
  for (const e of experiments) {
    console.log(
      `${opts.resultsDir}/${e}/items_table.md (${
        rows.filter((r) => r.experiment === e).length
      } rows)`,
    );
  }
  console.log(
    `${rows.length} rows from per-item records in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    }s` +
      (rows.length === 0 ? " (no per-item files: run `deno task reproduce` first)" : ""),
  );
}
