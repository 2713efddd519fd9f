/**
 * Records the pipeline writes and downstream code (RMs, RL, evaluation) reads. All
 * are plain JSON data, one per JSONL line.
 * @module
 */
import type { ProcessBenchRow } from "../data/processbench.ts";
import type { Format } from "../testbed/format.ts";
import type { ErrorKind } from "../testbed/labeller.ts";
import type { Problem } from "../testbed/task.ts";

/**
 * One sampled response to a problem, verified and labelled.
 *
 * Token indexing: `tokens[r]` is response token `r` (0-based, the first token after
 * `BOS + prompt`); `stepEnds[i]` is the exclusive end of step `i` in those indices
 * (methods.md (a)); `length = tokens.length` counts the EOS when `finished`.
 */
export interface Rollout {
  /** `problemKey()` of the problem. */
  key: string;
  /** The problem itself (start, ops, modulus). */
  problem: Problem;
  /** Bucket / split name the problem was drawn for (e.g. `gsm8k`, `train`). */
  bucket: string;
  /** Chain length k. */
  steps: number;
  /** Index of this sample among the problem's samples. */
  sample: number;
  /** Prompt text (e.g. `3+4*2=`). */
  prompt: string;
  /** Response text (decoded up to EOS, EOS excluded). */
  response: string;
  /** Format the response is written (and parsed, labelled) in. */
  format: Format;
  /** Verifier outcome: 1 when the final answer is right. */
  correct: 0 | 1;
  /** Index of the earliest wrong step, -1 when every step is right. */
  label: number;
  /** Kind of the error at `label`. */
  errorKind: ErrorKind;
  /** Exclusive end of each step, in response-token indices. */
  stepEnds: number[];
  /** Response tokens (EOS included when `finished`). */
  length: number;
  /** Sampled token ids (EOS included when `finished`). */
  tokens: number[];
  /** Whether the sample stopped with EOS (false: cut at the context). */
  finished: boolean;
  /** Sum of the untempered model log-probs of `tokens`. */
  logprob: number;
  /** Sampling temperature (0 = greedy). */
  temperature: number;
}

/** One RM preference pair: a correct and a wrong rollout of the same prompt. */
export interface RmPair {
  /** Problem key (both rollouts share it). */
  key: string;
  /** The correct rollout (`correct = 1`). */
  chosen: Rollout;
  /** The wrong rollout (`correct = 0`). */
  rejected: Rollout;
}

/**
 * A ProcessBench-analogue row: the real schema ({@linkcode ProcessBenchRow}: id, generator,
 * problem, steps in the shifted format, label = earliest wrong step in that rendering,
 * final_answer_correct) plus the testbed's extras. `generator` is `"sft_policy"`: the rows are
 * the policy's own samples; ids are `<bucket>-<n>`.
 */
export interface PbRow extends ProcessBenchRow {
  /** Bucket (ProcessBench split analogue). */
  bucket: string;
  /** The problem. */
  problem_data: Problem;
  /** The shifted-format response text. */
  response: string;
  /** Exclusive step ends in response-token indices of `response`. */
  step_ends: number[];
  /** Kind of the error at `label`. */
  error_kind: ErrorKind;
  /** The policy's original SFT-format response. */
  source_response: string;
}

/** A held-out problem of an avg@k / BoN split. */
export interface EvalProblem {
  /** Problem key. */
  key: string;
  /** Split name. */
  split: string;
  /** Prompt text. */
  prompt: string;
  /** The problem. */
  problem: Problem;
  /** Its answer. */
  answer: number;
}
