/**
 * The shared grid runner of the experiments (STYLE.md item 9): arms x seeds, one unit per
 * `(arm, seed)` with run id `ablation__arm__seed`, the resolved config of each unit saved beside
 * its results, one JSON Lines record per finished unit (written as soon as it completes, then
 * mirrored to `<ablation>.parquet`), a progress line per unit with an ETA, and resume: units
 * already in the JSONL are read back, never run again.
 *
 * Layout under `resultsDir` (default `results/<preset>`):
 * - `<ablation>/results.jsonl`: one {@linkcode UnitRecord} per finished unit;
 * - `<ablation>/<run id>/config.json`: the unit's resolved config;
 * - `<ablation>.parquet`: the same records flattened (`metrics.f1/avg`, ...), rewritten after each unit.
 * @module
 */
import {
  openJsonl,
  partitionUnits,
  readJsonl,
  saveResolvedConfig,
  writeParquet,
} from "../run/results.ts";
import { relative } from "node:path";
import { formatRunId } from "../run/run_id.ts";
import { formatDuration } from "../run/progress.ts";
import {
  EXPERIMENT_PRESET_NAMES,
  EXPERIMENT_PRESET_PIPELINE,
  type ExperimentPreset,
  isExperimentPreset,
  type PipelinePreset,
} from "../vocabulary.ts";

export type { ExperimentPreset } from "../vocabulary.ts";

/** The pipeline preset an experiment preset runs on (`full` = `default`'s models, more seeds). */
export function pipelinePresetOf(preset: ExperimentPreset): PipelinePreset {
  checkPreset(preset);
  return EXPERIMENT_PRESET_PIPELINE[preset];
}

/**
 * Seeds per arm of a preset: `smoke` 2 (intervals exist but verdicts stay "inconclusive": the
 * verdict rule needs 3), `default` and `gpu` 3 (the minimum), `full` 5.
 */
