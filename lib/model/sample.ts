/**
 * Batched sampling from the tiny LM with a key/value cache: temperature, top-k,
 * top-p, per-row stop at an EOS id, seeded by an {@linkcode Rng}.
 *
 * Prompts: every row has the same length P (no padding; left-padding is not
 * supported because positions are absolute and there is no attention mask over the
 * prompt). Per step the device computes one position for all rows and the logits
 * `[B, V]` are read once; the sampling maths runs on the host in float64.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { rmsNormForward } from "./_ops.ts";
import { hiddenStates, ModelError, type TinyLM, type TokenRows, tokenTensor } from "./lm.ts";
import type { Rng } from "../prng.ts";

/**
 * Key/value cache of one batch, preallocated for `capacity` positions: per block,
 * keys `[B*H, capacity, D/H]` and values `[B*H, D/H, capacity]` (channel `b*H + h`), so
 * that both attention products reduce over the last axis; positions `0..length-1` are
 * filled, the rest are zeros and masked out of the softmax.
 */
export interface KVCache {
  /** Per block. */
  layers: { k: tf.Tensor3D; v: tf.Tensor3D }[];
  /** Filled positions (the next token goes at position `length`). */
  length: number;
  /** Rows B. */
  batch: number;
  /** Positions allocated. */
  capacity: number;
}

/** Frees a cache's tensors. */
export function disposeCache(cache: KVCache): void {
  for (const l of cache.layers) tf.dispose([l.k, l.v]);
  cache.layers = [];
}

/**
 * Runs the prompt `[B, P]` through the model and fills a cache of `capacity`
 * positions (default: the context).
 * @returns next-token logits after the last prompt token `[B, V]` and the cache
 */
export function prefill(
  model: TinyLM,
  prompt: tf.Tensor2D,
  options: { capacity?: number } = {},
): { logits: tf.Tensor2D; cache: KVCache } {
  const [b, p] = prompt.shape;
  const cap = options.capacity ?? model.config.context;
  if (!Number.isInteger(cap) || cap < p || cap > model.config.context) {
    throw new ModelError(
      `Invalid capacity: expected an integer in [prompt length ${p}, context ${model.config.context}], got ${cap}`,
    );
  }
  const layers: KVCache["layers"] = [];
  const logits = tf.tidy(() => {
    const h = hiddenStates(model, prompt, {
      capture: (_i, k, v) => {
        // pad() makes fresh buffers that the in-place writes below may own.
        layers.push({
          k: tf.keep(tf.pad(tf.transpose(k, [1, 0, 2]), [[0, 0], [0, cap - p], [0, 0]])),
          v: tf.keep(tf.pad(tf.transpose(v, [1, 2, 0]), [[0, 0], [0, 0], [0, cap - p]])),
        });
      },
    });
    const last = tf.slice(h, [(p - 1) * b, 0], [b, model.config.width]);
    return tf.matMul(last, tf.transpose(model.p("emb"))) as tf.Tensor2D;
  });
  return { logits, cache: { layers, length: p, batch: b, capacity: cap } };
}

