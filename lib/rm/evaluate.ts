/**
 * Evaluation of implicit reward models (methods.md d1, d2; paper Sec. 4.2, App. G):
 *
 * - **ProcessBench analogue F1** per bucket and averaged, from process-level (Eq. 31) and
 *   prefix-based (Eq. 30) step scores, in the three threshold modes (`oracle`, `transfer`,
 *   `compat`), ALWAYS beside two baselines: seeded random step scores and the SFT policy's own
 *   per-step log-prob `Σ_{t∈step} log π_sft(y_t|s_t)` (process-level). Step boundaries are the
 *   exclusive response-token ends carried by each row (from the tokenizer's offsets, never
 *   re-tokenised).
 * - **Best-of-N** at N ∈ {4, 16, 64} per split and averaged: pick by `v̄_T` (IPVRM) or `Σ ℓ`
 *   (DPO-RM, Implicit PRM), optionally by the `min` of process-level step scores; beside
 *   majority vote, pass@N, random and SFT-log-prob picks.
 *
 * The table builders ({@linkcode processBenchTable}, {@linkcode bonTable}) are pure functions over
 * host scores; {@linkcode evaluateProcessBench} and {@linkcode evaluateBestOfN} score with a
 * {@linkcode RewardModelPair} first. F1 and accuracies are fractions (not percent).
 * @module
 */
import {
  compatF1,
  type F1Result,
  processBenchF1,
  type ScoredRow,
  transferF1,
} from "../eval/processbench.ts";
import { bestOfN, bonReferences } from "../eval/best_of_n.ts";
import { stepScores } from "../eval/step_scores.ts";
import { Rng } from "../prng.ts";
import {
  type RewardModelPair,
  scoreSequences,
  type SequenceScoreKind,
  sequenceScoreOf,
  type SequenceScores,
  type SequenceTokens,
} from "./score.ts";

/** A ProcessBench-analogue row: a shifted-format trace with its first-error label. */
export interface PbEvalRow extends SequenceTokens {
  /** Row id. */
  id: string;
  /** Difficulty bucket (the analogue of GSM8K / MATH / OlympiadBench / OmniMath). */
  bucket: string;
  /** Earliest wrong step (0-based), -1 when all steps are right. */
  label: number;
  /** Exclusive response-token end of each step (from tokenizer offsets). */
  stepEnds: readonly number[];
}

/** F1 of one scorer in one threshold mode. */
export interface ModeF1 {
  /** F1 per bucket. */
  byBucket: Record<string, number>;
  /** Unweighted mean over the buckets it reports (transfer: the buckets it was applied to). */
  mean: number;
  /** Threshold per bucket (null = +inf); transfer: the fitted one under every bucket. */
  thresholds: Record<string, number | null>;
}

/** The three threshold modes of one scorer. */
export interface ScorerF1 {
  /** Exact per-bucket search on the bucket itself (methods.md d1 (i)). */
  oracle: ModeF1;
  /** τ fitted on `fitBucket`, applied to the other buckets (d1 (ii)). */
  transfer: ModeF1 & { fitBucket: string };
  /** The repo's grid over `σ(0.001 · score)` (d1 (iii)). */
  compat: ModeF1;
}

/** Options of {@linkcode processBenchTable}. */
export interface PbTableOptions {
  /** Bucket the transfer threshold is fitted on (default: the first bucket in row order). */
  transferFit?: string;
  /** Scale `c` of the compat mode (default 0.001, [IPVRM] `process_eval.py`). */
  compatScale?: number;
  /** Grid points of the compat mode (default 10 000). */
  compatGrid?: number;
}

/** Buckets in first-appearance order. */
export function bucketsOf(rows: readonly { bucket: string }[]): string[] {
  return [...new Set(rows.map((r) => r.bucket))];
}

/**
 * F1 per bucket in the three modes, from step scores (one array per row, aligned with `rows`).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { processBenchTable } from "./evaluate.ts";
 * // methods.md d1 worked check: oracle F1 1.0 at τ = 0.4.
 * const rows = [{ bucket: "a", label: -1 }, { bucket: "a", label: -1 }, { bucket: "a", label: 1 }, { bucket: "a", label: 0 }];
 * const t = processBenchTable(rows, [[.8, .7, .9], [.6, .4], [.9, .3, .5], [.2, .6]]);
 * assertEquals(t.oracle.byBucket.a, 1);
 * ```
 */
