import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  loadProcessBench,
  parseProcessBench,
  PROCESSBENCH_SPLITS,
} from "../../lib/data/processbench.ts";
import { DataError } from "../../lib/data/_errors.ts";
import { processBenchF1 } from "../../lib/eval/processbench.ts";

const FIX = new URL("../../data/fixtures/", import.meta.url).pathname;

Deno.test("loadProcessBench() reads every split fixture into typed rows (JSON array and JSONL agree)", async () => {
  for (const split of PROCESSBENCH_SPLITS) {
    const rows = await loadProcessBench(`${FIX}processbench_${split}.json`);
    if (rows.length < 3) throw new Error(split);
    for (const r of rows) {
      if (r.label >= r.steps.length || r.label < -1) throw new Error(`${r.id}: label`);
      if (!r.id.startsWith(split)) throw new Error(r.id);
    }
  }
  assertEquals(
    await loadProcessBench(`${FIX}processbench_math.jsonl`),
    await loadProcessBench(`${FIX}processbench_math.json`),
  );
});

Deno.test("malformed ProcessBench rows are reported with file and position, never skipped", async () => {
  const e = await assertRejects(() => loadProcessBench(`${FIX}processbench_bad.json`), DataError);
  const issues = (e as DataError).issues.map((i) => `${i.at}: ${i.message.split(":")[0]}`);
  assertEquals(issues, ["index 1: label", "index 2: steps"]);
  assertEquals((e as DataError).issues[0]!.file.endsWith("processbench_bad.json"), true);
  const e2 = await assertRejects(() => loadProcessBench(`${FIX}processbench_bad.jsonl`), DataError);
  assertEquals((e2 as DataError).issues.map((i) => i.at), ["line 2", "line 3"]);
  assertThrows(() => parseProcessBench("{}", { file: "x.json" }), DataError, "x.json line 1");
  assertThrows(() => parseProcessBench("[1,", { file: "x.json" }), DataError, "x.json file");
});

Deno.test("ProcessBench F1 runs end to end on the fixtures with synthetic step scores", async () => {
  // synthetic scores: 1 for steps before the label, -1 at and after it; the oracle then gets F1 1
  const perSplit: number[] = [];
  for (const split of PROCESSBENCH_SPLITS) {
    const rows = await loadProcessBench(`${FIX}processbench_${split}.json`);
    const scored = rows.map((r) => ({
      label: r.label,
      scores: r.steps.map((_, k) => (r.label === -1 || k < r.label ? 1 : -1)),
    }));
    const res = processBenchF1(scored);
    assertEquals([res.f1, res.threshold], [1, 1]);
    // uninformative scores: every step 0 -> at best one class right, F1 0
    assertEquals(
      processBenchF1(rows.map((r) => ({ label: r.label, scores: r.steps.map(() => 0) }))).f1,
      0,
    );
    perSplit.push(res.f1);
  }
  assertEquals(perSplit.reduce((a, b) => a + b) / perSplit.length, 1);
});
