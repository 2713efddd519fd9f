/**
 * The verdict table of a preset (`results/<preset>/verdicts.{json,md}`, docs/results.md): every
 * claim and baseline row of the finished experiments with the verdict rule of statistics.md
 * (outcome, p-value, Benjamini-Hochberg q over all claim rows of the preset (and, as a family of
 * their own, over the baseline rows), seeds needed, the two halves of the seeds), then the `level` rows (reported beside the paper's level,
 * no verdict). Baseline rows come first: they say whether the testbed can test anything.
 * @module
 */
import {
  benjaminiHochberg,
  DECIDED_OUTCOMES,
  halvesAgreement,
  halvesFlip,
  type Outcome,
  sig3,
} from "../report/stats.ts";
import type { ClaimResult, LevelResult } from "./_summary.ts";

/** What the verdict table reads of an experiment's result. */
export interface VerdictSource {
  id: string;
  claims: readonly ClaimResult[];
  levels?: readonly LevelResult[];
}

/** One row of `verdicts.json` (docs/results.md, "verdicts.json"). */
export interface VerdictRow {
  experiment: string;
  /** The claim's id in its experiment (level rows: arm and metric key). */
  id: string;
  /** What is compared: `treatment − control` (level rows: the arm). */
  claim: string;
  /** Metric label with its unit. */
  metric: string;
  /** The metric key in the unit records (treatment side). */
  metric_key: string;
  kind: "claim" | "baseline" | "level";
  /** The paper's direction of `treatment − control` (null for level rows). */
  direction: "higher" | "lower" | null;
  /** `paired` (the arms share their seeds) or `welch` (they do not); null for level rows. */
  test: "paired" | "welch" | null;
  /** Seeds in the interval (the smaller arm for Welch). */
  n: number;
  mean: number | null;
  ci_low: number | null;
  ci_high: number | null;
  /** The paper's number: its difference `P` (claim rows, null when it states only a direction)
   * or its level (level rows, null when it has none). */
  paper: number | null;
  sesoi: number | null;
  sesoi_reason: string | null;
  p: number | null;
  q_bh: number | null;
  outcome: Outcome | null;
  outcome_first_half: Outcome | null;
  outcome_second_half: Outcome | null;
  /** The halves give `reproduced` and `opposite`. */
  halves_flip: boolean;
  seeds_needed: number | null;
  /** SD of one seed's difference, from which `seeds_needed` is solved (null for levels). */
  sd: number | null;
  /** Our estimate of each arm (claim rows) and the paper's (null where it has none). */
  treatment_mean: number | null;
  control_mean: number | null;
  paper_treatment: number | null;
  paper_control: number | null;
  /** One sentence: why this outcome, or why a level row has none. */
  reason: string;
}

/** The whole of `verdicts.json`. */
export interface VerdictDocument {
  preset: string;
  seeds: number[];
  /** The two realisations (first and second half of the seeds). */
  halves: [number[], number[]];
  /** Wall seconds of the run that wrote it. */
  seconds: number;
  /** Headline counts (docs/results.md). */
  counts: VerdictCounts;
  experiments: { id: string; seconds: number; seeds: number[] }[];
  rows: VerdictRow[];
}

/** The headline counts of a verdict table. */
export interface VerdictCounts {
  /** Rows with a verdict (claim + baseline), and per kind. */
  rows: number;
  claims: number;
  baselines: number;
  levels: number;
  /** Pooled outcomes over claim + baseline rows. */
  outcomes: Record<Outcome, number>;
  /** Outcomes 1-3 (reproduced, opposite, absent). */
  decided: number;
  /** Reproduced or opposite with q_bh < 0.05 (BH within each family: claim rows, baseline
   * rows). Absent rows are not tests against 0 and are not adjusted. */
  decided_bh: number;
  /** The claim rows among `decided_bh`. */
  decided_bh_claims: number;
  /** Halves agreement over the rows the pooled run decides and both halves have an outcome. */
  halves: { rows: number; agree: number; flipped: number };
  /** Baseline rows reproduced (the RM beats the baseline). */
  baselines_reproduced: number;
}

const num = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? null : x;

function claimRow(experiment: string, c: ClaimResult): VerdictRow {
  const d = c.diff;
  return {
    experiment,
    id: c.claim.id,
    claim: `${c.claim.treatment.label} − ${c.claim.control.label}`,
    metric: c.claim.metricLabel,
    metric_key: c.claim.metric,
    kind: c.kind,
    direction: c.direction,
    test: d?.kind ?? null,
    n: d?.n ?? 0,
    mean: num(d?.mean),
    ci_low: num(d?.ciLow),
    ci_high: num(d?.ciHigh),
    paper: num(c.paperDiff),
    sesoi: num(c.sesoi),
    sesoi_reason: c.sesoiReason,
    p: num(c.p),
    q_bh: null, // set over the family in verdictRows
    outcome: c.verdict.verdict,
    outcome_first_half: c.halves.first,
    outcome_second_half: c.halves.second,
    halves_flip: halvesFlip(c.halves.first, c.halves.second),
    seeds_needed: num(c.seedsNeeded),
    sd: num(c.sd),
    treatment_mean: num(c.treatment?.mean),
    control_mean: num(c.control?.mean),
    paper_treatment: num(c.paperTreatment),
    paper_control: num(c.paperControl),
    reason: c.verdict.reason,
  };
}

