/**
 * Encoding of (prompt, response) pairs into right-padded token rows
 * `BOS + prompt + response + EOS + PAD...`, with the offsets and masks downstream
 * code needs to read per-response-token log-probs.
 *
 * Shapes: `B` rows, `T` columns (the longest row, or `padTo`). Response token `r`
 * (0-based, methods.md (a)'s `t`) of row `b` sits at column `responseStart[b] + r`;
 * `r = responseLength[b] - 1` is the EOS. Step ends from
 * `stepTokenEnds()` (processbench_rows.ts) index the same `r`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BOS_ID, CharTokenizer, EOS_ID, PAD_ID } from "../testbed/tokenizer.ts";

/** One pair to encode. */
export interface PromptResponse {
  /** The prompt text (e.g. `3+4*2=`). */
  prompt: string;
  /** The response text (without EOS). */
  response: string;
}

/** Encoded rows (host arrays, row-major `[B, T]`). */
export interface EncodedBatch {
  /** `[B, T]`. */
  shape: [number, number];
  /** Token ids `[B, T]`: BOS, prompt, response, EOS, then PAD. */
  tokens: Int32Array;
  /** Column of the first response token per row (= 1 + prompt tokens). */
  responseStart: Int32Array;
  /** Response tokens per row, the EOS included. */
  responseLength: Int32Array;
  /** Real tokens per row (BOS .. EOS). */
  length: Int32Array;
  /**
   * Token-aligned response mask `[B, T]`: 1 at the columns of response tokens and the
   * EOS (multiply `tokenLogprobs()` by it for per-response-token log-probs).
   */
  responseMask: Float32Array;
}

/** Options of {@linkcode encodePairs}. */
export interface EncodeOptions {
  /** The model context: a row longer than it is an error. */
  context: number;
  /** Pad every row to this many columns (default: the longest row). */
  padTo?: number;
  /** Tokenizer (default: the testbed's character tokenizer). */
  tokenizer?: CharTokenizer;
}

/**
 * Encodes pairs into right-padded rows. Throws a `RangeError` naming the row and the
 * lengths when `BOS + prompt + response + EOS` exceeds `context` (or `padTo`), and
 * for characters outside the vocabulary.
 *
 * @param pairs `B >= 1` pairs
 * @returns `[B, T]` tokens and response offsets/masks
 *
 * @example
 * ```ts
 * import { encodePairs } from "./batching.ts";
 * import { assertEquals } from "@std/assert";
 * const b = encodePairs([{ prompt: "1+1=", response: "1+1=2\n$2\n" }], { context: 32 });
 * assertEquals(b.shape, [1, 15]);
 * assertEquals(b.responseStart[0], 5);
 * assertEquals(b.responseLength[0], 10); // 9 characters + EOS
 * ```
 */
export function encodePairs(
  pairs: readonly PromptResponse[],
  options: EncodeOptions,
): EncodedBatch {
  if (!Array.isArray(pairs) || pairs.length === 0) {
    throw new RangeError("pairs: expected a non-empty array of { prompt, response }");
  }
  const ctx = options.context;
  if (!Number.isInteger(ctx) || ctx < 2) {
    throw new RangeError(`context: expected an integer >= 2, got ${ctx}`);
  }
  const tok = options.tokenizer ?? new CharTokenizer();
  const rows = pairs.map((p, i) => {
    if (typeof p?.prompt !== "string" || typeof p?.response !== "string") {
      throw new RangeError(`pairs[${i}]: expected { prompt: string, response: string }`);
    }
    const prompt = tok.encode(p.prompt, { bos: true }).ids;
    const response = tok.encode(p.response, { eos: true }).ids;
    const n = prompt.length + response.length;
    if (n > ctx) {
      throw new RangeError(
        `pairs[${i}]: sequence of ${n} tokens (BOS + prompt ${p.prompt.length} + response ${p.response.length} + EOS) exceeds the model context ${ctx}`,
      );
    }
    return { prompt, response };
  });
  const longest = Math.max(...rows.map((r) => r.prompt.length + r.response.length));
  const t = options.padTo ?? longest;
  if (!Number.isInteger(t) || t < longest || t > ctx) {
    throw new RangeError(
      `padTo: expected an integer in [longest row ${longest}, context ${ctx}], got ${options.padTo}`,
    );
  }
  const b = rows.length;
  const tokens = new Int32Array(b * t).fill(PAD_ID);
  const responseMask = new Float32Array(b * t);
  const responseStart = new Int32Array(b), responseLength = new Int32Array(b);
  const length = new Int32Array(b);
  rows.forEach((r, i) => {
    tokens.set(r.prompt, i * t);
    tokens.set(r.response, i * t + r.prompt.length);
    responseMask.fill(1, i * t + r.prompt.length, i * t + r.prompt.length + r.response.length);
    responseStart[i] = r.prompt.length;
    responseLength[i] = r.response.length;
    length[i] = r.prompt.length + r.response.length;
  });
  return { shape: [b, t], tokens, responseStart, responseLength, length, responseMask };
}