export function defaultSeeds(preset: ExperimentPreset): number[] {
  checkPreset(preset);
  const n = preset === "smoke" ? 2 : preset === "full" ? 10 : 6;
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Throws unless `preset` is an {@linkcode ExperimentPreset}. */
export function checkPreset(preset: unknown): asserts preset is ExperimentPreset {
  if (!isExperimentPreset(preset)) {
    throw new RangeError(
      `Invalid preset: expected one of ${EXPERIMENT_PRESET_NAMES.join(", ")}, got ${
        JSON.stringify(preset)
      }`,
    );
  }
}

/** Per-unit scalar metrics (namespaced, e.g. `pb/rm_process/oracle/mean`). */
export type Metrics = Record<string, number>;

/** Per-unit series (training curves), e.g. `eval/avg/mean` per eval step. */
export type Series = Record<string, number[]>;

/** What one unit returns. */
export interface UnitOutput {
  /** Scalar metrics; every value finite (NaN is stored as null in the JSONL). */
  metrics: Metrics;
  /** Optional curves, kept in the JSONL only (not the parquet). */
  series?: Series;
  /** Optional JSON extras (cache keys, sizes); kept in the JSONL only. */
  extra?: Record<string, unknown>;
  /**
   * Per-item records the unit leaves beside its record: file name in `<ablation>/<run id>/` ->
   * a source path (copied there; e.g. `pb_items.json.gz`) or `{ json }` (written as JSON).
   * Not part of the JSONL record.
   */
  files?: Record<string, string | { json: unknown }>;
  /**
   * Final weights of the unit's trained models: role (`rm`, `policy`) -> a `model.safetensors`
   * path. Each is stored once per content as `<results root>/models/<sha256:16>.safetensors`
   * (01's IPVRM is also 02's, 06's and 09's) and `<ablation>/<run id>/models.json` names it.
   */
  models?: Record<string, string>;
}

/** One JSONL record: a finished unit. */
export interface UnitRecord extends UnitOutput {
  /** Run id `ablation__arm__seed`. */
  unit: string;
  ablation: string;
  arm: string;
  seed: number;
  preset: ExperimentPreset;
  /** Wall seconds this unit took when it ran (a resumed record keeps its original time). */
  seconds: number;
  /** ISO time it finished. */
  finishedAt: string;
}

/** One arm of a grid: a name (run-id segment) and its resolved config for a seed. */
export interface Arm {
  /** Run-id segment: lowercase letters, digits, `_`, `-`. */
  name: string;
  /** Resolved config of `(arm, seed)`, saved as `config.json` (JSON data only). */
  config: (seed: number) => Record<string, unknown>;
}

/** Common options of every experiment's `run()` and of {@linkcode runGrid}. */
export interface RunOptions {
  /** Seeds per arm (default {@linkcode defaultSeeds}). */
  seeds?: readonly number[];
  /** Arms to run (default all); the others are neither run nor reported. */
  only?: readonly string[];
  /** Read back finished units (default true); false reruns every unit (the JSONL is kept and appended). */
  resume?: boolean;
  /** Progress sink (default stderr). */
  log?: (line: string) => void;
  /** Results root (default `results/<preset>`). */
  resultsDir?: string;
  /** Figures root (default `figures` for `default`, else `figures/_<preset>`). */
  figuresDir?: string;
  /** Write figures, tables and the reading (default true). */
  report?: boolean;
}

/** Options of {@linkcode runGrid}. */
export interface GridOptions extends RunOptions {
  /** Ablation name (run-id segment), e.g. `01_reward_models`. */
  ablation: string;
  /** Preset (recorded in every record). */
  preset: ExperimentPreset;
  /** The arms. */
  arms: readonly Arm[];
  /** Runs one unit. */
  runUnit: (arm: string, seed: number) => Promise<UnitOutput>;
  /** Called once before the first pending unit (e.g. to build shared stages). */
  before?: () => Promise<void>;
}

/** What {@linkcode runGrid} returns. */
export interface GridResult {
  /** Every record of the grid's units (read back or new), in arm-major, seed order. */
  records: UnitRecord[];
  /** Units run in this call. */
  ran: string[];
  /** Units read back from an earlier call. */
  resumed: string[];
  /** Where the JSONL and parquet are. */
  paths: { jsonl: string; parquet: string };
}

/** `results/<preset>` unless given. */
export function resultsRoot(
  preset: ExperimentPreset,
  options: { resultsDir?: string } = {},
): string {
  return options.resultsDir ?? `results/${preset}`;
}

/** `figures` for the `default` preset (what figures/index.html shows), else `figures/_<preset>`. */
export function figuresRoot(
  preset: ExperimentPreset,
  options: { figuresDir?: string } = {},
): string {
  return options.figuresDir ?? (preset === "default" ? "figures" : `figures/_${preset}`);
}

function stderrLine(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
}

function finiteOrNull(m: Metrics): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(m)) out[k] = Number.isFinite(v) ? v : null;
  return out;
}

/**
 * Runs the grid `arms x seeds`, resuming from `<resultsDir>/<ablation>/results.jsonl`: a unit
 * whose record is there is read back and not run; a unit that a kill interrupted has no record
 * (records are appended only when a unit finishes) and runs again from the start of the unit
 * (each stage inside it resumes from its own cache or checkpoint).
 *
 * @example
 * ```ts ignore
 * const g = await runGrid({ ablation: "demo", preset: "smoke", arms, runUnit, seeds: [1, 2] });
 * g.records.length; // arms.length * 2
 * ```
 */
