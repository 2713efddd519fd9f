/**
 * Runs every experiment headlessly as plain Deno modules (not through the Jupyter kernel):
 * a progress line per unit with an ETA, each unit's results written as it completes
 * (`results/<preset>/<NN_name>/results.jsonl` and `results/<preset>/<NN_name>.parquet`), resume
 * after a kill (finished units are read back, cached stages are reused), figure bundles under
 * `figures/NN_name/` (default preset) and a verdict table `results/<preset>/verdicts.{json,md}`
 * (lib/experiments/_verdicts.ts; the format in docs/results.md, "The verdict rule and
 * verdicts.json").
 *
 * ```
 * deno task reproduce [--preset smoke|default|full|gpu] [--only 01,03] [--seeds 1,2,3]
 *   [--jobs N] [--fresh] [--results DIR] [--figures DIR] [--backend wasm|cpu|webgpu|tensorflow]
 * ```
 * With no flags it runs the `default` preset (the README's "embedded default").
 *
 * `--jobs N` runs the seeds in N child processes (seed `s` goes to job `(i mod N)` in seed
 * order; default {@linkcode autoJobs}: one per seed for `default` and `full` on wasm/cpu,
 * `--jobs 1` for one process), each with one wasm thread unless `WASM_THREADS` is set: every
 * per-seed stage (RM data, RMs, RL runs) then lives in one process, and the shared stages (SFT
 * policy, evaluation sets) are built once beforehand. The children append to the same `results.jsonl` files (one write per
 * record); a final pass in this process reads everything back and writes tables, figures and
 * verdicts.
 * @module
 */
import { figuresRoot, resultsRoot } from "../experiments/_runner.ts";
import { EXPERIMENT_PRESET_NAMES, type ExperimentPreset } from "../vocabulary.ts";
import { argValue, oneOf } from "./_args.ts";
import { expectedSeconds, selectExperiments } from "../experiments/_registry.ts";
import { Stages } from "../pipeline/stages.ts";
import { defaultSeeds, pipelinePresetOf } from "../experiments/_runner.ts";
import { type BackendName, processEnv, resolveBackendName } from "../backend.ts";
import type { ExperimentResult } from "../experiments/_experiment.ts";
import { formatDuration } from "../run/progress.ts";
import { seedHalves } from "../report/stats.ts";
import {
  verdictCounts,
  type VerdictDocument,
  verdictMarkdown,
  verdictRows,
} from "../experiments/_verdicts.ts";
import { writeIndexPage } from "../report/index_page.ts";

/** Parsed command line of reproduce. */
export interface ReproduceArgs {
  preset: ExperimentPreset;
  only: string[];
  seeds?: number[];
  fresh: boolean;
  resultsDir?: string;
  figuresDir?: string;
  /** Child processes for the seeds (1 = run in this process); default {@linkcode autoJobs}. */
  jobs: number;
  /** The backend (`--backend` / `$PVL_BACKEND` / wasm), passed on to the children. */
  backend: BackendName;
  /** A child of `--jobs`: the parent built the shared stages (only the ETA reads it). */
  child: boolean;
}

/**
 * Most child processes `--jobs` starts by itself: the machine's cores (one one-thread child per
 * core). Measured 2026-12-05 on 2 cores: with six one-thread children (one per seed) each unit
 * took about 1.2-1.3x the CPU time it takes alone (time slices evict the caches; part of it was
 * other load on the machine), so seeds are dealt round-robin to one child per core instead.
 */
export const MAX_AUTO_JOBS: number = Math.max(1, navigator.hardwareConcurrency || 1);

