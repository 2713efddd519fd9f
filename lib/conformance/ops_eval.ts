/**
 * Conformance ops of lib/eval (../shared/spec/conformance.md): `step_scores`,
 * `processbench_f1`, `best_of_n`, `avg_at_k`. Arguments are checked here (errors
 * name the argument in the spec's snake_case); the maths is lib/eval's.
 * @module
 */
import type { Op } from "./_op.ts";
import { ArgError, type Args, checkTensor, choice, mat, vec } from "./_args.ts";
import { checkStepEnds, stepScores } from "../eval/step_scores.ts";
import { checkRows, processBenchF1, type ScoredRow } from "../eval/processbench.ts";
import { bestOfN } from "../eval/best_of_n.ts";
import { avgAtK } from "../eval/avg_at_k.ts";

/** Re-throws a lib RangeError as an ArgError (its message already starts with the argument name). */
function asArg<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError) throw new ArgError(e.message);
    throw e;
  }
}

/** `[{label, scores [S]}]`: a ragged list of rows, each scores a finite `[S]`, label an integer. */
function scoredRows(args: Args, name: string): ScoredRow[] {
  const v = args[name];
  if (v === undefined) throw new ArgError(`${name}: required argument is missing`);
  if (!Array.isArray(v)) {
    throw new ArgError(`${name}: expected an array of {label, scores}, got ${typeof v}`);
  }
  return v.map((r: unknown, i: number): ScoredRow => {
    if (typeof r !== "object" || r === null || Array.isArray(r)) {
      throw new ArgError(
        `${name}[${i}]: expected an object {label, scores}, got ${JSON.stringify(r)}`,
      );
    }
    const row = r as Record<string, unknown>;
    const label = row.label;
    if (typeof label !== "number" || !Number.isInteger(label)) {
      throw new ArgError(`${name}[${i}].label: expected an integer, got ${JSON.stringify(label)}`);
    }
    if (row.scores === undefined) {
      throw new ArgError(`${name}[${i}].scores: required field is missing`);
    }
    const scores = checkTensor(row.scores, `${name}[${i}].scores`, 1, [], "[S]").value as number[];
    return { label, scores };
  });
}

/** A 0/1 `[P][N]` matrix. */
function binaryMat(args: Args, name: string, rows?: number, cols?: number): number[][] {
  const m = mat(args, name, rows, cols);
  m.forEach((row, i) =>
    row.forEach((x, j) => {
      if (x !== 0 && x !== 1) {
        throw new ArgError(`${name}: expected 0/1 values, got ${x} at [${i}][${j}]`);
      }
    })
  );
  return m;
}

/** Ops of this area, by name. */
export const EVAL_OPS: Record<string, Op> = {
  step_scores(args) {
    const logratio = vec(args, "logratio");
    const stepEnds = vec(args, "step_ends");
    const mode = choice(args, "mode", ["process", "prefix"] as const, "process");
    asArg(() => checkStepEnds(stepEnds, logratio.length, "step_ends"));
    return { scores: stepScores(logratio, { stepEnds, mode }) };
  },
  processbench_f1(args) {
    const rows = scoredRows(args, "rows");
    asArg(() => checkRows(rows, "rows"));
    const t = args.threshold ?? "oracle";
    if (t !== "oracle" && (typeof t !== "number" || !Number.isFinite(t))) {
      throw new ArgError(
        `threshold: expected "oracle" or a finite number, got ${JSON.stringify(t)}`,
      );
    }
    const r = processBenchF1(rows, { threshold: t });
    return {
      f1: r.f1,
      acc_erroneous: r.accErroneous,
      acc_correct: r.accCorrect,
      threshold: r.threshold,
    };
  },
  best_of_n(args) {
    const scores = mat(args, "scores");
    if (scores.length === 0) throw new ArgError("scores: expected at least one problem, got []");
    const n = scores[0]!.length;
    const correct = binaryMat(args, "correct", scores.length, n);
    const ns = vec(args, "ns", undefined, [4, 16, 64]);
    return asArg(() => bestOfN(scores, { correct, ns }));
  },
  avg_at_k(args) {
    const correct = binaryMat(args, "correct");
    return asArg(() => avgAtK(correct));
  },
};
