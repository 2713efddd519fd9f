/**
 * Candidate sets of the distribution branch (methods.md B8, e5). Their statistics over a
 * policy's own samples (d4, Table 11) belong to Eval: lib/eval/candidate_set.ts.
 *
 * Slot layout for training: ids `[B,L,K]` (int32) + mask `[B,L,K]` + π_old log-probs at those
 * ids `[B,L,K]` (gathered from the full-vocabulary log-softmax, never renormalised).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkChoice, checkFinite, checkShape, lastTokenMask, safeDiv } from "../checks.ts";
import { P_MIN } from "../eval/candidate_set.ts";

/** Repo cap `candidate_top_k`. */
export const REPO_TOP_K = 5;

/**
 * `"threshold"` (paper): `C_t = {v : π_old(v|s_t) ≥ P_min}`, uncapped, possibly empty.
 * `"sampled_plus_topk"` (repo): `{y_t} ∪ (top-K ∩ {p > P_min})` (strict), sampled token in slot 0.
 */
export type CandidateMode = "threshold" | "sampled_plus_topk";

/** Options of {@linkcode candidateSet}. */
export interface CandidateSetOptions {
  /** Sampled token ids `y[B,L]` (int32). Required. */
  sampled: tf.Tensor2D;
  /** Response mask `[B,L]`. Required. */
  mask: tf.Tensor2D;
  /** Default `"threshold"` (paper). */
  mode?: CandidateMode;
  /** P_min (default {@linkcode P_MIN}). */
  pMin?: number;
  /** Cap K for `"sampled_plus_topk"` (default {@linkcode REPO_TOP_K}); ignored by `"threshold"`. */
  topK?: number;
  /** Exclude the last valid position (repo, e10). Default true. */
  dropLast?: boolean;
}

/** Result of {@linkcode candidateSet}. */
export interface CandidateSet {
  /** Candidate ids `[B,L,K]` int32 (entries with mask 0 are placeholders). */
  ids: tf.Tensor3D;
  /** 1 where the slot is a candidate, `[B,L,K]`. */
  mask: tf.Tensor3D;
  /** `log π_old` at `ids`, `[B,L,K]`. */
  logp: tf.Tensor3D;
  /** Mean set size over valid, non-dropped positions (0 if none). */
  meanSize: tf.Scalar;
  /** Mean retained mass `Σ_{v∈C_t} p(v)` over the same positions. */
  meanMass: tf.Scalar;
}

interface Slots {
  ids: tf.Tensor;
  keep: tf.Tensor;
}

type ModeFn = (logp: tf.Tensor3D, sampled: tf.Tensor2D, pMin: number, topK: number) => Slots;

/** Slots needed so that `{p ≥ pMin}` always fits: at most ⌊1/pMin⌋ probabilities reach pMin (+1 for rounding). */
function thresholdSlots(pMin: number, v: number): number {
  return pMin > 0 ? Math.min(v, Math.floor(1 / pMin) + 1) : v;
}

const MODES = {
  threshold: (logp, _sampled, pMin) => {
    const { values, indices } = tf.topk(logp, thresholdSlots(pMin, logp.shape[2]));
    return { ids: indices, keep: values.greaterEqual(logThreshold(pMin)) };
  },
  sampled_plus_topk: (logp, sampled, pMin, topK) => {
    const k = Math.min(topK, logp.shape[2]);
    const { indices } = tf.topk(logp, k);
    const y = sampled.expandDims(2); // [B,L,1]
    const hit = indices.equal(y); // [B,L,K]
    const inTop = hit.any(2, true);
    const first = indices.slice([0, 0, 0], [-1, -1, 1]);
    // in top-K: swap y into slot 0; else: insert y at slot 0 and drop the K-th
    const swapped = tf.where(hit, first.tile([1, 1, k]), indices).slice([0, 0, 1], [-1, -1, k - 1]);
    const shifted = indices.slice([0, 0, 0], [-1, -1, k - 1]);
    const rest = tf.where(inTop.tile([1, 1, k - 1]), swapped, shifted);
    const ids = tf.concat([y, rest], 2);
    const p = tf.exp(gatherLastAxis(logp, ids));
    const slot0 = tf.range(0, k, 1, "int32").equal(0).reshape([1, 1, k]);
    return { ids, keep: tf.logicalOr(slot0, p.greater(pMin)) };
  },
} as const satisfies Record<CandidateMode, ModeFn>;

/**
 * `p ≥ P_min` is tested as `logp ≥ ln P_min`: rounding to float32 is monotone, so this agrees
 * with a float64 `exp(logp) ≥ P_min` except at exact ties (where `exp` in float32 would not).
 */
function logThreshold(pMin: number): number {
  return pMin > 0 ? Math.log(pMin) : -Infinity;
}

/**
 * `x[b,l,ids[b,l,k]]` without gradient. `[B,L,V], [B,L,K] -> [B,L,K]`. A 1-D gather over
 * flat offsets `(b·L + l)·V + id`: the batched form (`batchDims = 1`) reads out of bounds or
 * gives wrong values on tfjs-backend-wasm 4.22 (tensorflow/tfjs#8658).
 */
