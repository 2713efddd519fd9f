/**
 * Batched sampling from the tiny LM with a key/value cache: temperature, top-k,
 * top-p, per-row stop at an EOS id, with counter-based draws ({@linkcode CounterRng}):
 * row `i`'s uniform at generated position `t` is `rng.uniform(keys[i].problem,
 * keys[i].sample, t)`, so a row's tokens do not depend on the other rows of its batch
 * (their number, order, lengths or stops), only on its key and the model.
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
import type { CounterRng } from "../prng.ts";

/** Positions per immutable cache block (see {@linkcode KVCache}). */
export const DEFAULT_CACHE_BLOCK = 16;

/**
 * Key/value cache of one batch (channel `c = b*H + h`, `C = B*H` channels, `E = D/H`).
 * Per block, positions `0..full-1` live in **immutable** tensors laid out as
 * depthwise-convolution filters (`kFull [E, C, full]`, `vFull [full, C, E]`), so that
 * both attention products over them are one `depthwiseConv2d` each whose packed
 * XNNPACK operator tfjs-wasm caches by tensor id (a cached filter must never change:
 * see {@linkcode writePosition}). Positions `full..length-1` live in a small **tail**
 * of `block` slots (`k [C, block, E]`, `v [C, E, block]`), written in place on wasm
 * and used only by elementwise multiply + sum (no cached operator); slots past
 * `length` are masked out of the softmax. When the tail is full it is folded into new
 * filter tensors (once per `block` steps: fresh tensors, each packed once).
 */
export interface KVCache {
  /** Per block of the model. */
  layers: {
    /** Tail keys `[C, block, E]`. */
    k: tf.Tensor3D;
    /** Tail values `[C, E, block]`. */
    v: tf.Tensor3D;
    /** Keys of positions `0..full-1` as `[E, C, full]` (null while `full` is 0). */
    kFull: tf.Tensor3D | null;
    /** Values of positions `0..full-1` as `[full, C, E]` (null while `full` is 0). */
    vFull: tf.Tensor3D | null;
    /**
     * `[wq / sqrt(E) | wk | wv]` `[D, 3D]`, built by {@linkcode prefill} from the weights
     * at that time (one matMul per step instead of three; sampling does not train).
     */
    wqkv: tf.Tensor2D;
  }[];
  /** Filled positions (the next token goes at position `length`). */
  length: number;
  /** Positions held by the immutable filters (a multiple of `block`, `<= length`). */
  full: number;
  /** Tail slots. */
  block: number;
  /** Rows B. */
  batch: number;
  /** Positions allowed in all (`length` never exceeds it). */
  capacity: number;
}

function layerTensors(l: KVCache["layers"][number]): tf.Tensor[] {
  const all: (tf.Tensor | null)[] = [l.k, l.v, l.kFull, l.vFull, l.wqkv];
  return all.filter((t): t is tf.Tensor => t !== null);
}

/** Frees a cache's tensors. */
export function disposeCache(cache: KVCache): void {
  for (const l of cache.layers) {
    tf.dispose(layerTensors(l));
  }
  cache.layers = [];
}

/**
 * Runs the prompt `[B, P]` through the model and fills a cache of `capacity`
 * positions (default: the context), with tail blocks of `block` positions (default
 * {@linkcode DEFAULT_CACHE_BLOCK}).
 * @returns next-token logits after the last prompt token `[B, V]` and the cache
 */