export function processBenchTable(
  rows: readonly { bucket: string; label: number }[],
  scores: readonly (readonly number[])[],
  options: PbTableOptions = {},
): ScorerF1 {
  if (rows.length !== scores.length) {
    throw new RangeError(
      `Invalid scores: expected ${rows.length} arrays (one per row), got ${scores.length}`,
    );
  }
  const buckets = bucketsOf(rows);
  if (buckets.length === 0) throw new RangeError("Invalid rows: expected at least one row");
  const byBucket: Record<string, ScoredRow[]> = {};
  rows.forEach((r, i) => (byBucket[r.bucket] ??= []).push({ label: r.label, scores: scores[i]! }));
  const fit = options.transferFit ?? buckets[0]!;
  if (!(fit in byBucket)) {
    throw new RangeError(
      `Invalid transferFit: expected one of ${buckets.join(", ")}, got "${fit}"`,
    );
  }
  const mode = (f: (rs: ScoredRow[], b: string) => F1Result, only?: string[]): ModeF1 => {
    const out: ModeF1 = { byBucket: {}, mean: 0, thresholds: {} };
    for (const b of buckets) {
      let r: F1Result;
      try {
        r = f(byBucket[b]!, b);
      } catch (e) {
        throw new RangeError(`bucket "${b}": ${(e as Error).message}`);
      }
      out.byBucket[b] = r.f1;
      out.thresholds[b] = r.threshold;
    }
    const use = only ?? buckets;
    out.mean = use.reduce((s, b) => s + out.byBucket[b]!, 0) / use.length;
    return out;
  };
  const oracle = mode((rs) => processBenchF1(rs));
  const others = buckets.filter((b) => b !== fit);
  const tr = transferF1(byBucket[fit]!, { apply: byBucket });
  const transfer = {
    ...mode((_rs, b) => tr.splits[b]!, others.length ? others : buckets),
    fitBucket: fit,
  };
  const compat = mode((rs) =>
    compatF1(rs, { scale: options.compatScale ?? 0.001, gridSize: options.compatGrid ?? 10000 })
  );
  return { oracle, transfer, compat };
}

/** Seeded random step scores, U(0,1) per step (the random baseline). */
export function randomStepScores(
  rows: readonly { stepEnds: readonly number[] }[],
  options: { seed: number },
): number[][] {
  const rng = new Rng(options.seed).fork("pb_random_baseline");
  return rows.map((r) => r.stepEnds.map(() => rng.next()));
}

/** Scorer names of a ProcessBench report. */
export type PbScorer = "rm_process" | "rm_prefix" | "sft_logprob" | "random";

/** Options of {@linkcode evaluateProcessBench}. */
export interface EvaluatePbOptions extends PbTableOptions {
  /** β used for prefix values (irrelevant to F1: the search is scale-free). Default 1. */
  beta?: number;
  /** Sequences per forward pass. */
  batchSize?: number;
  /** Seed of the random baseline. Required. */
  seed: number;
}

/** The ProcessBench-analogue report of one RM with its baselines. */
export interface PbReport {
  /** Rows scored. */
  rows: number;
  /** Buckets in order. */
  buckets: string[];
  /** F1 tables per scorer. */
  scorers: Record<PbScorer, ScorerF1>;
}

/**
 * Per-row step scores of a ProcessBench-analogue evaluation (the per-item record of
 * statistics.md): row ids, buckets and labels, and per scorer one array of step scores per row.
 * `rm_prefix` is the running sum of `rm_process`, so it is not stored; `random` is regenerated
 * from the seed ({@linkcode randomStepScores}). Re-running {@linkcode processBenchTable} on these
 * scores gives the report's F1 tables.
 */
export interface PbItems {
  ids: string[];
  buckets: string[];
  labels: number[];
  /** Step scores per row: process-level step sums of `ℓ` and of `log π_sft`. */
  scores: { rm_process: number[][]; sft_logprob: number[][] };
}

/**
 * Scores the rows with the RM (process-level and prefix-based step sums of ℓ) and the SFT
 * reference (process-level step sums of `log π_sft`), adds the seeded random baseline, and
 * builds every F1 table.
 */
