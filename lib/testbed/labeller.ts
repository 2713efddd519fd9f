/**
 * Step labels: the index of the earliest wrong step of a trace, -1 when every
 * step is right (ProcessBench's convention). A trace that reaches the right answer
 * after a wrong step is still labelled at that step.
 * @module
 */
import { type Format, parseResponse } from "./format.ts";
import { isCommutative, type Op, type Problem, runningValues, type Step } from "./task.ts";

/** Why the labelled step is wrong (`"none"` when the label is -1). */
export type ErrorKind =
  | "none"
  | "unparseable" // the segment is not a step of the format
  | "value" // wrong running value copied
  | "operand" // wrong operation or operand copied
  | "result" // wrong result of the step
  | "verify" // a verify line restating another value than the step's result
  | "extra_step" // more steps than the chain has
  | "missing_steps" // the trace concludes before the chain ends (labelled at its last step)
  | "missing_answer" // no final answer (labelled at the last step)
  | "wrong_answer" // the answer differs from the last result (labelled at the last step)
  | "no_steps"; // nothing to label: label 0

/** A step label and the kind of error found there. */
export interface StepLabel {
  /** 0-based index of the earliest wrong step, or -1. */
  label: number;
  /** The kind of the error at `label`. */
  kind: ErrorKind;
}

/**
 * The (running value, operand) a written step states: its two numbers in the order written,
 * or swapped when the operation is the expected commutative one and the swapped reading
 * matches the expected pair in more places (testbed v2 writes `4+3=0` for `3+4`). Which
 * reading is taken only decides the error kind ("value" or "operand"): a step is right
 * exactly when one reading matches both numbers, so the label's index does not depend on it.
 */
function readNumbers(
  s: Step,
  want: { value: number; op: Op; operand: number },
): [number, number] {
  if (s.op !== want.op || !isCommutative(want.op)) return [s.value, s.operand];
  const direct = Number(s.value !== want.value) + Number(s.operand !== want.operand);
  const swapped = Number(s.operand !== want.value) + Number(s.value !== want.operand);
  return swapped < direct ? [s.operand, s.value] : [s.value, s.operand];
}

/**
 * Labels a trace (steps may be null where a segment did not parse). A commutative step
 * (`+`, `*`) may write its two numbers in either order; alternative tags and filler lines
 * (testbed v2) are never errors. The final
 * answer belongs to the last step's segment, so a missing or wrong conclusion
 * after all-correct steps is labelled at the last step.
 *
 * @example
 * ```ts
 * import { labelTrace } from "./labeller.ts";
 * import { assertEquals } from "@std/assert";
 * const ops = [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }];
 * const problem = { start: 3, ops, modulus: 7 };
 * const ok = { value: 3, op: "+" as const, operand: 4, result: 0, verify: null };
 * const bad = { value: 0, op: "*" as const, operand: 2, result: 1, verify: null }; // 0*2 is 0
 * assertEquals(labelTrace(problem, { steps: [ok, bad], answer: 1 }), { label: 1, kind: "result" });
 * ```
 */
export function labelTrace(
  problem: Problem,
  trace: { steps: ReadonlyArray<Step | null>; answer: number | null },
): StepLabel {
  const vals = runningValues(problem);
  const k = problem.ops.length;
  const { steps, answer } = trace;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (s === null || s === undefined) return { label: i, kind: "unparseable" };
    if (i >= k) return { label: i, kind: "extra_step" };
    const want = problem.ops[i]!;
    const [value, operand] = readNumbers(s, {
      value: vals[i]!,
      op: want.op,
      operand: want.operand,
    });
    if (value !== vals[i]) return { label: i, kind: "value" };
    if (s.op !== want.op || operand !== want.operand) return { label: i, kind: "operand" };
    if (s.result !== vals[i + 1]) return { label: i, kind: "result" };
    if (s.verify !== null && s.verify !== s.result) return { label: i, kind: "verify" };
  }
  if (steps.length === 0) return { label: 0, kind: "no_steps" };
  const last = steps.length - 1;
  if (steps.length < k) return { label: last, kind: "missing_steps" };
  if (answer === null) return { label: last, kind: "missing_answer" };
  if (answer !== vals[k]) return { label: last, kind: "wrong_answer" };
  return { label: -1, kind: "none" };
}

/**
 * Parses a response in a format and labels it. Never throws on any string.
 *
 * @example
 * ```ts
 * import { labelResponse } from "./labeller.ts";
 * import { assertEquals } from "@std/assert";
 * const problem = { start: 3, ops: [{ op: "+" as const, operand: 4 }], modulus: 7 };
 * assertEquals(labelResponse(problem, "3+4=0\n$0\n", { format: "shifted" }).label, -1);
 * assertEquals(labelResponse(problem, "3+5=1\n$1\n", { format: "shifted" }).kind, "operand");
 * ```
 */
export function labelResponse(
  problem: Problem,
  text: string,
  options: { format: Format },
): StepLabel {
  const p = parseResponse(text, options.format);
  return labelTrace(problem, p);
}
