/**
 * Writes the generated top of docs/results.md from a preset's `verdicts.json` (issue 15, item 8):
 * a header line (preset, seeds, wall time, date, headline counts), the baseline rows ("Can the
 * testbed tell an RM from no RM?"), a short answer per paper table (decided for, decided against,
 * absent at the paper's size, still undecided with the seeds it would need), the level rows
 * beside the paper's levels, and the key figures as SVG copies under docs/figures/.
 *
 *     deno task results-doc [--preset default] [--results results/<preset>]
 *                           [--figures figures | figures/_<preset>] [--out docs/results.md | -]
 *                           [--date YYYY-MM-DD] [--max-bytes 3000000]
 *
 * `--results` and `--figures` take the same directories as `deno task reproduce`'s flags of
 * the same names. Only the region between {@linkcode BEGIN} and {@linkcode END} of `--out` is
 * replaced (inserted after the title the first time); the hand-written rest of the file is kept
 * byte for byte. `--out -` prints the region and copies nothing. The SVG copies live in
 * `figures/` beside `--out` (docs/figures/<experiment>/<name>.svg), a directory this tool owns:
 * SVGs there that are no longer chosen are removed.
 *
 * Lib-free on purpose: it reads only the JSON (schema in docs/results.md), so it runs on any
 * checkout that has a verdicts.json, and its formatting functions are tested on hand-built rows.
 * @module
 */

/** The outcomes of the verdict rule (lib/report/stats.ts). */
export type Outcome = "reproduced" | "opposite" | "absent" | "inconclusive";

/** The fields of one `verdicts.json` row that this tool reads (docs/results.md). */
export interface DocRow {
  experiment: string;
  id: string;
  claim: string;
  metric: string;
  metric_key: string;
  kind: "claim" | "baseline" | "level";
  direction: "higher" | "lower" | null;
  n: number;
  mean: number | null;
  ci_low: number | null;
  ci_high: number | null;
  paper: number | null;
  p: number | null;
  q_bh: number | null;
  outcome: Outcome | null;
  halves_flip: boolean;
  seeds_needed: number | null;
  /** SD of one seed's difference (0: every seed gave the same difference). */
  sd?: number | null;
  /** The paper table (or tables, or a label such as "Sec. 4.3.3") when the row carries one;
   * else {@linkcode paperTableOf} infers it from the experiment and metric. */
  table?: number | number[] | string | null;
}

/** The fields of `verdicts.json` that this tool reads. */
export interface ResultsDoc {
  preset: string;
  seeds: number[];
  halves: [number[], number[]];
  seconds: number;
  counts: {
    rows: number;
    claims: number;
    baselines: number;
    levels: number;
    outcomes: Record<Outcome, number>;
    decided: number;
    decided_bh: number;
    decided_bh_claims: number;
    halves: { rows: number; agree: number; flipped: number };
    baselines_reproduced: number;
  };
  rows: DocRow[];
  /** When the run finished (ISO date or time), if the run recorded it. */
  finished_at?: string;
  date?: string;
}

/** Opens the generated region of docs/results.md. */
export const BEGIN = "<!-- generated:begin -->";
/** Closes the generated region of docs/results.md. */
export const END = "<!-- generated:end -->";

/** What each outcome says about the paper's claim, in the order the short answers list them. */
export const OUTCOME_WORDS: readonly [Outcome, string][] = [
  ["reproduced", "decided for"],
  ["opposite", "decided against"],
  ["absent", "absent at the paper's size"],
  ["inconclusive", "still undecided"],
];

/** Headline figures shown beside the `claims_*` figures (experiment/name, no extension). */
export const HEADLINE_FIGURES: readonly string[] = [
  "00_quickstart/trace_values",
  "03_main_rl/eval_avg_mean",
  "04_online_update/rm_acc_before",
  "07_p_min/cand_size",
  "07_p_min/cand_mass",
  "09_prefix_values/reliability_ipvrm",
];

/** Default cap on the bytes of SVG copied into docs/figures/. */
export const DEFAULT_MAX_BYTES = 3_000_000;