/**
 * `--jobs` when not given: on the CPU backends (wasm, cpu) the `default` and `full` presets run one
 * child process per seed, at most {@linkcode MAX_AUTO_JOBS} (one per core), each on one wasm thread (measured on 2 cores: 73 min for `default`
 * against about 2 h 45 min in one process, with tfjs's matMul; 48 min with the own kernels); otherwise, and in a child, one process.
 *
 * @example
 * ```ts
 * import { autoJobs } from "./reproduce.ts";
 * import { assertEquals } from "@std/assert";
 * import { MAX_AUTO_JOBS } from "./reproduce.ts";
 * assertEquals(autoJobs({ preset: "default", seeds: 6, backend: "wasm" }), Math.min(6, MAX_AUTO_JOBS));
 * assertEquals(autoJobs({ preset: "smoke", seeds: 2, backend: "wasm" }), 1);
 * ```
 */
export function autoJobs(
  o: { preset: ExperimentPreset; seeds: number; backend: BackendName; child?: boolean },
): number {
  if (o.child) return 1;
  const cpu = o.backend === "wasm" || o.backend === "cpu";
  return cpu && (o.preset === "default" || o.preset === "full")
    ? Math.max(1, Math.min(o.seeds, MAX_AUTO_JOBS))
    : 1;
}

/**
 * Parses reproduce's flags (`env`: where `$PVL_BACKEND` is read); errors name the flag and what
 * was expected.
 */
export function parseReproduceArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = processEnv(),
): ReproduceArgs {
  const preset: ExperimentPreset = oneOf(args, "--preset", EXPERIMENT_PRESET_NAMES, "default")!;
  const only = (argValue(args, "--only") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  selectExperiments(only); // throws naming --only and the known numbers
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
  const backend = resolveBackendName(args, env);
  const child = args.includes("--child");
  const jobsArg = argValue(args, "--jobs");
  const jobs = jobsArg === undefined
    ? autoJobs({ preset, seeds: (seeds ?? defaultSeeds(preset)).length, backend, child })
    : Number(jobsArg);
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new RangeError(
      `Invalid --jobs: expected an integer >= 1, got ${JSON.stringify(jobsArg)}`,
    );
  }
  return {
    preset,
    only,
    seeds,
    jobs,
    backend,
    fresh: args.includes("--fresh"),
    child,
    resultsDir: argValue(args, "--results"),
    figuresDir: argValue(args, "--figures"),
  };
}

/**
 * The verdict document of finished experiments (docs/results.md, "verdicts.json"): the rows of
 * {@linkcode verdictRows} with their headline counts.
 */
export function verdictDocument(
  results: readonly ExperimentResult[],
  options: { preset: ExperimentPreset; seeds: readonly number[]; seconds: number },
): VerdictDocument {
  const rows = verdictRows(results);
  return {
    preset: options.preset,
    seeds: [...options.seeds],
    halves: seedHalves(options.seeds),
    seconds: options.seconds,
    counts: verdictCounts(rows),
    experiments: results.map((r) => ({ id: r.id, seconds: r.seconds, seeds: r.seeds })),
    rows,
  };
}

/** Seeds dealt round-robin to `jobs` groups (empty groups dropped). */
export function seedGroups(seeds: readonly number[], jobs: number): number[][] {
  const groups: number[][] = Array.from({ length: jobs }, () => []);
  seeds.forEach((s, i) => groups[i % jobs]!.push(s));
  return groups.filter((g) => g.length > 0);
}

/** The command-line flags of one child of `--jobs` (its seeds, its own figures dir). */
export function childArgs(args: ReproduceArgs, seeds: readonly number[], figuresDir: string) {
  return [
    "--preset",
    args.preset,
    ...(args.only.length ? ["--only", args.only.join(",")] : []),
    "--seeds",
    seeds.join(","),
    ...(args.fresh ? ["--fresh"] : []),
    ...(args.resultsDir ? ["--results", args.resultsDir] : []),
    "--figures",
    figuresDir,
    "--backend",
    args.backend,
    "--child",
  ];
}

async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  log: (line: string) => void,
): Promise<void> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) if (l.length) log(`${prefix}${l}`);
  }
  if (buf.length) log(`${prefix}${buf}`);
}

/**
 * `--jobs N`: shared stages here, then one child process per seed group; throws naming the
 * failed jobs (their finished units stay in the results and are resumed next time).
 */