/**
 * Next-aligned loss mask `[B, T]` for LM training: entry `t` is 1 when the target
 * `tokens[t+1]` counts. `"all"`: every real next token (prompt, response, EOS; the
 * pre-training loss); `"response"`: response tokens and EOS only (SFT).
 *
 * @example
 * ```ts
 * import { encodePairs, lossMask } from "./batching.ts";
 * import { assertEquals } from "@std/assert";
 * const b = encodePairs([{ prompt: "1=", response: "$1\n" }], { context: 16, padTo: 8 });
 * assertEquals(Array.from(lossMask(b, { kind: "response" })), [0, 0, 1, 1, 1, 1, 0, 0]);
 * assertEquals(Array.from(lossMask(b, { kind: "all" })), [1, 1, 1, 1, 1, 1, 0, 0]);
 * ```
 */
export function lossMask(batch: EncodedBatch, options: { kind: "all" | "response" }): Float32Array {
  const [b, t] = batch.shape;
  const m = new Float32Array(b * t);
  for (let i = 0; i < b; i++) {
    const from = options.kind === "all" ? 0 : batch.responseStart[i]! - 1;
    // position `p` predicts token `p + 1`; the last real token (EOS) predicts nothing
    for (let p = from; p < batch.length[i]! - 1; p++) m[i * t + p] = 1;
  }
  return m;
}

/**
 * Tensors for `trainStep()` (lib/model/train.ts): `tokens [B, T]` int32, `targets`
 * (tokens shifted left, PAD at the end) int32, `mask` from {@linkcode lossMask}
 * float32. The caller disposes them (`tf.dispose(Object.values(x))`).
 */
export function lmBatchTensors(
  batch: EncodedBatch,
  options: { loss: "all" | "response" },
): { tokens: tf.Tensor2D; targets: tf.Tensor2D; mask: tf.Tensor2D } {
  const [b, t] = batch.shape;
  const targets = new Int32Array(b * t).fill(PAD_ID);
  for (let i = 0; i < b; i++) {
    targets.set(batch.tokens.subarray(i * t + 1, (i + 1) * t), i * t);
  }
  return {
    tokens: tf.tensor2d(batch.tokens, [b, t], "int32"),
    targets: tf.tensor2d(targets, [b, t], "int32"),
    mask: tf.tensor2d(lossMask(batch, { kind: options.loss }), [b, t], "float32"),
  };
}

/** Rows of a batch as plain arrays (e.g. for `tokenTensor()` / `sample()`). */
export function batchRows(batch: EncodedBatch): number[][] {
  const [b, t] = batch.shape;
  return Array.from({ length: b }, (_, i) => Array.from(batch.tokens.subarray(i * t, (i + 1) * t)));
}

export { BOS_ID, EOS_ID, PAD_ID };
