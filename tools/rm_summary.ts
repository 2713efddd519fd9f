/**
 * Summarises the reward-model CLI runs (`deno task rm ...`, results in
 * `results/rm/<run_id>/results.jsonl`) of one preset: per RM, the mean over seeds with a
 * 95% t interval of ProcessBench-analogue F1 (oracle; process-level and prefix-based) and
 * best-of-N accuracy, the paper's Qwen3-0.6B numbers beside them (Tables 1 and 2), and the
 * paired difference IPVRM - other with a verdict (lib/report/stats.ts); then IPVRM's
 * temporal weightings (Tables 3 and 4: early - uniform on ProcessBench, late - uniform on
 * best-of-N over the MATH-500 analogue).
 *
 *     deno run -A tools/rm_summary.ts [--preset default] [--results results/rm]
 * @module
 */
import { argValue } from "../lib/cli/_args.ts";
import { PaperIndex } from "../lib/report/paper.ts";
import { pairedDifference, summarize, verdict } from "../lib/report/stats.ts";
import { readJsonl } from "../lib/run/results.ts";

const preset = argValue(Deno.args, "--preset") ?? "default";
const root = argValue(Deno.args, "--results") ?? "results/rm";
const KINDS = [
  { run: "dpo", paper: "DPO-RM" },
  { run: "implicit-prm", paper: "Implicit PRM" },
  { run: "ipvrm", paper: "IPVRM" },
] as const;

interface Scores {
  seed: number;
  pbProcess: number;
  pbPrefix: number;
  bon: number;
  bonMath500: number;
  baselines: Record<string, number>;
}

async function runsOf(kind: string): Promise<Scores[]> {
  const out: Scores[] = [];
  for await (const e of Deno.readDir(root)) {
    const m = e.name.match(new RegExp(`^rm__${kind}-${preset}__(\\d+)$`));
    if (!m) continue;
    const { records } = await readJsonl(`${root}/${e.name}/results.jsonl`, { missingOk: true });
    // deno-lint-ignore no-explicit-any
    const pb = records.findLast((r: any) => r.type === "processbench") as any;
    // deno-lint-ignore no-explicit-any
    const bon = records.findLast((r: any) => r.type === "bon") as any;
    if (!pb || !bon) continue;
    out.push({
      seed: Number(m[1]),
      pbProcess: pb.scorers.rm_process.oracle.mean,
      pbPrefix: pb.scorers.rm_prefix.oracle.mean,
      bon: bon.average.rm,
      bonMath500: bon.bySplit.math500?.rm?.mean ?? NaN,
      baselines: {
        "PB sft_logprob": pb.scorers.sft_logprob.oracle.mean,
        "PB random": pb.scorers.random.oracle.mean,
        "BoN sft_logprob": bon.average.sft_logprob,
        "BoN random": bon.average.random,
        "BoN majority": bon.average.majority,
      },
    });
  }
  return out.sort((a, b) => a.seed - b.seed);
}

const pct = (x: number) => (100 * x).toFixed(1);
function cell(xs: number[]): string {
  if (xs.length < 2) return xs.length ? `${pct(xs[0]!)} (n=1)` : "-";
  const s = summarize(xs);
  return `${pct(s.mean)} [${pct(s.ciLow)}, ${pct(s.ciHigh)}] (n=${s.n})`;
}

