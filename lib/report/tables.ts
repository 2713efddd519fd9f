/**
 * Result tables: our numbers (mean, 95% CI, seeds) beside the paper's, with the verdict,
 * as a nodejs-polars DataFrame; rendered as markdown or HTML, written as parquet + JSON.
 *
 * @module
 */
import pl from "nodejs-polars";
import type { PaperIndex, PaperRef } from "./paper.ts";
import { formatRef } from "./paper.ts";
import type { Outcome, Summary, Verdict } from "./stats.ts";

/** Our estimate for one row: a {@linkcode Summary} or just its interval fields. */
export type Estimate = Pick<Summary, "mean" | "ciLow" | "ciHigh" | "n">;

/** One row of a comparison table. */
export interface ComparisonRow {
  /** What is measured, e.g. "IPVRM" or "IPVRM - DPO-RM". */
  row: string;
  /** The metric, e.g. "ProcessBench F1 (Avg.)". */
  metric: string;
  /** Our mean, CI and seed count. */
  ours: Estimate;
  /** The paper's number, or where to look it up (needs `options.paper`), or null. */
  paper?: number | PaperRef | null;
  /** Outcome of the verdict rule (`outcomeOf()` in stats.ts; the older `verdict()` names are
   * accepted), for rows that test a claim. */
  verdict?: Outcome | Verdict | null;
}

/** Columns of a comparison DataFrame, in order. */
export const COMPARISON_COLUMNS = [
  "row",
  "metric",
  "mean",
  "ci_low",
  "ci_high",
  "n_seeds",
  "paper",
  "paper_ref",
  "verdict",
] as const;

/** Options for {@linkcode comparisonTable}. */
export interface ComparisonOptions {
  /** Resolves `PaperRef`s in `rows[i].paper`. */
  paper?: PaperIndex;
}

/**
 * Build the comparison DataFrame (columns {@linkcode COMPARISON_COLUMNS}): one row per
 * estimate, ours beside the paper's, `paper_ref` naming the table cell it came from.
 *
 * @example
 * ```ts
 * import { comparisonTable } from "./tables.ts";
 * import { assertEquals } from "@std/assert";
 * const ours = { mean: 0.4, ciLow: 0.3, ciHigh: 0.5, n: 3 };
 * const df = comparisonTable([{ row: "IPVRM", metric: "PB F1", ours, paper: 39.1 }]);
 * assertEquals(df.height, 1);
 * ```
 */
export function comparisonTable(
  rows: readonly ComparisonRow[],
  options: ComparisonOptions = {},
): pl.DataFrame {
  if (!Array.isArray(rows)) {
    throw new TypeError(`Invalid rows: expected an array of ComparisonRow, got ${typeof rows}`);
  }
  const cols = {
    row: [] as string[],
    metric: [] as string[],
    mean: [] as number[],
    ci_low: [] as number[],
    ci_high: [] as number[],
    n_seeds: [] as number[],
    paper: [] as (number | null)[],
    paper_ref: [] as (string | null)[],
    verdict: [] as (string | null)[],
  };
  rows.forEach((r, i) => {
    const at = `rows[${i}]`;
    if (typeof r?.row !== "string") throw new TypeError(`Invalid ${at}.row: expected a string`);
    if (typeof r.metric !== "string") {
      throw new TypeError(`Invalid ${at}.metric: expected a string`);
    }
    const o = r.ours;
    for (const k of ["mean", "ciLow", "ciHigh", "n"] as const) {
      if (typeof o?.[k] !== "number" || Number.isNaN(o[k])) {
        throw new TypeError(`Invalid ${at}.ours.${k}: expected a number, got ${o?.[k]}`);
      }
    }
    let paper: number | null = null;
    let ref: string | null = null;
    if (typeof r.paper === "number") paper = r.paper;
    else if (r.paper && typeof r.paper === "object") {
      if (!options.paper) {
        throw new TypeError(
          `Invalid options.paper: expected a PaperIndex to resolve ${at}.paper (${
            formatRef(r.paper)
          })`,
        );
      }
      paper = options.paper.value(r.paper);
      ref = formatRef(r.paper);
    }
    cols.row.push(r.row);
    cols.metric.push(r.metric);
    cols.mean.push(o.mean);
    cols.ci_low.push(o.ciLow);
    cols.ci_high.push(o.ciHigh);
    cols.n_seeds.push(o.n);
    cols.paper.push(paper);
    cols.paper_ref.push(ref);
    cols.verdict.push(r.verdict ?? null);
  });
  return pl.DataFrame([
    pl.Series("row", cols.row, pl.Utf8),
    pl.Series("metric", cols.metric, pl.Utf8),
    pl.Series("mean", cols.mean, pl.Float64),
    pl.Series("ci_low", cols.ci_low, pl.Float64),
    pl.Series("ci_high", cols.ci_high, pl.Float64),
    pl.Series("n_seeds", cols.n_seeds, pl.Int32),
    pl.Series("paper", cols.paper, pl.Float64),
    pl.Series("paper_ref", cols.paper_ref, pl.Utf8),
    pl.Series("verdict", cols.verdict, pl.Utf8),
  ]);
}

/** A table as plain records (what {@linkcode writeTable} stores as JSON). */
export interface TableRecords {
  columns: string[];
  rows: Record<string, unknown>[];
  /** One-line caption shown above the table. */
  caption?: string;
}

/** Options for rendering. */
export interface RenderOptions {
  /** Significant digits for floats (statistics.md: 3); default 3. */
  digits?: number;
  /** Caption (markdown: a bold line above; HTML: `<caption>`). */
  caption?: string;
}

