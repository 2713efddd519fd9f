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
  decide,
  type Difference,
  type Direction,
  type Outcome,
  seedHalves,
  sesoiOf,
  sig3,
  summarize,
  type Summary,
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
  /** This side's metric key when it differs from the claim's (a baseline scorer of the same
   * unit, e.g. `pb/random/oracle/avg` against the RM's `pb/rm_process/oracle/avg`). */
  metric?: string;
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
  /** `claim`: a claim of the paper (default); `baseline`: an RM against a baseline scorer,
   * the testbed's informativeness check (statistics.md, "Rows that are not claims"). */
  kind?: "claim" | "baseline";
}

/**
 * The smallest effect of interest of each metric where the paper gives no number for a row,
 * declared once here with its reason (statistics.md): in the row's display units (points for
 * percentages). The first pattern that matches the claim's metric key wins.
 */
export const METRIC_SESOI: readonly { pattern: RegExp; value: number; reason: string }[] = [
  {
    pattern: /^pb\//,
    value: 1,
    reason:
      "1 point of F1: below it a ProcessBench-analogue difference changes no practical ranking of RMs",
  },
  {
    pattern: /^bon\//,
    value: 1,
    reason: "1 point of best-of-N accuracy: the smallest gain worth an RM's scoring cost",
  },
  {
    pattern: /^(eval|sft)\/avg\//,
    value: 1,
    reason: "1 point of avg@k accuracy: the smallest RL gain of practical interest",
  },
  {
    pattern: /^train\/verifier\//,
    value: 1,
    reason: "1 point of verifier accuracy during training",
  },
  {
    pattern: /^train\/rm\/acc/,
    value: 1,
    reason: "1 point of online-RM pair accuracy during training",
  },
  {
    pattern: /auc/i,
    value: 1,
    reason: "1 point of AUC (x100): the smallest ranking difference of practical interest",
  },
  {
    pattern: /ece/i,
    value: 1,
    reason: "1 point of ECE (x100); ECE is never the only calibration row (statistics.md)",
  },
  {
    pattern: /brier/i,
    value: 1,
    reason:
      "0.01 of Brier score (shown x100, so 1): the calibration difference a reader of a reliability diagram sees",
  },
];

/** The declared SESOI of a metric key (undefined when none is declared). */
export function metricSesoi(metric: string): { value: number; reason: string } | undefined {
  return METRIC_SESOI.find((m) => m.pattern.test(metric));
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
  /** The outcome (statistics.md; `inconclusive` when not computable) and a reason. */
  verdict: { verdict: Outcome; reason: string };
  /** `claim` or `baseline` (from the claim). */
  kind: "claim" | "baseline";
  /** The paper's difference `P` (treatment - control), null when it gives only a direction. */
  paperDiff: number | null;
  /** SESOI in the row's units, and where it comes from. */
  sesoi: number;
  sesoiReason: string;
  /** Two-sided t-test p-value of the difference (NaN when not computable). */
  p: number;
  /** Seeds needed for a CI half-width <= SESOI at the observed SD (NaN when not computable). */
  seedsNeeded: number;
  /** SD of one seed's difference (NaN when not computable). */
  sd: number;
  /** The outcome of each half of the seeds (null: a half with fewer than 2 seeds). */
  halves: { seeds: [number[], number[]]; first: Outcome | null; second: Outcome | null };
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
  /** Also a `level` row of the verdict table: a quantity reported beside the paper's level
   * with its CI and no directional verdict (e.g. ordered by construction). */
  level?: boolean;
  /** A note printed with the level row (e.g. why it is not a claim). */
  note?: string;
}

/** A `level` row: our estimate (mean, 95% CI over seeds) beside the paper's level. */
export interface LevelResult {
  row: ExtraRow;
  /** Null when the arm or metric is missing from the records. */
  ours: Estimate | null;
  /** Per-seed values (display units), for the halves. */
  values: number[];
  paper: number | null;
}

