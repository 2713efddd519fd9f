/**
 * Tables from the per-item records (statistics.md "Per-item records"; `deno task tables`): the
 * units' `pb_items.json.gz` (per-row step scores), `bon_items.json.gz` (per-problem best-of-N
 * picks) and `avg_items.json` (per-problem avg@k correct counts) under
 * `results/<preset>/<experiment>/<run id>/` are read back, each metric is recomputed per seed
 * from the items, and every row prints two intervals: the Student-t CI over seeds (the one the
 * verdicts use) and a seeded percentile bootstrap over items (PB rows, BoN problems, avg@k
 * problems), the same item resample for every seed of the arm, so it measures how much of the
 * seed mean the finite evaluation set alone leaves uncertain. Nothing is retrained or rescored.
 *
 * Writes `<experiment>/items_table.json` and `<experiment>/items_table.md` per experiment that
 * has per-item files, and returns the rows.
 * @module
 */
import { processBenchF1 } from "../eval/processbench.ts";
import type { BonItems, PbItems } from "../rm/evaluate.ts";
import { bootstrapInterval, summarize } from "../report/stats.ts";
import { readJsonGz, readJsonl } from "../run/results.ts";
import type { UnitRecord } from "./_runner.ts";

/** Per-item avg@k record of an RL unit (`avg_items.json`). */
export interface AvgItems {
  step: number;
  k: number;
  correct: Record<string, number[]>;
}

/** One row of an items table. */
export interface ItemRow {
  experiment: string;
  arm: string;
  /** Metric key, as in the unit records (`pb/rm_process/oracle/avg`, `bon/rm/avg`, ...). */
  metric: string;
  /** Seeds with items. */
  seeds: number;
  /** Items per seed (rows or problems). */
  items: number;
  /** Mean over seeds, percent. */
  mean: number;
  /** Student-t 95% CI over seeds (NaN with one seed). */
  seedLow: number;
  seedHigh: number;
  /** Percentile-bootstrap 95% CI over items of the seed mean. */
  itemLow: number;
  itemHigh: number;
}

/** Options of {@linkcode itemTables}. */
export interface ItemTablesOptions {
  /** Bootstrap resamples (default 1000; PB rows use a fifth of it, their F1 search is slower). */
  resamples?: number;
  /** Bootstrap seed (default 0). */
  seed?: number;
  /** Write `items_table.{json,md}` per experiment (default true). */
  write?: boolean;
}

/** A per-seed statistic of a resample of item indices. */
type ItemStat = (idx: readonly number[]) => number;