function records(table: pl.DataFrame | TableRecords): TableRecords {
  // A polars DataFrame is a Proxy: test for its method rather than with `in`/instanceof.
  if (typeof (table as { toRecords?: unknown })?.toRecords === "function") {
    const df = table as pl.DataFrame;
    return { columns: df.columns, rows: df.toRecords() as Record<string, unknown>[] };
  }
  const t = table as TableRecords;
  if (!Array.isArray(t?.columns) || !Array.isArray(t?.rows)) {
    throw new TypeError("Invalid table: expected a polars DataFrame or {columns, rows}");
  }
  return t;
}

function cell(v: unknown, digits: number): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    if (!Number.isFinite(v)) return String(v);
    // Significant digits (statistics.md: 3 everywhere); 4+ integer digits are printed whole.
    return Math.abs(v) >= 10 ** digits ? String(Math.round(v)) : v.toPrecision(digits);
  }
  if (typeof v === "bigint") return v.toString();
  return String(v);
}

/**
 * Render a DataFrame (or records) as a GitHub markdown table; floats to `digits` significant digits,
 * nulls empty, `|` escaped.
 *
 * @example
 * ```ts
 * import { toMarkdown } from "./tables.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(
 *   toMarkdown({ columns: ["a", "b"], rows: [{ a: "x", b: 0.5 }] }),
 *   "| a | b |\n|---|---|\n| x | 0.500 |\n",
 * );
 * ```
 */
export function toMarkdown(
  table: pl.DataFrame | TableRecords,
  options: RenderOptions = {},
): string {
  const { columns, rows, caption } = records(table);
  const digits = options.digits ?? 3;
  const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const lines: string[] = [];
  const cap = options.caption ?? caption;
  if (cap) lines.push(`**${esc(cap)}**`, "");
  lines.push(`| ${columns.map(esc).join(" | ")} |`);
  lines.push(`|${columns.map(() => "---").join("|")}|`);
  for (const r of rows) {
    lines.push(`| ${columns.map((c) => esc(cell(r[c], digits))).join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/**
 * Render as an HTML `<table class="pvl-table">` string. Numeric cells get
 * `class="num"`; verdict cells `class="verdict reproduced|not-reproduced|inconclusive"`.
 *
 * @example
 * ```ts
 * import { toHtml } from "./tables.ts";
 * import { assertStringIncludes } from "@std/assert";
 * assertStringIncludes(toHtml({ columns: ["a"], rows: [{ a: "<b>" }] }), "&lt;b&gt;");
 * ```
 */
export function toHtml(table: pl.DataFrame | TableRecords, options: RenderOptions = {}): string {
  const { columns, rows, caption } = records(table);
  const digits = options.digits ?? 3;
  const cap = options.caption ?? caption;
  const out: string[] = ['<table class="pvl-table">'];
  if (cap) out.push(`<caption>${escapeHtml(cap)}</caption>`);
  out.push(`<thead><tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead>`);
  out.push("<tbody>");
  for (const r of rows) {
    const tds = columns.map((c) => {
      const v = r[c];
      let cls = typeof v === "number" ? "num" : "";
      if (c === "verdict" && typeof v === "string") cls = `verdict ${v.replaceAll(" ", "-")}`;
      return `<td${cls ? ` class="${cls}"` : ""}>${escapeHtml(cell(v, digits))}</td>`;
    });
    out.push(`<tr>${tds.join("")}</tr>`);
  }
  out.push("</tbody></table>");
  return out.join("\n");
}

/** Files written by {@linkcode writeTable}. */
export interface WrittenTable {
  parquet: string;
  json: string;
}

/** Options for {@linkcode writeTable}. */
export interface WriteTableOptions {
  /** Caption stored in the JSON (shown by the index page). */
  caption?: string;
}

/**
 * Write `<base>.parquet` (polars) and `<base>.table.json` (`{columns, rows, caption}`,
 * read by the index page). `base` is a path without extension, e.g.
 * `figures/02_rm_quality/f1_vs_paper`. Creates the directory.
 *
 * @example
 * ```ts ignore
 * import { comparisonTable, writeTable } from "./tables.ts";
 * await writeTable(comparisonTable([]), "figures/00_demo/table");
 * ```
 */
export async function writeTable(
  df: pl.DataFrame,
  base: string,
  options: WriteTableOptions = {},
): Promise<WrittenTable> {
  if (typeof base !== "string" || base.length === 0 || /\.(parquet|json)$/.test(base)) {
    throw new TypeError(
      `Invalid base: expected a path without extension, got ${JSON.stringify(base)}`,
    );
  }
  const dir = base.includes("/") ? base.slice(0, base.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const parquet = `${base}.parquet`;
  const json = `${base}.table.json`;
  df.writeParquet(parquet);
  const rec: TableRecords = { columns: df.columns, rows: records(df).rows };
  if (options.caption) rec.caption = options.caption;
  await Deno.writeTextFile(json, JSON.stringify(rec, null, 1) + "\n");
  return { parquet, json };
}

/**
 * Read a table back: `.parquet` as a DataFrame.
 *
 * @example
 * ```ts ignore
 * import { readTable } from "./tables.ts";
 * const df = readTable("figures/00_demo/table.parquet");
 * ```
 */
export function readTable(path: string): pl.DataFrame {
  if (!path.endsWith(".parquet")) {
    throw new TypeError(`Invalid path: expected a .parquet file, got ${JSON.stringify(path)}`);
  }
  return pl.readParquet(path);
}

/**
 * Read `<base>.table.json` as written by {@linkcode writeTable}.
 */
export async function readTableJson(path: string): Promise<TableRecords> {
  const raw = JSON.parse(await Deno.readTextFile(path));
  return records(raw as TableRecords);
}
