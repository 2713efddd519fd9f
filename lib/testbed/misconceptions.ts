/**
 * Planted misconceptions: the SFT data computes a few (operation, operand,
 * running value) triples wrongly at a controlled rate q, so the SFT policy makes
 * errors it is sure of (../shared/spec/testbed.md, pipeline step 1). Random
 * corruption at a small rate is added on top. The config (set, q, rates) is
 * plain data, to be saved with the run.
 * @module
 */
import type { Rng } from "../prng.ts";
import { ALL_OPS, applyOp, mod, type Op, type Problem, type Step, type Trace } from "./task.ts";

/** `value op operand` is written as `true result + delta (mod p)` when the running value is in `values`. */
export interface Misconception {
  /** The operation. */
  op: Op;
  /** The operand (in [1, p)). */
  operand: number;
  /** Running values (in [0, p)) where the misconception fires: it cannot be spotted from op tokens alone. */
  values: number[];
  /** Offset added to the true result (non-zero mod p). */
  delta: number;
}

/** How the SFT data writes solutions. */
export interface SftDataConfig {
  /** The planted misconceptions (default: the probe's `*3`, `+5`, `-2` pairs, each on two running values, written as true+1). */
  misconceptions: Misconception[];
  /** q: probability that a matching step is computed wrongly (1 makes the benchmark degenerate; 0.5 is the probe's working value). */
  rate: number;
  /** Probability that a step is randomly corrupted (wrong result, operand or running value). */
  corruptionRate: number;
  /** Probability of a verify line after a step (SFT format only). */
  verifyRate: number;
  /** At most this many verify lines per solution (bounds sequence length; see format.ts). */
  maxVerify: number;
}

/** Defaults for mod 7 (testbed.md probe: `*3`, `+5`, `-2`, true+1, q = 0.5, 2% corruption). */
export const DEFAULT_SFT_DATA_CONFIG: Readonly<SftDataConfig> = {
  misconceptions: [
    { op: "*", operand: 3, values: [2, 5], delta: 1 },
    { op: "+", operand: 5, values: [1, 4], delta: 1 },
    { op: "-", operand: 2, values: [3, 6], delta: 1 },
  ],
  rate: 0.5,
  corruptionRate: 0.02,
  verifyRate: 0.25,
  maxVerify: 2,
};

function checkProb(x: number, name: string): void {
  if (typeof x !== "number" || !(x >= 0 && x <= 1)) {
    throw new RangeError(`${name}: expected a probability in [0, 1], got ${x}`);
  }
}

/**
 * Fills defaults and checks every field against the modulus.
 *
 * @example
 * ```ts
 * import { resolveSftDataConfig } from "./misconceptions.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(resolveSftDataConfig({ rate: 1 }, { modulus: 7 }).misconceptions.length, 3);
 * ```
 */
export function resolveSftDataConfig(
  overrides: Partial<SftDataConfig>,
  options: { modulus: number },
): SftDataConfig {
  const c: SftDataConfig = { ...DEFAULT_SFT_DATA_CONFIG, ...overrides };
  const p = options.modulus;
  checkProb(c.rate, "rate");
  checkProb(c.corruptionRate, "corruptionRate");
  checkProb(c.verifyRate, "verifyRate");
  if (!Number.isInteger(c.maxVerify) || c.maxVerify < 0) {
    throw new RangeError(`maxVerify: expected an integer >= 0, got ${c.maxVerify}`);
  }
  const seen = new Set<string>();
  c.misconceptions.forEach((m, i) => {
    const at = `misconceptions[${i}]`;
    if (!ALL_OPS.includes(m.op)) {
      throw new RangeError(`${at}.op: unknown operation ${JSON.stringify(m.op)}`);
    }
    if (!Number.isInteger(m.operand) || m.operand < 1 || m.operand >= p) {
      throw new RangeError(`${at}.operand: expected an integer in [1, ${p}), got ${m.operand}`);
    }
    if (!Number.isInteger(m.delta) || mod(m.delta, p) === 0) {
      throw new RangeError(`${at}.delta: expected an integer non-zero mod ${p}, got ${m.delta}`);
    }
    if (m.values.length === 0) {
      throw new RangeError(`${at}.values: expected at least one running value`);
    }
    for (const v of m.values) {
      if (!Number.isInteger(v) || v < 0 || v >= p) {
        throw new RangeError(`${at}.values: expected integers in [0, ${p}), got ${v}`);
      }
      const key = `${m.op}${m.operand}@${v}`;
      if (seen.has(key)) {
        throw new RangeError(`${at}: duplicate triple (${m.op}, ${m.operand}, value ${v})`);
      }
      seen.add(key);
    }
  });
  return {
    ...c,
    misconceptions: c.misconceptions.map((m) => ({ ...m, values: [...m.values] })),
  };
}

