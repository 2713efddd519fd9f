/**
 * Rollouts, verification and mixed-group filtering of the RL step (methods.md B15 steps
 * 1–3), and the token batch they feed (layout of lib/pipeline/batching.ts:
 * `BOS + prompt + response (+ EOS) + PAD`, token-aligned response mask).
 *
 * Shapes: `P` prompts, `G` rollouts per prompt (rows of a group are consecutive),
 * `B = P·G` rows, `T` columns.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { sample } from "../model/sample.ts";
import type { TinyLM } from "../model/lm.ts";
import type { CounterRng } from "../prng.ts";
import { renderPrompt } from "../testbed/format.ts";
import { type Problem, problemCounterKeys } from "../testbed/task.ts";
import { CharTokenizer, EOS_ID, PAD_ID } from "../testbed/tokenizer.ts";
import { verify } from "../testbed/verifier.ts";

/** How prompts are encoded and responses verified (the testbed by default). */
export interface RolloutTask {
  /** `BOS + prompt` ids of a problem. */
  encodePrompt(problem: Problem): number[];
  /** 1 when the response (ids, EOS included if emitted) is correct. Never throws. */
  verify(problem: Problem, response: readonly number[]): 0 | 1;
  /** Stops a row. */
  eosId: number;
  /** Fills padding. */
  padId: number;
}

/** The testbed task: character tokenizer, SFT format, rule-based verifier. */
export function testbedTask(): RolloutTask {
  const tok = new CharTokenizer();
  return {
    encodePrompt: (p) => tok.encode(renderPrompt(p), { bos: true }).ids,
    verify: (p, ids) => {
      try {
        return verify(p, tok.decode([...ids]), { format: "sft" });
      } catch {
        return 0; // an id the tokenizer does not know: unparseable, hence wrong
      }
    },
    eosId: EOS_ID,
    padId: PAD_ID,
  };
}

/** Host-side samples of `P` prompts × `G` responses (rows of a prompt are consecutive). */
export interface Samples {
  /** `[P]`. */
  problems: Problem[];
  /** G. */
  groupSize: number;
  /** `[B]` `BOS + prompt` ids. */
  prompts: number[][];
  /** `[B]` response ids (EOS included when emitted). */
  responses: number[][];
  /** `[B]` true when the response hit the length cap without EOS. */
  truncated: boolean[];
}

/** Verified rollouts: the samples and their verifier outcomes. */
export interface Rollouts extends Samples {
  /** `[B]` verifier outcomes 0/1. */
  labels: number[];
}

/** Options of {@linkcode rollout}. */
export interface RolloutOptions {
  task: RolloutTask;
  /** Samples per prompt G. */
  groupSize: number;
  /**
   * Counter-based draws: rollout `j` of a problem draws `rng.uniform(key, j, t)` at token `t`,
   * `key` the problem's `problemCounterKeys` entry (lib/testbed/task.ts), whatever the batching.
   */
  rng: CounterRng;
  /** Temperature (training: 1). */
  temperature: number;
  /** Nucleus mass (default 1). */
  topP?: number;
  /** Longest response (also capped by `context − prompt length`). */
  maxResponseTokens: number;
  /** Rows per `sample()` call. */
  samplingBatch: number;
}

/**
 * Samples `G` responses per problem with the policy (B15 step 1; {@linkcode verifyRollouts}
 * is step 2). `sample()` needs equal-length prompts, so rows are bucketed by prompt length.
 */
export async function rollout(
  policy: TinyLM,
  problems: readonly Problem[],
  options: RolloutOptions,
): Promise<Samples> {
  const { task, groupSize: g } = options;
  if (problems.length === 0) throw new RangeError("Invalid problems: expected at least one");
  const prompts: number[][] = [];
  const keys: { problem: number; sample: number }[] = [];
  const pk = problemCounterKeys(problems);
  problems.forEach((p, i) => {
    const ids = task.encodePrompt(p);
    for (let j = 0; j < g; j++) {
      prompts.push(ids);
      keys.push({ problem: pk[i]!, sample: j });
    }
  });
  const b = prompts.length;
  const responses: number[][] = new Array(b);
  const truncated: boolean[] = new Array(b).fill(false);
  const byLen = new Map<number, number[]>();
  prompts.forEach((p, i) => byLen.set(p.length, [...(byLen.get(p.length) ?? []), i]));
  const ctx = policy.config.context;
  for (const len of [...byLen.keys()].sort((x, y) => x - y)) {
    const rows = byLen.get(len)!;
    const maxNew = Math.min(options.maxResponseTokens, ctx - len);
    if (maxNew < 1) {
      throw new RangeError(
        `Invalid problems: a prompt of ${len} tokens leaves no room in context ${ctx}`,
      );
    }
    for (let s = 0; s < rows.length; s += options.samplingBatch) {
      const chunk = rows.slice(s, s + options.samplingBatch);
      const out = await sample(policy, chunk.map((i) => prompts[i]!), {
        rng: options.rng,
        keys: chunk.map((i) => keys[i]!),
        maxNewTokens: maxNew,
        temperature: options.temperature,
        topP: options.topP ?? 1,
        eosId: task.eosId,
        padId: task.padId,
      });
      const n = out.shape[1];
      chunk.forEach((i, r) => {
        const l = out.lengths[r]!;
        const ids = Array.from(out.tokens.subarray(r * n, r * n + l));
        responses[i] = ids;
        truncated[i] = ids[ids.length - 1] !== task.eosId;
      });
    }
  }
  return { problems: [...problems], groupSize: g, prompts, responses, truncated };
}

