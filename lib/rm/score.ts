/**
 * Scoring with an implicit reward model against a frozen reference (methods.md B1, B2, B17):
 * token log-ratios `ℓ_t = log π_φ(y_t|s_t) − log π_ref(y_t|s_t)` on the response tokens, prefix
 * values `V_t = β Σ_{i≤t} ℓ_i` and `v̄_t = V_t / t`, and the sequence scores used by best-of-N.
 *
 * The reward model and its reference are two separate {@linkcode TinyLM} instances, each with
 * its own `tf.Variable`s ({@linkcode loadRewardModelPair}, {@linkcode frozenCopy}): training the
 * RM can never move the reference (methods.md (f), "frozen copies").
 *
 * Scoring is batched (`batchSize` sequences per forward pass, each chunk padded to its own
 * width) and reads tensors asynchronously. Outputs are host arrays, one per sequence,
 * response-aligned: entry `t` (0-based) is about response token `t`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createLM, type TinyLM } from "../model/lm.ts";
import { exportWeights, importWeights } from "../model/exchange.ts";
import { tokenLogprobs } from "../model/logprobs.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { Rng } from "../prng.ts";
import { logRatio, prefixValues } from "./prefix_values.ts";
import { distinctSequences, lengthOrder, type RefLogps } from "./ref_logps.ts";
import {
  checkSequence,
  type HostRows,
  hostRows,
  responseSlices,
  rowTensors,
  type SequenceTokens,
} from "./_batch.ts";

export type { SequenceTokens } from "./_batch.ts";

/** A reward model and its frozen reference (the SFT checkpoint). */
export interface RewardModelPair {
  /** π_φ: trained. */
  rm: TinyLM;
  /** π_ref: never trained; its own variables. */
  ref: TinyLM;
  /**
   * Optional cache of `log π_ref` per distinct sequence, computed with a model holding the same
   * weights as `ref` (the SFT policy): scoring and training then skip the reference forward.
   */
  refLogps?: RefLogps;
}

/**
 * A new model with its own variables holding a copy of `model`'s current weights (not a view:
 * later updates of either leave the other unchanged).
 */
export async function frozenCopy(model: TinyLM): Promise<TinyLM> {
  const copy = createLM(model.config, { rng: new Rng(1) });
  importWeights(copy, await exportWeights(model), { source: "frozenCopy(model)" });
  return copy;
}

/**
 * Loads the SFT policy twice through `loadSft` (each call must return a NEW model): the RM's
 * initial weights and the reference, as two independent models (methods.md (a): π_φ initialised
 * from the SFT checkpoint; π_ref frozen). With `rmDir`, the RM's weights come from a trained RM
 * checkpoint (lib/model/checkpoint.ts layout) instead.
 *
 * @example
 * ```ts
 * import { assert, assertEquals } from "@std/assert";
 * import { createLM } from "../model/lm.ts";
 * import { Rng } from "../prng.ts";
 * import { loadRewardModelPair } from "./score.ts";
 * const lm = { vocab: 5, width: 8, layers: 1, heads: 2, context: 6 };
 * const pair = await loadRewardModelPair(() => Promise.resolve(createLM(lm, { rng: new Rng(1) })));
 * assert(pair.rm !== pair.ref && pair.rm.variables[0] !== pair.ref.variables[0]);
 * assertEquals(await pair.rm.variables[0]!.data(), await pair.ref.variables[0]!.data());
 * pair.rm.dispose();
 * pair.ref.dispose();
 * ```
 */
export async function loadRewardModelPair(
  loadSft: () => Promise<TinyLM>,
  options: { rmDir?: string } = {},
): Promise<RewardModelPair> {
  if (typeof loadSft !== "function") {
    throw new RangeError("Invalid loadSft: expected a function returning a new TinyLM");
  }
  const ref = await loadSft();
  try {
    let rm: TinyLM;
    if (options.rmDir) {
      const loaded = await loadCheckpoint(options.rmDir, { expectConfig: ref.config });
      loaded.optimizer?.dispose();
      rm = loaded.model;
    } else rm = await loadSft();
    if (rm === ref || rm.variables.some((v, i) => v === ref.variables[i])) {
      rm.dispose();
      throw new RangeError(
        "Invalid loadSft: it returned the same model twice (expected new instances)",
      );
    }
    return { rm, ref };
  } catch (e) {
    ref.dispose();
    throw e;
  }
}