/**
 * Wall seconds as hours and minutes: `"36 min"`, `"2 h 05 min"`, `"45 s"` under a minute.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./results_doc.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(formatDuration(2166.2), "36 min");
 * assertEquals(formatDuration(7500), "2 h 05 min");
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "n/a";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h === 0 ? `${m} min` : `${h} h ${String(m).padStart(2, "0")} min`;
}

/** A number with 3 significant digits (as verdicts.md prints them); "n/a" when missing. */
export function num(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "n/a";
  if (Math.abs(x) >= 1000) return Math.round(x).toString();
  if (x === 0) return "0";
  return Number(x.toPrecision(3)).toString();
}

/** {@linkcode num} with a sign on positive numbers (differences). */
export function signed(x: number | null | undefined): string {
  const s = num(x);
  return x !== null && x !== undefined && Number.isFinite(x) && x > 0 ? `+${s}` : s;
}

/** `mean [low, high]` (n/a when the row has no estimate). */
export function interval(r: Pick<DocRow, "mean" | "ci_low" | "ci_high">, sign = true): string {
  const f = sign ? signed : num;
  return r.mean === null ? "n/a" : `${f(r.mean)} [${f(r.ci_low)}, ${f(r.ci_high)}]`;
}

/** A paper-table label and a sort key (tables by number, then figures, sections, the rest). */
export interface TableLabel {
  label: string;
  order: number;
}

const tableLabel = (t: number | number[] | string): TableLabel => {
  if (typeof t === "number") return { label: `Table ${t}`, order: t };
  if (Array.isArray(t)) {
    const sorted = [...t].sort((a, b) => a - b);
    return {
      label: sorted.length === 1 ? `Table ${sorted[0]}` : `Tables ${sorted.join(", ")}`,
      order: sorted[0] ?? 1000,
    };
  }
  const n = /(\d+(?:\.\d+)?)/.exec(t);
  const base = /^Table/i.test(t) ? 0 : /^Fig/i.test(t) ? 100 : /^Sec/i.test(t) ? 200 : 300;
  return { label: t, order: base + (n ? Number(n[1]) : 0) };
};

/**
 * Where the paper reports each experiment's rows, when the row does not say (verdicts.json
 * rows carry no table yet; the claims in lib/experiments/ do, per side): the first rule whose
 * experiment prefix and test match wins.
 */
export const TABLE_RULES: readonly {
  experiment: string;
  test?: (r: DocRow) => boolean;
  table: number | string;
}[] = [
  { experiment: "01", test: (r) => r.metric_key.startsWith("bon/"), table: 1 },
  { experiment: "01", table: 2 },
  { experiment: "02", test: (r) => r.metric_key.startsWith("bon/"), table: 3 },
  { experiment: "02", table: 4 },
  { experiment: "03", test: (r) => r.id.startsWith("t6_"), table: 6 },
  { experiment: "03", test: (r) => r.metric_key.startsWith("train/"), table: 7 },
  { experiment: "03", table: 5 },
  { experiment: "04", test: (r) => r.metric_key.startsWith("train/rm/"), table: "Fig. 6" },
  { experiment: "04", table: 8 },
  { experiment: "05", table: 9 },
  { experiment: "06", table: 10 },
  { experiment: "07", table: 11 },
  { experiment: "08", table: 14 },
  { experiment: "09", table: "Sec. 4.3.3" },
];

/**
 * The paper table of a row: its own `table` field when present, else {@linkcode TABLE_RULES},
 * else the experiment id.
 *
 * @example
 * ```ts
 * import { type DocRow, paperTableOf } from "./results_doc.ts";
 * import { assertEquals } from "@std/assert";
 * const r = { experiment: "01_reward_models", id: "x", metric_key: "bon/rm/avg" } as DocRow;
 * assertEquals(paperTableOf(r).label, "Table 1");
 * assertEquals(paperTableOf({ ...r, table: [2, 14] }).label, "Tables 2, 14");
 * ```
 */
export function paperTableOf(r: DocRow): TableLabel {
  if (r.table !== undefined && r.table !== null) return tableLabel(r.table);
  const rule = TABLE_RULES.find((x) =>
    r.experiment.startsWith(x.experiment) && (x.test === undefined || x.test(r))
  );
  return rule ? tableLabel(rule.table) : { label: r.experiment, order: 1000 };
}

/** Rows under one heading, in first-seen order. */
export interface RowGroup {
  label: string;
  experiments: string[];
  rows: DocRow[];
}

/**
 * Rows grouped by `key` (paper table, or experiment), groups sorted by `order` then first
 * appearance, rows kept in file order.
 */
