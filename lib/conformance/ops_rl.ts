/**
 * Conformance ops of lib/rl (../shared/spec/conformance.md): adb_dlw, grpo_advantages, gae,
 * candidate_set, distrl_advantages, policy_loss, candidate_stats. Each checks its JSON args
 * (errors name the argument) and runs the lib function that training uses.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Op } from "./_op.ts";
import {
  ArgError,
  type Args,
  bool,
  checkGroups,
  checkTensor,
  choice,
  cube,
  int,
  labels01,
  mask,
  mat,
  num,
  numOrNull,
  vec,
} from "./_args.ts";
import { nonEmptyBatch, t1, t2 } from "./ops_rm.ts";
import { adbDlw, type DlwMode } from "../rl/adb_dlw.ts";
import { distrlAdvantages, gae, type GaeNorm, grpoAdvantages } from "../rl/advantages.ts";
import { candidateStats } from "../eval/candidate_set.ts";
import { type CandidateMode, candidateSet } from "../rl/candidates.ts";
import { type Aggregation, policyLoss } from "../rl/policy_loss.ts";

const DLW_MODES: readonly DlwMode[] = ["paper", "normalized", "off"];
const GAE_NORMS: readonly GaeNorm[] = ["batch_mean_sigma_v", "group"];
const CAND_MODES: readonly CandidateMode[] = ["threshold", "sampled_plus_topk"];
const AGGS: readonly Aggregation[] = ["sequence", "token"];

function t3(x: number[][][], shape: [number, number, number]): tf.Tensor3D {
  return tf.tensor3d(x.flat(2), shape, "float32");
}

async function scalar(t: tf.Tensor): Promise<number> {
  return (await t.data())[0]!;
}

/** A `[B][L][K]` argument whose K may be 0 (`[]` accepted for K = 0). */
function cubeK(args: Args, name: string, b: number, l: number): { x: number[][][]; k: number } {
  const v = args[name];
  if (Array.isArray(v) && v.length === 0 && b > 0) return { x: [], k: 0 };
  if (v === undefined) throw new ArgError(`${name}: required argument is missing`);
  const c = checkTensor(v, name, 3, [b, l], "[B][L][K]");
  return { x: c.value as number[][][], k: c.shape[2]! };
}

/** A `[B][L][K]` 0/1 mask (no ordering rule along K). */
function mask3(args: Args, name: string, b: number, l: number, k: number): number[][][] {
  if (k === 0) return [];
  const m = cube(args, name, b, l, k);
  m.forEach((row, i) =>
    row.forEach((col, t) =>
      col.forEach((x, j) => {
        if (x !== 0 && x !== 1) {
          throw new ArgError(`${name}: expected 0/1 values, got ${x} at [${i}][${t}][${j}]`);
        }
      })
    )
  );
  return m;
}

/** `[B][L][K]` array with an explicit empty last axis when K = 0. */
async function cubeOut(t: tf.Tensor3D): Promise<number[][][]> {
  const [b, l, k] = t.shape;
  if (k === 0) return Array.from({ length: b }, () => Array.from({ length: l }, () => []));
  return await t.array();
}

/** `adb_dlw` [B14]: float64 constants. */
function opAdbDlw(args: Args) {
  const labels = labels01(args, "labels");
  nonEmptyBatch(labels.length, "labels");
  const g = int(args, "group_size");
  checkGroups(labels.length, g);
  const r = adbDlw(labels, {
    groupSize: g,
    margin: num(args, "margin", 5),
    dlw: choice(args, "dlw", DLW_MODES, "paper"),
    skipUniform: bool(args, "skip_uniform", true),
  });
  return { weights: r.weights, margins: r.margins, group_value: r.groupValue };
}

