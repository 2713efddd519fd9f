/**
 * Rollouts from a policy: `n` samples per problem, batched (rows of equal prompt
 * length share a sampling call, since prompts are not padded), seeded, with
 * temperature / top-p; each decoded, verified, labelled at its earliest wrong step,
 * with its step ends in response-token indices from the tokenizer's offsets.
 * @module
 */
import type { TinyLM } from "../model/lm.ts";
import { sample } from "../model/sample.ts";
import type { CounterRng } from "../prng.ts";
import { createProgress } from "../run/progress.ts";
import { type Format, maxSequenceLength, renderPrompt } from "../testbed/format.ts";
import { labelResponse } from "../testbed/labeller.ts";
import { stepTokenEnds } from "../testbed/processbench_rows.ts";
import { type Problem, problemCounterKeys, problemKey } from "../testbed/task.ts";
import { BOS_ID, CharTokenizer, EOS_ID, PAD_ID } from "../testbed/tokenizer.ts";
import { verify } from "../testbed/verifier.ts";
import type { Rollout } from "./types.ts";

/** A problem to sample for, with the bucket it was drawn for. */
export interface RolloutItem {
  /** The problem. */
  problem: Problem;
  /** Bucket / split name recorded in each rollout. */
  bucket: string;
}

/** Options of {@linkcode sampleRollouts}. */
export interface RolloutOptions {
  /**
   * Counter-based draws: sample `s` of an item draws `rng.uniform(key, s, t)` at token `t`,
   * `key` the item's `problemCounterKeys` entry, so an item's samples do not depend on the
   * other items or on `batchRows`.
   */
  rng: CounterRng;
  /** Samples per problem (>= 1). */
  n: number;
  /** Temperature; 0 = greedy. Default 1. */
  temperature?: number;
  /** Nucleus mass (default 1 = off). */
  topP?: number;
  /** Top-k (default 0 = off). */
  topK?: number;
  /** Format the policy writes (default `"sft"`). */
  format?: Format;
  /** Rows per sampling call (default 512). */
  batchRows?: number;
  /** Progress label (default `"rollouts"`); progress goes to `log` or stderr. */
  label?: string;
  /** Progress sink; `() => {}` silences. */
  log?: (line: string) => void;
}

const tokenizer = new CharTokenizer();

/** Tokens a sample may run past the longest well-formed response of its problem. */
export const RESPONSE_SLACK = 8;

/**
 * Labels one decoded response (exported for tests and for re-labelling).
 *
 * @example
 * ```ts
 * import { rolloutFromTokens } from "./rollouts.ts";
 * import { CharTokenizer, EOS_ID } from "../testbed/tokenizer.ts";
 * import { assertEquals } from "@std/assert";
 * const problem = { start: 1, ops: [{ op: "+" as const, operand: 1 }], modulus: 7 };
 * const tokens = [...new CharTokenizer().encode(">1+1=2\n#2\n").ids, EOS_ID];
 * const r = rolloutFromTokens(problem, { tokens, bucket: "b", sample: 0, format: "sft" });
 * assertEquals(r.correct, 1);
 * assertEquals(r.stepEnds, [10]);
 * ```
 */
export function rolloutFromTokens(
  problem: Problem,
  options: {
    tokens: readonly number[];
    bucket: string;
    sample: number;
    format: Format;
    logprob?: number;
    temperature?: number;
  },
): Rollout {
  const { format } = options;
  // Keep tokens and text aligned: a special id (PAD/BOS) inside a sample ends it unfinished.
  const toks: number[] = [];
  let finished = false;
  for (const id of options.tokens) {
    if (id === EOS_ID) {
      toks.push(id);
      finished = true;
      break;
    }
    if (id === PAD_ID || id === BOS_ID) break;
    toks.push(id);
  }
  const response = tokenizer.decode(toks);
  const lab = labelResponse(problem, response, { format });
  return {
    key: problemKey(problem),
    problem,
    bucket: options.bucket,
    steps: problem.ops.length,
    sample: options.sample,
    prompt: renderPrompt(problem),
    response,
    format,
    correct: verify(problem, response, { format }),
    label: lab.label,
    errorKind: lab.kind,
    stepEnds: stepTokenEnds(response, { format, tokenizer }),
    length: toks.length,
    tokens: toks,
    finished,
    logprob: options.logprob ?? 0,
    temperature: options.temperature ?? 1,
  };
}

