import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  loadPaperTable,
  loadPaperTables,
  PAPER_SOURCE,
  PaperIndex,
  validatePaperTable,
} from "../../lib/report/paper.ts";

Deno.test("every data/paper table loads, Tables 1-14, every value finite", async () => {
  const tables = await loadPaperTables();
  assertEquals(tables.map((t) => t.table), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  // Cell counts = rows x columns as printed (Table 14 lacks its last row in the source).
  const counts = tables.map((t) => t.values.length);
  assertEquals(counts, [140, 100, 24, 30, 192, 72, 16, 18, 24, 6, 6, 80, 12, 25]);
  for (const t of tables) {
    assertEquals(t.source, PAPER_SOURCE);
    for (const v of t.values) assertEquals(Number.isFinite(v.value), true, `${t.table} ${v.row}`);
  }
});

Deno.test("spot checks read by hand from the paper text", async () => {
  const p = await PaperIndex.load();
  const cases: [number, string, string, number][] = [
    [1, "Qwen3-0.6B | IPVRM", "Avg.", 28.1],
    [1, "Llama3.2-3B | Q-RM", "Minerva-Math | @16", 9.9],
    [2, "Qwen3-0.6B | IPVRM", "Avg.", 39.1],
    [2, "Qwen3-0.6B | DPO-RM", "GSM8K", 32.1],
    [3, "Qwen3-0.6B | IPVRM_late", "MATH-500 | @64", 50.0],
    [4, "Llama3.2-1B | IPVRM_early", "OmniMath", 31.4],
    [5, "Qwen3-8B | DistRL w/ IPVRM", "AIME", 8.2],
    [5, "Llama3.2-3B | GRPO w/ VR", "MATH-500", 29.8],
    [6, "Qwen3-0.6B | DistRL w/ Implicit PRM", "Avg.", 14.7],
    [7, "Qwen3-0.6B", "RM score | DistRL", -0.14],
    [7, "Llama3.2-3B", "Verifier acc. | GRPO", 15.5],
    [8, "IPVRM w/ ADB/DLW", "Avg.", 16.2],
    [9, "Llama3.2-1B | SFT Model", "AMC", 2.1],
    [10, "m=0", "BoN-AVG", 26.1],
    [11, "P_min=0.10", "Prob. Mass Coverage", 96.11],
    [12, "Llama3.2-3B | @64", "IPVRM", 17.5],
    [13, "Qwen3-0.6B | GRPO", "Avg Time / Step (s) | ±", 27.1],
    [14, "Prefix-based | IPVRM", "Avg.", 32.1],
  ];
  for (const [table, row, column, value] of cases) {
    assertEquals(p.value({ table, row, column }), value, `Table ${table} ${row} ${column}`);
  }
  assertEquals(p.unit({ table: 11, row: "P_min=0.05", column: "Prob. Mass Coverage" }), "%");
  assertEquals(p.unit({ table: 2, row: "Qwen3-0.6B | IPVRM", column: "GSM8K" }), "F1 (%)");
});

Deno.test("printed averages agree with their cells to rounding (transcription check)", async () => {
  // Every 'Avg.' the paper prints is the mean of the cells it summarises, to +-0.05
  // (one-decimal rounding); a misplaced or mistyped cell would break this.
  const p = await PaperIndex.load();
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const check = (table: number, of: (row: string) => number) => {
    for (const row of p.rows(table)) {
      const got = p.value({ table, row, column: "Avg." });
      const want = of(row);
      assertEquals(
        Math.abs(got - want) <= 0.0501,
        true,
        `Table ${table} ${row}: ${got} vs ${want}`,
      );
    }
  };
  const v = (table: number, row: string, column: string) => p.value({ table, row, column });
  const bon = (t: number, r: string, d: string) =>
    avg(["@4", "@16", "@64"].map((n) => v(t, r, `${d} | ${n}`)));
  check(1, (r) => (bon(1, r, "MATH-500") + bon(1, r, "Minerva-Math")) / 2);
  check(3, (r) => bon(3, r, "MATH-500"));
  const pb = ["GSM8K", "MATH", "OlympiadBench", "OmniMath"];
  for (const t of [2, 4, 14]) check(t, (r) => avg(pb.map((c) => v(t, r, c))));
  const pol = ["AIME", "MATH-500", "Minerva-Math", "OlympiadBench", "AMC"];
  for (const t of [5, 6, 8, 9]) check(t, (r) => avg(pol.map((c) => v(t, r, c))));
  for (const b of ["Qwen3-0.6B", "Qwen3-8B", "Llama3.2-1B", "Llama3.2-3B"]) {
    for (const m of p.columns(12)) {
      const want = avg(["@4", "@16", "@64"].map((n) => v(12, `${b} | ${n}`, m)));
      assertEquals(Math.abs(v(12, `${b} | AVG`, m) - want) <= 0.0501, true, `Table 12 ${b} ${m}`);
    }
  }
});

Deno.test("lookups name the bad row/column/table", async () => {
  const p = await PaperIndex.load();
  assertThrows(
    () => p.value({ table: 2, row: "Qwen3-0.6B | ipvrm", column: "Avg." }),
    RangeError,
    "Invalid ref.row",
  );
  assertThrows(
    () => p.value({ table: 2, row: "Qwen3-0.6B | IPVRM", column: "Avg" }),
    RangeError,
    "Invalid ref.column",
  );
  assertThrows(() => p.value({ table: 15, row: "x", column: "y" }), RangeError, "Invalid table");
  // The Process-level IPVRM row of Table 14 is missing from the source text.
  assertThrows(
    () => p.value({ table: 14, row: "Process-level | IPVRM", column: "Avg." }),
    RangeError,
    "Invalid ref.row",
  );
  await assertRejects(() => loadPaperTable(0), RangeError, "Invalid table");
});

Deno.test("validatePaperTable() rejects malformed tables with the field named", () => {
  const ok = {
    table: 1,
    title: "t",
    caption: "c",
    source: PAPER_SOURCE,
    unit: "%",
    values: [{ row: "a", column: "b", value: 1 }],
  };
  assertEquals(validatePaperTable(ok, "x.json").table, 1);
  assertThrows(
    () => validatePaperTable({ ...ok, source: "arXiv" }, "x.json"),
    TypeError,
    "x.json: source",
  );
  assertThrows(
    () => validatePaperTable({ ...ok, values: [{ row: "a", column: "b", value: "1" }] }, "x.json"),
    TypeError,
    "values[0].value: expected a finite number",
  );
  assertThrows(
    () => validatePaperTable({ ...ok, values: [ok.values[0], ok.values[0]] }, "x.json"),
    TypeError,
    "values[1]: expected a unique (row, column)",
  );
});
