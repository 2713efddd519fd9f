import { assert, assertEquals, assertThrows } from "@std/assert";
import { PaperIndex } from "../../lib/report/paper.ts";
import { summarize, verdict, welchDifference } from "../../lib/report/stats.ts";
import {
  COMPARISON_COLUMNS,
  comparisonTable,
  readTable,
  readTableJson,
  toHtml,
  toMarkdown,
  writeTable,
} from "../../lib/report/tables.ts";

async function demo() {
  const paper = await PaperIndex.load();
  const ipvrm = [38.0, 40.2, 39.5];
  const dpo = [27.1, 28.0, 26.5];
  const diff = welchDifference(ipvrm, dpo);
  return comparisonTable([
    {
      row: "IPVRM",
      metric: "PB F1 Avg.",
      ours: summarize(ipvrm),
      paper: { table: 2, row: "Qwen3-0.6B | IPVRM", column: "Avg." },
    },
    {
      row: "DPO-RM",
      metric: "PB F1 Avg.",
      ours: summarize(dpo),
      paper: { table: 2, row: "Qwen3-0.6B | DPO-RM", column: "Avg." },
    },
    {
      row: "IPVRM - DPO-RM",
      metric: "PB F1 Avg.",
      ours: diff,
      paper: 39.1 - 27.8,
      verdict: verdict(diff, { direction: "higher" }).verdict,
    },
    { row: "no paper | value", metric: "x", ours: { mean: 1, ciLow: 0.5, ciHigh: 1.5, n: 3 } },
  ], { paper });
}

Deno.test("comparisonTable() puts ours beside the paper's with the verdict", async () => {
  const df = await demo();
  assertEquals(df.columns, [...COMPARISON_COLUMNS]);
  assertEquals(df.height, 4);
  const rows = df.toRecords();
  assertEquals(rows[0]!.paper, 39.1);
  assertEquals(rows[0]!.paper_ref, "Table 2 · Qwen3-0.6B | IPVRM · Avg.");
  assertEquals(rows[0]!.n_seeds, 3);
  assertEquals(rows[2]!.verdict, "reproduced");
  assertEquals(rows[3]!.paper, null);
  assertEquals(rows[3]!.verdict, null);
});

Deno.test("toMarkdown() / toHtml() render every cell, escaped", async () => {
  const df = await demo();
  const md = toMarkdown(df, { digits: 4, caption: "F1" }); // 4 significant digits
  const lines = md.trim().split("\n");
  assertEquals(lines[0], "**F1**");
  assertEquals(lines[2], `| ${COMPARISON_COLUMNS.join(" | ")} |`);
  assertEquals(lines.length, 2 + 2 + 4);
  assert(md.includes("| IPVRM | PB F1 Avg. | 39.23 |"), md);
  assert(md.includes("no paper \\| value"), "pipes escaped");
  const html = toHtml(df, { caption: "<F1>" });
  assert(html.includes("<caption>&lt;F1&gt;</caption>"));
  assertEquals(html.split("<tr>").length - 1, 5);
  assert(html.includes('<td class="verdict reproduced">reproduced</td>'));
  assert(html.includes('<td class="num">39.1</td>')); // 3 significant digits
});

Deno.test("writeTable() round-trips through parquet and JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl_tables_" });
  try {
    const df = await demo();
    const out = await writeTable(df, `${dir}/sub/summary`, { caption: "F1" });
    const back = readTable(out.parquet);
    assertEquals(back.columns, df.columns);
    assertEquals(back.toRecords(), df.toRecords());
    const j = await readTableJson(out.json);
    assertEquals(j.columns, df.columns);
    assertEquals(j.rows, df.toRecords());
    assertEquals(j.caption, "F1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("table functions name bad arguments", () => {
  assertThrows(
    () =>
      comparisonTable([{ row: "a", metric: "m", ours: { mean: NaN, ciLow: 0, ciHigh: 1, n: 3 } }]),
    TypeError,
    "Invalid rows[0].ours.mean",
  );
  assertThrows(
    () =>
      comparisonTable([{
        row: "a",
        metric: "m",
        ours: { mean: 1, ciLow: 0, ciHigh: 1, n: 3 },
        paper: { table: 2, row: "x", column: "y" },
      }]),
    TypeError,
    "Invalid options.paper",
  );
  assertThrows(() => readTable("x.csv"), TypeError, "Invalid path");
});
