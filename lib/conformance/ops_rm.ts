/**
 * Conformance ops of lib/rm (../shared/spec/conformance.md): prefix_values, ipvrm_loss,
 * implicit_prm_loss, dpo_loss, rm_pair_accuracy. Each checks its JSON args (errors name the
 * argument) and runs the lib function that training uses.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Op } from "./_op.ts";
import {
  ArgError,
  type Args,
  checkGroups,
  choice,
  int,
  labels01,
  mask,
  mat,
  num,
  vec,
} from "./_args.ts";
import { prefixValues } from "../rm/prefix_values.ts";
import {
  dpoLoss,
  implicitPrmLoss,
  ipvrmLoss,
  type Pair,
  type Reduction,
  type Weighting,
} from "../rm/losses.ts";
import { rmPairAccuracy } from "../rm/pair_accuracy.ts";

/** A `[B][L]` number array as a float32 tensor. */
export function t2(x: number[][], b: number, l: number): tf.Tensor2D {
  return tf.tensor2d(x.flat(), [b, l], "float32");
}

/** `[B]` numbers as a float32 tensor. */
export function t1(x: number[]): tf.Tensor1D {
  return tf.tensor1d(x, "float32");
}

/** Throws unless the batch has at least one row. */
export function nonEmptyBatch(b: number, name: string): void {
  if (b < 1) throw new ArgError(`${name}: expected at least one sequence (B >= 1), got B=0`);
}

/** `logratio` + `mask` (rows need a valid token when `rowValid`). */
function logratioMask(args: Args, rowValid: boolean) {
  const lr = mat(args, "logratio");
  const b = lr.length, l = lr[0]?.length ?? 0;
  nonEmptyBatch(b, "logratio");
  const m = mask(args, "mask", b, l, rowValid);
  return { lr: t2(lr, b, l), m: t2(m, b, l), b, l };
}

const WEIGHTINGS: readonly Weighting[] = ["uniform", "early", "late"];
const REDUCTIONS: readonly Reduction[] = ["sequence", "token"];

/** `[[chosen, rejected], ...]` of row indices in [0, B). */
function pairsArg(args: Args, b: number): Pair[] {
  const v = args["pairs"];
  if (v === undefined) throw new ArgError("pairs: required argument is missing");
  if (!Array.isArray(v) || v.length === 0) {
    throw new ArgError("pairs: expected a non-empty [P][2] array of row indices");
  }
  return v.map((p, i) => {
    if (!Array.isArray(p) || p.length !== 2) {
      throw new ArgError(`pairs: expected [chosen, rejected] at [${i}], got ${JSON.stringify(p)}`);
    }
    p.forEach((x, j) => {
      if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x >= b) {
        throw new ArgError(
          `pairs: expected a row index in [0, ${b}), got ${JSON.stringify(x)} at [${i}][${j}]`,
        );
      }
    });
    return [p[0] as number, p[1] as number] as const;
  });
}

/**
 * `prefix_values` [B2]: `values` = V_t, `mean_values` = v̄_t, both 0 at padding.
 */
async function opPrefixValues(args: Args) {
  const { lr, m } = logratioMask(args, false);
  const beta = num(args, "beta");
  const r = prefixValues(lr, m, { beta });
  return { values: await r.values.array(), mean_values: await r.meanValues.array() };
}

/**
 * `ipvrm_loss` [B5, B6, B14]. `per_sequence` is `Σ_t w_t λ_t` (the uniform mean under
 * `reduction "token"`, which requires `weighting "uniform"`), before `sample_weights`.
 */
async function opIpvrmLoss(args: Args) {
  const { lr, m, b } = logratioMask(args, true);
  const labels = labels01(args, "labels", b);
  const beta = num(args, "beta", 10);
  const margin = num(args, "margin", 5);
  const weighting = choice(args, "weighting", WEIGHTINGS, "uniform");
  const reduction = choice(args, "reduction", REDUCTIONS, "sequence");
  if (reduction === "token" && weighting !== "uniform") {
    throw new ArgError(`weighting: reduction "token" needs "uniform", got "${weighting}"`);
  }
  const sw = vec(args, "sample_weights", b, new Array(b).fill(1));
  const sm = args["sample_margins"] === undefined || args["sample_margins"] === null
    ? undefined
    : vec(args, "sample_margins", b);
  const r = ipvrmLoss(lr, m, {
    labels: t1(labels),
    beta,
    margin,
    weighting,
    reduction,
    sampleWeights: t1(sw),
    sampleMargins: sm === undefined ? undefined : t1(sm),
  });
  return {
    loss: (await r.loss.data())[0],
    per_sequence: await r.metrics.perSequence.array(),
    prefix_accuracy: (await r.metrics.prefixAccuracy.data())[0],
  };
}

/** `implicit_prm_loss` [B4]. */
async function opImplicitPrmLoss(args: Args) {
  const { lr, m, b } = logratioMask(args, true);
  const labels = labels01(args, "labels", b);
  const beta = num(args, "beta", 0.05);
  const r = implicitPrmLoss(lr, m, { labels: t1(labels), beta });
  return { loss: (await r.loss.data())[0], per_sequence: await r.metrics.perSequence.array() };
}

/** `dpo_loss` [B3]: sequence sums; a row with no valid token scores 0 (no mean is taken). */
async function opDpoLoss(args: Args) {
  const { lr, m, b } = logratioMask(args, false);
  const pairs = pairsArg(args, b);
  const beta = num(args, "beta", 0.05);
  const r = dpoLoss(lr, m, { pairs, beta });
  return { loss: (await r.loss.data())[0], per_pair: await r.metrics.perPair.array() };
}

/** `rm_pair_accuracy` [B14]. */
function opRmPairAccuracy(args: Args) {
  const scores = vec(args, "scores");
  nonEmptyBatch(scores.length, "scores");
  const labels = labels01(args, "labels", scores.length);
  const g = int(args, "group_size");
  checkGroups(scores.length, g);
  return { accuracy: rmPairAccuracy(scores, labels, { groupSize: g }) };
}

/** Ops of this area, by name. */
export const RM_OPS: Record<string, Op> = {
  prefix_values: opPrefixValues,
  ipvrm_loss: opIpvrmLoss,
  implicit_prm_loss: opImplicitPrmLoss,
  dpo_loss: opDpoLoss,
  rm_pair_accuracy: opRmPairAccuracy,
};