/** `grpo_advantages` [B10]: labels may be any finite rewards; `eps` must be > 0. */
async function opGrpo(args: Args) {
  const labels = vec(args, "labels");
  nonEmptyBatch(labels.length, "labels");
  const g = int(args, "group_size");
  checkGroups(labels.length, g);
  const eps = num(args, "eps", 1e-6);
  if (eps <= 0) throw new ArgError(`eps: expected a number > 0, got ${eps}`);
  return { advantages: await grpoAdvantages(t1(labels), { groupSize: g, eps }).array() };
}

/** `gae` [B7]: the TD is masked before the scan; 0 at padding. */
async function opGae(args: Args) {
  const td = mat(args, "td");
  const b = td.length, l = td[0]?.length ?? 0;
  nonEmptyBatch(b, "td");
  const m = mask(args, "mask", b, l);
  const r = gae(t2(td, b, l), t2(m, b, l), {
    gamma: num(args, "gamma", 1),
    lam: num(args, "lam", 1),
  });
  return { advantages: await r.array() };
}

/**
 * `candidate_set` [B8]: sorted ids per position; `sampled` must hold integer ids in [0, V) at
 * valid positions (padding may hold anything finite). `mean_size`/`mean_mass` are 0 when no
 * position is valid and non-dropped.
 */
async function opCandidateSet(args: Args) {
  const lp = cube(args, "logp");
  const b = lp.length, l = lp[0]?.length ?? 0, v = lp[0]?.[0]?.length ?? 0;
  nonEmptyBatch(b, "logp");
  if (l > 0 && v === 0) {
    throw new ArgError("logp: expected a vocabulary of at least one token, got V=0");
  }
  const m = mask(args, "mask", b, l);
  const s = mat(args, "sampled", b, l);
  s.forEach((row, i) =>
    row.forEach((x, t) => {
      if (m[i]![t] === 1 && (!Number.isInteger(x) || x < 0 || x >= v)) {
        throw new ArgError(`sampled: expected a token id in [0, ${v}), got ${x} at [${i}][${t}]`);
      }
    })
  );
  const pMin = num(args, "p_min", 0.1);
  const mode = choice(args, "mode", CAND_MODES, "threshold");
  const topK = int(args, "top_k", 5);
  const dropLast = bool(args, "drop_last", true);
  const safeS = s.map((row) => row.map((x) => (Number.isInteger(x) && x >= 0 && x < v ? x : 0)));
  const r = candidateSet(t3(lp, [b, l, v]), {
    sampled: tf.tensor2d(safeS.flat(), [b, l], "int32"),
    mask: t2(m, b, l),
    mode,
    pMin,
    topK,
    dropLast,
  });
  const ids = await r.ids.array();
  const keep = await r.mask.array();
  const sets = ids.map((row, i) =>
    row.map((slots, t) => slots.filter((_, j) => keep[i]![t]![j] === 1).sort((a, c) => a - c))
  );
  return { sets, mean_size: await scalar(r.meanSize), mean_mass: await scalar(r.meanMass) };
}

/**
 * `distrl_advantages` [B9, B10, e1–e4, e10]. `labels` may be any finite rewards (the GRPO
 * term); whitening needs at least 2 valid tokens in the batch.
 */
async function opDistrl(args: Args) {
  const td = mat(args, "td_sampled");
  const b = td.length, l = td[0]?.length ?? 0;
  nonEmptyBatch(b, "td_sampled");
  const whitenGae = bool(args, "whiten_gae", true);
  const m = mask(args, "mask", b, l);
  const valid = m.flat().reduce((a, c) => a + c, 0);
  if (whitenGae && valid < 2) {
    throw new ArgError(`mask: whitening needs at least 2 valid tokens in the batch, got ${valid}`);
  }
  const cand = cubeK(args, "td_candidates", b, l);
  const labels = vec(args, "labels", b);
  const g = int(args, "group_size");
  checkGroups(b, g);
  const r = distrlAdvantages(t2(td, b, l), t2(m, b, l), {
    outcomes: t1(labels),
    groupSize: g,
    tdCandidates: t3(cand.x, [b, l, cand.k]),
    gaeNorm: choice(args, "gae_norm", GAE_NORMS, "batch_mean_sigma_v"),
    whitenGae,
    gaeCoef: num(args, "gae_coef", 0.05),
    outcomeCoef: num(args, "outcome_coef", 1),
    dropLastTd: bool(args, "drop_last_td", true),
  });
  return {
    sigma_v: await scalar(r.sigmaV),
    advantages: await r.advantages.array(),
    candidate_advantages: await cubeOut(r.candidateAdvantages),
  };
}