export async function runGrid(options: GridOptions): Promise<GridResult> {
  const { ablation, preset, runUnit } = options;
  checkPreset(preset);
  if (!Array.isArray(options.arms) || options.arms.length === 0) {
    throw new RangeError(`Invalid arms: expected at least one arm for ${ablation}`);
  }
  const seeds = [...(options.seeds ?? defaultSeeds(preset))];
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new RangeError(`Invalid seeds: expected integers >= 1, got ${JSON.stringify(seeds)}`);
  }
  const known = options.arms.map((a) => a.name);
  for (const o of options.only ?? []) {
    if (!known.includes(o)) {
      throw new RangeError(
        `Invalid only: expected arms of ${ablation} (${known.join(", ")}), got ${
          JSON.stringify(o)
        }`,
      );
    }
  }
  const arms = options.arms.filter((a) => !options.only || options.only.includes(a.name));
  const log = options.log ?? stderrLine;
  const root = `${resultsRoot(preset, options)}/${ablation}`;
  const jsonlPath = `${root}/results.jsonl`;
  const parquetPath = `${resultsRoot(preset, options)}/${ablation}.parquet`;
  await Deno.mkdir(root, { recursive: true });

  const units = arms.flatMap((a) =>
    seeds.map((seed) => ({ arm: a, seed, id: formatRunId({ ablation, variant: a.name, seed }) }))
  );
  const resume = options.resume ?? true;
  const { done } = resume
    ? await partitionUnits(jsonlPath, units.map((u) => u.id), { idField: "unit", log })
    : { done: [] as string[] };
  const doneSet = new Set(done);
  const previous = new Map<string, UnitRecord>();
  if (resume) {
    const { records } = await readJsonl<UnitRecord>(jsonlPath, { missingOk: true, log });
    for (const r of records) previous.set(r.unit, r); // the last record of a unit wins
  }
  const pending = units.filter((u) => !doneSet.has(u.id));
  // A finished unit read back under another config would mix results: saving its config again
  // throws with the diff (rerun with resume: false / --fresh, or use another results dir).
  for (const u of units.filter((x) => doneSet.has(x.id))) {
    await saveResolvedConfig(`${root}/${u.id}`, { ...u.arm.config(u.seed), runId: u.id, preset });
  }
  const ran: string[] = [];
  if (pending.length > 0) {
    await options.before?.();
    const writer = await openJsonl(jsonlPath, { nonFinite: "null", log });
    const t0 = performance.now();
    try {
      for (const [i, u] of pending.entries()) {
        // A pending unit has no results yet, so a config left by a killed run may be replaced.
        await saveResolvedConfig(`${root}/${u.id}`, {
          ...u.arm.config(u.seed),
          runId: u.id,
          preset,
        }, { onMismatch: "overwrite" });
        const t = performance.now();
        const out = await runUnit(u.arm.name, u.seed);
        const seconds = (performance.now() - t) / 1000;
        await leaveUnitFiles(`${root}/${u.id}`, `${resultsRoot(preset, options)}/models`, out);
        const record: UnitRecord = {
          unit: u.id,
          ablation,
          arm: u.arm.name,
          seed: u.seed,
          preset,
          seconds,
          finishedAt: new Date().toISOString(),
          metrics: out.metrics,
          ...(out.series ? { series: out.series } : {}),
          ...(out.extra ? { extra: out.extra } : {}),
        };
        await writer.append({ ...record, metrics: finiteOrNull(out.metrics) });
        previous.set(u.id, record);
        ran.push(u.id);
        await writeParquet(
          parquetRows(units.map((x) => previous.get(x.id)).filter((r) => r !== undefined)),
          parquetPath,
        );
        const elapsed = (performance.now() - t0) / 1000;
        const eta = (elapsed / (i + 1)) * (pending.length - i - 1);
        log(
          `[${ablation}] unit ${i + 1}/${pending.length} ${u.id} done in ${
            formatDuration(seconds)
          }` +
            ` (${units.length - pending.length} resumed) eta ${formatDuration(eta)}`,
        );
      }
    } finally {
      await writer.close();
    }
  } else {
    log(`[${ablation}] all ${units.length} units already in ${jsonlPath}; nothing to run`);
  }
  const records = units.map((u) => previous.get(u.id)).filter((r): r is UnitRecord =>
    r !== undefined
  );
  if (pending.length === 0 && records.length > 0) {
    await writeParquet(parquetRows(records), parquetPath);
  }
  return {
    records,
    ran,
    resumed: units.filter((u) => doneSet.has(u.id)).map((u) => u.id),
    paths: { jsonl: jsonlPath, parquet: parquetPath },
  };
}