async function runJobs(
  args: ReproduceArgs,
  stages: Stages,
  log: (line: string) => void,
): Promise<void> {
  const experiments = selectExperiments(args.only);
  const seeds = args.seeds ?? defaultSeeds(args.preset);
  const groups = seedGroups(seeds, args.jobs);
  log(
    `[reproduce] --jobs ${args.jobs}: shared stages first, then seeds ${
      groups.map((g) => `{${g.join(",")}}`).join(" ")
    } in ${groups.length} processes`,
  );
  // Built once here so that the children only read them from the cache.
  await stages.policy();
  const ids = experiments.map((e) => e.id.slice(0, 2));
  if (ids.some((i) => ["01", "02", "06", "08"].includes(i))) {
    await stages.processBench();
    await stages.bestOfN();
  }
  if (ids.some((i) => ["03", "04", "05", "07"].includes(i))) await stages.avgSets();
  const figTmp = await Deno.makeTempDir({ prefix: "pvl-jobs-figures-" });
  const env: Record<string, string> = {};
  if (Deno.env.get("WASM_THREADS") === undefined) env.WASM_THREADS = "1";
  try {
    const codes = await Promise.all(groups.map(async (g, j) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--unstable-webgpu",
          new URL(import.meta.url).pathname,
          ...childArgs(args, g, `${figTmp}/job${j + 1}`),
        ],
        env,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const prefix = `[job ${j + 1}/${groups.length}] `;
      await Promise.all([
        pipeLines(child.stdout, prefix, log),
        pipeLines(child.stderr, prefix, log),
      ]);
      return (await child.status).code;
    }));
    const failed = codes.flatMap((
      c,
      j,
    ) => (c === 0 ? [] : [`job ${j + 1} (seeds ${groups[j]}) exit ${c}`]));
    if (failed.length) {
      throw new Error(
        `reproduce --jobs: ${failed.join("; ")}; finished units are kept, run again to resume`,
      );
    }
  } finally {
    await Deno.remove(figTmp, { recursive: true }).catch(() => {});
  }
}

/** Runs the selected experiments in order with one shared {@linkcode Stages}. */
export async function reproduce(
  args: ReproduceArgs,
  options: { log?: (line: string) => void } = {},
): Promise<ExperimentResult[]> {
  const tStart = performance.now(); // the whole run, children of --jobs included
  const log = options.log ?? ((l: string) => console.error(l));
  const experiments = selectExperiments(args.only);
  const stages = new Stages(pipelinePresetOf(args.preset), { log });
  if (args.jobs > 1) {
    await runJobs(args, stages, log);
    // Everything is finished now: this pass reads it back and writes tables, figures, verdicts.
    args = { ...args, jobs: 1, fresh: false };
  }
  const expected = expectedSeconds(args.preset, experiments.map((e) => e.id.slice(0, 2)), {
    seeds: args.seeds,
    sharedBuilt: args.child,
  });
  const total = expected.reduce((a, b) => a + b, 0);
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
    const exp = expected[i]!;
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
  const doc = verdictDocument(results, {
    preset: args.preset,
    seeds: args.seeds ?? defaultSeeds(args.preset),
    seconds: (performance.now() - tStart) / 1000,
  });
  await Deno.mkdir(root, { recursive: true });
  await Deno.writeTextFile(`${root}/verdicts.json`, JSON.stringify(doc, null, 1) + "\n");
  await Deno.writeTextFile(`${root}/verdicts.md`, verdictMarkdown(doc));
  await writeIndexPage(figuresRoot(args.preset, args));
  const c = doc.counts;
  log(
    `[reproduce] all ${experiments.length} experiments done in ${
      formatDuration((performance.now() - tStart) / 1000)
    }; verdicts in ${root}/verdicts.md: ${c.decided} of ${c.rows} rows decided (${c.decided_bh} after BH), halves agree on ${c.halves.agree} of ${c.halves.rows}`,
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