export function prefill(
  model: TinyLM,
  prompt: tf.Tensor2D,
  options: { capacity?: number; block?: number } = {},
): { logits: tf.Tensor2D; cache: KVCache } {
  const [b, p] = prompt.shape;
  const cap = options.capacity ?? model.config.context;
  if (!Number.isInteger(cap) || cap < p || cap > model.config.context) {
    throw new ModelError(
      `Invalid capacity: expected an integer in [prompt length ${p}, context ${model.config.context}], got ${cap}`,
    );
  }
  const block = options.block ?? DEFAULT_CACHE_BLOCK;
  if (!Number.isInteger(block) || block < 1) {
    throw new ModelError(`Invalid block: expected an integer >= 1, got ${block}`);
  }
  const full = Math.floor(p / block) * block;
  const r = p - full; // filled tail slots
  const layers: KVCache["layers"] = [];
  const logits = tf.tidy(() => {
    const h = hiddenStates(model, prompt, {
      capture: (i, k, v) => {
        // k, v [P, C, E]. Every kept tensor is a fresh buffer (pad / transpose / slice
        // copy), so the in-place tail writes below own theirs.
        const c = k.shape[1], e = k.shape[2];
        const tailK = tf.slice(k, [full, 0, 0], [r, c, e]);
        const tailV = tf.slice(v, [full, 0, 0], [r, c, e]);
        layers.push({
          k: tf.keep(tf.pad(tf.transpose(tailK, [1, 0, 2]), [[0, 0], [0, block - r], [0, 0]])),
          v: tf.keep(tf.pad(tf.transpose(tailV, [1, 2, 0]), [[0, 0], [0, 0], [0, block - r]])),
          kFull: full > 0
            ? tf.keep(tf.transpose(tf.slice(k, [0, 0, 0], [full, c, e]), [2, 1, 0]))
            : null,
          vFull: full > 0 ? tf.keep(tf.slice(v, [0, 0, 0], [full, c, e])) : null,
          wqkv: tf.keep(tf.concat([
            tf.mul(model.p(`blocks.${i}.wq`), 1 / Math.sqrt(e)),
            model.p(`blocks.${i}.wk`),
            model.p(`blocks.${i}.wv`),
          ], 1)) as tf.Tensor2D,
        });
      },
    });
    const last = tf.slice(h, [(p - 1) * b, 0], [b, model.config.width]);
    return tf.matMul(last, tf.transpose(model.p("emb"))) as tf.Tensor2D;
  });
  return { logits, cache: { layers, length: p, full, block, batch: b, capacity: cap } };
}

