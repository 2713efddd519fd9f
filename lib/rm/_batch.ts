/**
 * Internal: token rows for reward-model forward passes. A sequence is `prompt ⊕ response`,
 * right-padded; the response mask is 1 on the response's columns of the row ("row-aligned",
 * leading zeros over the prompt). The rm/ losses are invariant to leading and trailing masked
 * columns (they cumsum the mask), so row-aligned and response-aligned `[B,L]` give the same loss.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TinyLM } from "../model/lm.ts";

/** One scored sequence: token ids of the prompt (at least one, e.g. BOS) and the response. */
export interface SequenceTokens {
  /** Prompt ids (>= 1 token: the first response token is predicted from the prompt). */
  prompt: readonly number[];
  /** Response ids (>= 1 token, the EOS included when the policy emitted it). */
  response: readonly number[];
}

/** Host rows of a batch. */
export interface HostRows {
  /** `[B, W]` int32 ids, row-major. */
  tokens: Int32Array;
  /** `[B, W]` float32 response mask, row-major. */
  mask: Float32Array;
  /** Column of each row's first response token. */
  starts: number[];
  /** Response length of each row. */
  lengths: number[];
  /** Rows and padded width. */
  shape: [number, number];
}

/** Checks one sequence against the model (name in messages, e.g. `items[3]`). */
export function checkSequence(model: TinyLM, s: SequenceTokens, name: string): void {
  if (!s || !Array.isArray(s.prompt) || !Array.isArray(s.response)) {
    throw new RangeError(`Invalid ${name}: expected { prompt: number[], response: number[] }`);
  }
  if (s.prompt.length < 1) {
    throw new RangeError(`Invalid ${name}.prompt: expected at least one token (e.g. BOS), got 0`);
  }
  if (s.response.length < 1) {
    throw new RangeError(`Invalid ${name}.response: expected at least one token, got 0`);
  }
  const total = s.prompt.length + s.response.length;
  if (total > model.config.context) {
    throw new RangeError(
      `Invalid ${name}: prompt ${s.prompt.length} + response ${s.response.length} = ${total} tokens exceeds the model context ${model.config.context}`,
    );
  }
  const V = model.config.vocab;
  for (const [part, ids] of [["prompt", s.prompt], ["response", s.response]] as const) {
    ids.forEach((x, i) => {
      if (!Number.isInteger(x) || x < 0 || x >= V) {
        throw new RangeError(
          `Invalid ${name}.${part}: expected ids in [0, ${V}), got ${x} at [${i}]`,
        );
      }
    });
  }
}

/** Builds right-padded host rows (padding id `padId`, default 0). */
export function hostRows(items: readonly SequenceTokens[], padId = 0): HostRows {
  const b = items.length;
  const w = Math.max(2, ...items.map((s) => s.prompt.length + s.response.length));
  const tokens = new Int32Array(b * w).fill(padId);
  const mask = new Float32Array(b * w);
  const starts: number[] = [], lengths: number[] = [];
  items.forEach((s, r) => {
    const p = s.prompt.length, t = s.response.length;
    tokens.set(s.prompt, r * w);
    tokens.set(s.response, r * w + p);
    mask.fill(1, r * w + p, r * w + p + t);
    starts.push(p);
    lengths.push(t);
  });
  return { tokens, mask, starts, lengths, shape: [b, w] };
}

/** Tensors of {@linkcode hostRows} (caller disposes). */
export function rowTensors(rows: HostRows): { tokens: tf.Tensor2D; mask: tf.Tensor2D } {
  return {
    tokens: tf.tensor2d(rows.tokens, rows.shape, "int32"),
    mask: tf.tensor2d(rows.mask, rows.shape, "float32"),
  };
}

/** Splits `[B, W]` row-aligned host values into one response-aligned array per row. */
export function responseSlices(data: Float32Array, rows: HostRows): Float32Array[] {
  const w = rows.shape[1];
  return rows.starts.map((p, r) => data.slice(r * w + p, r * w + p + rows.lengths[r]!));
}
