/**
 * From per-seed metrics to what a notebook shows: our estimate per arm (mean, 95% CI over
 * seeds) beside the paper's number, the difference of each claimed pair (paired over shared
 * seeds, else Welch), the verdict from the interval (lib/report/stats.ts), a reading generated
 * from the verdicts (never hand-written numbers), and the report bundle on disk (figures,
 * comparison table, reading, figures/index.html).
 * @module
 */
import type pl from "nodejs-polars";
import { PaperIndex, type PaperRef } from "../report/paper.ts";
import {
  claimDirection,
  type Difference,
  type Direction,
  pairedDifference,
  summarize,
  type Summary,
  verdict,
  type VerdictResult,
  welchDifference,
} from "../report/stats.ts";
import {
  type ComparisonRow,
  comparisonTable,
  type Estimate,
  writeTable,
} from "../report/tables.ts";
import { barWithErrors, type PlotSpec } from "../report/figures.ts";
import { createRenderer, exportFigure } from "../report/export.ts";
import { writeIndexPage, writeReading } from "../report/index_page.ts";
import { type DeepPartial, diffConfig, formatConfigDiff, isPlainObject } from "../run/config.ts";
import type { ExperimentPreset, UnitRecord } from "./_runner.ts";
import { metricOf } from "./_runner.ts";

/** One arm's side of a claim. */
export interface ClaimSide {
  /** Arm name in the grid. */
  arm: string;
  /** Label in tables (e.g. "IPVRM"). */
  label: string;
  /** The paper's cell for this arm, if the paper has one. */
  paper?: PaperRef;
}

/** A claim of the paper: `treatment - control` on `metric` has the paper's sign. */
export interface Claim {
  /** Short id (unique in an experiment). */
  id: string;
  /** Our metric key in the unit records. */
  metric: string;
  /** Metric label in tables, e.g. "PB F1 Avg. (%)". */
  metricLabel: string;
  treatment: ClaimSide;
  control: ClaimSide;
  /** The claimed sign; default: from the paper's two numbers ({@linkcode claimDirection}). */
  direction?: Direction;
  /** Multiply our values by this before display (fractions -> percent: 100). Default 100. */
  scale?: number;
}

/** A claim with our numbers and the verdict. */
export interface ClaimResult {
  claim: Claim;
  /** Our estimate per side (null when fewer than 2 finite seeds). */
  treatment: Estimate | null;
  control: Estimate | null;
  /** `treatment - control`, paired when the seeds match. Null when not computable. */
  diff: Difference | null;
  /** The paper's numbers (null when the paper has no such cell). */
  paperTreatment: number | null;
  paperControl: number | null;
  direction: Direction;
  verdict: VerdictResult;
}

/** An extra row of the comparison table (baselines, per-bucket values, arms without a claim). */
export interface ExtraRow {
  arm: string;
  label: string;
  metric: string;
  metricLabel: string;
  /** The paper's cell, or a number quoted in its prose. */
  paper?: PaperRef | number;
  scale?: number;
}

/** Estimate of a sample (finite values only); null with fewer than 1 value; n = 1 collapses the CI. */
export function estimate(
  values: readonly number[],
  options: { scale?: number } = {},
): Estimate | null {
  const scale = options.scale ?? 100;
  const xs = values.filter((v) => Number.isFinite(v)).map((v) => v * scale);
  if (xs.length === 0) return null;
  if (xs.length === 1) return { mean: xs[0]!, ciLow: xs[0]!, ciHigh: xs[0]!, n: 1 };
  const s: Summary = summarize(xs);
  // Zero spread gives a zero-width interval, which is what the seeds say.
  return { mean: s.mean, ciLow: s.ciLow, ciHigh: s.ciHigh, n: s.n };
}

/** Evaluates one claim on the grid's records (module doc). */
export function evaluateClaim(
  records: readonly UnitRecord[],
  claim: Claim,
  options: { paper: PaperIndex },
): ClaimResult {
  const scale = claim.scale ?? 100;
  const seedsOf = (arm: string) =>
    records.filter((r) => r.arm === arm).map((r) => r.seed).sort((a, b) => a - b);
  const t = metricOf(records, { arm: claim.treatment.arm, metric: claim.metric }).map((v) =>
    v * scale
  );
  const c = metricOf(records, { arm: claim.control.arm, metric: claim.metric }).map((v) =>
    v * scale
  );
  const pt = claim.treatment.paper ? options.paper.value(claim.treatment.paper) : null;
  const pc = claim.control.paper ? options.paper.value(claim.control.paper) : null;
  const direction = claim.direction ?? claimDirection(pt ?? NaN, pc ?? NaN);
  const sameSeeds =
    JSON.stringify(seedsOf(claim.treatment.arm)) === JSON.stringify(seedsOf(claim.control.arm));
  let diff: Difference | null = null;
  let v: VerdictResult;
  const finite = (xs: number[]) => xs.every((x) => Number.isFinite(x));
  if (t.length >= 2 && c.length >= 2 && finite(t) && finite(c)) {
    diff = sameSeeds ? pairedDifference(t, c) : welchDifference(t, c);
    v = verdict(diff, { direction });
  } else {
    v = {
      verdict: "inconclusive",
      reason: `fewer than 2 finite seeds per arm (${claim.treatment.arm}: ${
        t.filter(Number.isFinite).length
      }, ${claim.control.arm}: ${c.filter(Number.isFinite).length})`,
    };
  }
  return {
    claim,
    treatment: estimate(t, { scale: 1 }),
    control: estimate(c, { scale: 1 }),
    diff,
    paperTreatment: pt,
    paperControl: pc,
    direction,
    verdict: v,
  };
}

