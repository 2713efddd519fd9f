/**
 * Best-of-N (methods.md d2; paper Sec. 4.1, Table 1): per problem, pick the
 * candidate with the highest RM sequence score among N samples; accuracy of the
 * pick, per N and averaged over the Ns. Subsets are the first N samples (nested),
 * or optionally the N with the highest policy log-prob ([IPRM] `split_query`).
 * Ties go to the lowest index.
 * @module
 */

/** How the N-subset of a problem's samples is chosen. */
export type BonSubset = "first" | "top_logprob";

/** Accuracy per N (keyed by N as a string) and their mean. */
export interface BonResult {
  /** Accuracy of the pick for each N. */
  accuracy: Record<string, number>;
  /** Mean over `ns`. */
  mean: number;
}

function checkMatrix(
  m: readonly (readonly number[])[],
  name: string,
  opts: { binary?: boolean; n?: number; p?: number },
): number {
  if (!Array.isArray(m) || m.length === 0) {
    throw new RangeError(`${name}: expected a non-empty [P][N] array`);
  }
  if (opts.p !== undefined && m.length !== opts.p) {
    throw new RangeError(`${name}: expected ${opts.p} rows (one per problem), got ${m.length}`);
  }
  const n = opts.n ?? m[0]!.length;
  m.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== n) {
      throw new RangeError(
        `${name}[${i}]: expected ${n} samples, got ${Array.isArray(row) ? row.length : typeof row}`,
      );
    }
    (row as readonly unknown[]).forEach((x: unknown, j: number) => {
      if (typeof x !== "number" || !Number.isFinite(x)) {
        throw new RangeError(`${name}: expected finite numbers, got ${x} at [${i}][${j}]`);
      }
      if (opts.binary && x !== 0 && x !== 1) {
        throw new RangeError(`${name}: expected 0/1, got ${x} at [${i}][${j}]`);
      }
    });
  });
  return n;
}

function checkNs(ns: readonly number[], available: number): void {
  if (!Array.isArray(ns) || ns.length === 0) {
    throw new RangeError("ns: expected a non-empty list of sample counts");
  }
  ns.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`ns: expected integers >= 1, got ${n} at [${i}]`);
    }
    if (n > available) {
      throw new RangeError(`ns: N=${n} exceeds the ${available} samples available per problem`);
    }
  });
}

/** Indices of the N-subset of one problem, ascending. */
function subsetOf(n: number, subset: BonSubset, logprobs: readonly number[] | undefined): number[] {
  const idx = Array.from({ length: logprobs?.length ?? n }, (_, i) => i);
  if (subset === "first") return idx.slice(0, n);
  // stable sort: equal log-probs keep index order
  return idx.sort((a, b) => logprobs![b]! - logprobs![a]!).slice(0, n).sort((a, b) => a - b);
}

/**
 * Best-of-N accuracy.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { bestOfN } from "./best_of_n.ts";
 * const scores = [[0.1, 0.9, 0.5, 0.9], [2, 1, 0, 3]];
 * const correct = [[0, 1, 0, 0], [0, 0, 0, 1]];
 * // ties go to the lowest index: problem 0 picks 1 (correct) at N = 2 and 4
 * assertEquals(bestOfN(scores, { correct, ns: [2, 4] }), { accuracy: { "2": 0.5, "4": 1 }, mean: 0.75 });
 * ```
 */
export function bestOfN(
  scores: readonly (readonly number[])[],
  options: {
    correct: readonly (readonly number[])[];
    ns?: readonly number[];
    subset?: BonSubset;
    logprobs?: readonly (readonly number[])[];
  },
): BonResult {
  const ns = options.ns ?? [4, 16, 64];
  const subset = options.subset ?? "first";
  const n = checkMatrix(scores, "scores", {});
  checkMatrix(options.correct, "correct", { binary: true, n, p: scores.length });
  if (subset === "top_logprob") {
    if (!options.logprobs) throw new RangeError('logprobs: required with subset "top_logprob"');
    checkMatrix(options.logprobs, "logprobs", { n, p: scores.length });
  } else if (subset !== "first") {
    throw new RangeError(`subset: expected "first" or "top_logprob", got ${subset}`);
  }
  checkNs(ns, n);
  const accuracy: Record<string, number> = {};
  for (const N of ns) {
    let hits = 0;
    scores.forEach((row, p) => {
      const idx = subsetOf(N, subset, subset === "top_logprob" ? options.logprobs![p] : undefined);
      let best = idx[0]!;
      for (const i of idx) if (row[i]! > row[best]!) best = i;
      hits += options.correct[p]![best]!;
    });
    accuracy[String(N)] = hits / scores.length;
  }
  const mean = ns.reduce((s, N) => s + accuracy[String(N)]!, 0) / ns.length;
  return { accuracy, mean };
}

/**
 * Reference lines for best-of-N: majority vote over the final answers of the
 * first N samples (null answers do not vote; ties go to the answer seen first;
 * no vote = wrong), and pass@N (any of the first N correct).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { bonReferences } from "./best_of_n.ts";
 * const r = bonReferences([[3, 5, 5, 3]], { correct: [[1, 0, 0, 1]], ns: [3, 4] });
 * assertEquals(r.majority, { "3": 0, "4": 1 }); // at 4 the 3/5 tie goes to 3, seen first
 * assertEquals(r.pass, { "3": 1, "4": 1 });
 * ```
 */
export function bonReferences(
  answers: readonly (readonly (number | string | null)[])[],
  options: { correct: readonly (readonly number[])[]; ns?: readonly number[] },
): {
  majority: Record<string, number>;
  pass: Record<string, number>;
  meanMajority: number;
  meanPass: number;
} {
  const ns = options.ns ?? [4, 16, 64];
  if (!Array.isArray(answers) || answers.length === 0) {
    throw new RangeError("answers: expected a non-empty [P][N] array");
  }
  const n = checkMatrix(options.correct, "correct", { binary: true, p: answers.length });
  answers.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== n) {
      throw new RangeError(`answers[${i}]: expected ${n} samples`);
    }
  });
  checkNs(ns, n);
  const majority: Record<string, number> = {}, pass: Record<string, number> = {};
  for (const N of ns) {
    let maj = 0, any = 0;
    answers.forEach((row, p) => {
      const counts = new Map<number | string, { c: number; first: number }>();
      for (let i = 0; i < N; i++) {
        const a = row[i];
        if (a === null || a === undefined) continue;
        const e = counts.get(a);
        if (e) e.c++;
        else counts.set(a, { c: 1, first: i });
      }
      let pick: { c: number; first: number } | null = null;
      for (const e of counts.values()) if (pick === null || e.c > pick.c) pick = e;
      if (pick !== null) maj += options.correct[p]![pick.first]!;
      if (options.correct[p]!.slice(0, N).some((x) => x === 1)) any++;
    });
    majority[String(N)] = maj / answers.length;
    pass[String(N)] = any / answers.length;
  }
  const avg = (r: Record<string, number>) => ns.reduce((s, N) => s + r[String(N)]!, 0) / ns.length;
  return { majority, pass, meanMajority: avg(majority), meanPass: avg(pass) };
}