/** Verifies every response against its problem (B15 step 2): outcomes `r_o [B]`, 0/1. */
export function verifyRollouts(samples: Samples, task: RolloutTask): Rollouts {
  const g = samples.groupSize;
  const labels = samples.responses.map((r, i) =>
    task.verify(samples.problems[Math.floor(i / g)]!, r)
  );
  return { ...samples, labels };
}

/**
 * Mixed-group filter with oversampling (B15 step 3): groups with mixed outcomes and no
 * truncated response come first (in draw order); when fewer than `keep`, the remaining
 * groups fill the batch in draw order (uniform groups then get GRPO advantage 0 and, with
 * `rmSkipUniform`, RM weight 0). Returns group indices.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { selectGroups } from "./_rollout.ts";
 * // groups (G = 2): 0 uniform, 1 mixed, 2 uniform ⇒ the mixed one first, then draw order
 * const kept = selectGroups([1, 1, 0, 1, 0, 0], [false, false, false, false, false, false], { groupSize: 2, keep: 2 });
 * assertEquals(kept, [1, 0]);
 * ```
 */
export function selectGroups(
  labels: readonly number[],
  truncated: readonly boolean[],
  options: { groupSize: number; keep: number },
): number[] {
  const g = options.groupSize;
  const nGroups = labels.length / g;
  if (!Number.isInteger(nGroups)) {
    throw new RangeError(
      `Invalid labels: batch must hold whole groups: B=${labels.length}, G=${g}`,
    );
  }
  if (options.keep > nGroups) {
    throw new RangeError(`Invalid keep: expected <= ${nGroups} drawn groups, got ${options.keep}`);
  }
  const first: number[] = [], rest: number[] = [];
  for (let k = 0; k < nGroups; k++) {
    const ys = labels.slice(k * g, (k + 1) * g);
    const mu = ys.reduce((a, c) => a + c, 0) / g;
    const trunc = truncated.slice(k * g, (k + 1) * g).some((t) => t);
    (mu > 0 && mu < 1 && !trunc ? first : rest).push(k);
  }
  return [...first, ...rest].slice(0, options.keep);
}

/** The token batch of one RL step (tensors owned: {@linkcode disposeBatch}). */
export interface RLBatch {
  /** G. */
  groupSize: number;
  /** `[P]` problems of the kept groups. */
  problems: Problem[];
  /** `[B]` outcomes. */
  labels: number[];
  /** `[B]` response tokens (EOS included). */
  responseLength: number[];
  /** `[B]` true when truncated. */
  truncated: boolean[];
  /** `[B,T]` int32. */
  tokens: tf.Tensor2D;
  /** `[B,T]` float32, 1 on response tokens (token-aligned). */
  mask: tf.Tensor2D;
  /** `[B]` outcomes as a tensor. */
  outcomes: tf.Tensor1D;
}

/** Builds the batch of the given groups of `roll` (rows stay grouped and in order). */
export function buildBatch(roll: Rollouts, groups: readonly number[]): RLBatch {
  const g = roll.groupSize;
  const rows = groups.flatMap((k) => Array.from({ length: g }, (_, j) => k * g + j));
  if (rows.length === 0) throw new RangeError("Invalid groups: expected at least one group");
  const t = Math.max(...rows.map((i) => roll.prompts[i]!.length + roll.responses[i]!.length));
  const b = rows.length;
  const tokens = new Int32Array(b * t);
  const mask = new Float32Array(b * t);
  rows.forEach((i, r) => {
    const p = roll.prompts[i]!, y = roll.responses[i]!;
    tokens.set(p, r * t);
    tokens.set(y, r * t + p.length);
    mask.fill(1, r * t + p.length, r * t + p.length + y.length);
  });
  const labels = rows.map((i) => roll.labels[i]!);
  return {
    groupSize: g,
    problems: groups.map((k) => roll.problems[k]!),
    labels,
    responseLength: rows.map((i) => roll.responses[i]!.length),
    truncated: rows.map((i) => roll.truncated[i]!),
    tokens: tf.tensor2d(tokens, [b, t], "int32"),
    mask: tf.tensor2d(mask, [b, t], "float32"),
    outcomes: tf.tensor1d(labels, "float32"),
  };
}

/** Frees a batch's tensors. */
export function disposeBatch(batch: RLBatch): void {
  tf.dispose([batch.tokens, batch.mask, batch.outcomes]);
}

/** Rows `[from, from + n)` of a batch's tensors (caller disposes). */
export function sliceRows(
  batch: RLBatch,
  from: number,
  n: number,
): { tokens: tf.Tensor2D; mask: tf.Tensor2D; outcomes: tf.Tensor1D } {
  return tf.tidy(() => ({
    tokens: batch.tokens.slice([from, 0], [n, -1]) as tf.Tensor2D,
    mask: batch.mask.slice([from, 0], [n, -1]) as tf.Tensor2D,
    outcomes: batch.outcomes.slice([from], [n]) as tf.Tensor1D,
  }));
}
