// Tests of lib/conformance/ops_eval.ts (kept beside the eval tests it exercises).
import { assertAlmostEquals, assertEquals, assertStringIncludes } from "@std/assert";
import { runCase } from "../../lib/conformance/run.ts";

async function run(op: string, args: unknown): Promise<Record<string, unknown>> {
  return await runCase(JSON.stringify({ id: "t", op, args }));
}
async function out(op: string, args: unknown): Promise<Record<string, unknown>> {
  const r = await run(op, args);
  if (r.error !== undefined) throw new Error(`unexpected error: ${r.error}`);
  return r.out as Record<string, unknown>;
}
async function err(op: string, args: unknown, name: string): Promise<void> {
  const r = await run(op, args);
  if (typeof r.error !== "string") {
    throw new Error(`expected an error naming ${name}, got ${JSON.stringify(r)}`);
  }
  assertEquals(r.error.startsWith(name), true, `error should start with ${name}: ${r.error}`);
}

Deno.test("op step_scores: process and prefix raw sums; bad input names the argument", async () => {
  assertEquals(await out("step_scores", { logratio: [1, 2, 3, 4], step_ends: [1, 3] }), {
    scores: [1, 5],
  });
  assertEquals(
    await out("step_scores", { logratio: [1, 2, 3, 4], step_ends: [1, 3], mode: "prefix" }),
    { scores: [1, 6] },
  );
  await err("step_scores", { logratio: [1, null], step_ends: [1] }, "logratio");
  await err("step_scores", { step_ends: [1] }, "logratio");
  await err("step_scores", { logratio: [1, 2], step_ends: [2, 2] }, "step_ends");
  await err("step_scores", { logratio: [1, 2], step_ends: [3] }, "step_ends");
  await err("step_scores", { logratio: [1, 2], step_ends: [1], mode: "sum" }, "mode");
  // 1e999 parses to Infinity
  const r = await runCase(
    '{"id":"x","op":"step_scores","args":{"logratio":[1e999],"step_ends":[1]}}',
  );
  assertStringIncludes(String(r.error), "logratio");
});

Deno.test("op processbench_f1: the d1 worked check, fixed threshold, and errors", async () => {
  const rows = [
    { label: -1, scores: [0.8, 0.7, 0.9] },
    { label: -1, scores: [0.6, 0.4] },
    { label: 1, scores: [0.9, 0.3, 0.5] },
    { label: 0, scores: [0.2, 0.6] },
  ];
  assertEquals(await out("processbench_f1", { rows }), {
    f1: 1,
    acc_erroneous: 1,
    acc_correct: 1,
    threshold: 0.4,
  });
  const fixed = await out("processbench_f1", { rows, threshold: 0.5 });
  assertAlmostEquals(fixed.f1 as number, 2 / 3, 1e-12);
  assertEquals([fixed.acc_erroneous, fixed.acc_correct, fixed.threshold], [1, 0.5, 0.5]);
  await err("processbench_f1", { rows: rows.slice(0, 2) }, "rows");
  await err("processbench_f1", { rows: [{ label: 0, scores: [NaN] }] }, "rows[0].scores");
  await err(
    "processbench_f1",
    { rows: [{ label: 0, scores: [1, null] }, rows[0]] },
    "rows[0].scores",
  );
  await err("processbench_f1", { rows: [{ label: 5, scores: [1] }, rows[0]] }, "rows[0].label");
  await err("processbench_f1", { rows: [{ label: 0.5, scores: [1] }, rows[0]] }, "rows[0].label");
  await err("processbench_f1", { rows: [{ label: 0 }, rows[0]] }, "rows[0].scores");
  await err("processbench_f1", { rows: [null, rows[0]] }, "rows[0]");
  await err("processbench_f1", { rows: "x" }, "rows");
  await err("processbench_f1", { rows, threshold: "best" }, "threshold");
});

Deno.test("op best_of_n: default ns, N > samples and bad labels are errors", async () => {
  const scores = [Array.from({ length: 64 }, (_, i) => i % 7)];
  const correct = [Array.from({ length: 64 }, (_, i) => (i === 6 ? 1 : 0))];
  // @4: max 3 at index 3 (wrong); @16 and @64: max 6 first at index 6 (right)
  assertEquals(await out("best_of_n", { scores, correct }), {
    accuracy: { "4": 0, "16": 1, "64": 1 },
    mean: 2 / 3,
  });
  await err("best_of_n", { scores: [[1, 2]], correct: [[0, 1]] }, "ns");
  await err("best_of_n", { scores: [[1, 2]], correct: [[0, 2]], ns: [2] }, "correct");
  await err("best_of_n", { scores: [[1, 2]], correct: [[0, 1, 1]], ns: [2] }, "correct");
  await err("best_of_n", { scores: [[1, null]], correct: [[0, 1]], ns: [2] }, "scores");
  await err("best_of_n", { scores: [], correct: [], ns: [2] }, "scores");
  await err("best_of_n", { scores: [[1, 2]], correct: [[0, 1]], ns: [0] }, "ns");
  await err("best_of_n", { scores: [[1, 2]], correct: [[0, 1]], ns: [1.5] }, "ns");
});

Deno.test("op avg_at_k: avg and pass; errors name correct", async () => {
  assertEquals(await out("avg_at_k", { correct: [[1, 0], [0, 0]] }), { avg: 0.25, pass: 0.5 });
  await err("avg_at_k", { correct: [[1, 0], [1]] }, "correct");
  await err("avg_at_k", { correct: [[1, 0.5]] }, "correct");
  await err("avg_at_k", { correct: [] }, "correct");
  await err("avg_at_k", {}, "correct");
});