export function groupRows(
  rows: readonly DocRow[],
  key: (r: DocRow) => TableLabel,
): RowGroup[] {
  const groups = new Map<string, RowGroup & { order: number; first: number }>();
  rows.forEach((r, i) => {
    const k = key(r);
    let g = groups.get(k.label);
    if (!g) {
      g = { label: k.label, experiments: [], rows: [], order: k.order, first: i };
      groups.set(k.label, g);
    }
    if (!g.experiments.includes(r.experiment)) g.experiments.push(r.experiment);
    g.rows.push(r);
  });
  return [...groups.values()].sort((a, b) => a.order - b.order || a.first - b.first).map((
    { label, experiments, rows },
  ) => ({ label, experiments, rows }));
}

/** The paper's side of a claim row: its difference, else its direction. */
function paperOf(r: DocRow): string {
  if (r.paper !== null) return `paper ${signed(r.paper)}`;
  return r.direction ? `paper: ${r.direction}` : "no paper number";
}

/** What a decided or undecided row still needs, after its interval. */
function qualifier(r: DocRow): string[] {
  const notes: string[] = [];
  if (
    (r.outcome === "reproduced" || r.outcome === "opposite") && !(r.q_bh !== null && r.q_bh < 0.05)
  ) {
    notes.push(`not after BH, q = ${num(r.q_bh)}`);
  }
  if (r.halves_flip) notes.push("halves flip");
  if (r.sd === 0) notes.push("zero spread: every seed gave the same difference");
  if (r.outcome === "inconclusive") {
    notes.push(
      r.seeds_needed === null
        ? "seeds needed unknown (too few seeds for a spread)"
        : r.seeds_needed <= r.n
        // The spread alone would do with n seeds, but this draw's interval straddles both.
        ? `needs more than its ${r.n} seeds (the observed spread asks ${num(r.seeds_needed)})`
        : `needs ${num(r.seeds_needed)} seeds`,
    );
  }
  return notes;
}

/** What {@linkcode claimItem} shows besides the claim and its interval. */
export interface ItemOptions {
  /** Show the metric after the claim (default true). */
  metric?: boolean;
  /** Show the paper's number or direction (default true). */
  paper?: boolean;
  /** The run's seed count: `n` is shown only for rows with another (default: always shown). */
  seeds?: number;
}

/**
 * One row in a short answer: `claim, metric: mean [CI] (n; paper; notes)`.
 *
 * @example
 * ```ts
 * import { claimItem, type DocRow } from "./results_doc.ts";
 * import { assertEquals } from "@std/assert";
 * const r = {
 *   claim: "A − B", metric: "F1 (%)", n: 3, mean: 2, ci_low: -1, ci_high: 5, paper: 4,
 *   direction: "higher", outcome: "inconclusive", seeds_needed: 7, q_bh: 0.3, halves_flip: false,
 * } as DocRow;
 * assertEquals(claimItem(r, { seeds: 3 }), "A − B, F1 (%): +2 [-1, +5] (paper +4; needs 7 seeds)");
 * ```
 */
export function claimItem(r: DocRow, options: ItemOptions = {}): string {
  const what = options.metric === false ? r.claim : `${r.claim}, ${r.metric}`;
  const notes = [
    ...(options.seeds === r.n ? [] : [`n = ${r.n}`]),
    ...(options.paper === false ? [] : [paperOf(r)]),
    ...qualifier(r),
  ];
  return `${what}: ${interval(r)}${notes.length ? ` (${notes.join("; ")})` : ""}`;
}

/** The seeds the undecided rows of a group would need (the largest), or null. */
export function seedsToDecide(rows: readonly DocRow[]): number | null {
  const xs = rows.filter((r) => r.outcome === "inconclusive" && r.seeds_needed !== null)
    .map((r) => r.seeds_needed as number);
  return xs.length ? Math.max(...xs) : null;
}

/** Bullets: one per outcome present, each listing its rows. */
function outcomeBullets(rows: readonly DocRow[], item: (r: DocRow) => string): string[] {
  const out: string[] = [];
  for (const [o, words] of OUTCOME_WORDS) {
    const rs = rows.filter((r) => r.outcome === o);
    if (rs.length) out.push(`- ${words} (${rs.length}): ${rs.map(item).join("; ")}.`);
  }
  const none = rows.filter((r) => r.outcome === null);
  if (none.length) out.push(`- no outcome (${none.length}): ${none.map(item).join("; ")}.`);
  return out;
}

