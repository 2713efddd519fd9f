/**
 * Plain-JS float64 loop references for the rm/ and rl/ maths (test tier (b)), random
 * inputs, and tensor helpers shared by tests/rm and tests/rl. Written from methods.md,
 * independently of the vectorised lib code.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../lib/prng.ts";

export type M2 = number[][];
export type M3 = number[][][];

export const softplusRef = (z: number): number =>
  Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
export const sigmoidRef = (z: number): number => 1 / (1 + Math.exp(-z));

/** Right-padded mask with lengths in [minLen, L]. */
export function randomMask(rng: Rng, b: number, l: number, minLen = 1): M2 {
  return Array.from({ length: b }, () => {
    const t = minLen + rng.int(l - minLen + 1);
    return Array.from({ length: l }, (_, i) => (i < t ? 1 : 0));
  });
}

export function randomMat(rng: Rng, b: number, l: number, scale = 1): M2 {
  return Array.from({ length: b }, () => Array.from({ length: l }, () => rng.normal() * scale));
}

/** Random full-vocabulary log-softmax rows `[B,L,V]` (logits ~ N(0, 4)), float64. */
export function randomLogSoftmax(rng: Rng, b: number, l: number, v: number): M3 {
  return Array.from({ length: b }, () =>
    Array.from({ length: l }, () => {
      const z = Array.from({ length: v }, () => rng.normal() * 2);
      const lse = Math.log(z.reduce((a, c) => a + Math.exp(c), 0));
      return z.map((x) => x - lse);
    }));
}

export function randomLabels(rng: Rng, b: number): number[] {
  return Array.from({ length: b }, () => rng.int(2));
}

export const len = (row: number[]): number => row.reduce((a, c) => a + c, 0);

/** V_t and v̄_t (B2), 0 at padding. */
export function prefixValuesRef(lr: M2, m: M2, beta: number): { v: M2; vbar: M2 } {
  const v: M2 = [], vbar: M2 = [];
  lr.forEach((row, b) => {
    let s = 0, c = 0;
    v.push([]);
    vbar.push([]);
    row.forEach((x, t) => {
      const mt = m[b]![t]!;
      s += x * mt;
      c += mt;
      v[b]!.push(mt ? beta * s : 0);
      vbar[b]!.push(mt ? (beta * s) / Math.max(c, 1) : 0);
    });
  });
  return { v, vbar };
}

/** Temporal weight w_t for 1-based t of T (B6). */
export function weightRef(kind: string, t: number, T: number): number {
  if (kind === "uniform" || (kind === "early" && T === 1)) return 1 / T;
  if (kind === "late") return (2 * t) / (T * (T + 1));
  return (2 * (T - t)) / (T * (T - 1));
}

/** IPVRM (B5/B6/B14) loops. */
export function ipvrmRef(
  lr: M2,
  m: M2,
  o: {
    labels: number[];
    beta: number;
    margin: number;
    weighting: string;
    reduction: string;
    sw?: number[];
    sm?: number[];
  },
): { loss: number; perSeq: number[]; acc: number } {
  const { vbar } = prefixValuesRef(lr, m, o.beta);
  const perSeq: number[] = [];
  let tokSum = 0, tokN = 0, hit = 0;
  lr.forEach((_, b) => {
    const T = len(m[b]!);
    const mb = o.sm ? o.sm[b]! : o.margin;
    const sgn = 2 * o.labels[b]! - 1;
    const w = o.sw ? o.sw[b]! : 1;
    let s = 0;
    for (let t = 0; t < T; t++) {
      const lam = softplusRef(mb - sgn * vbar[b]![t]!);
      s += weightRef(o.weighting, t + 1, T) * lam;
      tokSum += w * lam;
      tokN++;
      if ((vbar[b]![t]! > 0 ? 1 : 0) === o.labels[b]) hit++;
    }
    perSeq.push(s);
  });
  const loss = o.reduction === "token"
    ? tokSum / tokN
    : perSeq.reduce((a, c, b) => a + c * (o.sw ? o.sw[b]! : 1), 0) / perSeq.length;
  return { loss, perSeq, acc: hit / tokN };
}

/** Implicit PRM (B4) loops, labels form r softplus(−z) + (1−r) softplus(z). */
export function implicitPrmRef(
  lr: M2,
  m: M2,
  labels: number[],
  beta: number,
): { loss: number; perSeq: number[] } {
  const perSeq = lr.map((row, b) => {
    let z = 0;
    row.forEach((x, t) => (z += x * m[b]![t]!));
    z *= beta;
    const r = labels[b]!;
    return r * softplusRef(-z) + (1 - r) * softplusRef(z);
  });
  return { loss: perSeq.reduce((a, c) => a + c, 0) / perSeq.length, perSeq };
}

/** DPO (B3) loops. */
export function dpoRef(
  lr: M2,
  m: M2,
  pairs: number[][],
  beta: number,
): { loss: number; perPair: number[] } {
  const R = lr.map((row, b) => beta * row.reduce((a, x, t) => a + x * m[b]![t]!, 0));
  const perPair = pairs.map(([w, l]) => softplusRef(-(R[w!]! - R[l!]!)));
  return { loss: perPair.reduce((a, c) => a + c, 0) / perPair.length, perPair };
}

export { assertNoLeak, disposeAll } from "../_tensors.ts";

export const t2 = (x: M2): tf.Tensor2D => tf.tensor2d(x, [x.length, x[0]?.length ?? 0]);
export const t1 = (x: number[]): tf.Tensor1D => tf.tensor1d(x);
export const t3 = (x: M3): tf.Tensor3D =>
  tf.tensor3d(x.flat(2), [x.length, x[0]?.length ?? 0, x[0]?.[0]?.length ?? 0]);
/** `await x.array()`, typed loosely for nested comparisons. */
// deno-lint-ignore no-explicit-any
export const arr = async (x: tf.Tensor): Promise<any> => await x.array();
export const val = async (x: tf.Tensor): Promise<number> => (await x.data())[0]!;
export { Rng };
