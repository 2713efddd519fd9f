/**
 * The synthetic task (../shared/spec/testbed.md "The task"): a start value and a
 * chain of k operations evaluated left to right modulo a prime. Every operand is
 * non-zero, so each operation is a bijection of Z_p and a wrong step cannot be
 * washed out later unless a second error compensates it.
 * @module
 */
import { counterKey, type Rng } from "../prng.ts";

/** An operation of the chain; `/` is multiplication by the modular inverse. */
export type Op = "+" | "-" | "*" | "/";

/** Every operation the notation knows (the tokenizer's vocabulary covers all four). */
export const ALL_OPS: readonly Op[] = ["+", "-", "*", "/"];

/**
 * Whether `a op b = b op a` modulo a prime: true for `+` and `*`. A step of a commutative
 * operation may write its two numbers in either order (testbed v2's neutral ambiguity).
 *
 * @example
 * ```ts
 * import { isCommutative } from "./task.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(["+", "-", "*", "/"].map((o) => isCommutative(o as "+")), [true, false, true, false]);
 * ```
 */
export function isCommutative(op: Op): boolean {
  return op === "+" || op === "*";
}

/** Task parameters. */
export interface TaskConfig {
  /** A prime (7 is the reference: single-digit values keep sequences short; 11 and 97 also work). */
  modulus: number;
  /** Operations drawn for problems (uniformly). `/` is off by default: it adds no new difficulty class. */
  ops: readonly Op[];
  /** Shortest chain length k (>= 1). */
  minSteps: number;
  /** Longest chain length k; see `docs` of format.ts for the sequence length per k. */
  maxSteps: number;
}

/** The reference task: mod 7, `+ - *`, k in 2..8. */
export const DEFAULT_TASK_CONFIG: Readonly<TaskConfig> = {
  modulus: 7,
  ops: ["+", "-", "*"],
  minSteps: 2,
  maxSteps: 8,
};

/** A problem: start value and the operations, applied left to right. */
export interface Problem {
  /** Start value in [0, p). */
  start: number;
  /** The chain, length k. */
  ops: ReadonlyArray<{ op: Op; operand: number }>;
  /** The modulus p the problem is posed in. */
  modulus: number;
}

/**
 * One written step: `value op operand = result`, optionally followed by a verify line restating
 * `result`. The two numbers are kept in the order written: for a commutative operation the
 * testbed v2 writer may write the operand first (`4+3=0` for running value 3 and `+4`), and the
 * labeller accepts either order there ({@linkcode isCommutative}).
 */
export interface Step {
  /** The first number written: the running value the step copies (should equal the previous result, or the start), or the operand of a commutative step written in swapped order. */
  value: number;
  /** The operation the step copies. */
  op: Op;
  /** The second number written: the operand the step copies (or the running value, swapped). */
  operand: number;
  /** The result the step writes. */
  result: number;
  /** SFT format only: the value a verify line restates after the step (null: no verify line). */
  verify: number | null;
  /** SFT format only (testbed v2): the alternative tag the step line carries instead of `>` (format.ts `ALT_STEP_TAGS`). Present only then. */
  tag?: ":" | "|";
  /**
   * SFT format only (testbed v2): the step line carries the filler character `;` at this slot
   * (0: after the tag, 1: after the first number, 2: after the operation, 3: after the second
   * number, 4: after `=`, 5: after the result). Present only when the line has one.
   */
  filler?: number;
}

/** A written solution: steps and the final answer (null when missing). */
export interface Trace {
  /** The steps in order. */
  steps: Step[];
  /** The final answer written after the steps, or null. */
  answer: number | null;
}

function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Fills defaults and checks invariants, naming the field at fault.
 *
 * @example
 * ```ts
 * import { resolveTaskConfig } from "./task.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(resolveTaskConfig({ modulus: 11 }).maxSteps, 8);
 * ```
 */
export function resolveTaskConfig(overrides: Partial<TaskConfig> = {}): TaskConfig {
  const c: TaskConfig = { ...DEFAULT_TASK_CONFIG, ...overrides };
  if (!isPrime(c.modulus)) {
    throw new RangeError(`modulus: expected a prime (7, 11, 97, ...), got ${c.modulus}`);
  }
  if (c.ops.length === 0) throw new RangeError("ops: expected at least one operation");
  for (const o of c.ops) {
    if (!ALL_OPS.includes(o)) throw new RangeError(`ops: unknown operation ${JSON.stringify(o)}`);
  }
  if (!Number.isInteger(c.minSteps) || c.minSteps < 1) {
    throw new RangeError(`minSteps: expected an integer >= 1, got ${c.minSteps}`);
  }
  if (!Number.isInteger(c.maxSteps) || c.maxSteps < c.minSteps) {
    throw new RangeError(
      `maxSteps: expected an integer >= minSteps: maxSteps=${c.maxSteps}, minSteps=${c.minSteps}`,
    );
  }
  return { ...c, ops: [...c.ops] };
}