function countLine(rows: readonly DocRow[]): string {
  const parts = OUTCOME_WORDS.map(([o, w]) => [rows.filter((r) => r.outcome === o).length, w])
    .filter(([n]) => (n as number) > 0).map(([n, w]) => `${n} ${w}`);
  const need = seedsToDecide(rows);
  return parts.join(", ") + (need === null ? "" : `; the undecided would need up to ${need} seeds`);
}

/**
 * The header paragraph: preset, seeds, wall time, date, and the headline counts.
 */
export function headerLines(doc: ResultsDoc, date: string | null): string[] {
  const c = doc.counts;
  const o = c.outcomes;
  const [h1, h2] = doc.halves;
  const seeds = doc.seeds.length ? doc.seeds.join(", ") : "none";
  const short = [h1, h2].filter((h) => h.length < 2).length;
  const smallHalves = short
    ? ` (a half needs at least 2 seeds for an interval: with ${doc.seeds.length} seeds ${
      short === 2 ? "neither half has one" : "the second half has none"
    })`
    : "";
  const smoke = doc.preset === "smoke"
    ? [
      "Smoke preset: a tiny model trained for a few steps; the numbers only show that every stage runs.",
    ]
    : [];
  return [
    ...smoke,
    `Preset \`${doc.preset}\`, seeds ${seeds} (halves ${h1.join(", ") || "-"} | ${
      h2.join(", ") || "-"
    }), wall time ${formatDuration(doc.seconds)}${date ? `, run of ${date}` : ""}.`,
    `**${c.decided} of ${c.rows} rows decided** pooled (${o.reproduced} reproduced, ${o.opposite} opposite, ${o.absent} absent at the paper's size; ${o.inconclusive} inconclusive), ` +
    `**${c.decided_bh} after Benjamini-Hochberg** (${c.decided_bh_claims} of them claim rows), ` +
    `halves agree on **${c.halves.agree} of ${c.halves.rows}** decided rows with **${c.halves.flipped} flips**${smallHalves}. ` +
    `${c.claims} claim rows, ${c.baselines} baseline rows, ${c.levels} level rows.`,
  ];
}

/** "Can the testbed tell an RM from no RM?": the baseline rows, by experiment and metric. */
export function baselineSection(doc: ResultsDoc): string[] {
  const rows = doc.rows.filter((r) => r.kind === "baseline");
  const out = ["### Can the testbed tell an RM from no RM?", ""];
  if (!rows.length) return [...out, "No baseline rows in this run.", ""];
  out.push(
    `${doc.counts.baselines_reproduced} of ${rows.length} RM − baseline rows reproduced (the RM beats random, the policy's log-prob or majority vote); ${
      countLine(rows)
    }.`,
    "",
  );
  const groups = groupRows(rows, (r) => ({ label: `${r.experiment} · ${r.metric}`, order: 0 }));
  for (const g of groups) {
    const item = (r: DocRow) =>
      claimItem(r, { metric: false, paper: false, seeds: doc.seeds.length });
    out.push(`**${g.label}**`, "", ...outcomeBullets(g.rows, item), "");
  }
  return out;
}

/** "Short answer per paper table": the claim rows, grouped by paper table. */
export function shortAnswerSection(doc: ResultsDoc): string[] {
  const rows = doc.rows.filter((r) => r.kind === "claim");
  const out = ["### Short answer per paper table", ""];
  if (!rows.length) return [...out, "No claim rows in this run.", ""];
  out.push(
    "Decided for: the 95% CI of ours excludes 0 on the paper's side; decided against: on the other side; absent: it contains 0 and lies below half the paper's effect (SESOI); still undecided: it contains 0 and the SESOI, with the seeds the observed spread would need to decide it. `q`: Benjamini-Hochberg over the claim rows.",
    "",
  );
  for (const g of groupRows(rows, paperTableOf)) {
    out.push(
      `**${g.label}** (${g.experiments.join(", ")}): ${countLine(g.rows)}.`,
      "",
      ...outcomeBullets(g.rows, (r) => claimItem(r, { seeds: doc.seeds.length })),
      "",
    );
  }
  return out;
}

