/**
 * Glue from testbed traces to the ProcessBench analogue: a response in a format
 * becomes a row in the real ProcessBench schema (so the same loaders, metric and
 * tables serve both), and its step boundaries become exclusive token ends for
 * step scoring, taken from the tokenizer's character offsets.
 * @module
 */
import type { ProcessBenchRow } from "../data/processbench.ts";
import { type Format, parseResponse, renderPrompt } from "./format.ts";
import { labelResponse } from "./labeller.ts";
import type { Problem } from "./task.ts";
import { CharTokenizer, tokenEnd } from "./tokenizer.ts";
import { verify } from "./verifier.ts";

/**
 * A ProcessBench-schema row for a response: `steps` are the step segments,
 * `label` the earliest wrong step, `final_answer_correct` the verifier's outcome.
 * Throws when the response has no step (ProcessBench rows need one).
 *
 * @example
 * ```ts
 * import { processBenchRow } from "./processbench_rows.ts";
 * import { assertEquals } from "@std/assert";
 * const ops = [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }];
 * const problem = { start: 3, ops, modulus: 7 };
 * const response = "3+4=1\n1*2=2\n$2\n";
 * const row = processBenchRow(problem, { response, format: "shifted", id: "pb-0" });
 * assertEquals(row.label, 0);
 * assertEquals(row.steps, ["3+4=1\n", "1*2=2\n$2\n"]);
 * ```
 */
export function processBenchRow(
  problem: Problem,
  options: { response: string; format: Format; id: string; generator?: string },
): ProcessBenchRow {
  const p = parseResponse(options.response, options.format);
  if (p.starts.length === 0) {
    throw new RangeError(`response: no step to label in ${JSON.stringify(options.response)}`);
  }
  return {
    id: options.id,
    generator: options.generator ?? "testbed",
    problem: renderPrompt(problem),
    steps: p.starts.map((s, i) => options.response.slice(s, p.ends[i])),
    label: labelResponse(problem, options.response, { format: options.format }).label,
    final_answer_correct: verify(problem, options.response, { format: options.format }) === 1,
  };
}

/**
 * Exclusive token end of each step, counted in response tokens (index 0 = the
 * first response token, as methods.md (a) counts t), from character offsets.
 *
 * @example
 * ```ts
 * import { stepTokenEnds } from "./processbench_rows.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(stepTokenEnds(">1+1=2\n?2\n>2*3=6\n#6\n", { format: "sft" }), [10, 20]);
 * ```
 */
export function stepTokenEnds(
  response: string,
  options: { format: Format; tokenizer?: CharTokenizer },
): number[] {
  const tok = options.tokenizer ?? new CharTokenizer();
  const enc = tok.encode(response);
  return parseResponse(response, options.format).ends.map((e) => tokenEnd(enc, e));
}
