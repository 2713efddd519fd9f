/**
 * Differentiable building blocks of the tiny LM, each with a hand-written
 * gradient (`tf.customGrad`) shaped for tfjs-wasm (../shared/notes/environment.md):
 * - only 2-D matrix products without transpose flags (the flags fall off XNNPACK, 10x
 *   slower): on wasm the project's own kernels (../wasm_gemm/mod.ts: `matMulNN`, and
 *   `matMulTN` = `a^T b` for weight gradients without transposing the activations);
 *   elsewhere, or with `PVL_GEMM=xnnpack`, tfjs's `matMul` with explicit `tf.transpose`;
 * - per-(sequence, head) attention products as one `depthwiseConv2d` (batched 3-D
 *   matMul runs a scalar loop on wasm; wasm has no depthwise backprop kernels, so the
 *   backward pass is written with forward depthwise convolutions too);
 * - embedding lookup by `gather` with a one-hot matMul gradient (gather's own gradient,
 *   UnsortedSegmentSum, is missing on wasm).
 *
 * Internal layout: activations are time-major, rows `(t, b)`; linear weights are
 * `[in, out]` (the transpose of PyTorch's).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { RMS_EPS } from "./config.ts";
import { gemmActive, type GemmSpec, matMulNN, matMulTN, stridedMatMul } from "../wasm_gemm/mod.ts";

type GradSave = tf.GradSaveFunc;
/** tfjs's customGrad callback type; ours are typed per op and cast once. */
type CustomFn = Parameters<typeof tf.customGrad>[0];

/**
 * Float one-hot. tfjs-wasm 4.22's OneHot returns all zeros when asked for a float32
 * output (measured), so it is built as int32 and cast.
 */
export function oneHotF(ids: tf.Tensor, depth: number): tf.Tensor {
  return tf.cast(tf.oneHot(ids as tf.Tensor1D, depth), "float32");
}

/** Saved tensors by index, checked (customGrad hands back an untyped array). */
function at(saved: tf.Tensor[], i: number): tf.Tensor {
  const t = saved[i];
  if (t === undefined) throw new Error(`internal: saved tensor ${i} missing`);
  return t;
}

/**
 * `transpose(x)` of a saved 2-D tensor, shared by every backward pass whose forward
 * saw the same input buffer `key` (the forward input's `dataId`; the saved tensor
 * itself is a copy on wasm, with its own id) while the first result is alive: the q,
 * k and v projections read the same normalised input, so their weight gradients need
 * `h^T` once, not three times. Tensors are immutable, so one `dataId` means one
 * content. Entries vanish with the key (WeakMap); a disposed result is never returned.
 */
const transposeMemo = new WeakMap<object, tf.Tensor2D>();
function sharedTranspose(x: tf.Tensor2D, key: object): tf.Tensor2D {
  const hit = transposeMemo.get(key);
  if (hit && !hit.isDisposed && hit.shape[0] === x.shape[1] && hit.shape[1] === x.shape[0]) {
    return hit;
  }
  const t = tf.transpose(x) as tf.Tensor2D;
  transposeMemo.set(key, t);
  return t;
}

/**
 * Weight gradient `x^T @ dy`: the own kernel's `tn` form where it runs (no transpose at
 * all), else tfjs's matMul on the shared transpose of `x`.
 */
function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D, key: object): tf.Tensor2D {
  return gemmActive() ? matMulTN(x, dy) : tf.matMul(sharedTranspose(x, key), dy);
}

/**
 * `y = x @ w` for `x [N, in]`, `w [in, out]`; gradients `dx = dy @ w^T`,
 * `dw = x^T @ dy` with explicit transposes.
 */
export const linear: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  ((x: tf.Tensor2D, w: tf.Tensor2D, save: GradSave) => {
    save([x, w]);
    const key = x.dataId as object;
    return {
      value: matMulNN(x, w),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const sx = at(saved, 0) as tf.Tensor2D, sw = at(saved, 1) as tf.Tensor2D;
        return [matMulNN(dy, tf.transpose(sw)), weightGrad(sx, dy, key)];
      },
    };
  }) as unknown as CustomFn,
) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** `y = relu(x @ w)` (fused matMul + ReLU); gradient as {@linkcode linear} through the ReLU mask. */
export const linearRelu: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  ((x: tf.Tensor2D, w: tf.Tensor2D, save: GradSave) => {
    const y = matMulNN(x, w, true);
    save([x, w, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const sx = at(saved, 0) as tf.Tensor2D, sw = at(saved, 1) as tf.Tensor2D;
        const g = tf.mul(dy, tf.step(at(saved, 2))) as tf.Tensor2D;
        return [matMulNN(g, tf.transpose(sw)), matMulTN(sx, g)];
      },
    };
  }) as unknown as CustomFn,
) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** `rsqrt(mean(x^2, -1) + eps)` as `[N, 1]` (shared by the forward-only decode path). */
export function rmsScale(x: tf.Tensor): tf.Tensor {
  return tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), RMS_EPS));
}