/** Level rows: per paper table and metric, each arm's level and CI beside the paper's. */
export function levelSection(doc: ResultsDoc): string[] {
  const rows = doc.rows.filter((r) => r.kind === "level");
  if (!rows.length) return [];
  const out = [
    "### Levels beside the paper's (no verdict)",
    "",
    "| paper table | metric | ours: mean [95% CI] (paper) |",
    "| --- | --- | --- |",
  ];
  for (const g of groupRows(rows, paperTableOf)) {
    for (const m of groupRows(g.rows, (r) => ({ label: r.metric, order: 0 }))) {
      const cells = m.rows.map((r) =>
        `${r.claim}: ${interval(r, false)}${r.paper === null ? "" : ` (${num(r.paper)})`}`
      );
      out.push(`| ${g.label} | ${esc(m.label)} | ${esc(cells.join("; "))} |`);
    }
  }
  const n = [...new Set(rows.map((r) => r.n))];
  out.push(
    "",
    `n = ${n.join(" / ")} seeds per level; paper levels in brackets where it has one.`,
    "",
  );
  return out;
}

const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

/** A figure chosen for the doc. */
export interface ChosenFigure {
  experiment: string;
  /** File stem. */
  name: string;
  /** Alt text (the figure's title, else its name). */
  title: string;
  /** Source file (in the figures dir). */
  source: string;
  bytes: number;
}

/** Markdown alt text from a plotly title: tags dropped, brackets softened. */
export function altText(title: string): string {
  return title.replace(/<[^>]*>/g, " ").replaceAll("[", "(").replaceAll("]", ")")
    .replace(/\s+/g, " ").trim();
}

/** "Key figures": the chosen SVGs, linked relative to docs/results.md. */
export function figureSection(
  figures: readonly ChosenFigure[],
  options: { dir?: string; tables?: ReadonlyMap<string, string> } = {},
): string[] {
  const dir = options.dir ?? "figures";
  const out = ["### Key figures", ""];
  if (!figures.length) {
    return [
      ...out,
      "No SVG figures were found for this run (the SVGs need Chromium: `apt-get install chromium`); `figures/index.html` shows every figure after `deno task reproduce`.",
      "",
    ];
  }
  for (const g of groupRows(figures.map(asRow), (r) => ({ label: r.experiment, order: 0 }))) {
    const tables = options.tables?.get(g.label);
    out.push(`**${g.label}**${tables ? ` (${tables})` : ""}`, "");
    for (const r of g.rows) out.push(`![${r.claim}](${dir}/${r.experiment}/${r.id}.svg)`, "");
  }
  return out;
}

/** Per experiment, the paper tables its rows sit beside ("Table 5, Table 6, Table 7"). */
export function tablesByExperiment(rows: readonly DocRow[]): Map<string, string> {
  const out = new Map<string, string>();
  const claims = rows.filter((r) => r.kind !== "baseline");
  for (const g of groupRows(claims, paperTableOf)) {
    for (const e of g.experiments) {
      const prev = out.get(e);
      out.set(e, prev ? `${prev}, ${g.label}` : g.label);
    }
  }
  return out;
}

/** A figure as a DocRow for {@linkcode groupRows} (only experiment, id and claim are read). */
function asRow(f: ChosenFigure): DocRow {
  return { experiment: f.experiment, id: f.name, claim: altText(f.title) } as DocRow;
}

/**
 * The generated region, markers included: header, baselines, short answers, levels, figures.
 */
export function generatedRegion(
  doc: ResultsDoc,
  options: { date?: string | null; figures?: readonly ChosenFigure[] } = {},
): string {
  const lines = [
    BEGIN,
    "<!-- Written by `deno task results-doc` from results/<preset>/verdicts.json: edit the tool (tools/results_doc.ts), not this region. -->",
    "",
    `## Latest run: \`${doc.preset}\``,
    "",
    ...headerLines(doc, options.date ?? null).flatMap((l) => [l, ""]),
    ...baselineSection(doc),
    ...shortAnswerSection(doc),
    ...levelSection(doc),
    ...figureSection(options.figures ?? [], { tables: tablesByExperiment(doc.rows) }),
    END,
  ];
  return lines.join("\n") + "\n";
}