/**
 * `policy_loss` [B11–B13]: grads are d loss / d input from tfjs autograd (`tf.grads`) through
 * the same `policyLoss` used in training. With K = 0 the dist branch is 0.
 */
async function opPolicyLoss(args: Args) {
  const lpNew = mat(args, "logp_new");
  const b = lpNew.length, l = lpNew[0]?.length ?? 0;
  nonEmptyBatch(b, "logp_new");
  const agg = choice(args, "agg", AGGS, "sequence");
  const m = mask(args, "mask", b, l, agg === "sequence");
  const lpOld = mat(args, "logp_old", b, l);
  const adv = mat(args, "advantages", b, l);
  const cNew = cubeK(args, "cand_logp_new", b, l);
  const k = cNew.k;
  const cOld = k === 0 ? [] : cube(args, "cand_logp_old", b, l, k);
  const cAdv = k === 0 ? [] : cube(args, "cand_advantages", b, l, k);
  const cMask = mask3(args, "cand_mask", b, l, k);
  const opts = {
    logpOld: t2(lpOld, b, l),
    advantages: t2(adv, b, l),
    mask: t2(m, b, l),
    candLogpOld: t3(cOld, [b, l, k]),
    candAdvantages: t3(cAdv, [b, l, k]),
    candMask: t3(cMask, [b, l, k]),
    epsLow: num(args, "eps_low", 0.2),
    epsHigh: num(args, "eps_high", 0.28),
    distEps: num(args, "dist_eps", 0.2),
    dualClip: numOrNull(args, "dual_clip"),
    alpha: num(args, "alpha", 0.1),
    agg,
  };
  const x = t2(lpNew, b, l);
  const c = t3(cNew.x, [b, l, k]);
  const r = policyLoss(x, c, opts);
  let gx: tf.Tensor, gc: tf.Tensor3D;
  if (k === 0) {
    gx = tf.grad((a: tf.Tensor) => policyLoss(a as tf.Tensor2D, null, opts).loss)(x);
    gc = tf.zeros([b, l, 0]);
  } else {
    const gs = tf.grads((a: tf.Tensor, d: tf.Tensor) =>
      policyLoss(a as tf.Tensor2D, d as tf.Tensor3D, opts).loss
    )([x, c]);
    gx = gs[0]!;
    gc = gs[1] as tf.Tensor3D;
  }
  return {
    loss: await scalar(r.loss),
    tok_loss: await scalar(r.metrics.tokLoss),
    dist_loss: await scalar(r.metrics.distLoss),
    tok_clip_frac: await scalar(r.metrics.tokClipFrac),
    grad_logp_new: await gx.array(),
    grad_cand_logp_new: await cubeOut(gc),
  };
}

/** `candidate_stats` [d4]. */
async function opCandidateStats(args: Args) {
  const p = mat(args, "probs");
  const n = p.length, v = p[0]?.length ?? 0;
  if (n < 1) throw new ArgError("probs: expected at least one row (N >= 1), got N=0");
  const r = candidateStats(t2(p, n, v), { pMin: num(args, "p_min", 0.1) });
  return { mean_size: await scalar(r.meanSize), mean_mass: await scalar(r.meanMass) };
}

/** Ops of this area, by name. */
export const RL_OPS: Record<string, Op> = {
  adb_dlw: opAdbDlw,
  grpo_advantages: opGrpo,
  gae: opGae,
  candidate_set: opCandidateSet,
  distrl_advantages: opDistrl,
  policy_loss: opPolicyLoss,
  candidate_stats: opCandidateStats,
};
