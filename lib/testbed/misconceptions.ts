/**
 * The SFT data writer: planted misconceptions, random corruption and the neutral
 * variants of the way a step is written.
 *
 * - **v1** (../shared/spec/testbed.md, pipeline step 1): a few (operation, operand,
 *   running value) triples computed wrongly at one rate q, random corruption at a small
 *   rate, verify lines at a rate with a cap per solution.
 * - **v2** (../shared/spec/testbed_v2.md "What v2 changes"): about 100 triples, each with
 *   its own rate q from a set spanning rare to mostly wrong and a fixed direction, drawn
 *   from a seed ({@linkcode gradedMisconceptions}); and neutral ambiguity, several right
 *   ways to write the same step: a commutative step's numbers swapped, the alternative
 *   step tags `:` and `|`, verify lines, a filler character `;` ({@linkcode WriterVariants}).
 *
 * The writer is selected by one config field, `writer` (absent = v1); the v1 writer draws
 * the same numbers in the same order as before v2, so its data is bit-identical. The config
 * (set, rates, variants, the set's seed) is plain data, saved with the run.
 * @module
 */
import { Rng } from "../prng.ts";
import { FILLER_SLOTS } from "./format.ts";
import {
  ALL_OPS,
  applyOp,
  isCommutative,
  mod,
  type Op,
  type Problem,
  type Step,
  type Trace,
} from "./task.ts";

/** `value op operand` is written as `true result + delta (mod p)` when the running value is in `values`. */
export interface Misconception {
  /** The operation. */
  op: Op;
  /** The operand (in [1, p)). */
  operand: number;
  /** Running values (in [0, p)) where the misconception fires: it cannot be spotted from op tokens alone. */
  values: number[];
  /** Offset added to the true result (non-zero mod p): the fixed direction of the error. */
  delta: number;
  /** Its own rate q (v2's graded set); absent: the config's `rate`. */
  rate?: number;
}

/** Which writer writes the SFT data (testbed.md's v1, testbed_v2.md's v2). */
export type WriterVersion = "v1" | "v2";

/** Every writer version. */
export const WRITER_VERSIONS: readonly WriterVersion[] = ["v1", "v2"];

/**
 * The neutral variants of the v2 writer (testbed_v2.md "What v2 changes" item 2): right
 * ways to write the same step, each drawn independently per step. The parser, verifier and
 * labeller accept all of them; none is an error.
 */
export interface WriterVariants {
  /** Probability that a commutative step (`+`, `*`) writes the operand first (`4+3=0` for `3+4`). */
  swapRate: number;
  /** Probability that a step carries the alternative tag `:` instead of `>`. */
  altTagRate: number;
  /** Probability that a step carries the second alternative tag `|` (altTagRate + altTag2Rate <= 1). */
  altTag2Rate: number;
  /**
   * Probability of the filler character `;` at each slot of a step line (after the tag and
   * after each field, format.ts `FILLER_SLOTS`), drawn slot by slot until one is written:
   * at most one per line, so a solution of k steps holds at most k.
   */
  fillerRate: number;
}

/** Default variant rates: the examples of testbed_v2.md (0.3 swap, 0.1 alternative tag, 0.03 filler); no second tag. */
export const DEFAULT_WRITER_VARIANTS: Readonly<WriterVariants> = {
  swapRate: 0.3,
  altTagRate: 0.1,
  altTag2Rate: 0,
  fillerRate: 0.03,
};

/**
 * How a graded misconception set is drawn ({@linkcode gradedMisconceptions}); recorded
 * in the config beside the set it produced.
 */