/**
 * Copies a unit's per-item `files` into `unitDir` and its `models` into the content-addressed
 * `modelsDir`, writing `unitDir/models.json` (`{ role: { file, sha256 } }`, `file` relative to
 * `unitDir`). A missing model file is skipped with no entry (a cache entry evicted since).
 */
export async function leaveUnitFiles(
  unitDir: string,
  modelsDir: string,
  out: Pick<UnitOutput, "files" | "models">,
): Promise<void> {
  const files = Object.entries(out.files ?? {});
  const models = Object.entries(out.models ?? {});
  if (files.length === 0 && models.length === 0) return;
  await Deno.mkdir(unitDir, { recursive: true });
  for (const [name, from] of files) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new RangeError(
        `Invalid files: expected a plain file name, got ${JSON.stringify(name)}`,
      );
    }
    if (typeof from === "string") await Deno.copyFile(from, `${unitDir}/${name}`);
    else await Deno.writeTextFile(`${unitDir}/${name}`, JSON.stringify(from.json) + "\n");
  }
  if (models.length === 0) return;
  await Deno.mkdir(modelsDir, { recursive: true });
  const index: Record<string, { file: string; sha256: string }> = {};
  for (const [role, from] of models) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(from);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const sha256 = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    const target = `${modelsDir}/${sha256.slice(0, 16)}.safetensors`;
    try {
      await Deno.stat(target);
    } catch {
      // a unique temporary name: `--jobs` children share the results dir
      const tmp = `${target}.${crypto.randomUUID()}.tmp`;
      await Deno.writeFile(tmp, bytes);
      await Deno.rename(tmp, target);
    }
    index[role] = { file: relative(unitDir, target), sha256 };
  }
  await Deno.writeTextFile(`${unitDir}/models.json`, JSON.stringify(index, null, 1) + "\n");
}

/** Parquet rows: the scalar part of each record (series and extras stay in the JSONL). */
function parquetRows(records: readonly UnitRecord[]): Record<string, unknown>[] {
  return records.map((r) => ({
    unit: r.unit,
    ablation: r.ablation,
    arm: r.arm,
    seed: r.seed,
    preset: r.preset,
    seconds: r.seconds,
    finishedAt: r.finishedAt,
    metrics: Object.fromEntries(
      Object.entries(r.metrics).map(([k, v]) => [k, typeof v === "number" ? v : null]),
    ),
  }));
}

/**
 * `metrics[name]` of each seed of `arm`, in seed order (NaN where a record stored null).
 * Throws naming the arm and metric when the grid has no such record.
 */
export function metricOf(
  records: readonly UnitRecord[],
  options: { arm: string; metric: string },
): number[] {
  const rows = records.filter((r) => r.arm === options.arm).sort((a, b) => a.seed - b.seed);
  if (rows.length === 0) {
    throw new RangeError(`Invalid arm: no records of arm ${JSON.stringify(options.arm)}`);
  }
  return rows.map((r) => {
    const v = r.metrics[options.metric];
    if (v === undefined) {
      throw new RangeError(
        `Invalid metric: ${JSON.stringify(options.metric)} is not in ${r.unit} (has ${
          Object.keys(r.metrics).slice(0, 8).join(", ")
        }, ...)`,
      );
    }
    return typeof v === "number" ? v : NaN;
  });
}

/** `series[name]` of each seed of `arm`, in seed order, cut to the shortest. */
export function seriesOf(
  records: readonly UnitRecord[],
  options: { arm: string; series: string },
): number[][] {
  const rows = records.filter((r) => r.arm === options.arm).sort((a, b) => a.seed - b.seed);
  const all = rows.map((r) => r.series?.[options.series] ?? []);
  const len = Math.min(...all.map((s) => s.length));
  return all.map((s) => s.slice(0, len));
}
