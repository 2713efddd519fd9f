/**
 * The log-probability readers of the tiny LM (lib/model/lm.ts): per-token and candidate
 * log-probs (differentiable), the masked next-token cross-entropy, and the full next-token
 * log-softmax and its top-k read in batch chunks.
 *
 * Shapes: `B` sequences, `L` tokens per sequence (`L <= context`), `V` vocabulary,
 * `D` width, `K` candidate slots.
 *
 * Alignment conventions (both are used, each function says which):
 * - **token-aligned** `[B, L]`: entry `t` is about token `tokens[b][t]` given
 *   `tokens[b][0..t-1]`; entry 0 (no prefix) is 0. A caller scoring response tokens
 *   after a prompt of length P masks entries `P..` and reads `[B, L]` directly.
 * - **next-aligned** `[B, L, V]`: entry `t` is the distribution of the token after
 *   position `t` (given `tokens[b][0..t]`), defined at every position including the last.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { pickLogprobs, weightedCrossEntropy } from "./_ops.ts";
import {
  checkLength,
  hiddenStates,
  ModelError,
  type TinyLM,
  type TokenRows,
  tokenTensor,
} from "./lm.ts";

function checkTemperature(t: number | undefined): number {
  const v = t ?? 1;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new ModelError(`Invalid temperature: expected a finite number > 0, got ${t}`);
  }
  return v;
}

/** Options of {@linkcode tokenLogprobs} and {@linkcode candidateLogprobs}. */
export interface LogprobOptions {
  /** Policy temperature: logits are divided by it before the log-softmax (default 1). */
  temperature?: number;
}

/** Shared forward: token-aligned picks `[B, L, 1 + K]` (slot 0 = the realised token). */
function pickTokenAligned(
  model: TinyLM,
  tokens: tf.Tensor2D,
  candidates: tf.Tensor3D | undefined,
  temperature: number,
): tf.Tensor3D {
  const [b, l] = tokens.shape;
  const k = candidates ? candidates.shape[2] : 0;
  if (l < 2) {
    checkLength(model, l, "tokens");
    return tf.zeros([b, l, 1 + k]);
  }
  const { width: D } = model.config;
  const h = hiddenStates(model, tokens);
  const hPrev = tf.slice(h, [0, 0], [(l - 1) * b, D]) as tf.Tensor2D; // rows t = 0..L-2
  let ids = tf.expandDims(tf.slice(tokens, [0, 1], [b, l - 1]), 2) as tf.Tensor3D;
  if (candidates) {
    ids = tf.concat([ids, tf.slice(candidates, [0, 1, 0], [b, l - 1, k])], 2);
  }
  const idsTM = tf.reshape(tf.transpose(ids, [1, 0, 2]), [(l - 1) * b, 1 + k]) as tf.Tensor2D;
  const picked = pickLogprobs(hPrev, model.p("emb") as tf.Tensor2D, idsTM, temperature);
  const bm = tf.transpose(tf.reshape(picked, [l - 1, b, 1 + k]), [1, 0, 2]);
  return tf.pad(bm, [[0, 0], [1, 0], [0, 0]]) as tf.Tensor3D;
}

/**
 * Log-probability of each realised token given its prefix, token-aligned and
 * differentiable (use inside `tf.variableGrads` closures):
 * `out[b, t] = log softmax(z_{t-1} / temperature)[tokens[b, t]]` for `t >= 1`,
 * `out[b, 0] = 0`, with `z_{t-1}` the next-token logits after position `t-1`.
 *
 * @param tokens `[B, L]` int32, `L <= context` (ids unchecked: see {@linkcode hiddenStates})
 * @returns `[B, L]`
 */
export function tokenLogprobs(
  model: TinyLM,
  tokens: tf.Tensor2D,
  options: LogprobOptions = {},
): tf.Tensor2D {
  const temp = checkTemperature(options.temperature);
  return tf.tidy(() =>
    tf.squeeze(pickTokenAligned(model, tokens, undefined, temp), [2]) as tf.Tensor2D
  );
}

/**
 * {@linkcode tokenLogprobs} plus the log-probabilities of candidate ids at each
 * position, from the same distribution (token-aligned, differentiable):
 * `candidateLogp[b, t, k] = log softmax(z_{t-1} / temperature)[candidates[b, t, k]]`,
 * 0 at `t = 0`. Pad unused candidate slots with any valid id and mask them downstream.
 *
 * @param tokens `[B, L]` int32
 * @param options.candidates `[B, L, K]` int32 ids
 * @returns `logp [B, L]`, `candidateLogp [B, L, K]`
 */