const paper = await PaperIndex.load();
const runs = Object.fromEntries(
  await Promise.all(KINDS.map(async (k) => [k.run, await runsOf(k.run)] as const)),
);
const lines = [
  `Reward models on the \`${preset}\` preset (mean [95% CI] over seeds, %; paper = Qwen3-0.6B)`,
  "",
  "| RM | seeds | PB F1 process (oracle) | paper T2 avg | PB F1 prefix (oracle) | BoN avg @4/16/64 | paper T1 avg |",
  "|---|---|---|---|---|---|---|",
];
for (const k of KINDS) {
  const r = runs[k.run] ?? [];
  const row = `Qwen3-0.6B | ${k.paper}`;
  lines.push(
    `| ${k.paper} | ${r.map((x) => x.seed).join(",")} | ${cell(r.map((x) => x.pbProcess))} | ${
      paper.value({ table: 2, row, column: "Avg." })
    } | ${cell(r.map((x) => x.pbPrefix))} | ${cell(r.map((x) => x.bon))} | ${
      paper.value({ table: 1, row, column: "Avg." })
    } |`,
  );
}
const any = Object.values(runs).find((r) => r.length > 0)?.[0];
if (any) {
  for (const name of Object.keys(any.baselines)) {
    const xs = Object.values(runs).flat().map((r) => r.baselines[name]!);
    lines.push(
      `| baseline: ${name} | - | ${pct(xs.reduce((a, b) => a + b, 0) / xs.length)} | | | | |`,
    );
  }
}
lines.push(
  "",
  "Paired differences over common seeds (IPVRM - other; the paper claims higher):",
  "",
);
lines.push("| comparison | metric | difference [95% CI] | verdict |", "|---|---|---|---|");
for (const other of ["dpo", "implicit-prm"] as const) {
  const a = runs["ipvrm"] ?? [];
  const b = runs[other] ?? [];
  const seeds = a.map((x) => x.seed).filter((s) => b.some((y) => y.seed === s));
  for (const metric of ["pbProcess", "bon"] as const) {
    const ta = seeds.map((s) => a.find((x) => x.seed === s)![metric]);
    const tb = seeds.map((s) => b.find((x) => x.seed === s)![metric]);
    if (seeds.length < 2) {
      lines.push(
        `| IPVRM - ${other} | ${metric} | n=${seeds.length} | inconclusive (fewer than 2 seeds) |`,
      );
      continue;
    }
    const d = pairedDifference(ta, tb);
    const v = verdict(d, { direction: "higher" });
    lines.push(
      `| IPVRM - ${other} | ${metric} | ${pct(d.mean)} [${pct(d.ciLow)}, ${
        pct(d.ciHigh)
      }] (n=${d.n}) | ${v.verdict} |`,
    );
  }
}

// Temporal weighting (Tables 3, 4): the paper's Qwen3-0.6B rows.
const WEIGHTINGS = [
  { run: "ipvrm", paper: "IPVRM" },
  { run: "ipvrm-early", paper: "IPVRM_early" },
  { run: "ipvrm-late", paper: "IPVRM_late" },
] as const;
const wruns = Object.fromEntries(
  await Promise.all(WEIGHTINGS.map(async (k) => [k.run, await runsOf(k.run)] as const)),
);
lines.push(
  "",
  "IPVRM temporal weighting (mean [95% CI], %; paper = Qwen3-0.6B):",
  "",
  "| weighting | seeds | PB F1 process (oracle) | paper T4 avg | BoN MATH-500 analogue @4/16/64 | paper T3 avg |",
  "|---|---|---|---|---|---|",
);
for (const k of WEIGHTINGS) {
  const r = wruns[k.run] ?? [];
  const row = `Qwen3-0.6B | ${k.paper}`;
  lines.push(
    `| ${k.paper} | ${r.map((x) => x.seed).join(",")} | ${cell(r.map((x) => x.pbProcess))} | ${
      paper.value({ table: 4, row, column: "Avg." })
    } | ${cell(r.map((x) => x.bonMath500))} | ${paper.value({ table: 3, row, column: "Avg." })} |`,
  );
}
lines.push("", "| comparison | metric | difference [95% CI] | paper's direction | verdict |");
lines.push("|---|---|---|---|---|");
for (
  const [arm, metric, direction] of [
    ["ipvrm-early", "pbProcess", "higher"],
    ["ipvrm-late", "bonMath500", "higher"],
  ] as const
) {
  const a = wruns[arm] ?? [];
  const b = wruns["ipvrm"] ?? [];
  const seeds = a.map((x) => x.seed).filter((s) => b.some((y) => y.seed === s));
  if (seeds.length < 2) {
    lines.push(
      `| ${arm} - uniform | ${metric} | n=${seeds.length} | ${direction} | inconclusive (fewer than 2 seeds) |`,
    );
    continue;
  }
  const d = pairedDifference(
    seeds.map((s) => a.find((x) => x.seed === s)![metric]),
    seeds.map((s) => b.find((x) => x.seed === s)![metric]),
  );
  lines.push(
    `| ${arm} - uniform | ${metric} | ${pct(d.mean)} [${pct(d.ciLow)}, ${
      pct(d.ciHigh)
    }] (n=${d.n}) | ${direction} | ${verdict(d, { direction }).verdict} |`,
  );
}
console.log(lines.join("\n"));