function meanOf(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Mean over groups (splits, buckets) of the mean of `value(i)` over the group's items in `idx`. */
function groupMean(
  idx: readonly number[],
  group: readonly string[],
  value: (i: number) => number,
): number {
  const sums = new Map<string, { s: number; n: number }>();
  for (const g of new Set(group)) sums.set(g, { s: 0, n: 0 });
  for (const i of idx) {
    const e = sums.get(group[i]!)!;
    e.s += value(i);
    e.n++;
  }
  const means = [...sums.values()].map((e) => (e.n ? e.s / e.n : NaN));
  return meanOf(means);
}

/** Oracle-threshold F1 averaged over buckets, of the rows in `idx` (lib/eval/processbench.ts). */
function pbOracleAvg(items: PbItems, scores: readonly (readonly number[])[]): ItemStat {
  return (idx) => {
    const byBucket = new Map<string, { label: number; scores: readonly number[] }[]>();
    for (const b of new Set(items.buckets)) byBucket.set(b, []);
    for (const i of idx) {
      byBucket.get(items.buckets[i]!)!.push({ label: items.labels[i]!, scores: scores[i]! });
    }
    // A resample without both label classes in a bucket has no F1 (NaN; the bootstrap drops it).
    const f1 = [...byBucket.values()].map((rs) => {
      try {
        return processBenchF1(rs).f1;
      } catch {
        return NaN;
      }
    });
    return meanOf(f1);
  };
}

/** Per-problem hit of a picker averaged over N (the `bon/<picker>/avg` of one problem). */
function bonHits(items: BonItems, picker: string): number[] | null {
  const ns = items.ns.map(String);
  if (picker === "majority" || picker === "pass") {
    const t = items[picker];
    return items.keys.map((_, p) => meanOf(ns.map((n) => t[n]![p]!)));
  }
  const picks = items.picks[picker as keyof BonItems["picks"]];
  if (!picks) return null;
  return items.keys.map((_, p) => meanOf(ns.map((n) => Number(items.correct[p]![picks[n]![p]!]))));
}

/** The statistics of one unit's items: metric -> (group of the items, per-item statistic). */
function unitStats(
  files: { pb?: PbItems; bon?: BonItems; avg?: AvgItems },
): Map<string, { items: number; stat: ItemStat }> {
  const out = new Map<string, { items: number; stat: ItemStat }>();
  if (files.pb) {
    const pb = files.pb;
    out.set("pb/rm_process/oracle/avg", {
      items: pb.ids.length,
      stat: pbOracleAvg(pb, pb.scores.rm_process),
    });
    out.set("pb/sft_logprob/oracle/avg", {
      items: pb.ids.length,
      stat: pbOracleAvg(pb, pb.scores.sft_logprob),
    });
  }
  if (files.bon) {
    const bon = files.bon;
    const hits: Record<string, number[]> = {};
    for (const p of ["rm", "rm_min", "sft_logprob", "random", "majority", "pass"]) {
      const h = bonHits(bon, p);
      if (h) hits[p] = h;
    }
    for (const [p, h] of Object.entries(hits)) {
      out.set(`bon/${p}/avg`, {
        items: h.length,
        stat: (idx) => groupMean(idx, bon.splits, (i) => h[i]!),
      });
    }
    // paired over problems: the RM pick minus each baseline's (baseline rows)
    for (const b of ["random", "sft_logprob", "majority"]) {
      const rm = hits.rm, base = hits[b];
      if (!rm || !base) continue;
      out.set(`bon/rm-${b}/avg`, {
        items: rm.length,
        stat: (idx) => groupMean(idx, bon.splits, (i) => rm[i]! - base[i]!),
      });
    }
  }
  if (files.avg) {
    const splits = Object.keys(files.avg.correct);
    const group = splits.flatMap((s) => files.avg!.correct[s]!.map(() => s));
    const k = files.avg.k;
    const frac = splits.flatMap((s) => files.avg!.correct[s]!.map((c) => c / k));
    out.set("eval/avg/mean", {
      items: frac.length,
      stat: (idx) => groupMean(idx, group, (i) => frac[i]!),
    });
  }
  return out;
}

async function readIfThere<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** 3 significant digits (statistics.md "What every row prints"). */
function sig3(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : "n/a";
}

/** Markdown of the rows of one experiment. */
export function itemTableMarkdown(experiment: string, rows: readonly ItemRow[]): string {
  const lines = [
    `# ${experiment}: per-item tables`,
    "",
    "Recomputed from the per-item records (`deno task tables`). Percent. seed CI: Student-t 95% over",
    "seeds; item CI: percentile bootstrap 95% over the evaluation items (the same resample for every",
    "seed), i.e. the part of the uncertainty the finite evaluation set alone leaves.",
    "",
    "| arm | metric | seeds | items | mean | seed 95% CI | item 95% CI |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.arm} | \`${r.metric}\` | ${r.seeds} | ${r.items} | ${sig3(r.mean)} | [${
        sig3(r.seedLow)
      }, ${sig3(r.seedHigh)}] | [${sig3(r.itemLow)}, ${sig3(r.itemHigh)}] |`
    ),
    "",
  ];
  return lines.join("\n");
}

/**
 * Reads every experiment's per-item records under `resultsDir` and builds (and by default
 * writes) its items table (module doc).
 */
export async function itemTables(
  resultsDir: string,
  options: ItemTablesOptions = {},
): Promise<ItemRow[]> {
  const resamples = options.resamples ?? 1000;
  const all: ItemRow[] = [];
  const experiments: string[] = [];
  for await (const e of Deno.readDir(resultsDir)) if (e.isDirectory) experiments.push(e.name);
  for (const experiment of experiments.sort()) {
    const dir = `${resultsDir}/${experiment}`;
    const { records } = await readJsonl<UnitRecord>(`${dir}/results.jsonl`, { missingOk: true });
    if (records.length === 0) continue;
    const latest = new Map<string, UnitRecord>();
    for (const r of records) latest.set(r.unit, r);
    // arm -> metric -> per-seed statistics
    const byArm = new Map<string, Map<string, { items: number; stat: ItemStat }[]>>();
    for (const r of latest.values()) {
      const u = `${dir}/${r.unit}`;
      const stats = unitStats({
        pb: await readIfThere(() => readJsonGz<PbItems>(`${u}/pb_items.json.gz`)),
        bon: await readIfThere(() => readJsonGz<BonItems>(`${u}/bon_items.json.gz`)),
        avg: await readIfThere(async () =>
          JSON.parse(await Deno.readTextFile(`${u}/avg_items.json`)) as AvgItems
        ),
      });
      const arm = byArm.get(r.arm) ?? new Map();
      for (const [metric, s] of stats) arm.set(metric, [...(arm.get(metric) ?? []), s]);
      byArm.set(r.arm, arm);
    }
    const rows: ItemRow[] = [];
    for (const [arm, metrics] of byArm) {
      for (const [metric, perSeed] of metrics) {
        const n = perSeed[0]!.items;
        if (perSeed.some((s) => s.items !== n)) continue; // seeds on different item sets
        const full = perSeed.map((s) => s.stat(Array.from({ length: n }, (_, i) => i)) * 100);
        const seedCi = full.length >= 2 ? summarize(full) : { ciLow: NaN, ciHigh: NaN };
        const b = bootstrapInterval(
          n,
          (idx) => meanOf(perSeed.map((s) => s.stat(idx))) * 100,
          {
            resamples: metric.startsWith("pb/")
              ? Math.max(1, Math.round(resamples / 5))
              : resamples,
            seed: options.seed ?? 0,
          },
        );
        rows.push({
          experiment,
          arm,
          metric,
          seeds: perSeed.length,
          items: n,
          mean: meanOf(full),
          seedLow: seedCi.ciLow,
          seedHigh: seedCi.ciHigh,
          itemLow: b.ciLow,
          itemHigh: b.ciHigh,
        });
      }
    }
    if (rows.length === 0) continue;
    if (options.write ?? true) {
      await Deno.writeTextFile(`${dir}/items_table.json`, JSON.stringify(rows, null, 1) + "\n");
      await Deno.writeTextFile(`${dir}/items_table.md`, itemTableMarkdown(experiment, rows));
    }
    all.push(...rows);
  }
  return all;
}