export function candidateLogprobs(
  model: TinyLM,
  tokens: tf.Tensor2D,
  options: LogprobOptions & { candidates: tf.Tensor3D },
): { logp: tf.Tensor2D; candidateLogp: tf.Tensor3D } {
  const temp = checkTemperature(options.temperature);
  const cand = options.candidates;
  if (
    !cand || cand.rank !== 3 || cand.shape[0] !== tokens.shape[0] ||
    cand.shape[1] !== tokens.shape[1]
  ) {
    throw new ModelError(
      `Invalid candidates: expected an int32 [B, L, K] tensor with [B, L] = [${tokens.shape}], got [${cand?.shape}]`,
    );
  }
  return tf.tidy(() => {
    const all = pickTokenAligned(model, tokens, cand, temp);
    const [b, l, k1] = all.shape;
    return {
      logp: tf.reshape(tf.slice(all, [0, 0, 0], [b, l, 1]), [b, l]) as tf.Tensor2D,
      candidateLogp: tf.slice(all, [0, 0, 1], [b, l, k1 - 1]) as tf.Tensor3D,
    };
  });
}

/**
 * Masked mean next-token cross-entropy (differentiable):
 * `sum_{b,t} mask[b,t] * -log softmax(z_t)[targets[b,t]] / max(1, sum mask)`, where
 * `z_t` are the next-token logits after position `t` (next-aligned: for plain LM
 * training `targets[b, t] = tokens[b, t+1]` and the last column is masked out).
 *
 * @param batch.tokens `[B, L]` int32; `batch.targets` `[B, L]` int32; `batch.mask` `[B, L]` 0/1 float32
 */
export function crossEntropyLoss(
  model: TinyLM,
  batch: { tokens: tf.Tensor2D; targets: tf.Tensor2D; mask: tf.Tensor2D },
): tf.Scalar {
  const { tokens, targets, mask } = batch;
  for (const [name, t] of [["targets", targets], ["mask", mask]] as const) {
    if (!t || t.shape.join() !== tokens.shape.join()) {
      throw new ModelError(
        `Invalid ${name}: expected a [B, L] tensor shaped like tokens [${tokens.shape}], got [${t?.shape}]`,
      );
    }
  }
  return tf.tidy(() => {
    const n = tokens.size;
    const h = hiddenStates(model, tokens);
    const tm = (t: tf.Tensor2D) => tf.reshape(tf.transpose(t), [n]) as tf.Tensor1D;
    const m = tf.cast(tm(mask), "float32");
    const w = tf.div(m, tf.maximum(tf.sum(m), 1)) as tf.Tensor1D;
    return weightedCrossEntropy(h, model.p("emb") as tf.Tensor2D, tm(targets), w);
  });
}

/** Options of {@linkcode nextTokenLogprobs} and {@linkcode nextTokenTopK}. */
export interface FullLogprobOptions extends LogprobOptions {
  /**
   * `"next"` (default): entry `t` = distribution after position `t`.
   * `"token"`: entry `t` = distribution that token `t` was drawn from (entry 0 zeros).
   */
  align?: "next" | "token";
  /** Sequences per forward pass, bounding memory (default: about 64K positions*V / chunk). */
  batchChunk?: number;
}

function chunkSize(model: TinyLM, b: number, l: number, opt?: number): number {
  if (opt !== undefined) {
    if (!Number.isInteger(opt) || opt < 1) {
      throw new ModelError(`Invalid batchChunk: expected an integer >= 1, got ${opt}`);
    }
    return Math.min(opt, b);
  }
  // Keep a chunk's activations near 2^18 positions*width floats.
  const per = l * Math.max(model.config.width * 4, model.config.vocab);
  return Math.max(1, Math.min(b, Math.floor((1 << 21) / per)));
}

