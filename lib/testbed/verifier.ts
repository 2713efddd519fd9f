/**
 * The rule-based verifier: the reward of a response is whether its final answer
 * equals the problem's answer. Never throws: unparseable output is wrong.
 * @module
 */
import { type Format, parseResponse } from "./format.ts";
import { answerOf, type Problem } from "./task.ts";

/**
 * The final answer written in `text` (the first final-answer line of the format),
 * or null when there is none or it is not a number. Never throws.
 *
 * @example
 * ```ts
 * import { extractAnswer } from "./verifier.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(extractAnswer(">1+1=2\n#2\n", { format: "sft" }), 2);
 * assertEquals(extractAnswer("garbage", { format: "sft" }), null);
 * ```
 */
export function extractAnswer(text: unknown, options: { format: Format }): number | null {
  try {
    if (typeof text !== "string") return null;
    return parseResponse(text, options.format).answer;
  } catch {
    return null;
  }
}

/**
 * Verifies a response: 1 when its final answer equals the problem's answer, else 0.
 * Never throws (a malformed problem or text gives 0).
 *
 * @example
 * ```ts
 * import { verify } from "./verifier.ts";
 * import { assertEquals } from "@std/assert";
 * const problem = { start: 1, ops: [{ op: "+" as const, operand: 1 }], modulus: 7 };
 * assertEquals(verify(problem, ">1+1=2\n#2\n", { format: "sft" }), 1);
 * assertEquals(verify(problem, "#5", { format: "sft" }), 0);
 * ```
 */
export function verify(problem: Problem, text: unknown, options: { format: Format }): 0 | 1 {
  try {
    const a = extractAnswer(text, options);
    return a !== null && a === answerOf(problem) ? 1 : 0;
  } catch {
    return 0;
  }
}