/** Frees both models. */
export function disposePair(pair: RewardModelPair): void {
  pair.rm.dispose();
  pair.ref.dispose();
}

function checkBatchSize(v: number | undefined, dflt: number): number {
  const b = v ?? dflt;
  if (!Number.isInteger(b) || b < 1) {
    throw new RangeError(`Invalid batchSize: expected an integer >= 1, got ${v}`);
  }
  return b;
}

function checkItems(model: TinyLM, items: readonly SequenceTokens[]): void {
  if (!Array.isArray(items)) {
    throw new RangeError("Invalid items: expected an array of { prompt, response }");
  }
  items.forEach((s, i) => checkSequence(model, s, `items[${i}]`));
}

/** Options of {@linkcode responseLogprobs}. */
export interface ResponseLogprobOptions {
  /** Sequences per forward pass (default 64). */
  batchSize?: number;
}

/**
 * `log π(y_t | s_t)` of each response token under `model` (no temperature, B1): one
 * `Float32Array` of length `T` per item. Batched, async reads.
 *
 * @example
 * ```ts
 * import { assert, assertEquals } from "@std/assert";
 * import { createLM } from "../model/lm.ts";
 * import { Rng } from "../prng.ts";
 * import { responseLogprobs } from "./score.ts";
 * const m = createLM({ vocab: 5, width: 8, layers: 1, heads: 2, context: 6 }, { rng: new Rng(1) });
 * const [lp] = await responseLogprobs(m, [{ prompt: [1], response: [3, 2] }]);
 * assertEquals(lp!.length, 2); // one log-prob per response token
 * assert(lp!.every((x) => x < 0 && x > -Math.log(5) * 10));
 * m.dispose();
 * ```
 */
export async function responseLogprobs(
  model: TinyLM,
  items: readonly SequenceTokens[],
  options: ResponseLogprobOptions = {},
): Promise<Float32Array[]> {
  checkItems(model, items);
  const bs = checkBatchSize(options.batchSize, 64);
  const out: Float32Array[] = [];
  for (let i = 0; i < items.length; i += bs) {
    const rows = hostRows(items.slice(i, i + bs));
    const lp = tf.tidy(() => {
      const { tokens } = rowTensors(rows);
      return tokenLogprobs(model, tokens);
    });
    try {
      out.push(...responseSlices((await lp.data()) as Float32Array, rows));
    } finally {
      lp.dispose();
    }
  }
  return out;
}

/** Scores of one sequence, response-aligned (length `T`). */
export interface SequenceScores {
  /** `ℓ_t = log π_φ(y_t|s_t) − log π_ref(y_t|s_t)` (B1, no β). */
  logratio: Float32Array;
  /** `log π_ref(y_t|s_t)` (the SFT policy's own log-prob; a ProcessBench baseline). */
  logpRef: Float32Array;
  /** `V_t = β Σ_{i≤t} ℓ_i` (B2). */
  values: Float32Array;
  /** `v̄_t = V_t / t` (B2). */
  meanValues: Float32Array;
  /** `Σ_t ℓ_t` (B3 `R(x,y)` / β; the DPO-RM and Implicit PRM BoN score). */
  sum: number;
  /** `v̄_T` (IPVRM's BoN score, methods.md d2). */
  finalMeanValue: number;
}

/** Options of {@linkcode scoreSequences}. */
export interface ScoreOptions {
  /** β of `V` and `v̄` (IPVRM 10; DPO-RM / Implicit PRM 0.05). Required. */
  beta: number;
  /** Sequences per forward pass (default 64). */
  batchSize?: number;
}

/**
 * Scores sequences with a reward model against its frozen reference: log-ratios, prefix values
 * and sequence scores, one {@linkcode SequenceScores} per item (B1, B2). Both forwards and the
 * prefix values run in one `tf.tidy` per chunk; one asynchronous read per chunk.
 *
 * Shapes per chunk: tokens `[b, W]` (prompt ⊕ response ⊕ PAD) -> `logp_rm, logp_ref, ℓ, V, v̄`
 * `[b, W]` row-aligned (mask 1 on the response columns) -> sliced to `[T_b]` per sequence.
 */