async function chunked(
  model: TinyLM,
  tokens: TokenRows,
  batchChunk: number | undefined,
  fn: (t: tf.Tensor2D) => tf.Tensor[],
  sink: (b0: number, parts: Float32Array[] | Int32Array[]) => void,
): Promise<void> {
  const tt = tokenTensor(model, tokens);
  try {
    const [b, l] = tt.shape;
    const cs = chunkSize(model, b, l, batchChunk);
    for (let b0 = 0; b0 < b; b0 += cs) {
      const n = Math.min(cs, b - b0);
      const outs = tf.tidy(() => fn(tf.slice(tt, [b0, 0], [n, l])));
      try {
        const arrs = await Promise.all(outs.map((o) => o.data()));
        sink(b0, arrs as Float32Array[]);
      } finally {
        tf.dispose(outs);
      }
    }
  } finally {
    if (tt !== tokens) tt.dispose();
  }
}

/** Next-aligned `[b, L, V]` log-softmax of the chunk's logits / temperature. */
function fullLogSoftmax(model: TinyLM, t: tf.Tensor2D, temperature: number): tf.Tensor3D {
  const [b, l] = t.shape;
  const V = model.config.vocab;
  let z = tf.matMul(hiddenStates(model, t), tf.transpose(model.p("emb")));
  if (temperature !== 1) z = tf.div(z, temperature);
  return tf.transpose(tf.reshape(tf.logSoftmax(z), [l, b, V]), [1, 0, 2]);
}

function copyAligned(
  dst: Float32Array | Int32Array,
  src: Float32Array | Int32Array,
  rowOffset: number,
  rows: number,
  l: number,
  w: number,
  align: "next" | "token",
): void {
  for (let r = 0; r < rows; r++) {
    const base = (rowOffset + r) * l * w;
    if (align === "next") dst.set(src.subarray(r * l * w, (r + 1) * l * w), base);
    else dst.set(src.subarray(r * l * w, (r * l + l - 1) * w), base + w);
  }
}

function checkAlign(a: string | undefined): "next" | "token" {
  const v = a ?? "next";
  if (v !== "next" && v !== "token") {
    throw new ModelError(`Invalid align: expected "next" or "token", got ${JSON.stringify(a)}`);
  }
  return v;
}

/**
 * Full log-softmax of the (tempered) next-token logits at every position, computed
 * in batch chunks and read asynchronously (not differentiable).
 *
 * @param tokens `[B, L]` ids (host rows are range-checked)
 * @returns `Float32Array` of `[B, L, V]`, next-aligned by default (see `align`)
 */
export async function nextTokenLogprobs(
  model: TinyLM,
  tokens: TokenRows,
  options: FullLogprobOptions = {},
): Promise<{ shape: [number, number, number]; data: Float32Array }> {
  const temp = checkTemperature(options.temperature);
  const align = checkAlign(options.align);
  const [b, l] = tokens instanceof tf.Tensor
    ? tokens.shape
    : [tokens.length, tokens[0]?.length ?? 0];
  const V = model.config.vocab;
  const data = new Float32Array(b * l * V);
  await chunked(
    model,
    tokens,
    options.batchChunk,
    (t) => [fullLogSoftmax(model, t, temp)],
    (b0, [a]) => {
      copyAligned(data, a!, b0, a!.length / (l * V), l, V, align);
    },
  );
  return { shape: [b, l, V], data };
}

/**
 * The `k` most likely next tokens at every position (descending log-prob), from the
 * (tempered) distribution, in batch chunks.
 *
 * @returns `ids` and `logp`, each `[B, L, k]` (next-aligned by default)
 */
export async function nextTokenTopK(
  model: TinyLM,
  tokens: TokenRows,
  options: FullLogprobOptions & { k: number },
): Promise<{ shape: [number, number, number]; ids: Int32Array; logp: Float32Array }> {
  const temp = checkTemperature(options.temperature);
  const align = checkAlign(options.align);
  const k = options.k;
  const V = model.config.vocab;
  if (!Number.isInteger(k) || k < 1 || k > V) {
    throw new ModelError(`Invalid k: expected an integer in [1, ${V}], got ${k}`);
  }
  const [b, l] = tokens instanceof tf.Tensor
    ? tokens.shape
    : [tokens.length, tokens[0]?.length ?? 0];
  const ids = new Int32Array(b * l * k);
  const logp = new Float32Array(b * l * k);
  await chunked(model, tokens, options.batchChunk, (t) => {
    const top = tf.topk(fullLogSoftmax(model, t, temp), k);
    return [top.values, top.indices];
  }, (b0, [vals, idx]) => {
    const rows = vals!.length / (l * k);
    copyAligned(logp, vals!, b0, rows, l, k, align);
    copyAligned(ids, idx!, b0, rows, l, k, align);
  });
  return { shape: [b, l, k], ids, logp };
}