/**
 * The comparison table: per claim, both arms and their difference (with the verdict), then the
 * extra rows; ours as mean and 95% CI, the paper's cell beside it.
 */
export function claimTable(
  results: readonly ClaimResult[],
  options: { paper: PaperIndex; records: readonly UnitRecord[]; extra?: readonly ExtraRow[] },
): pl.DataFrame {
  const rows: ComparisonRow[] = [];
  const seen = new Set<string>();
  // Rows without a finite estimate (an arm not run, a metric this preset lacks) are left out:
  // the table holds numbers, never NaN placeholders.
  const push = (row: Omit<ComparisonRow, "ours"> & { ours: Estimate | null }) => {
    const k = `${row.row}|${row.metric}`;
    if (row.ours && !seen.has(k)) rows.push({ ...row, ours: row.ours }), seen.add(k);
  };
  for (const r of results) {
    const c = r.claim;
    push({
      row: c.treatment.label,
      metric: c.metricLabel,
      ours: r.treatment,
      paper: c.treatment.paper ?? null,
    });
    push({
      row: c.control.label,
      metric: c.metricLabel,
      ours: r.control,
      paper: c.control.paper ?? null,
    });
    push({
      row: `${c.treatment.label} − ${c.control.label}`,
      metric: c.metricLabel,
      ours: r.diff
        ? { mean: r.diff.mean, ciLow: r.diff.ciLow, ciHigh: r.diff.ciHigh, n: r.diff.n }
        : null,
      paper: r.paperTreatment !== null && r.paperControl !== null
        ? round(r.paperTreatment - r.paperControl)
        : null,
      verdict: r.verdict.verdict,
    });
  }
  for (const e of options.extra ?? []) {
    let values: number[];
    try {
      values = metricOf(options.records, { arm: e.arm, metric: e.metric });
    } catch {
      continue; // an arm not run (`only`) or a metric this preset lacks
    }
    push({
      row: e.label,
      metric: e.metricLabel,
      ours: estimate(values, { scale: e.scale }),
      paper: e.paper ?? null,
    });
  }
  return comparisonTable(rows, { paper: options.paper });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(1);
}

/**
 * The reading, generated from the verdicts: one sentence per claim with our difference and CI,
 * the paper's difference, and the verdict; then a line on scale and seeds.
 */
export function readingOf(
  results: readonly ClaimResult[],
  options: { preset: ExperimentPreset; seeds: readonly number[]; note?: string },
): string {
  const lines: string[] = [];
  if (options.preset === "smoke") {
    lines.push(
      "Smoke preset: a tiny model trained for a few steps. The numbers only show that every stage runs; they say nothing about the paper's claims.",
    );
  }
  for (const r of results) {
    const c = r.claim;
    const paperDiff = r.paperTreatment !== null && r.paperControl !== null
      ? r.paperTreatment - r.paperControl
      : null;
    lines.push(
      `${c.treatment.label} − ${c.control.label} on ${c.metricLabel}: ours ${fmt(r.diff?.mean)} ` +
        `(95% CI [${fmt(r.diff?.ciLow)}, ${fmt(r.diff?.ciHigh)}], ${r.diff?.kind ?? "n/a"} over ${
          r.diff?.n ?? 0
        } seeds; ` +
        `${c.treatment.label} ${fmt(r.treatment?.mean)} vs ${fmt(r.control?.mean)}), ` +
        `paper ${
          paperDiff === null
            ? `claims ${r.direction}`
            : `${fmt(paperDiff)} (${fmt(r.paperTreatment)} vs ${fmt(r.paperControl)})`
        }: ` +
        `**${r.verdict.verdict}** (${r.verdict.reason}).`,
    );
  }
  const counts = { reproduced: 0, "not reproduced": 0, inconclusive: 0 };
  for (const r of results) counts[r.verdict.verdict]++;
  lines.push(
    `In all: ${counts.reproduced} reproduced, ${
      counts["not reproduced"]
    } not reproduced, ${counts.inconclusive} inconclusive ` +
      `(${options.seeds.length} seeds per arm, preset ${options.preset}). Our testbed is a ~10^5-parameter model on a synthetic ` +
      `task, so compare signs and intervals, not magnitudes, with the paper's 0.6B-8B models.`,
  );
  if (options.note) lines.push(options.note);
  return lines.join("\n\n");
}