/** RMSNorm without a gradient definition (inference): `x * rmsScale(x) * g`. */
export function rmsNormForward(x: tf.Tensor, g: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, rmsScale(x)), g);
}

/**
 * RMSNorm `y = x / sqrt(mean(x^2) + eps) * g` over the last axis, `x [N, D]`, `g [D]`.
 * Gradient: `dx = r * (dxh - xh * mean(dxh * xh))` with `r = rsqrt(mean(x^2)+eps)`,
 * `xh = x r`, `dxh = dy g`; `dg = sum_rows(dy * xh)`.
 */
export const rmsNorm: (x: tf.Tensor2D, g: tf.Tensor1D) => tf.Tensor2D = tf.customGrad(
  ((x: tf.Tensor2D, g: tf.Tensor1D, save: GradSave) => {
    const r = rmsScale(x);
    const xh = tf.mul(x, r);
    save([xh, r, g]);
    return {
      value: tf.mul(xh, g),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const sxh = at(saved, 0), sr = at(saved, 1), sg = at(saved, 2);
        const dxh = tf.mul(dy, sg);
        const dx = tf.mul(sr, tf.sub(dxh, tf.mul(sxh, tf.mean(tf.mul(dxh, sxh), -1, true))));
        return [dx, tf.sum(tf.mul(dy, sxh), 0)];
      },
    };
  }) as unknown as CustomFn,
) as unknown as (x: tf.Tensor2D, g: tf.Tensor1D) => tf.Tensor2D;

/**
 * Embedding rows `emb[ids]` as `[N, D]`, computed as `onehot(ids) @ emb` (wasm's
 * GatherV2 measured 5x slower than this matMul for 2048 rows of a 64 x 128 table) with
 * gradient `onehot^T @ dy` (gather's own gradient is not implemented on wasm).
 */
export function embed(ids: tf.Tensor1D, emb: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad(
    ((e: tf.Tensor2D, save: GradSave) => {
      const oh = oneHotF(ids, e.shape[0]) as tf.Tensor2D;
      save([oh]);
      return {
        value: matMulNN(oh, e),
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => [
          matMulTN(at(saved, 0) as tf.Tensor2D, dy),
        ],
      };
    }) as unknown as CustomFn,
  ) as unknown as (e: tf.Tensor2D) => tf.Tensor2D;
  return f(emb);
}

/**
 * Per-channel matrix products as one depthwise convolution:
 * `out[m, c, n] = sum_k x[m, k, c] * f[k, c, n]` for `x [M, K, C]`, `f [K, C, N]`.
 */
export function channelMatMul(x: tf.Tensor3D, f: tf.Tensor3D): tf.Tensor3D {
  const [m, k, c] = x.shape;
  const n = f.shape[2];
  const out = tf.depthwiseConv2d(
    tf.reshape(x, [1, m, k, c]) as tf.Tensor4D,
    tf.reshape(f, [1, k, c, n]) as tf.Tensor4D,
    1,
    "valid",
  );
  return tf.reshape(out, [m, c, n]);
}

/** Additive causal mask `[T, 1, T]`: 0 where key j <= query i, -1e9 elsewhere. */
export function causalBias(t: number): tf.Tensor3D {
  const a = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) a[i * t + j] = -1e9;
  return tf.tensor3d(a, [t, 1, t]);
}

/**
 * Causal softmax attention, time-major: `q, k, v [T, C, E]` with `C = B*H` channels
 * (one per sequence and head), `E = D/H`; returns `y [T, C, E]`,
 * `y[i,c] = sum_{j<=i} softmax_j(q[i,c].k[j,c] / sqrt(E)) v[j,c]`.
 */