interface WasmBackendLike {
  dataIdMap: { get(id: unknown): { memoryOffset: number | null; refCount: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
}

/** The wasm backend's heap access, or null on other backends. */
function wasmBackend(): WasmBackendLike | null {
  if (tf.getBackend() !== "wasm") return null;
  const be = tf.backend() as unknown as Partial<WasmBackendLike>;
  return be.dataIdMap && be.wasm?.HEAPU8 ? (be as WasmBackendLike) : null;
}

function heapOffset(be: WasmBackendLike, t: tf.Tensor): number {
  const info = be.dataIdMap.get(t.dataId);
  if (!info || info.memoryOffset === null) throw new Error("internal: tensor not on the wasm heap");
  return info.memoryOffset >>> 2;
}

/**
 * Writes position `pos` of a cache layer: `k[:, pos, :] = kNew`, `v[:, :, pos] = vNew`
 * (`kNew`, `vNew` `[C, E]`). On wasm this writes into the cache's own heap buffers
 * (tfjs tensors are immutable, and a functional update copies the whole cache every
 * step: `concat` measured 4.4 ms per 1.3M floats, 1.6 s per sampling run); the cache
 * tensors are created by {@linkcode prefill} and never shared, so nothing else sees
 * the write. They must never be the filter of a convolution or the B operand of a
 * matMul: tfjs-wasm caches XNNPACK operators (with packed weights) by that tensor's id,
 * so an in-place write would be ignored (seen: stale keys from the second step on).
 * Other backends get a functional update.
 */
function writePosition(
  layer: { k: tf.Tensor3D; v: tf.Tensor3D },
  kNew: tf.Tensor2D,
  vNew: tf.Tensor2D,
  pos: number,
): void {
  const [c, cap, e] = layer.k.shape;
  const be = wasmBackend();
  if (be) {
    const heap = new Float32Array(be.wasm.HEAPU8.buffer);
    const ko = heapOffset(be, layer.k), vo = heapOffset(be, layer.v);
    const kn = heapOffset(be, kNew), vn = heapOffset(be, vNew);
    for (let ci = 0; ci < c; ci++) {
      heap.copyWithin(ko + (ci * cap + pos) * e, kn + ci * e, kn + (ci + 1) * e);
      for (let ei = 0; ei < e; ei++) heap[vo + (ci * e + ei) * cap + pos] = heap[vn + ci * e + ei]!;
    }
    return;
  }
  const next = tf.tidy(() => {
    const oh = tf.oneHot(tf.tensor1d([pos], "int32"), cap).cast("float32"); // [1, cap]
    const ohk = tf.reshape(oh, [1, cap, 1]), ohv = tf.reshape(oh, [1, 1, cap]);
    const k = tf.add(tf.mul(layer.k, tf.sub(1, ohk)), tf.mul(tf.reshape(kNew, [c, 1, e]), ohk));
    const v = tf.add(tf.mul(layer.v, tf.sub(1, ohv)), tf.mul(tf.reshape(vNew, [c, e, 1]), ohv));
    return { k: k as tf.Tensor3D, v: v as tf.Tensor3D };
  });
  tf.dispose([layer.k, layer.v]);
  layer.k = next.k;
  layer.v = next.v;
}

/**
 * One decoding step: feeds `ids [B]` (int32) at position `cache.length`, writes its
 * keys and values into the cache and returns the next-token logits `[B, V]`.
 * Forward only, same maths as {@linkcode hiddenStates} for the new position.
 */
export function decodeStep(model: TinyLM, cache: KVCache, ids: tf.Tensor1D): tf.Tensor2D {
  const c = model.config;
  const { width: D, heads: H, headDim: E, vocab: V } = c;
  const b = cache.batch, pos = cache.length, cap = cache.capacity;
  if (pos >= cap) {
    throw new ModelError(`Invalid cache: all ${cap} positions are filled`);
  }
  const scale = 1 / Math.sqrt(E);
  const bias = new Float32Array(cap);
  for (let j = pos + 1; j < cap; j++) bias[j] = -1e9;
  const logits = tf.tidy(() => {
    const maskBias = tf.tensor2d(bias, [1, cap]);
    let x = tf.add(
      tf.matMul(
        tf.cast(tf.oneHot(ids, V), "float32") as tf.Tensor2D,
        model.p("emb") as tf.Tensor2D,
      ),
      tf.slice(model.p("pos"), [pos, 0], [1, D]),
    ) as tf.Tensor2D;
    for (let i = 0; i < c.layers; i++) {
      const w = (s: string) => model.p(`blocks.${i}.${s}`) as tf.Tensor2D;
      const layer = cache.layers[i]!;
      const h = rmsNormForward(x, w("g1")) as tf.Tensor2D;
      writePosition(layer, tf.matMul(h, w("wk")), tf.matMul(h, w("wv")), pos);
      // scores [C, cap] = q . keys per channel, masked past `pos`; y [C, E] = p . values.
      const q = tf.reshape(tf.mul(tf.matMul(h, w("wq")), scale), [b * H, 1, E]);
      const s = tf.sum(tf.mul(layer.k, q), -1);
      const p = tf.softmax(tf.add(s, maskBias));
      const y = tf.reshape(tf.sum(tf.mul(layer.v, tf.reshape(p, [b * H, 1, cap])), -1), [b, D]);
      x = tf.add(x, tf.matMul(y as tf.Tensor2D, w("wo")));
      const f = tf.fused.matMul({
        a: rmsNormForward(x, w("g2")) as tf.Tensor2D,
        b: w("w1"),
        activation: "relu",
      });
      x = tf.add(x, tf.matMul(f, w("w2")));
    }
    const hf = rmsNormForward(x, model.p("gf")) as tf.Tensor2D;
    return tf.matMul(hf, tf.transpose(model.p("emb"))) as tf.Tensor2D;
  });
  cache.length = pos + 1;
  return logits;
}

/** Truncation of a distribution before sampling. */
export interface TruncateOptions {
  /** Keep the k most likely ids (0 = all). Ties keep the lower id. */
  topK?: number;
  /** Then keep the smallest most-likely set whose mass is >= topP (1 = all). */
  topP?: number;
}

/**
 * Top-k then top-p (nucleus, Holtzman et al. 2020) truncation of `probs [V]`
 * (non-negative, summing to 1), renormalised. Top-p is applied to the
 * renormalised top-k distribution and always keeps the most likely id.
 *
 * @example
 * ```ts
 * import { truncateDistribution } from "./sample.ts";
 * Array.from(truncateDistribution([0.5, 0.3, 0.2], { topP: 0.7 })); // [0.625, 0.375, 0]
 * ```
 */
export function truncateDistribution(
  probs: ArrayLike<number>,
  options: TruncateOptions = {},
): Float64Array {
  const n = probs.length;
  const topK = options.topK ?? 0, topP = options.topP ?? 1;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    probs[b]! - probs[a]! || a - b
  );
  const keep = topK > 0 ? Math.min(topK, n) : n;
  let mass = 0;
  for (let r = 0; r < keep; r++) mass += probs[order[r]!]!;
  let cut = keep;
  if (topP < 1) {
    let cum = 0;
    for (let r = 0; r < keep; r++) {
      cum += probs[order[r]!]! / mass;
      if (cum >= topP) {
        cut = r + 1;
        break;
      }
    }
  }
  const out = new Float64Array(n);
  let z = 0;
  for (let r = 0; r < cut; r++) z += probs[order[r]!]!;
  for (let r = 0; r < cut; r++) out[order[r]!] = probs[order[r]!]! / z;
  return out;
}

/** Options of {@linkcode sample}. */
export interface SampleOptions {
  /** Seeded generator (required: runs are reproducible). */
  rng: Rng;
  /** New tokens per row at most (>= 1; prompt + maxNewTokens - 1 <= context). */
  maxNewTokens: number;
  /** Logits are divided by it; 0 = greedy (argmax, lowest id on ties). Default 1. */
  temperature?: number;
  /** See {@linkcode truncateDistribution} (default 0 = off). */
  topK?: number;
  /** See {@linkcode truncateDistribution} (default 1 = off). */
  topP?: number;
  /** A row stops after emitting this id (kept in its output). */
  eosId?: number;
  /** Fills positions after a row's stop (default 0). */
  padId?: number;
}

/** What {@linkcode sample} returns; arrays are row-major `[B, N]`, N = maxNewTokens. */
export interface SampleResult {
  /** `[B, N]`. */
  shape: [number, number];
  /** Generated ids (prompt excluded), `padId` after a row's stop. */
  tokens: Int32Array;
  /**
   * Log-prob of each generated token under the distribution it was drawn from
   * (tempered, truncated, renormalised); 0 for greedy picks and padding.
   */
  logprobs: Float32Array;
  /** Log-prob under the untempered, untruncated model (`log_softmax(z)[id]`); 0 at padding. */
  modelLogprobs: Float32Array;
  /** Generated tokens per row, the EOS included. */
  lengths: Int32Array;
}

/**
 * Samples up to `maxNewTokens` tokens after each prompt row, with a key/value cache.
 *
 * @param prompts `[B, P]` ids, equal length P >= 1
 */
export async function sample(
  model: TinyLM,
  prompts: TokenRows,
  options: SampleOptions,
): Promise<SampleResult> {
  const o = options;
  if (!o?.rng || typeof o.rng.next !== "function") {
    throw new ModelError("Invalid rng: expected an Rng");
  }
  const temp = o.temperature ?? 1;
  if (!(temp >= 0) || !Number.isFinite(temp)) {
    throw new ModelError(
      `Invalid temperature: expected a finite number >= 0, got ${o.temperature}`,
    );
  }
  const topK = o.topK ?? 0, topP = o.topP ?? 1;
  if (!Number.isInteger(topK) || topK < 0) {
    throw new ModelError(`Invalid topK: expected an integer >= 0, got ${o.topK}`);
  }
  if (!(topP > 0 && topP <= 1)) {
    throw new ModelError(`Invalid topP: expected a number in (0, 1], got ${o.topP}`);
  }
  const V = model.config.vocab;
  for (const [name, v] of [["eosId", o.eosId], ["padId", o.padId]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v >= V)) {
      throw new ModelError(`Invalid ${name}: expected an integer id in [0, ${V}), got ${v}`);
    }
  }
  const padId = o.padId ?? 0;
  const pt = tokenTensor(model, prompts, "prompts");
  const [b, p] = pt.shape;
  const n = o.maxNewTokens;
  if (!Number.isInteger(n) || n < 1 || p + n - 1 > model.config.context) {
    if (pt !== prompts) pt.dispose();
    throw new ModelError(
      `Invalid maxNewTokens: expected an integer >= 1 with prompt length ${p} + maxNewTokens - 1 <= context=${model.config.context}, got ${n}`,
    );
  }
  const tokens = new Int32Array(b * n).fill(padId);
  const logprobs = new Float32Array(b * n), modelLogprobs = new Float32Array(b * n);
  const lengths = new Int32Array(b);
  const done = new Uint8Array(b);
  const z = new Float64Array(V), q = new Float64Array(V);
  const pre = prefill(model, pt, { capacity: p + n - 1 });
  const cache = pre.cache;
  let logits = pre.logits;
  if (pt !== prompts) pt.dispose();
  try {
    for (let step = 0; step < n; step++) {
      const lg = (await logits.data()) as Float32Array;
      logits.dispose();
      const next = new Int32Array(b).fill(padId);
      let active = 0;
      for (let r = 0; r < b; r++) {
        if (done[r]) continue;
        let mx = -Infinity;
        for (let j = 0; j < V; j++) mx = Math.max(mx, z[j] = lg[r * V + j]!);
        let se = 0;
        for (let j = 0; j < V; j++) se += Math.exp(z[j]! - mx);
        const lse = mx + Math.log(se);
        let id = 0, lp = 0;
        if (temp === 0) {
          for (let j = 1; j < V; j++) if (z[j]! > z[id]!) id = j;
        } else {
          let qs = 0;
          for (let j = 0; j < V; j++) qs += q[j] = Math.exp((z[j]! - mx) / temp);
          for (let j = 0; j < V; j++) q[j] = q[j]! / qs;
          const dist = topK > 0 || topP < 1 ? truncateDistribution(q, { topK, topP }) : q;
          const u = o.rng.next();
          let cum = 0;
          id = -1;
          for (let j = 0; j < V; j++) {
            cum += dist[j]!;
            if (u < cum) {
              id = j;
              break;
            }
          }
          if (id < 0) {
            for (let j = V - 1; j >= 0; j--) {
              if (dist[j]! > 0) {
                id = j;
                break;
              }
            }
          }
          lp = Math.log(dist[id]!);
        }
        tokens[r * n + step] = id;
        logprobs[r * n + step] = lp;
        modelLogprobs[r * n + step] = z[id]! - lse;
        lengths[r] = step + 1;
        next[r] = id;
        if (o.eosId !== undefined && id === o.eosId) done[r] = 1;
        else active++;
      }
      if (active === 0 || step === n - 1) break;
      const ids = tf.tensor1d(next, "int32");
      logits = decodeStep(model, cache, ids);
      ids.dispose();
    }
  } finally {
    if (!logits.isDisposed) logits.dispose();
    disposeCache(cache);
  }
  return { shape: [b, n], tokens, logprobs, modelLogprobs, lengths };
}