function gatherLastAxis(x: tf.Tensor3D, ids: tf.Tensor): tf.Tensor3D {
  const [b, l, v] = x.shape;
  const k = ids.shape[2]!;
  const rows = tf.range(0, b * l, 1, "int32").mul(tf.scalar(v, "int32")).reshape([b * l, 1]);
  const flat = ids.toInt().reshape([b * l, k]).add(rows).reshape([b * l * k]);
  return tf.gather(x.reshape([b * l * v]), flat).reshape([b, l, k]);
}

/**
 * Candidate sets (B8; paper Sec. 3.2, App. D — the set `C_t` of Eq. 11):
 *
 *   threshold: `C_t = {v : exp(logp_t[v]) ≥ P_min}` (uncapped: K = ⌊1/P_min⌋ + 1 slots);
 *   sampled_plus_topk: top-K ids by `logp_t`, `y_t` forced into slot 0 (swapped if in the
 *   top-K, else inserted and the K-th dropped); slot 0 kept, slot j > 0 kept iff `p > P_min`.
 *   Both: only valid positions, and not the last valid one when `dropLast`.
 *
 * @param logp full-vocabulary log-softmax of π_old `[B,L,V]`.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals, assertEquals } from "@std/assert";
 * import { candidateSet } from "./candidates.ts";
 * const logp = tf.log(tf.tensor3d([[[0.6, 0.3, 0.1]]]));
 * const sampled = tf.tensor2d([[2]], undefined, "int32"), mask = tf.tensor2d([[1]]);
 * // paper (threshold P_min = 0.1, p ≥ P_min): all three ids, size 3, mass 1
 * const c = candidateSet(logp, { sampled, mask, dropLast: false });
 * const [ids, keep] = [await c.ids.data(), await c.mask.data()];
 * assertEquals(Array.from(ids).filter((_, j) => keep[j] === 1).sort(), [0, 1, 2]);
 * assertAlmostEquals((await c.meanSize.data())[0]!, 3, 1e-6);
 * // repo: the sampled id 2 swaps places with the top-1 id 0 (slot 0 is the sampled token)
 * const r = candidateSet(logp, { sampled, mask, dropLast: false, mode: "sampled_plus_topk", topK: 3 });
 * assertEquals(Array.from(await r.ids.data()), [2, 1, 0]);
 * ```
 */
export function candidateSet(logp: tf.Tensor3D, options: CandidateSetOptions): CandidateSet {
  checkShape(logp, "logp", [undefined, undefined, undefined], "[B,L,V]");
  const [b, l, v] = logp.shape;
  checkShape(options.sampled, "sampled", [b, l], "[B,L]");
  checkShape(options.mask, "mask", [b, l], "[B,L]");
  const mode = options.mode ?? "threshold";
  checkChoice(MODES, mode, "mode");
  const pMin = options.pMin ?? P_MIN;
  checkFinite(pMin, "pMin");
  const topK = options.topK ?? REPO_TOP_K;
  if (!Number.isInteger(topK) || topK < 1) {
    throw new RangeError(`Invalid topK: expected an integer >= 1, got ${topK}`);
  }
  if (v < 1) throw new RangeError("Invalid logp: expected a vocabulary of at least 1 token");
  return tf.tidy(() => {
    const m = options.mask;
    const pos = (options.dropLast ?? true) ? m.mul(tf.scalar(1).sub(lastTokenMask(m))) : m;
    const sampled = tf.clipByValue(options.sampled.toInt(), 0, v - 1) as tf.Tensor2D;
    const { ids, keep } = MODES[mode](logp, sampled, pMin, topK);
    const mask = keep.toFloat().mul(pos.expandDims(2)) as tf.Tensor3D;
    const lp = gatherLastAxis(logp, ids);
    const size = mask.sum(2);
    const mass = mask.mul(tf.exp(lp)).sum(2);
    const n = pos.sum();
    return {
      ids: ids.toInt() as tf.Tensor3D,
      mask,
      logp: lp,
      meanSize: safeDiv(size.sum(), n) as tf.Scalar,
      meanMass: safeDiv(mass.sum(), n) as tf.Scalar,
    };
  });
}

/**
 * `logp[b,l,ids[b,l,k]]` with a gradient w.r.t. `logp` that works on every backend (a one-hot
 * product: `gather`'s gradient, UnsortedSegmentSum, is missing on wasm). Use it to read the
 * current policy's log-probs at the candidate ids. `[B,L,V], [B,L,K] -> [B,L,K]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertEquals } from "@std/assert";
 * import { gatherCandidates } from "./candidates.ts";
 * const g = gatherCandidates(tf.tensor3d([[[-1, -2, -3]]]), tf.tensor3d([[[2, 0]]], undefined, "int32"));
 * assertEquals(Array.from(await g.data()), [-3, -1]);
 * ```
 */
export function gatherCandidates(logp: tf.Tensor3D, ids: tf.Tensor3D): tf.Tensor3D {
  checkShape(logp, "logp", [undefined, undefined, undefined], "[B,L,V]");
  checkShape(ids, "ids", [logp.shape[0], logp.shape[1], undefined], "[B,L,K]");
  return tf.tidy(() => {
    // one-hot by comparison (tf.oneHot needs depth >= 2)
    const oh = ids.toInt().expandDims(3).equal(tf.range(0, logp.shape[2], 1, "int32"));
    return oh.toFloat().mul(logp.expandDims(2)).sum(3) as tf.Tensor3D;
  });
}