export async function scoreSequences(
  pair: RewardModelPair,
  items: readonly SequenceTokens[],
  options: ScoreOptions,
): Promise<SequenceScores[]> {
  if (!pair || !pair.rm || !pair.ref) {
    throw new RangeError("Invalid pair: expected { rm: TinyLM, ref: TinyLM }");
  }
  if (pair.rm === pair.ref) {
    throw new RangeError("Invalid pair: rm and ref must be separate models (a frozen copy)");
  }
  const beta = options?.beta;
  if (typeof beta !== "number" || !Number.isFinite(beta)) {
    throw new RangeError(`Invalid beta: expected a finite number, got ${beta}`);
  }
  checkItems(pair.rm, items);
  const bs = checkBatchSize(options.batchSize, 64);
  // Each distinct sequence is scored once, in length-sorted chunks (less padding); duplicates
  // share the result object (read only).
  const { unique, index } = distinctSequences(items);
  const distinct = unique.map((i) => items[i]!);
  const order = lengthOrder(distinct);
  const refHost = pair.refLogps ? await pair.refLogps.get(distinct) : null;
  const scored = new Array<SequenceScores>(distinct.length);
  for (let i = 0; i < order.length; i += bs) {
    const chunk = order.slice(i, i + bs);
    const rows = hostRows(chunk.map((j) => distinct[j]!));
    const packed = tf.tidy(() => {
      const { tokens, mask } = rowTensors(rows);
      const lpRm = tokenLogprobs(pair.rm, tokens);
      const lpRef = refHost
        ? rowAligned(chunk.map((j) => refHost[j]!), rows)
        : tokenLogprobs(pair.ref, tokens);
      const lr = logRatio(lpRm, lpRef, { mask });
      const { values, meanValues } = prefixValues(lr, mask, { beta });
      return tf.stack([lr, lpRef, values, meanValues]);
    });
    let data: Float32Array;
    try {
      data = (await packed.data()) as Float32Array;
    } finally {
      packed.dispose();
    }
    const n = rows.shape[0] * rows.shape[1];
    const part = (k: number) => responseSlices(data.subarray(k * n, (k + 1) * n), rows);
    const [lr, ref, v, vbar] = [part(0), part(1), part(2), part(3)];
    chunk.forEach((j, r) => {
      const l = lr[r]!, mv = vbar[r]!;
      let sum = 0;
      for (const x of l) sum += x;
      scored[j] = {
        logratio: l,
        logpRef: ref[r]!,
        values: v[r]!,
        meanValues: mv,
        sum,
        finalMeanValue: mv[mv.length - 1]!,
      };
    });
  }
  return index.map((u) => scored[u]!);
}

/**
 * `[B, W]` row-aligned tensor of response-aligned host values (`values[r]` at the columns of
 * row `r`'s response, 0 elsewhere: the prompt and padding columns are masked downstream).
 */
export function rowAligned(values: readonly Float32Array[], rows: HostRows): tf.Tensor2D {
  const [b, w] = rows.shape;
  if (values.length !== b) {
    throw new RangeError(`Invalid values: expected ${b} rows, got ${values.length}`);
  }
  const out = new Float32Array(b * w);
  values.forEach((v, r) => {
    if (v.length !== rows.lengths[r]) {
      throw new RangeError(
        `Invalid values[${r}]: expected ${rows.lengths[r]} response entries, got ${v.length}`,
      );
    }
    out.set(v, r * w + rows.starts[r]!);
  });
  return tf.tensor2d(out, [b, w], "float32");
}

/** How a sequence is scored for best-of-N (methods.md d2). */
export type SequenceScoreKind = "sum" | "final_mean_value";

/**
 * The BoN sequence score of a kind: IPVRM -> `v̄_T` (`"final_mean_value"`), DPO-RM and
 * Implicit PRM -> `Σ_t ℓ_t` (`"sum"`) (methods.md d2).
 */
export function sequenceScoreOf(s: SequenceScores, kind: SequenceScoreKind): number {
  return kind === "sum" ? s.sum : s.finalMeanValue;
}