interface WasmBackendLike {
  dataIdMap: { get(id: unknown): { memoryOffset: number | null; refCount: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
}

/**
 * Test hook: `forceGeneric` makes the cache take the path of non-wasm backends
 * (functional tail updates, tfjs ops for folding and compaction) on wasm too.
 * @internal
 */
export const _cacheTesting = { forceGeneric: false };

/** The wasm backend's heap access, or null on other backends. */
function wasmBackend(): WasmBackendLike | null {
  if (_cacheTesting.forceGeneric || tf.getBackend() !== "wasm") return null;
  const be = tf.backend() as unknown as Partial<WasmBackendLike>;
  return be.dataIdMap && be.wasm?.HEAPU8 ? (be as WasmBackendLike) : null;
}

function heapOffset(be: WasmBackendLike, t: tf.Tensor): number {
  const info = be.dataIdMap.get(t.dataId);
  if (!info || info.memoryOffset === null) throw new Error("internal: tensor not on the wasm heap");
  return info.memoryOffset >>> 2;
}

/**
 * Writes tail slot `slot` of a cache layer: `k[:, slot, :] = kNew`, `v[:, :, slot] = vNew`
 * with `kNew`, `vNew` `[C, E]` the k and v thirds of the fused projection `qkv [B, 3D]`. On wasm this writes into the tail's own heap buffers
 * (tfjs tensors are immutable, and a functional update copies the whole tail every
 * step); the tail tensors are created by {@linkcode prefill} / {@linkcode compactCache}
 * and never shared, so nothing else sees the write. They must never be the filter of a
 * convolution or the B operand of a matMul: tfjs-wasm caches XNNPACK operators (with
 * packed weights) by that tensor's id, so an in-place write would be ignored (seen:
 * stale keys from the second step on). Other backends get a functional update.
 */
function writePosition(
  layer: KVCache["layers"][number],
  qkv: tf.Tensor2D,
  slot: number,
): void {
  const [c, cap, e] = layer.k.shape;
  const d = qkv.shape[1] / 3, heads = d / e;
  const be = wasmBackend();
  if (be) {
    // Keys and values straight from the fused projection's rows (no slices):
    // channel (b, h) of k is qkv[b, D + h*E .. D + (h+1)*E].
    const heap = new Float32Array(be.wasm.HEAPU8.buffer);
    const ko = heapOffset(be, layer.k), vo = heapOffset(be, layer.v), so = heapOffset(be, qkv);
    for (let ci = 0; ci < c; ci++) {
      const src = so + Math.floor(ci / heads) * 3 * d + (ci % heads) * e;
      const kn = src + d, vn = src + 2 * d;
      heap.copyWithin(ko + (ci * cap + slot) * e, kn, kn + e);
      const vb = vo + ci * e * cap + slot;
      for (let ei = 0; ei < e; ei++) heap[vb + ei * cap] = heap[vn + ei]!;
    }
    return;
  }
  const next = tf.tidy(() => {
    const b = qkv.shape[0];
    const kNew = tf.reshape(tf.slice(qkv, [0, d], [b, d]), [c, 1, e]);
    const vNew = tf.reshape(tf.slice(qkv, [0, 2 * d], [b, d]), [c, e, 1]);
    const oh = tf.oneHot(tf.tensor1d([slot], "int32"), cap).cast("float32"); // [1, cap]
    const ohk = tf.reshape(oh, [1, cap, 1]), ohv = tf.reshape(oh, [1, 1, cap]);
    const k = tf.add(tf.mul(layer.k, tf.sub(1, ohk)), tf.mul(kNew, ohk));
    const v = tf.add(tf.mul(layer.v, tf.sub(1, ohv)), tf.mul(vNew, ohv));
    // keep(): this runs inside decodeStep's tidy, which must not free the new tail.
    return { k: tf.keep(k as tf.Tensor3D), v: tf.keep(v as tf.Tensor3D) };
  });
  tf.dispose([layer.k, layer.v]);
  layer.k = next.k;
  layer.v = next.v;
}

/**
 * Moves a full tail into the immutable filters: fresh tensors (packed once by their
 * first convolution), the tail is reused. On wasm the new filters are assembled on
 * the host from the heap (wasm's 3-D Transpose and inner-axis Concat measured 12-21 ms
 * per layer here, the host copy a few ms).
 */
function foldTail(cache: KVCache): void {
  const be = wasmBackend();
  const full = cache.full, block = cache.block, n = full + block;
  for (const l of cache.layers) {
    const [c, , e] = l.k.shape;
    let kf: tf.Tensor3D, vf: tf.Tensor3D;
    if (be) {
      const heap = new Float32Array(be.wasm.HEAPU8.buffer);
      const ko = heapOffset(be, l.k), vo = heapOffset(be, l.v);
      const k = new Float32Array(e * c * n), v = new Float32Array(n * c * e);
      if (l.kFull && l.vFull) {
        const kfo = heapOffset(be, l.kFull), vfo = heapOffset(be, l.vFull);
        for (let r = 0; r < e * c; r++) {
          const s = kfo + r * full, d = r * n;
          for (let j = 0; j < full; j++) k[d + j] = heap[s + j]!;
        }
        v.set(heap.subarray(vfo, vfo + full * c * e));
      }
      // Sequential writes (reads strided within one channel's small tail block).
      for (let ei = 0; ei < e; ei++) {
        for (let ci = 0; ci < c; ci++) {
          const dst = (ei * c + ci) * n + full, src = ko + ci * block * e + ei;
          for (let j = 0; j < block; j++) k[dst + j] = heap[src + j * e]!;
        }
      }
      for (let j = 0; j < block; j++) {
        for (let ci = 0; ci < c; ci++) {
          const dst = ((full + j) * c + ci) * e, src = vo + ci * e * block + j;
          for (let ei = 0; ei < e; ei++) v[dst + ei] = heap[src + ei * block]!;
        }
      }
      kf = tf.tensor3d(k, [e, c, n]);
      vf = tf.tensor3d(v, [n, c, e]);
    } else {
      [kf, vf] = tf.tidy(() => {
        const kb = tf.transpose(l.k, [2, 0, 1]) as tf.Tensor3D; // [E, C, block]
        const vb = tf.transpose(l.v, [2, 0, 1]) as tf.Tensor3D; // [block, C, E]
        return [
          l.kFull ? tf.concat([l.kFull, kb], 2) as tf.Tensor3D : kb,
          l.vFull ? tf.concat([l.vFull, vb], 0) as tf.Tensor3D : vb,
        ];
      });
    }
    tf.dispose([l.kFull, l.vFull].filter((t): t is tf.Tensor3D => t !== null));
    l.kFull = kf;
    l.vFull = vf;
  }
  cache.full += cache.block;
}

/**
 * Keeps only rows `rows` (ascending or not; each once) of a cache, e.g. the rows
 * of a batch still sampling after others stopped, so later steps cost in proportion
 * to the rows kept. The cache's tensors are replaced by fresh ones.
 */
export function compactCache(cache: KVCache, rows: readonly number[], heads: number): void {
  if (rows.length === 0) throw new ModelError("Invalid rows: expected at least one row to keep");
  const ch = new Int32Array(rows.length * heads);
  rows.forEach((r, i) => {
    if (!Number.isInteger(r) || r < 0 || r >= cache.batch) {
      throw new ModelError(`Invalid rows: expected row indices in [0, ${cache.batch}), got ${r}`);
    }
    for (let h = 0; h < heads; h++) ch[i * heads + h] = r * heads + h;
  });
  const be = wasmBackend();
  if (be) {
    // wasm's GatherV2 measured about 9 ms per call here (over half of sample_pipeline's
    // kernel time): copy the kept channels on the host instead, into fresh tensors.
    for (const l of cache.layers) {
      const old = [l.k, l.v, l.kFull, l.vFull].filter((t): t is tf.Tensor3D => t !== null);
      l.k = hostGather(be, l.k, ch, 0);
      l.v = hostGather(be, l.v, ch, 0);
      if (l.kFull) l.kFull = hostGather(be, l.kFull, ch, 1);
      if (l.vFull) l.vFull = hostGather(be, l.vFull, ch, 1);
      tf.dispose(old);
    }
    cache.batch = rows.length;
    return;
  }
  const idx = tf.tensor1d(ch, "int32");
  try {
    for (const l of cache.layers) {
      const old = [l.k, l.v, l.kFull, l.vFull].filter((t): t is tf.Tensor3D => t !== null);
      // gather() writes fresh output buffers: the tail may be written in place again.
      l.k = tf.gather(l.k, idx, 0);
      l.v = tf.gather(l.v, idx, 0);
      if (l.kFull) l.kFull = tf.gather(l.kFull, idx, 1);
      if (l.vFull) l.vFull = tf.gather(l.vFull, idx, 1);
      tf.dispose(old);
    }
  } finally {
    idx.dispose();
  }
  cache.batch = rows.length;
}

/** `t` with only indices `idx` along `axis` (0 or 1) of a 3-D tensor, copied on the wasm heap. */
function hostGather(
  be: WasmBackendLike,
  t: tf.Tensor3D,
  idx: Int32Array,
  axis: 0 | 1,
): tf.Tensor3D {
  const [d0, d1, d2] = t.shape;
  const heap = new Float32Array(be.wasm.HEAPU8.buffer);
  const o = heapOffset(be, t);
  const n = idx.length;
  if (axis === 0) {
    const out = new Float32Array(n * d1 * d2), row = d1 * d2;
    for (let i = 0; i < n; i++) {
      const s = o + idx[i]! * row;
      out.set(heap.subarray(s, s + row), i * row);
    }
    return tf.tensor3d(out, [n, d1, d2]);
  }
  const out = new Float32Array(d0 * n * d2);
  for (let a = 0; a < d0; a++) {
    for (let i = 0; i < n; i++) {
      const s = o + (a * d1 + idx[i]!) * d2;
      out.set(heap.subarray(s, s + d2), (a * n + i) * d2);
    }
  }
  return tf.tensor3d(out, [d0, n, d2]);
}

/** `out[c, n] = sum_k x[k, c] f[k, c, n]` for `x [K, C]`, `f [K, C, N]` (one depthwise conv). */
function channelVecMat(x: tf.Tensor2D, f: tf.Tensor3D): tf.Tensor2D {
  const [k, c, n] = f.shape;
  const out = tf.depthwiseConv2d(
    tf.reshape(x, [1, 1, k, c]) as tf.Tensor4D,
    tf.reshape(f, [1, k, c, n]) as tf.Tensor4D,
    1,
    "valid",
  );
  return tf.reshape(out, [c, n]);
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
  if (pos - cache.full === cache.block) foldTail(cache);
  const full = cache.full, block = cache.block, slot = pos - full;
  const C = b * H;
  const bias = new Float32Array(block);
  for (let j = slot + 1; j < block; j++) bias[j] = -1e9;
  const logits = tf.tidy(() => {
    const maskBias = tf.tensor2d(bias, [1, block]);
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
      const qkv = tf.matMul(h, layer.wqkv) as tf.Tensor2D; // [B, 3D], q pre-scaled
      writePosition(layer, qkv, slot);
      const q = tf.reshape(tf.slice(qkv, [0, 0], [b, D]), [C, E]) as tf.Tensor2D;
      // Softmax over the filters' positions (convolutions) and the tail's (mul + sum,
      // masked past `slot`) in two parts: no concatenation or slicing of the scores.
      const sTail = tf.add(tf.sum(tf.mul(layer.k, tf.reshape(q, [C, 1, E])), -1), maskBias);
      let y: tf.Tensor2D;
      if (layer.kFull && layer.vFull) {
        const sFull = channelVecMat(tf.transpose(q) as tf.Tensor2D, layer.kFull); // [C, full]
        const m = tf.maximum(tf.max(sFull, -1, true), tf.max(sTail, -1, true));
        const eFull = tf.exp(tf.sub(sFull, m)), eTail = tf.exp(tf.sub(sTail, m));
        const den = tf.add(tf.sum(eFull, -1, true), tf.sum(eTail, -1, true));
        const yTail = tf.sum(tf.mul(layer.v, tf.reshape(eTail, [C, 1, block])), -1);
        const yFull = channelVecMat(tf.transpose(eFull) as tf.Tensor2D, layer.vFull);
        y = tf.div(tf.add(yFull, yTail), den) as tf.Tensor2D;
      } else {
        const p = tf.softmax(sTail);
        y = tf.sum(tf.mul(layer.v, tf.reshape(p, [C, 1, block])), -1) as tf.Tensor2D;
      }
      x = tf.add(x, tf.matMul(tf.reshape(y, [b, D]) as tf.Tensor2D, w("wo")));
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
 * import { assertArrayAlmostEquals } from "@std/assert";
 * const p = truncateDistribution([0.5, 0.3, 0.2], { topP: 0.7 });
 * assertArrayAlmostEquals(p, [0.625, 0.375, 0]);
 * ```
 */
export function truncateDistribution(
  probs: ArrayLike<number>,
  options: TruncateOptions = {},
): Float64Array {
  const n = probs.length;
  const out = new Float64Array(n);
  truncateInto(probs, options.topK ?? 0, options.topP ?? 1, new Int32Array(n), out);
  return out;
}

/**
 * {@linkcode truncateDistribution} into `out` (length V), with `order` (length V) as
 * scratch: no allocation, so the sampler can call it for every row of every step.
 */
function truncateInto(
  probs: ArrayLike<number>,
  topK: number,
  topP: number,
  order: Int32Array,
  out: Float64Array,
): void {
  const n = probs.length;
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => probs[b]! - probs[a]! || a - b);
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
  out.fill(0);
  let z = 0;
  for (let r = 0; r < cut; r++) z += probs[order[r]!]!;
  for (let r = 0; r < cut; r++) out[order[r]!] = probs[order[r]!]! / z;
}

/**
 * {@linkcode sample} drops stopped rows from the batch (one gather of the cache, and a
 * repack of its convolution filters) once at most this fraction of the batch is still
 * sampling.
 */
const COMPACT_FRACTION = 0.75;

/** The counter key of one sampled row (see {@linkcode CounterRng.uniform}). */
export interface SampleKey {
  /** The problem (uint32, e.g. `counterKey` of lib/prng.ts over its text). */
  problem: number;
  /** The sample index of this row among the problem's samples. */
  sample: number;
}

/** Options of {@linkcode sample}. */
export interface SampleOptions {
  /** Counter-based generator (seed and stream name; required: runs are reproducible). */
  rng: CounterRng;
  /** `[B]` the key of each row: row `i` draws `rng.uniform(problem, sample, t)` at step `t`. */
  keys: readonly SampleKey[];
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
  if (!o?.rng || typeof o.rng.uniform !== "function") {
    throw new ModelError("Invalid rng: expected a CounterRng");
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
  const keys = o.keys;
  if (!Array.isArray(keys) || keys.length !== b) {
    if (pt !== prompts) pt.dispose();
    throw new ModelError(
      `Invalid keys: expected one key per prompt row (${b}), got ${keys?.length ?? keys}`,
    );
  }
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
  const z = new Float64Array(V), q = new Float64Array(V), tq = new Float64Array(V);
  const order = new Int32Array(V);
  const done = new Uint8Array(b);
  const truncate = topK > 0 || topP < 1;
  const eos = o.eosId;
  const pre = prefill(model, pt, { capacity: p + n - 1 });
  const cache = pre.cache;
  let logits = pre.logits;
  if (pt !== prompts) pt.dispose();
  // rows[i]: the prompt row held by cache row i (its key sets its draws).
  let rows = Array.from({ length: b }, (_, i) => i);
  try {
    for (let step = 0; step < n; step++) {
      const lg = (await logits.data()) as Float32Array;
      logits.dispose();
      const next = new Int32Array(rows.length);
      const alive: number[] = [];
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!, off = i * V;
        if (done[r]) continue;
        let mx = -Infinity;
        for (let j = 0; j < V; j++) {
          const v = z[j] = lg[off + j]!;
          if (v > mx) mx = v;
        }
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
          let dist: Float64Array = q;
          if (truncate) {
            truncateInto(q, topK, topP, order, tq);
            dist = tq;
          }
          const u = o.rng.uniform(keys[r]!.problem, keys[r]!.sample, step);
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
        next[i] = id;
        if (eos !== undefined && id === eos) done[r] = 1;
        else alive.push(i);
      }
      if (alive.length === 0 || step === n - 1) break;
      let ids: tf.Tensor1D;
      if (alive.length < rows.length && alive.length <= COMPACT_FRACTION * rows.length) {
        // Rows that stopped leave the batch: later steps cost in proportion to the rest.
        compactCache(cache, alive, model.config.heads);
        ids = tf.tensor1d(Int32Array.from(alive, (i) => next[i]!), "int32");
        rows = alive.map((i) => rows[i]!);
      } else {
        // Stopped rows stay in the batch (outputs ignored) until enough have stopped.
        ids = tf.tensor1d(next, "int32");
      }
      logits = decodeStep(model, cache, ids);
      ids.dispose();
    }
  } finally {
    if (!logits.isDisposed) logits.dispose();
    disposeCache(cache);
  }
  return { shape: [b, n], tokens, logprobs, modelLogprobs, lengths };
}