export async function evaluateProcessBench(
  pair: RewardModelPair,
  rows: readonly PbEvalRow[],
  options: EvaluatePbOptions,
): Promise<PbReport> {
  return (await evaluateProcessBenchItems(pair, rows, options)).report;
}

/** {@linkcode evaluateProcessBench}, also returning the per-row step scores ({@linkcode PbItems}). */
export async function evaluateProcessBenchItems(
  pair: RewardModelPair,
  rows: readonly PbEvalRow[],
  options: EvaluatePbOptions,
): Promise<{ report: PbReport; items: PbItems }> {
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new RangeError("Invalid rows: expected a non-empty array of ProcessBench-analogue rows");
  }
  const scored = await scoreSequences(pair, rows, {
    beta: options.beta ?? 1,
    batchSize: options.batchSize,
  });
  const steps = (arrs: ArrayLike<number>[], mode: "process" | "prefix") =>
    arrs.map((a, i) => {
      try {
        return stepScores(Array.from(a), { stepEnds: rows[i]!.stepEnds, mode });
      } catch (e) {
        throw new RangeError(`rows[${i}] (id ${rows[i]!.id}): ${(e as Error).message}`);
      }
    });
  const lr = scored.map((s) => s.logratio), ref = scored.map((s) => s.logpRef);
  const table = (s: number[][]) => processBenchTable(rows, s, options);
  const rmProcess = steps(lr, "process"), sftLogprob = steps(ref, "process");
  return {
    report: {
      rows: rows.length,
      buckets: bucketsOf(rows),
      scorers: {
        rm_process: table(rmProcess),
        rm_prefix: table(steps(lr, "prefix")),
        sft_logprob: table(sftLogprob),
        random: table(randomStepScores(rows, { seed: options.seed })),
      },
    },
    items: {
      ids: rows.map((r) => String(r.id)),
      buckets: rows.map((r) => r.bucket),
      labels: rows.map((r) => r.label),
      scores: { rm_process: rmProcess, sft_logprob: sftLogprob },
    },
  };
}

/** One best-of-N candidate. */
export interface BonSample extends SequenceTokens {
  /** Verifier outcome. */
  correct: 0 | 1;
  /** Parsed final answer (null when unparseable) for majority vote. */
  answer: number | string | null;
  /** Exclusive response-token step ends (needed by the `min` step-score option). */
  stepEnds?: readonly number[];
}

/** One held-out problem with its samples (64 in the pipeline; @N uses the first N). */
export interface BonProblem {
  /** Problem key. */
  key: string;
  /** Held-out split (the analogue of MATH-500 / Minerva-Math). */
  split: string;
  /** Samples from the SFT policy. */
  samples: readonly BonSample[];
}

/** Accuracy per N and their mean, for one picker on one split. */
export interface BonLine {
  /** Accuracy by N (as a string key). */
  byN: Record<string, number>;
  /** Mean over N. */
  mean: number;
}

/** Picker names of a best-of-N report. */
export type BonPicker = "rm" | "rm_min" | "sft_logprob" | "random" | "majority" | "pass";

/** Best-of-N per split, and the mean over splits of each picker's per-split mean. */
export interface BonReport {
  /** Splits in order. */
  splits: string[];
  /** N values. */
  ns: number[];
  /** Per split, per picker. `rm_min` is absent when samples carry no step ends. */
  bySplit: Record<string, Partial<Record<BonPicker, BonLine>>>;
  /** Mean over splits of each picker's mean (the paper's "Avg."). */
  average: Partial<Record<BonPicker, number>>;
}

/**
 * Best-of-N tables from host scores: `scores[p][i]` per picker (higher is picked; ties to the
 * lowest index), plus majority vote and pass@N. Problems are grouped by split.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { bonTable } from "./evaluate.ts";
 * const problems = [{ key: "a", split: "s", samples: [
 *   { prompt: [1], response: [3], correct: 0 as const, answer: 3 },
 *   { prompt: [1], response: [4], correct: 1 as const, answer: 4 }] }];
 * const t = bonTable(problems, { pickers: { rm: [[0.1, 0.9]] }, ns: [1, 2] });
 * assertEquals(t.bySplit.s!.rm!.byN, { "1": 0, "2": 1 });
 * ```
 */