export interface GradedSetSpec {
  /** Seed of the draw (which triples, which rate and direction each gets). */
  seed: number;
  /** The operations whose triples are drawn (the task's, in its order). */
  ops: Op[];
  /** Number of (operation, operand, running value) triples. */
  count: number;
  /** The rates q, spanning rare to mostly wrong. */
  rates: number[];
  /** Share of the triples at each rate (one per rate, >= 0, normalised). */
  weights: number[];
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
  /**
   * The writer: absent or `"v1"` = testbed.md's (the resolver drops the field and the v2-only
   * fields below, so a v1 config's canonical JSON, and with it every cache key, is what it
   * was before v2); `"v2"` = testbed_v2.md's (per-triple rates and `variants`).
   */
  writer?: WriterVersion;
  /** v2 only: the neutral variants (default {@linkcode DEFAULT_WRITER_VARIANTS}). */
  variants?: WriterVariants;
  /** v2 only, optional: how `misconceptions` was drawn; when present the set must equal its draw. */
  gradedSet?: GradedSetSpec;
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
  c.misconceptions.forEach((m, i) => {
    if (m.rate !== undefined) checkProb(m.rate, `misconceptions[${i}].rate`);
  });
  const { writer, variants, gradedSet, ...v1 } = c;
  const out: SftDataConfig = {
    ...v1,
    misconceptions: c.misconceptions.map((m) => ({ ...m, values: [...m.values] })),
  };
  if (writer === undefined || writer === "v1") return out;
  if (writer !== "v2") {
    throw new RangeError(
      `writer: expected one of ${WRITER_VERSIONS.map((w) => JSON.stringify(w)).join(", ")}, got ${
        JSON.stringify(writer)
      }`,
    );
  }
  const vs: WriterVariants = { ...DEFAULT_WRITER_VARIANTS, ...variants };
  checkProb(vs.swapRate, "variants.swapRate");
  checkProb(vs.altTagRate, "variants.altTagRate");
  checkProb(vs.altTag2Rate, "variants.altTag2Rate");
  if (vs.altTagRate + vs.altTag2Rate > 1) {
    throw new RangeError(
      `variants.altTag2Rate: expected altTagRate + altTag2Rate <= 1, got ${vs.altTagRate} + ${vs.altTag2Rate}`,
    );
  }
  checkProb(vs.fillerRate, "variants.fillerRate");
  out.writer = "v2";
  out.variants = vs;
  if (gradedSet !== undefined) {
    out.gradedSet = structuredClone(gradedSet);
    const drawn = gradedMisconceptions(gradedSet, { modulus: p });
    const key = (ms: readonly Misconception[]) =>
      ms.map((m) => `${m.op}${m.operand}@${m.values.join(",")}:${m.delta}:${m.rate}`).join(";");
    if (key(drawn) !== key(out.misconceptions)) {
      throw new RangeError(
        `misconceptions: expected the set drawn by gradedSet (seed ${gradedSet.seed}, ` +
          `count ${gradedSet.count}); got another set (drop gradedSet to use a hand-made set)`,
      );
    }
  }
  return out;
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

/**
 * Draws a graded misconception set (testbed_v2.md "What v2 changes" item 1): `count`
 * distinct (operation, operand, running value) triples over `spec.ops`, operands in
 * [1, p) and values in [0, p); the rates are dealt in proportion to `weights` (largest
 * remainder) and shuffled over the triples; each triple errs in a fixed direction, delta
 * +1 or -1 (mod p), drawn per triple. A pure function of the spec and the modulus; the
 * result is sorted by operation, operand and value.
 *
 * @example
 * ```ts
 * import { gradedMisconceptions } from "./misconceptions.ts";
 * import { assertEquals } from "@std/assert";
 * const spec = { seed: 1, ops: ["+" as const, "*" as const], count: 10, rates: [0.1, 0.5], weights: [1, 1] };
 * const set = gradedMisconceptions(spec, { modulus: 7 });
 * assertEquals(set.length, 10);
 * assertEquals(set.filter((m) => m.rate === 0.1).length, 5);
 * assertEquals(gradedMisconceptions(spec, { modulus: 7 }), set);
 * ```
 */
export function gradedMisconceptions(
  spec: GradedSetSpec,
  options: { modulus: number },
): Misconception[] {
  const p = options.modulus;
  if (!Number.isInteger(spec.seed)) {
    throw new RangeError(`gradedSet.seed: expected an integer, got ${spec.seed}`);
  }
  if (spec.ops.length === 0 || spec.ops.some((o) => !ALL_OPS.includes(o))) {
    throw new RangeError(
      `gradedSet.ops: expected known operations, got ${JSON.stringify(spec.ops)}`,
    );
  }
  const universe: { op: Op; operand: number; value: number }[] = [];
  for (const op of spec.ops) {
    for (let operand = 1; operand < p; operand++) {
      for (let value = 0; value < p; value++) universe.push({ op, operand, value });
    }
  }
  if (!Number.isInteger(spec.count) || spec.count < 0 || spec.count > universe.length) {
    throw new RangeError(
      `gradedSet.count: expected an integer in [0, ${universe.length}] (the triples of ` +
        `${spec.ops.join("")} mod ${p}), got ${spec.count}`,
    );
  }
  if (spec.rates.length === 0 || spec.rates.length !== spec.weights.length) {
    throw new RangeError(
      `gradedSet.weights: expected one weight per rate (${spec.rates.length} rates), got ${spec.weights.length}`,
    );
  }
  spec.rates.forEach((r, i) => checkProb(r, `gradedSet.rates[${i}]`));
  const total = spec.weights.reduce((a, w) => a + w, 0);
  if (spec.weights.some((w) => !(w >= 0)) || !(total > 0)) {
    throw new RangeError(
      `gradedSet.weights: expected weights >= 0 with a positive sum, got ${
        JSON.stringify(spec.weights)
      }`,
    );
  }
  // largest remainder: the counts per rate sum to `count` exactly
  const exact = spec.weights.map((w) => (w / total) * spec.count);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) =>
    b.r - a.r || a.i - b.i
  );
  for (let j = 0; counts.reduce((a, n) => a + n, 0) < spec.count; j++) counts[order[j]!.i]!++;
  const rng = new Rng(spec.seed);
  const triples = rng.shuffle(universe).slice(0, spec.count);
  const rates = rng.shuffle(spec.rates.flatMap((r, i) => Array<number>(counts[i]!).fill(r)));
  const set = triples.map((t, i): Misconception => ({
    op: t.op,
    operand: t.operand,
    values: [t.value],
    delta: rng.next() < 0.5 ? 1 : p - 1,
    rate: rates[i]!,
  }));
  const opIndex = (o: Op) => ALL_OPS.indexOf(o);
  return set.sort((a, b) =>
    opIndex(a.op) - opIndex(b.op) || a.operand - b.operand || a.values[0]! - b.values[0]!
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

/** A step's content after planted errors: what is written, and what was planted. */
interface PlantedStep {
  value: number;
  operand: number;
  result: number;
  events: WriteEvent["kind"][];
}

/**
 * The errors of one step, the draws of the v1 writer in their order (v2 shares them): a
 * matching misconception fires with its rate; else a random corruption with
 * `corruptionRate` (the draw is made either way, as v1 made it).
 */
function plantErrors(
  rng: Rng,
  c: SftDataConfig,
  step: { running: number; op: Op; operand: number; p: number },
): PlantedStep {
  const { op, operand, p } = step;
  let value = step.running, writtenOperand = operand;
  const m = findMisconception(c.misconceptions, { value, op, operand });
  let misconceived = false;
  if (m && rng.next() < (m.rate ?? c.rate)) misconceived = true;
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
  const events: WriteEvent["kind"][] = [];
  if (misconceived) {
    result = mod(result + m!.delta, p);
    events.push("misconception");
  }
  if (corruption === "corrupt_result") result = otherThan(rng, 0, p - 1, result);
  if (corruption !== null) events.push(corruption);
  return { value, operand: writtenOperand, result, events };
}

type Writer = (problem: Problem, rng: Rng, c: SftDataConfig) => {
  trace: Trace;
  events: WriteEvent[];
};

/** testbed.md's writer: planted errors, then a verify line at `verifyRate` up to `maxVerify`. */
const writeV1: Writer = (problem, rng, c) => {
  const p = problem.modulus;
  const steps: Step[] = [];
  const events: WriteEvent[] = [];
  let running = problem.start;
  let verifies = 0;
  problem.ops.forEach(({ op, operand }, i) => {
    const s = plantErrors(rng, c, { running, op, operand, p });
    for (const kind of s.events) events.push({ step: i, kind });
    let verify: number | null = null;
    if (verifies < c.maxVerify && rng.next() < c.verifyRate) verify = s.result, verifies++;
    steps.push({ value: s.value, op, operand: s.operand, result: s.result, verify });
    running = s.result;
  });
  return { trace: { steps, answer: running }, events };
};

/**
 * testbed_v2.md's writer, per step in this order: the tag (`:` at `altTagRate`, `|` at
 * `altTag2Rate`, one draw),
 * planted errors (each triple at its own rate), the order of a commutative step's numbers
 * (swapped at `swapRate`), the filler's slot (`fillerRate` per slot, at most one), a verify
 * line (`verifyRate`, up to `maxVerify`).
 */
const writeV2: Writer = (problem, rng, c) => {
  const p = problem.modulus;
  const v = c.variants ?? DEFAULT_WRITER_VARIANTS;
  const steps: Step[] = [];
  const events: WriteEvent[] = [];
  let running = problem.start;
  let verifies = 0;
  problem.ops.forEach(({ op, operand }, i) => {
    const u = rng.next();
    const tag = u < v.altTagRate ? ":" : u < v.altTagRate + v.altTag2Rate ? "|" : undefined;
    const s = plantErrors(rng, c, { running, op, operand, p });
    for (const kind of s.events) events.push({ step: i, kind });
    const swapped = isCommutative(op) && rng.next() < v.swapRate;
    let filler: number | undefined;
    for (let slot = 0; slot < FILLER_SLOTS && filler === undefined; slot++) {
      if (rng.next() < v.fillerRate) filler = slot;
    }
    let verify: number | null = null;
    if (verifies < c.maxVerify && rng.next() < c.verifyRate) verify = s.result, verifies++;
    const step: Step = swapped
      ? { value: s.operand, op, operand: s.value, result: s.result, verify }
      : { value: s.value, op, operand: s.operand, result: s.result, verify };
    if (tag !== undefined) step.tag = tag;
    if (filler !== undefined) step.filler = filler;
    steps.push(step);
    running = s.result;
  });
  return { trace: { steps, answer: running }, events };
};

const WRITERS = { v1: writeV1, v2: writeV2 } as const satisfies Record<WriterVersion, Writer>;

/**
 * Writes a solution the way the SFT data contains it: each step copies the
 * running value the writer has (errors carry forward), a matching misconception
 * fires with probability q, else a random corruption with `corruptionRate`;
 * verify lines restate the written result. The v2 writer (`config.writer: "v2"`) adds the
 * neutral variants. Returns the trace and the errors planted (variants are not errors;
 * they are in the trace: `tag`, `filler`, a swapped pair of numbers).
 *
 * @example
 * ```ts
 * import { writeSftSolution } from "./misconceptions.ts";
 * import { Rng } from "../prng.ts";
import { FILLER_SLOTS } from "./format.ts";
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
  const c = resolveSftDataConfig(options.config ?? {}, { modulus: problem.modulus });
  return WRITERS[c.writer ?? "v1"](problem, rng, c);
}
