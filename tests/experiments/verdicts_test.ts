/** The verdict table: rows, BH over claim and baseline rows, counts, markdown; the claim sets. */
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import {
  type Claim,
  evaluateClaim,
  evaluateLevels,
  metricSesoi,
} from "../../lib/experiments/_summary.ts";
import { verdictCounts, verdictMarkdown, verdictRows } from "../../lib/experiments/_verdicts.ts";
import type { UnitRecord } from "../../lib/experiments/_runner.ts";
import { PaperIndex } from "../../lib/report/paper.ts";
import { seedHalves } from "../../lib/report/stats.ts";
import { BASELINES, CLAIMS as CLAIMS_01 } from "../../lib/experiments/01_reward_models.ts";
import { CLAIMS as CLAIMS_08 } from "../../lib/experiments/08_processbench_protocols.ts";
import { CLAIMS as CLAIMS_07 } from "../../lib/experiments/07_p_min.ts";

function rec(arm: string, seed: number, metrics: Record<string, number>): UnitRecord {
  return {
    unit: `t__${arm}__${seed}`,
    ablation: "t",
    arm,
    seed,
    preset: "default",
    seconds: 1,
    finishedAt: "",
    metrics,
  };
}

Deno.test("verdictRows(): baselines first, BH over claim + baseline rows, levels last", async () => {
  const paper = await PaperIndex.load();
  // Seeds 1-4; RM F1 (fractions) and the random scorer in the same unit.
  const rm = [0.5, 0.52, 0.55, 0.53], rnd = [0.3, 0.31, 0.29, 0.3], dpo = [0.5, 0.49, 0.56, 0.5];
  const records = [1, 2, 3, 4].flatMap((s) => [
    rec("ipvrm", s, {
      "pb/rm_process/oracle/avg": rm[s - 1]!,
      "pb/random/oracle/avg": rnd[s - 1]!,
    }),
    rec("dpo", s, { "pb/rm_process/oracle/avg": dpo[s - 1]!, "pb/random/oracle/avg": rnd[s - 1]! }),
  ]);
  const claims = [
    evaluateClaim(records, CLAIMS_01[0]!, { paper }), // IPVRM - DPO-RM, PB F1 Avg.
    evaluateClaim(
      records,
      BASELINES.find((b) => b.id === "baseline_pb_process_ipvrm_vs_random")!,
      { paper },
    ),
  ];
  const levels = evaluateLevels(records, [{
    arm: "ipvrm",
    label: "IPVRM",
    metric: "pb/rm_process/oracle/avg",
    metricLabel: "PB F1 (%)",
    paper: 39.1,
    level: true,
    note: "a level",
  }], { paper });
  const rows = verdictRows([{ id: "01_reward_models", claims, levels }]);
  assertEquals(rows.map((r) => r.kind), ["baseline", "claim", "level"]);
  const [b, c, l] = rows as [typeof rows[0], typeof rows[0], typeof rows[0]];
  // Baseline: differences 20, 21, 26, 23 points: mean 22.5, reproduced; SESOI 1 (declared).
  assertAlmostEquals(b.mean!, 22.5, 1e-9);
  assertEquals(b.outcome, "reproduced");
  assertEquals(b.sesoi, 1);
  assertEquals(b.test, "paired");
  // Claim: differences 0, 3, -1, 3 points, P = 11.3, SESOI 5.65: CI contains 0, below 5.65.
  assertEquals(c.outcome, "absent");
  assertAlmostEquals(c.paper!, 11.3, 1e-9);
  // BH within each family: one row each, so q = p.
  assertAlmostEquals(b.q_bh!, b.p!, 1e-12);
  assertAlmostEquals(c.q_bh!, c.p!, 1e-12);
  // Halves {1, 2} and {3, 4}.
  assertEquals(b.outcome_first_half, "reproduced");
  assertEquals(l.outcome, null);
  assertAlmostEquals(l.mean!, 52.5, 1e-9);
  assertEquals(l.paper, 39.1);
  const counts = verdictCounts(rows);
  assertEquals(counts.rows, 2);
  assertEquals(counts.decided, 2);
  assertEquals(counts.levels, 1);
  const md = verdictMarkdown({
    preset: "default",
    seeds: [1, 2, 3, 4],
    halves: seedHalves([1, 2, 3, 4]),
    seconds: 12.345,
    counts,
    experiments: [],
    rows,
  });
  assert(md.includes("Decided (pooled): 2 of 2"), md);
  assert(md.includes("| 01_reward_models | IPVRM (process-level) − random |"), md);
  assert(md.includes("22.5 ["), md);
  assert(md.includes("run wall time 12.3 s"), md);
  // Percentages are points: no fraction of the F1 appears beside them.
  assert(!md.includes("0.525"), md);
});

Deno.test("claim sets: baselines for every RM, no 08 row copying 01's, no claim in 07", () => {
  const rms = ["dpo", "implicit_prm", "ipvrm"];
  for (const rm of rms) {
    for (const id of ["pb_process", "pb_prefix"]) {
      for (const b of ["random", "sft_logprob"]) {
        assert(BASELINES.some((c) => c.id === `baseline_${id}_${rm}_vs_${b}`), `${id} ${rm} ${b}`);
      }
    }
    for (const b of ["random", "sft_logprob", "majority"]) {
      assert(BASELINES.some((c) => c.id === `baseline_bon_${rm}_vs_${b}`), `bon ${rm} ${b}`);
    }
  }
  assert(BASELINES.every((c) => c.kind === "baseline"));
  const key = (c: (typeof CLAIMS_01)[0]) =>
    `${c.metric}|${c.treatment.arm}|${c.treatment.metric ?? ""}|${c.control.arm}|${
      c.control.metric ?? ""
    }`;
  const of01 = new Set([...CLAIMS_01, ...BASELINES].map(key));
  for (const c of CLAIMS_08) assert(!of01.has(key(c)), `08 copies 01: ${c.id}`);
  assertEquals(CLAIMS_07.length, 0);
});

Deno.test("every claim of every experiment has a SESOI: the paper's number or a declared one", async () => {
  const paper = await PaperIndex.load();
  const dir = new URL("../../lib/experiments/", import.meta.url);
  for await (const f of Deno.readDir(dir)) {
    if (!/^\d\d_.*\.ts$/.test(f.name)) continue;
    const m = await import(new URL(f.name, dir).href);
    for (const key of ["CLAIMS", "BASELINES"]) {
      for (const c of (m[key] ?? []) as Claim[]) {
        const pt = c.treatment.paper ? paper.value(c.treatment.paper) : null;
        const pc = c.control.paper ? paper.value(c.control.paper) : null;
        assert(
          (pt !== null && pc !== null && pt !== pc) || metricSesoi(c.metric) !== undefined,
          `${f.name} ${c.id}: no paper difference and no METRIC_SESOI entry for ${c.metric}`,
        );
      }
    }
  }
});