/** `x mod p` in [0, p). */
export function mod(x: number, p: number): number {
  return ((x % p) + p) % p;
}

/** Inverse of `a` modulo the prime `p` (a != 0), by Fermat's little theorem. */
export function inverse(a: number, p: number): number {
  let result = 1, base = mod(a, p), e = p - 2;
  while (e > 0) {
    if (e & 1) result = (result * base) % p;
    base = (base * base) % p;
    e >>= 1;
  }
  return result;
}

/**
 * One operation modulo `p`.
 *
 * @example
 * ```ts
 * import { applyOp } from "./task.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(applyOp(3, "*", 5, 7), 1);
 * ```
 */
export function applyOp(value: number, op: Op, operand: number, p: number): number {
  switch (op) {
    case "+":
      return mod(value + operand, p);
    case "-":
      return mod(value - operand, p);
    case "*":
      return mod(value * operand, p);
    case "/":
      return mod(value * inverse(operand, p), p);
  }
}

/**
 * The running values of a problem: `[start, after op 1, ..., after op k]` (length k+1).
 *
 * @example
 * ```ts
 * import { runningValues } from "./task.ts";
 * import { assertEquals } from "@std/assert";
 * const ops = [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }];
 * assertEquals(runningValues({ start: 3, ops, modulus: 7 }), [3, 0, 0]);
 * ```
 */
export function runningValues(problem: Problem): number[] {
  const vals = [problem.start];
  let v = problem.start;
  for (const { op, operand } of problem.ops) {
    v = applyOp(v, op, operand, problem.modulus);
    vals.push(v);
  }
  return vals;
}

/** The answer of a problem (the last running value). */
export function answerOf(problem: Problem): number {
  return runningValues(problem).at(-1)!;
}

/**
 * The correct solution of a problem (no verify lines).
 *
 * @example
 * ```ts
 * import { solve } from "./task.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(solve({ start: 1, ops: [{ op: "+", operand: 2 }], modulus: 7 }).answer, 3);
 * ```
 */
export function solve(problem: Problem): Trace {
  const vals = runningValues(problem);
  const steps = problem.ops.map(({ op, operand }, i): Step => ({
    value: vals[i]!,
    op,
    operand,
    result: vals[i + 1]!,
    verify: null,
  }));
  return { steps, answer: vals.at(-1)! };
}

/**
 * A random problem: start uniform in [0, p), k uniform in [minSteps, maxSteps]
 * (or `options.steps`), operations uniform over `config.ops`, operands uniform in [1, p).
 *
 * @example
 * ```ts
 * import { generateProblem } from "./task.ts";
 * import { Rng } from "../prng.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(generateProblem(new Rng(1), { steps: 3 }).ops.length, 3);
 * ```
 */
export function generateProblem(
  rng: Rng,
  options: { config?: Partial<TaskConfig>; steps?: number } = {},
): Problem {
  const c = resolveTaskConfig(options.config);
  const k = options.steps ?? rng.range(c.minSteps, c.maxSteps);
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`steps: expected an integer >= 1, got ${k}`);
  }
  const p = c.modulus;
  const start = rng.int(p);
  const ops = Array.from(
    { length: k },
    () => ({ op: rng.pick(c.ops), operand: rng.range(1, p - 1) }),
  );
  return { start, ops, modulus: p };
}

/** A canonical string key of a problem (used for hashing into splits and for de-duplication). */
export function problemKey(problem: Problem): string {
  return `${problem.modulus}|${problem.start}${problem.ops.map((o) => o.op + o.operand).join("")}`;
}

/**
 * The counter key of each problem (sampling with lib/prng.ts's `CounterRng`): the hash of its
 * canonical text, the n-th repeat of a problem in `problems` told apart by its occurrence,
 * so equal problems in two calls (two arms, two batches) get equal keys.
 *
 * @example
 * ```ts
 * import { assertEquals, assertNotEquals } from "@std/assert";
 * import { problemCounterKeys } from "./task.ts";
 * const a = { start: 1, ops: [{ op: "+" as const, operand: 2 }], modulus: 7 };
 * const b = { start: 3, ops: [{ op: "*" as const, operand: 2 }], modulus: 7 };
 * const [ka, kb, ka2] = problemCounterKeys([a, b, a]);
 * assertEquals(problemCounterKeys([b, a]), [kb, ka]); // order-free
 * assertNotEquals(ka, ka2); // a repeat is another key
 * ```
 */
export function problemCounterKeys(problems: readonly Problem[]): number[] {
  const seen = new Map<string, number>();
  return problems.map((p) => {
    const k = problemKey(p);
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    return counterKey(k, n);
  });
}