/** The level rows of an experiment's extra rows (those with `level: true`). */
export function evaluateLevels(
  records: readonly UnitRecord[],
  extra: readonly ExtraRow[],
  options: { paper: PaperIndex },
): LevelResult[] {
  return extra.filter((e) => e.level).flatMap((e) => {
    let values: number[];
    try {
      values = metricOf(records, { arm: e.arm, metric: e.metric }).map((v) => v * (e.scale ?? 100));
    } catch {
      return []; // an arm not run (`only`) or a metric this preset lacks
    }
    const paper = e.paper === undefined
      ? null
      : typeof e.paper === "number"
      ? e.paper
      : options.paper.value(e.paper);
    return [{ row: e, ours: estimate(values, { scale: 1 }), values, paper }];
  });
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

/** Per-seed values of one side of a claim, scaled, with the seeds they belong to. */
function sideValues(
  records: readonly UnitRecord[],
  side: ClaimSide,
  metric: string,
  scale: number,
): { seeds: number[]; values: number[] } {
  const rows = records.filter((r) => r.arm === side.arm).sort((a, b) => a.seed - b.seed);
  const values = metricOf(rows, { arm: side.arm, metric: side.metric ?? metric }).map((v) =>
    v * scale
  );
  return { seeds: rows.map((r) => r.seed), values };
}

/**
 * Evaluates one claim on the grid's records with the verdict rule of statistics.md: the
 * difference (paired over shared seeds, else Welch), its CI, p-value and outcome against
 * SESOI (half the paper's difference, else the metric's declared constant), the seeds needed,
 * and the outcome of each half of the seeds.
 */
export function evaluateClaim(
  records: readonly UnitRecord[],
  claim: Claim,
  options: { paper: PaperIndex },
): ClaimResult {
  const scale = claim.scale ?? 100;
  const T = sideValues(records, claim.treatment, claim.metric, scale);
  const C = sideValues(records, claim.control, claim.metric, scale);
  const pt = claim.treatment.paper ? options.paper.value(claim.treatment.paper) : null;
  const pc = claim.control.paper ? options.paper.value(claim.control.paper) : null;
  const direction = claim.direction ?? claimDirection(pt ?? NaN, pc ?? NaN);
  const paperDiff = pt !== null && pc !== null ? pt - pc : null;
  const declared = metricSesoi(claim.metric);
  if (paperDiff === null && !declared) {
    throw new RangeError(
      `Invalid claim ${claim.id}: the paper gives no number for it and metric ${claim.metric} has no declared SESOI (add it to METRIC_SESOI in lib/experiments/_summary.ts with its reason)`,
    );
  }
  const sesoi = sesoiOf(paperDiff, declared?.value);
  const sesoiReason = paperDiff !== null && paperDiff !== 0
    ? `half the paper's difference (${round(paperDiff)})`
    : declared!.reason;
  const run = (seeds: readonly number[] | null) => {
    const keep = (x: { seeds: number[]; values: number[] }) =>
      seeds ? x.values.filter((_, i) => seeds.includes(x.seeds[i]!)) : x.values;
    const sub = (x: { seeds: number[] }) =>
      seeds ? x.seeds.filter((s) => seeds.includes(s)) : x.seeds;
    const paired = JSON.stringify(sub(T)) === JSON.stringify(sub(C));
    return decide(keep(T), keep(C), { paired, direction, sesoi });
  };
  const pooled = run(null);
  const allSeeds = [...new Set([...T.seeds, ...C.seeds])];
  const [h1, h2] = seedHalves(allSeeds);
  const first = run(h1), second = run(h2);
  const finiteCount = (xs: number[]) => xs.filter(Number.isFinite).length;
  const v = pooled
    ? {
      verdict: pooled.outcome,
      reason: reasonOf(pooled.diff, pooled.outcome, direction, sesoi),
    }
    : {
      verdict: "inconclusive" as Outcome,
      reason: `fewer than 2 finite seeds per arm (${claim.treatment.arm}: ${
        finiteCount(T.values)
      }, ${claim.control.arm}: ${finiteCount(C.values)})`,
    };
  return {
    claim,
    treatment: estimate(T.values, { scale: 1 }),
    control: estimate(C.values, { scale: 1 }),
    diff: pooled?.diff ?? null,
    paperTreatment: pt,
    paperControl: pc,
    direction,
    verdict: v,
    kind: claim.kind ?? "claim",
    paperDiff,
    sesoi,
    sesoiReason,
    p: pooled?.p ?? NaN,
    seedsNeeded: pooled?.seedsNeeded ?? NaN,
    sd: pooled?.sd ?? NaN,
    halves: {
      seeds: [h1, h2],
      first: first?.outcome ?? null,
      second: second?.outcome ?? null,
    },
  };
}

function reasonOf(diff: Difference, outcome: Outcome, direction: Direction, sesoi: number): string {
  const ci = `95% CI [${sig3(diff.ciLow)}, ${sig3(diff.ciHigh)}]${
    diff.sem === 0 ? " (zero spread over seeds: a degenerate interval)" : ""
  }`;
  const s = direction === "higher" ? `+${sig3(sesoi)}` : `-${sig3(sesoi)}`;
  switch (outcome) {
    case "reproduced":
      return `${ci} excludes 0 on the paper's side (${direction})`;
    case "opposite":
      return `${ci} excludes 0 on the opposite side of the paper's claim (${direction})`;
    case "absent":
      return `${ci} contains 0 and not the SESOI ${s}: any effect is under half the paper's`;
    default:
      return `${ci} contains 0 and the SESOI ${s}`;
  }
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
  return sig3(x);
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
        `**${r.verdict.verdict}** (${r.verdict.reason}; SESOI ${fmt(r.sesoi)}, p ${fmt(r.p)}${
          r.verdict.verdict === "inconclusive" ? `, seeds needed ${fmt(r.seedsNeeded)}` : ""
        }).`,
    );
  }
  const counts: Record<Outcome, number> = {
    reproduced: 0,
    opposite: 0,
    absent: 0,
    inconclusive: 0,
  };
  for (const r of results) counts[r.verdict.verdict]++;
  lines.push(
    `In all: ${counts.reproduced} reproduced, ${counts.opposite} opposite, ${counts.absent} absent at the paper's size, ${counts.inconclusive} inconclusive ` +
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