/**
 * `text` with the region between {@linkcode BEGIN} and {@linkcode END} (markers included)
 * replaced by `region`; without markers, `region` goes after the first `# ` title line and a
 * blank line (at the top when there is no title). Everything outside is kept byte for byte.
 *
 * @example
 * ```ts
 * import { BEGIN, END, replaceGenerated } from "./results_doc.ts";
 * import { assertEquals } from "@std/assert";
 * const r = `${BEGIN}\nnew\n${END}\n`;
 * assertEquals(replaceGenerated(`# T\n\nbody\n`, r), `# T\n\n${r}\nbody\n`);
 * assertEquals(replaceGenerated(`a\n${BEGIN}\nold\n${END}\nb\n`, r), `a\n${r}b\n`);
 * ```
 */
export function replaceGenerated(text: string, region: string): string {
  if (!region.startsWith(BEGIN) || !region.trimEnd().endsWith(END)) {
    throw new Error(`Invalid region: expected it to start with ${BEGIN} and end with ${END}`);
  }
  const block = region.endsWith("\n") ? region : region + "\n";
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  if (b >= 0 || e >= 0) {
    if (b < 0 || e < b || text.indexOf(BEGIN, b + 1) >= 0 || text.indexOf(END, e + 1) >= 0) {
      throw new Error(
        `Invalid document: expected exactly one ${BEGIN} before exactly one ${END}`,
      );
    }
    let after = e + END.length;
    if (text[after] === "\n") after++;
    return text.slice(0, b) + block + text.slice(after);
  }
  const title = /^# .*\n/m.exec(text);
  if (!title) return block + "\n" + text;
  const end = title.index + title[0].length;
  // One blank line after the title, the region, one blank line, then the rest as it was
  // (its own blank line after the title, if it had one, is the one before the region).
  const rest = text[end] === "\n" ? end + 1 : end;
  return text.slice(0, end) + "\n" + block + "\n" + text.slice(rest);
}

/**
 * The figures to show: every `claims_*.svg` of each experiment directory (`NN_name`, not
 * `_smoke` and the like) plus {@linkcode HEADLINE_FIGURES}, in experiment and name order, while
 * their total stays within `maxBytes` (the rest are skipped and reported).
 */
export async function chooseFigures(
  figuresDir: string,
  options: { maxBytes?: number; headline?: readonly string[] } = {},
): Promise<{ chosen: ChosenFigure[]; skipped: string[] }> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const headline = new Set(options.headline ?? HEADLINE_FIGURES);
  const chosen: ChosenFigure[] = [];
  const skipped: string[] = [];
  let total = 0;
  const dirs = await listDir(figuresDir, (e) => e.isDirectory && /^\d\d_/.test(e.name));
  for (const experiment of dirs) {
    const dir = `${figuresDir}/${experiment}`;
    const svgs = await listDir(dir, (e) => e.isFile && e.name.endsWith(".svg"));
    const names = svgs.map((f) => f.slice(0, -4)).filter((n) =>
      n.startsWith("claims_") || headline.has(`${experiment}/${n}`)
    );
    // claims_* first (the verdict rows), then the headline figures.
    names.sort((a, b) =>
      Number(!a.startsWith("claims_")) - Number(!b.startsWith("claims_")) || a.localeCompare(b)
    );
    for (const name of names) {
      const source = `${dir}/${name}.svg`;
      const bytes = (await Deno.stat(source)).size;
      if (total + bytes > maxBytes) {
        skipped.push(`${experiment}/${name}.svg (${bytes} bytes: over the ${maxBytes}-byte cap)`);
        continue;
      }
      total += bytes;
      chosen.push({ experiment, name, title: await titleOf(dir, name), source, bytes });
    }
  }
  return { chosen, skipped };
}

async function listDir(dir: string, keep: (e: Deno.DirEntry) => boolean): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (keep(e)) out.push(e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort();
}

/** The layout title in `<name>.json` beside the SVG, else the name. */
async function titleOf(dir: string, name: string): Promise<string> {
  try {
    const spec = JSON.parse(await Deno.readTextFile(`${dir}/${name}.json`));
    const t = spec?.layout?.title;
    const text = typeof t === "string" ? t : typeof t?.text === "string" ? t.text : undefined;
    if (text) return text;
  } catch {
    // no spec beside it: the name will do
  }
  return name.replaceAll("_", " ");
}

/**
 * Copies the chosen SVGs to `<dest>/<experiment>/<name>.svg` and removes SVGs under `dest`
 * that are no longer chosen. Returns one line per file copied or removed.
 */