export function causalAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor3D {
  if (gemmActive()) return causalAttentionStrided(q, k, v);
  const t = q.shape[0];
  const scale = 1 / Math.sqrt(q.shape[2]);
  const f = tf.customGrad(
    ((q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, save: GradSave) => {
      const qs = tf.mul(q, scale) as tf.Tensor3D;
      const s = channelMatMul(
        tf.transpose(qs, [0, 2, 1]), // [i, d, c]
        tf.transpose(k, [2, 1, 0]), // [d, c, j]
      ); // [i, c, j]
      const p = tf.softmax(tf.add(s, causalBias(t))) as tf.Tensor3D;
      save([qs, k, v, p]);
      return {
        value: channelMatMul(tf.transpose(p, [0, 2, 1]), v), // [i,j,c] x [j,c,e] -> [i,c,e]
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const sq = at(saved, 0) as tf.Tensor3D, sk = at(saved, 1) as tf.Tensor3D;
          const sv = at(saved, 2) as tf.Tensor3D, sp = at(saved, 3) as tf.Tensor3D;
          const dp = channelMatMul(tf.transpose(dy, [0, 2, 1]), tf.transpose(sv, [2, 1, 0]));
          const ds = tf.mul(sp, tf.sub(dp, tf.sum(tf.mul(sp, dp), -1, true))) as tf.Tensor3D;
          const dq = tf.mul(channelMatMul(tf.transpose(ds, [0, 2, 1]), sk), scale);
          const dsT = tf.transpose(ds, [2, 0, 1]) as tf.Tensor3D; // [j, i, c]
          const dk = channelMatMul(dsT, sq);
          const dv = channelMatMul(tf.transpose(sp, [2, 0, 1]), dy);
          return [dq, dk, dv];
        },
      };
    }) as unknown as CustomFn,
  ) as unknown as (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D;
  return f(q, k, v);
}

/** Additive causal mask `[T, T]`: 0 where key j <= query i, -1e9 elsewhere. */
function causalBias2d(t: number): tf.Tensor2D {
  return tf.reshape(causalBias(t), [t, t]) as tf.Tensor2D;
}

/**
 * Strides of the per-channel attention products on `[T, C, E]` tensors (elements), for
 * {@linkcode stridedMatMul}: channel `c` of `x [T, C, E]` is the `[T, E]` matrix at offset
 * `c E` with row stride `C E`; scores and probabilities are `[C, T, T]`, channel-major.
 */
function attentionSpecs(t: number, ch: number, e: number) {
  const ce = ch * e;
  const base = { batch: ch, relu: false };
  /** `[C, T, T]` from two `[T, C, E]`: `out[c, i, j] = sum_e x[i, c, e] y[j, c, e]`. */
  const scores: GemmSpec = {
    ...base,
    m: t,
    k: e,
    n: t,
    rsA: ce,
    csA: 1,
    sA: e,
    rsB: 1,
    csB: ce,
    sB: e,
    rsC: t,
    sC: t * t,
    outShape: [ch, t, t],
  };
  /** `[T, C, E]` from `p [C, T, T]`, `x [T, C, E]`: `out[i, c, e] = sum_j p[c, i, j] x[j, c, e]`. */
  const mix: GemmSpec = {
    ...base,
    m: t,
    k: t,
    n: e,
    rsA: t,
    csA: 1,
    sA: t * t,
    rsB: ce,
    csB: 1,
    sB: e,
    rsC: ce,
    sC: e,
    outShape: [t, ch, e],
  };
  /** As `mix` with `p` transposed: `out[j, c, e] = sum_i p[c, i, j] x[i, c, e]`. */
  const mixT: GemmSpec = { ...mix, rsA: 1, csA: t };
  return { scores, mix, mixT };
}

/**
 * {@linkcode causalAttention} on the own kernels (lib/wasm_gemm): the seven per-channel
 * products of the forward and backward passes read the `[T, C, E]` projections in place
 * through strides (no transposes, no depthwise convolutions); softmax and its backward are
 * tfjs ops on `[C, T, T]`.
 */