export function bonTable(
  problems: readonly BonProblem[],
  options: {
    pickers: Partial<
      Record<Exclude<BonPicker, "majority" | "pass">, readonly (readonly number[])[]>
    >;
    ns?: readonly number[];
  },
): BonReport {
  const ns = [...(options.ns ?? [4, 16, 64])];
  if (!Array.isArray(problems) || problems.length === 0) {
    throw new RangeError("Invalid problems: expected a non-empty array of BoN problems");
  }
  const splits = [...new Set(problems.map((p) => p.split))];
  const bySplit: BonReport["bySplit"] = {};
  for (const split of splits) {
    const idx = problems.map((p, i) => (p.split === split ? i : -1)).filter((i) => i >= 0);
    const correct = idx.map((i) => problems[i]!.samples.map((s: BonSample) => s.correct));
    const line: Partial<Record<BonPicker, BonLine>> = {};
    for (const [name, sc] of Object.entries(options.pickers)) {
      if (!sc) continue;
      if (sc.length !== problems.length) {
        throw new RangeError(
          `Invalid pickers.${name}: expected ${problems.length} rows, got ${sc.length}`,
        );
      }
      const r = bestOfN(idx.map((i) => sc[i]!), { correct, ns });
      line[name as BonPicker] = { byN: r.accuracy, mean: r.mean };
    }
    const refs = bonReferences(
      idx.map((i) => problems[i]!.samples.map((s: BonSample) => s.answer)),
      {
        correct,
        ns,
      },
    );
    line.majority = { byN: refs.majority, mean: refs.meanMajority };
    line.pass = { byN: refs.pass, mean: refs.meanPass };
    bySplit[split] = line;
  }
  const average: BonReport["average"] = {};
  for (const name of Object.keys(bySplit[splits[0]!]!) as BonPicker[]) {
    average[name] = splits.reduce((s, sp) => s + bySplit[sp]![name]!.mean, 0) / splits.length;
  }
  return { splits, ns, bySplit, average };
}

/** Score given to an empty response under every score picker (finite, below any real score). */
export const NEVER_PICK = -1e30;

/** Options of {@linkcode evaluateBestOfN}. */
export interface EvaluateBonOptions {
  /** Sequence score: `"final_mean_value"` (IPVRM, `v̄_T`) or `"sum"` (others, `Σ ℓ`). Required. */
  score: SequenceScoreKind;
  /** β of `v̄` (irrelevant to the argmax). Default 1. */
  beta?: number;
  /** N values (default 4, 16, 64). */
  ns?: readonly number[];
  /** Sequences per forward pass. */
  batchSize?: number;
  /** Seed of the random picker. Required. */
  seed: number;
}

/**
 * Per-problem best-of-N picks (the per-item record of statistics.md): problem keys and splits,
 * each sample's verifier outcome (one `"0"`/`"1"` string per problem, sample order), and per
 * score picker and N the index of the pick among the first N samples (ties to the lowest index,
 * as {@linkcode bonTable}); majority vote and pass@N as 0/1 per problem and N.
 */
export interface BonItems {
  keys: string[];
  splits: string[];
  ns: number[];
  correct: string[];
  picks: Partial<Record<Exclude<BonPicker, "majority" | "pass">, Record<string, number[]>>>;
  majority: Record<string, number[]>;
  pass: Record<string, number[]>;
}