/**
 * The misconception that fires on `value op operand`, if any.
 *
 * @example
 * ```ts
 * import { DEFAULT_SFT_DATA_CONFIG, findMisconception } from "./misconceptions.ts";
 * import { assertEquals } from "@std/assert";
 * const { misconceptions } = DEFAULT_SFT_DATA_CONFIG;
 * assertEquals(findMisconception(misconceptions, { value: 2, op: "*", operand: 3 })?.delta, 1);
 * assertEquals(findMisconception(misconceptions, { value: 3, op: "*", operand: 3 }), undefined);
 * ```
 */
export function findMisconception(
  set: readonly Misconception[],
  step: { value: number; op: Op; operand: number },
): Misconception | undefined {
  return set.find((m) =>
    m.op === step.op && m.operand === step.operand && m.values.includes(step.value)
  );
}

/** What happened at one step of a written solution. */
export interface WriteEvent {
  /** 0-based step index. */
  step: number;
  /** A misconception fired, or a random corruption of that kind. */
  kind: "misconception" | "corrupt_result" | "corrupt_operand" | "corrupt_value";
}

function otherThan(rng: Rng, lo: number, hi: number, not: number): number {
  // uniform over [lo, hi] minus {not}; requires hi > lo
  const x = rng.range(lo, hi - 1);
  return x >= not ? x + 1 : x;
}

/**
 * Writes a solution the way the SFT data contains it: each step copies the
 * running value the writer has (errors carry forward), a matching misconception
 * fires with probability q, else a random corruption with `corruptionRate`;
 * verify lines restate the written result. Returns the trace and what was planted.
 *
 * @example
 * ```ts
 * import { writeSftSolution } from "./misconceptions.ts";
 * import { Rng } from "../prng.ts";
 * import { assertEquals } from "@std/assert";
 * const problem = { start: 2, ops: [{ op: "*" as const, operand: 3 }], modulus: 7 };
 * const config = { rate: 1, corruptionRate: 0 };
 * const { trace } = writeSftSolution(problem, new Rng(0), { config });
 * assertEquals(trace.answer, 0); // 2*3 = 6, written as 6+1 = 0 mod 7
 * ```
 */
export function writeSftSolution(
  problem: Problem,
  rng: Rng,
  options: { config?: Partial<SftDataConfig> } = {},
): { trace: Trace; events: WriteEvent[] } {
  const p = problem.modulus;
  const c = resolveSftDataConfig(options.config ?? {}, { modulus: p });
  const steps: Step[] = [];
  const events: WriteEvent[] = [];
  let running = problem.start;
  let verifies = 0;
  problem.ops.forEach(({ op, operand }, i) => {
    let value = running, writtenOperand = operand;
    const m = findMisconception(c.misconceptions, { value, op, operand });
    let misconceived = false;
    if (m && rng.next() < c.rate) misconceived = true;
    let corruption: WriteEvent["kind"] | null = null;
    // at most one planted error per step, so no two errors cancel inside a step
    if (rng.next() < c.corruptionRate && !misconceived) {
      const kinds: WriteEvent["kind"][] = p > 2
        ? ["corrupt_result", "corrupt_operand", "corrupt_value"]
        : ["corrupt_result", "corrupt_value"];
      corruption = rng.pick(kinds);
    }
    if (corruption === "corrupt_value") value = otherThan(rng, 0, p - 1, value);
    if (corruption === "corrupt_operand") writtenOperand = otherThan(rng, 1, p - 1, operand);
    let result = applyOp(value, op, writtenOperand, p);
    if (misconceived) {
      result = mod(result + m!.delta, p);
      events.push({ step: i, kind: "misconception" });
    }
    if (corruption === "corrupt_result") result = otherThan(rng, 0, p - 1, result);
    if (corruption !== null) events.push({ step: i, kind: corruption });
    let verify: number | null = null;
    if (verifies < c.maxVerify && rng.next() < c.verifyRate) verify = result, verifies++;
    steps.push({ value, op, operand: writtenOperand, result, verify });
    running = result;
  });
  return { trace: { steps, answer: running }, events };
}