function causalAttentionStrided(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor3D {
  const [t, ch, e] = q.shape;
  const scale = 1 / Math.sqrt(e);
  const sp = attentionSpecs(t, ch, e);
  const f = tf.customGrad(
    ((q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, save: GradSave) => {
      const qs = tf.mul(q, scale) as tf.Tensor3D;
      const s = stridedMatMul(qs, k, sp.scores); // [c, i, j]
      const p = tf.softmax(tf.add(s, causalBias2d(t))) as tf.Tensor3D;
      save([qs, k, v, p]);
      return {
        value: stridedMatMul(p, v, sp.mix) as tf.Tensor3D,
        gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
          const sq = at(saved, 0), sk = at(saved, 1), sv = at(saved, 2), spr = at(saved, 3);
          const dp = stridedMatMul(dy, sv, sp.scores);
          const ds = tf.mul(spr, tf.sub(dp, tf.sum(tf.mul(spr, dp), -1, true)));
          const dq = tf.mul(stridedMatMul(ds, sk, sp.mix), scale);
          const dk = stridedMatMul(ds, sq, sp.mixT);
          const dv = stridedMatMul(spr, dy, sp.mixT);
          return [dq, dk, dv];
        },
      };
    }) as unknown as CustomFn,
  ) as unknown as (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D;
  return f(q, k, v);
}

/**
 * Tied-embedding output head fused with log-softmax and a pick: for `h [N, D]`,
 * `emb [V, D]`, `ids [N, P]` returns `logp[n, ids[n, p]]` as `[N, P]` where
 * `logp = log_softmax(h @ emb^T / temperature)`. Gradient of each pick:
 * `d/dz = (onehot - softmax) / temperature`.
 */
export function pickLogprobs(
  h: tf.Tensor2D,
  emb: tf.Tensor2D,
  ids: tf.Tensor2D,
  temperature = 1,
): tf.Tensor2D {
  const f = tf.customGrad(
    ((h: tf.Tensor2D, e: tf.Tensor2D, save: GradSave) => {
      const vocab = e.shape[0];
      let z: tf.Tensor = matMulNN(h, tf.transpose(e) as tf.Tensor2D);
      if (temperature !== 1) z = tf.div(z, temperature);
      const logp = tf.logSoftmax(z);
      const oh = oneHotF(ids, vocab) as tf.Tensor3D; // [N, P, V]
      const picked = tf.sum(tf.mul(oh, tf.expandDims(logp, 1)), -1) as tf.Tensor2D;
      save([h, e, logp, oh]);
      return {
        value: picked,
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const sh = at(saved, 0) as tf.Tensor2D, se = at(saved, 1) as tf.Tensor2D;
          const sl = at(saved, 2), so = at(saved, 3);
          const scatter = tf.sum(tf.mul(so, tf.expandDims(dy, 2)), 1);
          let dz = tf.sub(scatter, tf.mul(tf.exp(sl), tf.sum(dy, -1, true))) as tf.Tensor2D;
          if (temperature !== 1) dz = tf.div(dz, temperature);
          return [matMulNN(dz, se), matMulTN(dz, sh)];
        },
      };
    }) as unknown as CustomFn,
  ) as unknown as (h: tf.Tensor2D, e: tf.Tensor2D) => tf.Tensor2D;
  return f(h, emb);
}

/**
 * Tied output head fused with a weighted cross-entropy: `sum_n w[n] * (lse(z_n) -
 * z_n[target_n])` with `z = h @ emb^T`, `h [N, D]`, `emb [V, D]`, `targets [N]`
 * int32, `w [N]` (e.g. mask / count). Returns a scalar. Gradient
 * `dz = w (softmax(z) - onehot(target))`.
 */
export function weightedCrossEntropy(
  h: tf.Tensor2D,
  emb: tf.Tensor2D,
  targets: tf.Tensor1D,
  w: tf.Tensor1D,
): tf.Scalar {
  const f = tf.customGrad(
    ((h: tf.Tensor2D, e: tf.Tensor2D, save: GradSave) => {
      const z = matMulNN(h, tf.transpose(e) as tf.Tensor2D);
      const logp = tf.logSoftmax(z);
      const oh = oneHotF(targets, e.shape[0]);
      const nll = tf.neg(tf.sum(tf.mul(oh, logp), -1));
      save([h, e, logp, oh, w]);
      return {
        value: tf.sum(tf.mul(nll, w)),
        gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
          const sh = at(saved, 0) as tf.Tensor2D, se = at(saved, 1) as tf.Tensor2D;
          const dz = tf.mul(
            tf.sub(tf.exp(at(saved, 2)), at(saved, 3)),
            tf.mul(tf.expandDims(at(saved, 4), 1), dy),
          ) as tf.Tensor2D;
          return [matMulNN(dz, se), matMulTN(dz, sh)];
        },
      };
    }) as unknown as CustomFn,
  ) as unknown as (h: tf.Tensor2D, e: tf.Tensor2D) => tf.Scalar;
  return f(h, emb);
}
