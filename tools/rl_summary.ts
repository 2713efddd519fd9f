/**
 * Summarises the RL CLI runs (`deno task rl --method M --preset P --seed S`, results in
 * `results/rl/<run_id>/metrics.jsonl`) of one preset: per method, avg@8 per split at the first
 * and the last evaluation beside the paper's Table 5 (Qwen3-0.6B rows), the time per step
 * (median of `time/step_ms`, and of its rollout / update parts), the mean verifier accuracy and
 * RM score over steps, and the final candidate-set size and mass. Seeds are listed separately;
 * with several seeds per method the avg@8 column is the mean with a 95% t interval.
 *
 *     deno run -A tools/rl_summary.ts [--preset default] [--results results/rl]
 * @module
 */
import { argValue } from "../lib/cli/_args.ts";
import { PaperIndex } from "../lib/report/paper.ts";
import { summarize } from "../lib/report/stats.ts";
import { readJsonl } from "../lib/run/results.ts";

const preset = argValue(Deno.args, "--preset") ?? "default";
const root = argValue(Deno.args, "--results") ?? "results/rl";

const METHODS = [
  { run: "grpo-vr", paper: "GRPO w/ VR" },
  { run: "prime-implicit-prm", paper: "PRIME" },
  { run: "grpo-ipvrm-ipvrm", paper: "GRPO w/ IPVRM" },
  { run: "distrl-ipvrm", paper: "DistRL w/ IPVRM" },
] as const;
const SPLITS = [
  ["aime", "AIME"],
  ["math500", "MATH-500"],
  ["minerva", "Minerva-Math"],
  ["olympiadbench", "OlympiadBench"],
  ["amc", "AMC"],
  ["mean", "Avg."],
] as const;

type Rec = Record<string, number | string>;

interface Run {
  seed: number;
  first: Rec;
  last: Rec;
  train: Rec[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};
const mean = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
const pct = (x: number) => Number.isFinite(x) ? (100 * x).toFixed(1) : "n/a";

async function runsOf(kind: string): Promise<Run[]> {
  const out: Run[] = [];
  for await (const e of Deno.readDir(root)) {
    const m = e.name.match(new RegExp(`^rl__${kind}-paper-${preset}__(\\d+)$`));
    if (!m) continue;
    const { records } = await readJsonl<Rec>(`${root}/${e.name}/metrics.jsonl`, {
      missingOk: true,
    });
    // a resumed run may repeat steps: the last record of a step wins
    const evals = new Map<number, Rec>(), train = new Map<number, Rec>();
    for (const r of records) (r.kind === "eval" ? evals : train).set(Number(r.step), r);
    const e0 = [...evals.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    if (e0.length < 2) continue;
    out.push({
      seed: Number(m[1]),
      first: e0[0]!,
      last: e0.at(-1)!,
      train: [...train.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r),
    });
  }
  return out.sort((a, b) => a.seed - b.seed);
}

const paper = await PaperIndex.load();
const lines: string[] = [];
lines.push(`# RL runs, preset ${preset} (${root})`, "");
lines.push(
  "avg@8 (%, temperature 0.6, top-p 0.95) at the last evaluation; `SFT` = the same policy at step 0. " +
    "Paper: Table 5, Qwen3-0.6B. With one seed the interval is not defined (n = 1).",
  "",
);
lines.push(
  `| method | seeds | steps | ${
    SPLITS.map(([, c]) => c).join(" | ")
  } | paper Avg. | SFT Avg. (ours / paper) |`,
);
lines.push(`|---|---|---|${SPLITS.map(() => "---").join("|")}|---|---|`);
const timing: string[] = [];
for (const m of METHODS) {
  const runs = await runsOf(m.run);
  if (runs.length === 0) {
    lines.push(`| ${m.paper} | – | not run |${SPLITS.map(() => " |").join("")} | |`);
    continue;
  }
  const cells = SPLITS.map(([s]) => {
    const xs = runs.map((r) => Number(r.last[`eval/avg/${s}`]));
    if (xs.length < 2) return pct(xs[0]!);
    const e = summarize(xs);
    return `${pct(e.mean)} [${pct(e.ciLow)}, ${pct(e.ciHigh)}]`;
  });
  const sft = mean(runs.map((r) => Number(r.first["eval/avg/mean"])));
  const p = paper.value({ table: 5, row: `Qwen3-0.6B | ${m.paper}`, column: "Avg." });
  const pSft = paper.value({ table: 5, row: "Qwen3-0.6B | SFT", column: "Avg." });
  lines.push(
    `| ${m.paper} | ${runs.map((r) => r.seed).join(",")} | ${runs[0]!.last.step} | ${
      cells.join(" | ")
    } | ${p ?? "–"} | ${pct(sft)} / ${pSft ?? "–"} |`,
  );
  const tr = runs.flatMap((r) => r.train);
  const col = (k: string) => tr.map((r) => Number(r[k])).filter(Number.isFinite);
  timing.push(
    `| ${m.paper} | ${(median(col("time/step_ms")) / 1000).toFixed(1)} | ${
      (median(col("time/rollout_ms")) / 1000).toFixed(1)
    } | ${(median(col("time/update_ms")) / 1000).toFixed(1)} | ${
      pct(mean(col("verifier/accuracy")))
    } | ${col("rm/score").length ? mean(col("rm/score")).toFixed(3) : "–"} | ${
      col("cand/size").length ? mean(col("cand/size")).toFixed(2) : "–"
    } | ${col("cand/mass").length ? pct(mean(col("cand/mass"))) : "–"} | ${
      col("rm/acc_before").length ? pct(mean(col("rm/acc_before"))) : "–"
    } |`,
  );
}
lines.push("", "Per step (medians over steps; means for the rest):", "");
lines.push(
  "| method | s / step | rollout s | update s | verifier acc. (%) | RM score (Eq. 19) | cand. size | cand. mass (%) | RM pair acc. before update (%) |",
);
lines.push("|---|---|---|---|---|---|---|---|---|");
lines.push(...timing);
console.log(lines.join("\n"));