/**
 * Samples `n` rollouts per item. Returns them in item order, then sample order
 * (`out[i * n + s]`), whatever the batching.
 *
 * @param items problems with their bucket names
 * @returns `items.length * n` rollouts
 */
export async function sampleRollouts(
  model: TinyLM,
  items: readonly RolloutItem[],
  options: RolloutOptions,
): Promise<Rollout[]> {
  const n = options.n;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n: expected an integer >= 1, got ${n}`);
  const batchRows = options.batchRows ?? 512;
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new RangeError(`batchRows: expected an integer >= 1, got ${batchRows}`);
  }
  const temperature = options.temperature ?? 1;
  const format = options.format ?? "sft";
  const ctx = model.config.context;
  // rows grouped by prompt token length, in order of first appearance
  const groups = new Map<
    number,
    { item: number; sample: number; prompt: number[]; cap: number }[]
  >();
  const keys = problemCounterKeys(items.map((it) => it.problem));
  items.forEach((it, i) => {
    const prompt = tokenizer.encode(renderPrompt(it.problem), { bos: true }).ids;
    if (prompt.length >= ctx) {
      throw new RangeError(
        `items[${i}]: prompt of ${prompt.length} tokens leaves no room in the context ${ctx}`,
      );
    }
    // Longest well-formed response (every step verified) plus one step of slack:
    // anything longer is wrong anyway, and an unfinished sample costs a decode step per token.
    const k = it.problem.ops.length;
    const longest = maxSequenceLength(k, { format, modulus: it.problem.modulus, maxVerify: k });
    const cap = Math.min(ctx - prompt.length, longest - prompt.length + RESPONSE_SLACK);
    const g = groups.get(prompt.length) ?? [];
    for (let s = 0; s < n; s++) g.push({ item: i, sample: s, prompt, cap });
    groups.set(prompt.length, g);
  });
  const out: Rollout[] = new Array(items.length * n);
  const total = items.length * n;
  const progress = createProgress(options.label ?? "rollouts", {
    total,
    everySeconds: 15,
    ...(options.log ? { write: options.log } : {}),
  });
  let done = 0, tokens = 0;
  for (const rows of groups.values()) {
    for (let r0 = 0; r0 < rows.length; r0 += batchRows) {
      const chunk = rows.slice(r0, r0 + batchRows);
      const maxNew = Math.max(...chunk.map((c) => c.cap));
      const res = await sample(model, chunk.map((c) => c.prompt), {
        rng: options.rng,
        keys: chunk.map((c) => ({ problem: keys[c.item]!, sample: c.sample })),
        maxNewTokens: maxNew,
        temperature,
        topP: options.topP ?? 1,
        topK: options.topK ?? 0,
        eosId: EOS_ID,
        padId: PAD_ID,
      });
      chunk.forEach((c, r) => {
        // A row's own cap, not the chunk's: its tokens then do not depend on its chunk.
        const len = Math.min(res.lengths[r]!, c.cap);
        const toks = Array.from(res.tokens.subarray(r * maxNew, r * maxNew + len));
        let lp = 0;
        for (let j = 0; j < len; j++) lp += res.modelLogprobs[r * maxNew + j]!;
        out[c.item * n + c.sample] = rolloutFromTokens(items[c.item]!.problem, {
          tokens: toks,
          bucket: items[c.item]!.bucket,
          sample: c.sample,
          format,
          logprob: lp,
          temperature,
        });
        tokens += len;
      });
      done += chunk.length;
      progress.update(done, { tokens });
    }
  }
  progress.finish();
  return out;
}

/**
 * Accuracy (mean of `correct`) per bucket, in first-appearance order.
 *
 * @example
 * ```ts
 * import { accuracyByBucket } from "./rollouts.ts";
 * import { assertEquals } from "@std/assert";
 * const acc = accuracyByBucket([{ bucket: "a", correct: 1 }, { bucket: "a", correct: 0 }]);
 * assertEquals(acc, { a: 0.5 });
 * ```
 */
export function accuracyByBucket(
  rollouts: readonly { bucket: string; correct: number }[],
): Record<string, number> {
  const acc = new Map<string, [number, number]>();
  for (const r of rollouts) {
    const a = acc.get(r.bucket) ?? [0, 0];
    a[0] += r.correct;
    a[1] += 1;
    acc.set(r.bucket, a);
  }
  return Object.fromEntries([...acc].map(([k, [c, t]]) => [k, c / t]));
}
