import { assert, assertEquals } from "@std/assert";
import {
  claimTable,
  evaluateClaim,
  formatArmDiffs,
  overridePaths,
  overridesObject,
  readingOf,
  writeReport,
} from "../../lib/experiments/_summary.ts";
import type { UnitRecord } from "../../lib/experiments/_runner.ts";
import { PaperIndex } from "../../lib/report/paper.ts";
import { barWithErrors } from "../../lib/report/figures.ts";
import { resolveRMConfig, type RMConfig } from "../../lib/rm/config.ts";

function rec(arm: string, seed: number, x: number): UnitRecord {
  return {
    unit: `t__${arm}__${seed}`,
    ablation: "t",
    arm,
    seed,
    preset: "default",
    seconds: 1,
    finishedAt: "",
    metrics: { f1: x },
  };
}

const claim = {
  id: "c",
  metric: "f1",
  metricLabel: "PB F1 Avg. (%)",
  treatment: {
    arm: "ipvrm",
    label: "IPVRM",
    paper: { table: 2, row: "Qwen3-0.6B | IPVRM", column: "Avg." },
  },
  control: {
    arm: "dpo",
    label: "DPO-RM",
    paper: { table: 2, row: "Qwen3-0.6B | DPO-RM", column: "Avg." },
  },
};

Deno.test("evaluateClaim() pairs shared seeds and calls the verdict from the interval", async () => {
  const paper = await PaperIndex.load();
  const up = [
    rec("ipvrm", 1, 0.5),
    rec("ipvrm", 2, 0.52),
    rec("ipvrm", 3, 0.55),
    rec("dpo", 1, 0.4),
    rec("dpo", 2, 0.41),
    rec("dpo", 3, 0.43),
  ];
  const r = evaluateClaim(up, claim, { paper });
  assertEquals(r.diff?.kind, "paired");
  assertEquals(r.verdict.verdict, "reproduced");
  assertEquals(r.direction, "higher");
  const down = up.map((x) => x.arm === "dpo" ? { ...x, metrics: { f1: x.metrics.f1! + 0.3 } } : x);
  assertEquals(evaluateClaim(down, claim, { paper }).verdict.verdict, "opposite");
  const one = up.filter((x) => x.seed < 2);
  assertEquals(evaluateClaim(one, claim, { paper }).verdict.verdict, "inconclusive");
  // Halves of seeds 1-3: {1, 2} and {3}; the second has no interval.
  assertEquals(r.halves.seeds, [[1, 2], [3]]);
  assertEquals(r.halves.first, "reproduced");
  assertEquals(r.halves.second, null);
  // Table 2: IPVRM 39.1 vs DPO-RM 27.8 -> P = 11.3, SESOI 5.65.
  assertEquals(r.paperDiff !== null && Math.abs(r.paperDiff - 11.3) < 1e-9, true);
  assertEquals(Math.abs(r.sesoi - 5.65) < 1e-9, true);
  const table = claimTable([r], { paper, records: up });
  assertEquals(table.height, 3);
  const reading = readingOf([r], { preset: "default", seeds: [1, 2, 3] });
  assert(reading.includes("**reproduced**"));
});

Deno.test("formatArmDiffs() lists each changed path with its reason", () => {
  const text = formatArmDiffs<RMConfig>([{
    name: "late",
    overrides: [{ set: { ipvrm: { weighting: "late" } }, reason: "Eq. 18" }],
  }], {
    resolve: (o) => resolveRMConfig("smoke", o),
    base: "rm",
  });
  assert(text.includes('ipvrm.weighting: "uniform" -> "late"    # Eq. 18'), text);
});

Deno.test("overridesObject() merges typed overrides, later ones winning", () => {
  const o = overridesObject<RMConfig>([
    { set: { ipvrm: { margin: 0 } }, reason: "a" },
    { set: { ipvrm: { weighting: "late" }, kind: "ipvrm" }, reason: "b" },
    { set: { ipvrm: { margin: 10 } }, reason: "c" },
  ]);
  assertEquals(o, { ipvrm: { margin: 10, weighting: "late" }, kind: "ipvrm" });
  assertEquals(overridePaths({ ipvrm: { margin: 0 }, kind: "dpo" }), ["ipvrm.margin", "kind"]);
});

Deno.test("writeReport() writes a figure bundle, the table, the reading and the index", async () => {
  const root = await Deno.makeTempDir();
  const paper = await PaperIndex.load();
  const recs = [
    rec("ipvrm", 1, 0.5),
    rec("ipvrm", 2, 0.6),
    rec("dpo", 1, 0.4),
    rec("dpo", 2, 0.45),
  ];
  const table = claimTable([evaluateClaim(recs, claim, { paper })], { paper, records: recs });
  const spec = barWithErrors([{ name: "a", mean: 1, ciLow: 0, ciHigh: 2 }], { title: "t" });
  await writeReport(`${root}/01_demo`, {
    figures: [{ name: "bar", spec }],
    table,
    reading: "r",
    caption: "c",
    images: false,
  });
  for (
    const f of ["bar.json", "bar.html", "comparison.parquet", "comparison.table.json", "reading.md"]
  ) {
    await Deno.stat(`${root}/01_demo/${f}`);
  }
  const index = await Deno.readTextFile(`${root}/index.html`);
  assert(index.includes("01_demo"));
  await Deno.remove(root, { recursive: true });
});
