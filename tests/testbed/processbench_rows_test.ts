import { assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import { processBenchRow, stepTokenEnds } from "../../lib/testbed/processbench_rows.ts";
import { renderResponse } from "../../lib/testbed/format.ts";
import { writeSftSolution } from "../../lib/testbed/misconceptions.ts";
import { generateProblem } from "../../lib/testbed/task.ts";
import { checkRows } from "../../lib/eval/processbench.ts";
import { stepScores } from "../../lib/eval/step_scores.ts";

Deno.test("processBenchRow(): steps concatenate to the response, labels and outcomes come from the labeller/verifier", () => {
  const rng = new Rng(6);
  const rows = [];
  for (let i = 0; i < 300; i++) {
    const p = generateProblem(rng);
    const { trace } = writeSftSolution(p, rng);
    const response = renderResponse(trace, "shifted").text;
    const row = processBenchRow(p, { response, format: "shifted", id: `pb-${i}` });
    assertEquals(row.steps.join(""), response);
    assertEquals(row.steps.length, p.ops.length);
    rows.push({ label: row.label, scores: row.steps.map(() => 0) });
  }
  checkRows(rows); // both classes occur, labels index a step
  assertThrows(
    () => processBenchRow(generateProblem(rng), { response: "$1\n", format: "shifted", id: "x" }),
    RangeError,
    "response",
  );
});

Deno.test("stepTokenEnds() gives step_ends that stepScores() accepts, the last one at the response end", () => {
  const rng = new Rng(7);
  for (let i = 0; i < 200; i++) {
    const p = generateProblem(rng);
    const { trace } = writeSftSolution(p, rng);
    for (const format of ["sft", "shifted"] as const) {
      const response = renderResponse(trace, format).text;
      const ends = stepTokenEnds(response, { format });
      assertEquals(ends.at(-1), response.length);
      // L = response tokens + EOS
      stepScores(new Array(response.length + 1).fill(0), { stepEnds: ends });
    }
  }
});