/** The index of the highest score among the first `n` (ties to the lowest index). */
function pickOfFirst(row: readonly number[], n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/**
 * {@linkcode BonItems} of score pickers on `problems` (the picks {@linkcode bonTable} scores).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { bonItems } from "./evaluate.ts";
 * const problems = [{ key: "a", split: "s", samples: [
 *   { prompt: [1], response: [3], correct: 0 as const, answer: 3 },
 *   { prompt: [1], response: [4], correct: 1 as const, answer: 4 }] }];
 * const it = bonItems(problems, { pickers: { rm: [[0.9, 0.9]], random: [[0.1, 0.8]] }, ns: [1, 2] });
 * assertEquals(it.picks, { rm: { "1": [0], "2": [0] }, random: { "1": [0], "2": [1] } });
 * assertEquals(it.correct, ["01"]);
 * assertEquals(it.pass, { "1": [0], "2": [1] });
 * ```
 */
export function bonItems(
  problems: readonly BonProblem[],
  options: {
    pickers: Partial<
      Record<Exclude<BonPicker, "majority" | "pass">, readonly (readonly number[])[]>
    >;
    ns: readonly number[];
  },
): BonItems {
  const ns = [...options.ns];
  const picks: BonItems["picks"] = {};
  for (const [name, sc] of Object.entries(options.pickers)) {
    if (!sc) continue;
    picks[name as keyof BonItems["picks"]] = Object.fromEntries(
      ns.map((n) => [String(n), sc.map((row) => pickOfFirst(row, n))]),
    );
  }
  const majority: Record<string, number[]> = {}, pass: Record<string, number[]> = {};
  for (const n of ns) {
    majority[String(n)] = [];
    pass[String(n)] = [];
    for (const p of problems) {
      const correct = [p.samples.map((s) => s.correct)];
      const r = bonReferences([p.samples.map((s) => s.answer)], { correct, ns: [n] });
      majority[String(n)]!.push(r.majority[String(n)]!);
      pass[String(n)]!.push(r.pass[String(n)]!);
    }
  }
  return {
    keys: problems.map((p) => p.key),
    splits: problems.map((p) => p.split),
    ns,
    correct: problems.map((p) => p.samples.map((s) => s.correct).join("")),
    picks,
    majority,
    pass,
  };
}

/**
 * Scores every sample with the RM and the SFT reference, then builds {@linkcode bonTable} with
 * pickers `rm` (the kind's sequence score), `rm_min` (min of process-level step scores, when
 * samples carry step ends), `sft_logprob` (`Σ log π_sft`), `random` (seeded), and the
 * majority / pass@N references.
 */
export async function evaluateBestOfN(
  pair: RewardModelPair,
  problems: readonly BonProblem[],
  options: EvaluateBonOptions,
): Promise<BonReport> {
  return (await evaluateBestOfNItems(pair, problems, options)).report;
}

/** {@linkcode evaluateBestOfN}, also returning the per-problem picks ({@linkcode BonItems}). */
export async function evaluateBestOfNItems(
  pair: RewardModelPair,
  problems: readonly BonProblem[],
  options: EvaluateBonOptions,
): Promise<{ report: BonReport; items: BonItems }> {
  const flat = problems.flatMap((p) => p.samples);
  // An empty response (nothing sampled before the context ran out) has no token to score:
  // it gets NEVER_PICK under every score picker.
  const nonEmpty = flat.map((s, i) => (s.response.length > 0 ? i : -1)).filter((i) => i >= 0);
  const scoredNe = await scoreSequences(pair, nonEmpty.map((i) => flat[i]!), {
    beta: options.beta ?? 1,
    batchSize: options.batchSize,
  });
  const scored: (SequenceScores | null)[] = flat.map(() => null);
  nonEmpty.forEach((i, j) => (scored[i] = scoredNe[j]!));
  const rng = new Rng(options.seed).fork("bon_random_baseline");
  const rm: number[][] = [], rmMin: number[][] = [], sft: number[][] = [], rand: number[][] = [];
  const haveSteps = flat.every((s) =>
    s.response.length === 0 || (s.stepEnds && s.stepEnds.length > 0)
  );
  const or = (
    s: SequenceScores | null,
    f: (s: SequenceScores) => number,
  ) => (s ? f(s) : NEVER_PICK);
  let off = 0;
  for (const p of problems) {
    const part = scored.slice(off, off + p.samples.length);
    rm.push(part.map((s) => or(s, (x) => sequenceScoreOf(x, options.score))));
    sft.push(part.map((s) => or(s, (x) => x.logpRef.reduce((a, b) => a + b, 0))));
    rand.push(part.map(() => rng.next()));
    if (haveSteps) {
      rmMin.push(
        part.map((s, i) =>
          or(
            s,
            (x) =>
              Math.min(
                ...stepScores(Array.from(x.logratio), { stepEnds: p.samples[i]!.stepEnds! }),
              ),
          )
        ),
      );
    }
    off += p.samples.length;
  }
  const pickers = { rm, ...(haveSteps ? { rm_min: rmMin } : {}), sft_logprob: sft, random: rand };
  const report = bonTable(problems, { pickers, ns: options.ns });
  return { report, items: bonItems(problems, { pickers, ns: report.ns }) };
}
