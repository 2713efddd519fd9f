/**
 * Internal: adapters from the pipeline's JSON records (lib/pipeline/types.ts) to the token
 * sequences the RM trainer and evaluation read. Prompts are `BOS + prompt` (as
 * lib/pipeline/batching.ts encodes them); responses are the sampled token ids (EOS included when
 * the sample finished) for rollouts, and `response + EOS` for ProcessBench-analogue rows, whose
 * `step_ends` index the same response tokens.
 * @module
 */
import type { PbRow, Rollout } from "./types.ts";
import { CharTokenizer } from "../testbed/tokenizer.ts";
import { extractAnswer } from "../testbed/verifier.ts";
import type { BonProblem, PbEvalRow } from "../rm/evaluate.ts";
import type { RMRollout } from "../rm/train.ts";

const tok = new CharTokenizer();
const promptCache = new Map<string, number[]>();

/** `BOS + prompt` ids (memoised: many rollouts share a prompt). */
export function promptIds(prompt: string): number[] {
  let ids = promptCache.get(prompt);
  if (!ids) {
    ids = tok.encode(prompt, { bos: true }).ids;
    promptCache.set(prompt, ids);
  }
  return ids;
}

/** Labelled RM rollouts, grouped by problem key; empty responses (nothing to score) are dropped. */
export function rmRolloutsFrom(rollouts: readonly Rollout[]): RMRollout[] {
  return rollouts.filter((r) => r.tokens.length > 0).map((r) => ({
    group: r.key,
    prompt: promptIds(r.prompt),
    response: r.tokens,
    correct: r.correct,
  }));
}

/** ProcessBench-analogue rows with their token step ends. */
export function pbRowsFrom(rows: readonly PbRow[]): PbEvalRow[] {
  return rows.map((r) => ({
    id: r.id,
    bucket: r.bucket,
    prompt: promptIds(r.problem),
    response: tok.encode(r.response, { eos: true }).ids,
    label: r.label,
    stepEnds: r.step_ends,
  }));
}

/** BoN problems from `readBonSet()`'s problem-major rollouts. */
export function bonProblemsFrom(
  problems: readonly { key: string; split: string }[],
  rollouts: readonly (readonly Rollout[])[],
): BonProblem[] {
  return problems.map((p, i) => ({
    key: p.key,
    split: p.split,
    samples: (rollouts[i] ?? []).map((r) => ({
      prompt: promptIds(r.prompt),
      response: r.tokens,
      correct: r.correct,
      answer: extractAnswer(r.response, { format: r.format }),
      stepEnds: r.stepEnds.length > 0 ? r.stepEnds : undefined,
    })),
  }));
}
