/**
 * Reference log-probs computed once per distinct sequence (statistics.md "Best-of-N items":
 * scoring cost kept in check by caching each sample's reference log-probs once).
 *
 * Every implicit RM of a run is scored against the same frozen reference (the SFT policy), so
 * `log π_ref(y_t|s_t)` of a sequence is the same number for every RM, every epoch and every
 * evaluation that meets it. {@linkcode RefLogps} holds one response-aligned array per distinct
 * `prompt ⊕ response` (keyed by content, so duplicates — a peaked policy's 64 best-of-N samples
 * repeat themselves — are forwarded once) and computes the missing ones in length-sorted chunks
 * (less padding). Values equal a per-batch reference forward up to float rounding of the padded
 * width (the test bounds it by 1e-5).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TinyLM } from "../model/lm.ts";
import { tokenLogprobs } from "../model/logprobs.ts";
import { hostRows, responseSlices, rowTensors, type SequenceTokens } from "./_batch.ts";

/** The content key of a sequence (`prompt|response` ids). */
export function sequenceKey(s: SequenceTokens): string {
  return `${s.prompt.join(",")}|${s.response.join(",")}`;
}

/**
 * Indices of the distinct sequences of `items` (first occurrence, in order) and, per item, the
 * position of its sequence among them.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { distinctSequences } from "./ref_logps.ts";
 * const a = { prompt: [1], response: [2] }, b = { prompt: [1], response: [3] };
 * assertEquals(distinctSequences([a, b, { ...a }]), { unique: [0, 1], index: [0, 1, 0] });
 * ```
 */
export function distinctSequences(
  items: readonly SequenceTokens[],
): { unique: number[]; index: number[] } {
  const seen = new Map<string, number>();
  const unique: number[] = [];
  const index = items.map((s, i) => {
    const k = sequenceKey(s);
    let u = seen.get(k);
    if (u === undefined) {
      u = unique.length;
      seen.set(k, u);
      unique.push(i);
    }
    return u;
  });
  return { unique, index };
}

/** Item indices sorted by total length (stable), so chunks of neighbours pad little. */
export function lengthOrder(items: readonly SequenceTokens[]): number[] {
  return items.map((_, i) => i).sort((a, b) =>
    (items[a]!.prompt.length + items[a]!.response.length) -
      (items[b]!.prompt.length + items[b]!.response.length) || a - b
  );
}

/**
 * `log π_ref` per distinct sequence, computed on first request with `model` (the frozen
 * reference: the caller guarantees that every RM scored with this cache has this reference).
 */
export class RefLogps {
  /** The reference model (read only). */
  readonly model: TinyLM;
  /** Sequences per forward pass. */
  readonly batchSize: number;
  readonly #map = new Map<string, Float32Array>();
  /** Reference forwards run (distinct sequences computed). */
  computed = 0;

  constructor(model: TinyLM, options: { batchSize?: number } = {}) {
    this.model = model;
    this.batchSize = options.batchSize ?? 64;
  }

  /** Distinct sequences held. */
  get size(): number {
    return this.#map.size;
  }

  /** Response-aligned `log π_ref(y_t|s_t)` of each item (length `T`; shared arrays: read only). */
  async get(items: readonly SequenceTokens[]): Promise<Float32Array[]> {
    const keys = items.map(sequenceKey);
    const missing: SequenceTokens[] = [];
    const missingKeys: string[] = [];
    const queued = new Set<string>();
    keys.forEach((k, i) => {
      if (!this.#map.has(k) && !queued.has(k)) {
        queued.add(k);
        missing.push(items[i]!);
        missingKeys.push(k);
      }
    });
    if (missing.length > 0) {
      const order = lengthOrder(missing);
      for (let i = 0; i < order.length; i += this.batchSize) {
        const chunk = order.slice(i, i + this.batchSize);
        const rows = hostRows(chunk.map((j) => missing[j]!));
        const lp = tf.tidy(() => tokenLogprobs(this.model, rowTensors(rows).tokens));
        let data: Float32Array;
        try {
          data = (await lp.data()) as Float32Array;
        } finally {
          lp.dispose();
        }
        const out = responseSlices(data, rows);
        chunk.forEach((j, r) => this.#map.set(missingKeys[j]!, out[r]!));
      }
      this.computed += missing.length;
    }
    return keys.map((k) => this.#map.get(k)!);
  }
}