export async function copyFigures(
  chosen: readonly ChosenFigure[],
  dest: string,
): Promise<string[]> {
  const log: string[] = [];
  const keep = new Set(chosen.map((f) => `${f.experiment}/${f.name}.svg`));
  for (const experiment of await listDir(dest, (e) => e.isDirectory)) {
    for (const f of await listDir(`${dest}/${experiment}`, (e) => e.name.endsWith(".svg"))) {
      if (!keep.has(`${experiment}/${f}`)) {
        await Deno.remove(`${dest}/${experiment}/${f}`);
        log.push(`removed ${dest}/${experiment}/${f}`);
      }
    }
  }
  let total = 0;
  for (const f of chosen) {
    await Deno.mkdir(`${dest}/${f.experiment}`, { recursive: true });
    await Deno.copyFile(f.source, `${dest}/${f.experiment}/${f.name}.svg`);
    total += f.bytes;
    log.push(`copied ${dest}/${f.experiment}/${f.name}.svg (${f.bytes} bytes)`);
  }
  log.push(`${chosen.length} figures, ${total} bytes in ${dest}`);
  return log;
}

/** The run's date: the document's own field if it has one, else the file's modification day. */
export async function runDate(doc: ResultsDoc, path: string): Promise<string | null> {
  const own = doc.finished_at ?? doc.date;
  if (typeof own === "string" && /^\d{4}-\d\d-\d\d/.test(own)) return own.slice(0, 10);
  const m = (await Deno.stat(path)).mtime;
  return m ? m.toISOString().slice(0, 10) : null;
}

/** Formats markdown with `deno fmt` (the repo's settings), so `deno fmt --check` stays clean. */
async function denoFmt(markdown: string): Promise<string> {
  try {
    const p = new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--ext", "md", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(markdown));
    await w.close();
    const out = await p.output();
    if (out.success) return new TextDecoder().decode(out.stdout);
    console.error(`[results-doc] deno fmt failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  } catch (e) {
    console.error(`[results-doc] deno fmt not run (${(e as Error).message})`);
  }
  return markdown;
}

function flag(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === name) return args[i + 1];
    if (a.startsWith(name + "=")) return a.slice(name.length + 1);
  }
  return undefined;
}

async function main(args: readonly string[]): Promise<void> {
  const preset = flag(args, "--preset") ?? "default";
  const results = flag(args, "--results") ?? `results/${preset}`;
  const figures = flag(args, "--figures") ??
    (preset === "default" ? "figures" : `figures/_${preset}`);
  const out = flag(args, "--out") ?? "docs/results.md";
  const maxBytes = Number(flag(args, "--max-bytes") ?? DEFAULT_MAX_BYTES);
  if (!Number.isFinite(maxBytes) || maxBytes < 0) {
    throw new RangeError(
      `Invalid --max-bytes: expected a byte count, got ${flag(args, "--max-bytes")}`,
    );
  }
  const path = `${results.replace(/\/+$/, "")}/verdicts.json`;
  let doc: ResultsDoc;
  try {
    doc = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(
      `cannot read ${path} (${
        (e as Error).message
      }); run \`deno task reproduce --preset ${preset}\` first`,
    );
  }
  if (!Array.isArray(doc.rows) || !doc.counts) {
    throw new TypeError(`Invalid ${path}: expected { preset, seeds, counts, rows, ... }`);
  }
  const date = flag(args, "--date") ?? await runDate(doc, path);
  const { chosen, skipped } = await chooseFigures(figures, { maxBytes });
  for (const s of skipped) console.error(`[results-doc] skipped ${s}`);
  const region = await denoFmt(generatedRegion(doc, { date, figures: chosen }));
  if (out === "-") {
    await Deno.stdout.write(new TextEncoder().encode(region));
    for (const f of chosen) console.error(`[results-doc] would copy ${f.source}`);
    return;
  }
  const dest = `${out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : "."}/figures`;
  for (const line of await copyFigures(chosen, dest)) console.log(`[results-doc] ${line}`);
  let text = "";
  try {
    text = await Deno.readTextFile(out);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.writeTextFile(out, replaceGenerated(text, region));
  console.log(`[results-doc] wrote the generated region of ${out} from ${path}`);
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`[results-doc] ${(e as Error).message}`);
    Deno.exit(1);
  }
}