/** A bar chart of each claim's two arms (ours with CI, the paper's as diamonds). */
export function claimBars(
  results: readonly ClaimResult[],
  options: { title: string; yTitle: string },
): PlotSpec {
  const arms = new Map<
    string,
    { name: string; mean: number; ciLow: number; ciHigh: number; n: number; paper: number | null }
  >();
  for (const r of results) {
    for (
      const [side, est, p] of [[r.claim.control, r.control, r.paperControl], [
        r.claim.treatment,
        r.treatment,
        r.paperTreatment,
      ]] as const
    ) {
      if (!est || arms.has(side.label)) continue;
      arms.set(side.label, {
        name: side.label,
        mean: est.mean,
        ciLow: est.ciLow,
        ciHigh: est.ciHigh,
        n: est.n,
        paper: p,
      });
    }
  }
  return barWithErrors([...arms.values()], options);
}

/** A named figure of an experiment. */
export interface NamedFigure {
  /** File name stem (`figures/NN_name/<name>.*`). */
  name: string;
  spec: PlotSpec;
  /** One-paragraph reading of this figure (optional). */
  reading?: string;
}

/**
 * Writes an experiment's report: each figure as .json/.html/.svg/.png, the comparison table
 * (.parquet + .table.json), the reading, and rebuilds `<figuresRoot>/index.html`.
 */
export async function writeReport(
  dir: string,
  options: {
    figures: readonly NamedFigure[];
    table: pl.DataFrame;
    reading: string;
    caption: string;
    images?: boolean;
  },
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const renderer = options.images === false ? null : await createRenderer();
  try {
    for (const f of options.figures) {
      await exportFigure(dir, {
        name: f.name,
        spec: f.spec,
        renderer,
        ...(f.reading ? { reading: f.reading } : {}),
      });
    }
  } finally {
    await renderer?.close();
  }
  await writeTable(options.table, `${dir}/comparison`, { caption: options.caption });
  await writeReading(dir, options.reading);
  await writeIndexPage(dir.replace(/\/[^/]+\/?$/, "") || ".");
}

/**
 * One override of an arm: a typed partial of the config input it changes (`C`: RMConfig for
 * RM grids, RLConfigInput for RL grids) and why (the paper's sentence or the testbed's reason).
 */
export interface Override<C> {
  /** What changes, e.g. `{ ipvrm: { weighting: "early" } }`. */
  set: DeepPartial<C>;
  /** Why: the paper's sentence or the testbed's reason. */
  reason: string;
}

/** The dotted leaf paths an override sets (`{ ipvrm: { margin: 0 } }` -> `["ipvrm.margin"]`). */
export function overridePaths(set: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (isPlainObject(v) && Object.keys(v).length > 0) {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    } else out.push(path);
  };
  walk(set, "");
  return out;
}

/** The overrides of an arm merged into one nested object, later ones winning. */
export function overridesObject<C>(overrides: readonly Override<C>[]): DeepPartial<C> {
  const out: Record<string, unknown> = {};
  for (const o of overrides) {
    for (const path of overridePaths(o.set)) {
      const parts = path.split(".");
      let cur = out, src = o.set as Record<string, unknown>;
      for (const p of parts.slice(0, -1)) {
        cur = (cur[p] ??= {}) as Record<string, unknown>;
        src = src[p] as Record<string, unknown>;
      }
      cur[parts.at(-1)!] = src[parts.at(-1)!];
    }
  }
  return out as DeepPartial<C>;
}

/**
 * The config diff of every arm against the base config, as text: `formatConfigDiff` of the
 * resolved configs, each changed path followed by the override's reason.
 */
export function formatArmDiffs<C>(
  arms: readonly { name: string; overrides: readonly Override<C>[] }[],
  options: { resolve: (overrides: DeepPartial<C>) => object; base: string },
): string {
  const base = options.resolve({} as DeepPartial<C>);
  const out: string[] = [`base: ${options.base}`];
  for (const a of arms) {
    const changes = diffConfig(base, options.resolve(overridesObject(a.overrides)));
    out.push(`\n[${a.name}]${changes.length === 0 ? " (the base config)" : ""}`);
    for (const line of formatConfigDiff(changes).split("\n").filter((l) => l.trim())) {
      const path = line.trim().split(/[:\s]/)[0] ?? "";
      const o = a.overrides.find((x) =>
        overridePaths(x.set).some((p) => path === p || path.startsWith(p + "."))
      );
      out.push(`  ${line.trim()}${o ? `    # ${o.reason}` : ""}`);
    }
  }
  return out.join("\n");
}