function levelRow(experiment: string, l: LevelResult): VerdictRow {
  return {
    experiment,
    id: `${l.row.arm}:${l.row.metric}`,
    claim: l.row.label,
    metric: l.row.metricLabel,
    metric_key: l.row.metric,
    kind: "level",
    direction: null,
    test: null,
    n: l.ours?.n ?? 0,
    mean: num(l.ours?.mean),
    ci_low: num(l.ours?.ciLow),
    ci_high: num(l.ours?.ciHigh),
    paper: num(l.paper),
    sesoi: null,
    sesoi_reason: null,
    p: null,
    q_bh: null,
    outcome: null,
    outcome_first_half: null,
    outcome_second_half: null,
    halves_flip: false,
    seeds_needed: null,
    sd: null,
    treatment_mean: null,
    control_mean: null,
    paper_treatment: null,
    paper_control: null,
    reason: l.row.note ?? "a level beside the paper's, no verdict",
  };
}

/**
 * The rows of the verdict table: baselines first, then claims (experiment order), then levels;
 * `q_bh` by Benjamini-Hochberg over the claim rows with a p-value, and separately over the
 * baseline rows.
 *
 * @example
 * ```ts
 * import { verdictRows } from "./_verdicts.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(verdictRows([]), []);
 * ```
 */
export function verdictRows(results: readonly VerdictSource[]): VerdictRow[] {
  const tested = results.flatMap((r) => r.claims.map((c) => claimRow(r.id, c)));
  const ordered = [
    ...tested.filter((r) => r.kind === "baseline"),
    ...tested.filter((r) => r.kind === "claim"),
  ];
  // Two families: the paper's claims (statistics.md: BH over all claim rows of the preset) and
  // the baseline rows (the testbed's informativeness check), each adjusted on its own.
  const q = new Map<VerdictRow, number>();
  for (const kind of ["baseline", "claim"] as const) {
    const fam = ordered.filter((r) => r.kind === kind);
    benjaminiHochberg(fam.map((r) => r.p ?? NaN)).forEach((x, i) => q.set(fam[i]!, x));
  }
  const rows: VerdictRow[] = ordered.map((r) => ({ ...r, q_bh: num(q.get(r)) }));
  for (const r of results) for (const l of r.levels ?? []) rows.push(levelRow(r.id, l));
  return rows;
}

/**
 * The headline counts of {@linkcode verdictRows}' rows.
 *
 * @example
 * ```ts
 * import { verdictCounts } from "./_verdicts.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(verdictCounts([]).decided, 0);
 * ```
 */
export function verdictCounts(rows: readonly VerdictRow[]): VerdictCounts {
  const tested = rows.filter((r) => r.kind !== "level");
  const outcomes: Record<Outcome, number> = {
    reproduced: 0,
    opposite: 0,
    absent: 0,
    inconclusive: 0,
  };
  for (const r of tested) if (r.outcome) outcomes[r.outcome]++;
  return {
    rows: tested.length,
    claims: rows.filter((r) => r.kind === "claim").length,
    baselines: rows.filter((r) => r.kind === "baseline").length,
    levels: rows.filter((r) => r.kind === "level").length,
    outcomes,
    decided: tested.filter((r) => r.outcome && DECIDED_OUTCOMES.includes(r.outcome)).length,
    decided_bh: tested.filter(bhDecided).length,
    decided_bh_claims: tested.filter((r) => r.kind === "claim" && bhDecided(r)).length,
    halves: halvesAgreement(
      tested.map((r) => ({
        outcome: r.outcome,
        first: r.outcome_first_half,
        second: r.outcome_second_half,
      })),
    ),
    baselines_reproduced: rows.filter((r) => r.kind === "baseline" && r.outcome === "reproduced")
      .length,
  };
}

function bhDecided(r: VerdictRow): boolean {
  return (r.outcome === "reproduced" || r.outcome === "opposite") && r.q_bh !== null &&
    r.q_bh < 0.05;
}

const s3 = (x: number | null | undefined) => sig3(x);
const ci = (r: VerdictRow) =>
  r.mean === null ? "n/a" : `${s3(r.mean)} [${s3(r.ci_low)}, ${s3(r.ci_high)}]`;
const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
const table = (columns: string[], rows: string[][]) =>
  [
    `| ${columns.join(" | ")} |`,
    `|${columns.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n") + "\n";

/**
 * `verdicts.md`: the headline counts, then the baseline rows, the claim rows and the level
 * rows; every number with 3 significant digits, percentages as points (0-100).
 */
export function verdictMarkdown(doc: VerdictDocument): string {
  const c = doc.counts;
  const o = c.outcomes;
  const out: string[] = [`# Verdicts (preset ${doc.preset})`, ""];
  if (doc.preset === "smoke") {
    out.push(
      "Smoke preset: a tiny model trained for a few steps; the numbers only show that every stage runs.",
      "",
    );
  }
  const [h1, h2] = doc.halves;
  out.push(
    `Seeds ${doc.seeds.join(", ")} (halves ${h1.join(",") || "-"} | ${
      h2.join(",") || "-"
    }); run wall time ${s3(doc.seconds)} s. Rule: docs/results.md ("The verdict rule").`,
    "",
    `- Rows with a verdict: ${c.rows} (${c.baselines} baseline, ${c.claims} claim); ${c.levels} level rows without one.`,
    `- Decided (pooled): ${c.decided} of ${c.rows} (${o.reproduced} reproduced, ${o.opposite} opposite, ${o.absent} absent at the paper's size); ${o.inconclusive} inconclusive.`,
    `- Decided after Benjamini-Hochberg (reproduced or opposite with q < 0.05; BH over the ${c.claims} claim rows, and over the ${c.baselines} baseline rows on their own; absent rows are not tests against 0): ${c.decided_bh} (${c.decided_bh_claims} of them claim rows).`,
    `- Halves: ${c.halves.agree} of ${c.halves.rows} rows the pooled run decides get the same outcome in both halves; ${c.halves.flipped} flip (reproduced in one half, opposite in the other); ${
      doc.rows.filter((r) => r.halves_flip).length
    } rows flip in all (marked "halves flip")${
      Math.min(h1.length, h2.length) < 2
        ? ` (a half needs at least 2 seeds for an interval: ${doc.seeds.length} seeds give none)`
        : ""
    }.`,
    `- Baselines: ${c.baselines_reproduced} of ${c.baselines} RM-vs-baseline rows reproduced (the RM beats random / policy log-prob / majority vote).`,
    "",
    "avg@8 rows: the expected accuracy at T 0.6 / top-p 0.95 that avg@8 estimates, measured once at the end of each RL run on every problem of each split with the preset's k samples per problem (default: 32, a quarter of avg@8's variance); the SFT row is the same evaluation of the SFT policy.",
    "",
  );
  const cols = [
    "experiment",
    "row",
    "metric",
    "n",
    "test",
    "ours: mean [95% CI]",
    "paper P",
    "SESOI",
    "p",
    "q (BH)",
    "outcome",
    "halves",
    "seeds needed",
  ];
  const tested = (kind: "baseline" | "claim") =>
    doc.rows.filter((r) => r.kind === kind).map((r) => [
      r.experiment,
      r.claim,
      r.metric,
      String(r.n),
      r.test ?? "n/a",
      ci(r),
      r.paper === null ? `claims ${r.direction}` : s3(r.paper),
      s3(r.sesoi),
      s3(r.p),
      s3(r.q_bh),
      `**${r.outcome}**${r.halves_flip ? " (halves flip)" : ""}${
        r.sd === 0 ? " (zero spread)" : ""
      }`,
      `${r.outcome_first_half ?? "n/a"} / ${r.outcome_second_half ?? "n/a"}`,
      r.outcome === "inconclusive" ? s3(r.seeds_needed) : `(${s3(r.seeds_needed)})`,
    ]);
  out.push(
    "## Baselines: does each RM beat no RM?",
    "",
    table(cols, tested("baseline")),
    "## Claims of the paper",
    "",
    table(cols, tested("claim")),
  );
  const levels = doc.rows.filter((r) => r.kind === "level");
  if (levels.length) {
    out.push(
      "## Levels (no verdict)",
      "",
      table(
        ["experiment", "row", "metric", "n", "ours: mean [95% CI]", "paper", "why no verdict"],
        levels.map((r) => [
          r.experiment,
          r.claim,
          r.metric,
          String(r.n),
          ci(r),
          s3(r.paper),
          r.reason,
        ]),
      ),
    );
  }
  out.push(
    "Paper P: the paper's treatment − control (points for percentages). SESOI: half of |P|, else the metric's declared constant (sesoi_reason in verdicts.json). Seeds needed: the n at which the observed SD gives a 95% CI half-width <= SESOI (in brackets for decided rows). Zero spread: every seed gave the same difference, so the interval is degenerate (a discrete metric at a small size).",
    "",
  );
  return out.join("\n");
}
