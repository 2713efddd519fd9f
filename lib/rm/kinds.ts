/**
 * The implicit reward-model kinds, declared once: {@linkcode RM_LOSSES} maps each kind to
 * its loss over the token log-ratios (the pure functions of losses.ts), and
 * {@linkcode RMKind} / {@linkcode RM_KINDS} are that table's keys. The offline trainer
 * (lib/rm/train.ts) and the online RM update of the RL step (lib/rl/online_rm.ts) both
 * dispatch through this one table, so a kind cannot mean one loss offline and another online.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  dpoLoss,
  implicitPrmLoss,
  ipvrmLoss,
  type Pair,
  type Reduction,
  type Weighting,
} from "./losses.ts";

/** What one RM loss reads beside `ℓ[B,W]` and the mask; every tensor is a constant. */
export interface RMLossInputs {
  /** `[B]` outcomes (0/1). */
  labels: tf.Tensor1D;
  /** β of the implicit reward. */
  beta: number;
  /** DPO-RM: `[[chosen, rejected], ...]` row indices (at least one). */
  pairs?: ReadonlyArray<Pair>;
  /** DPO-RM: SimPO-style offset γ (default 0). */
  gamma?: number;
  /** IPVRM: margin m (default `IPVRM_MARGIN`; `sampleMargins` take precedence). */
  margin?: number;
  /** IPVRM: temporal weighting (B6; default uniform). */
  weighting?: Weighting;
  /** IPVRM: reduction (e20; default sequence). */
  reduction?: Reduction;
  /** `[B]` per-sample weights (DLW, B14; online update only). */
  sampleWeights?: tf.Tensor1D;
  /** `[B]` per-sample margins (ADB, B14; online update only). */
  sampleMargins?: tf.Tensor1D;
}

/** One RM loss: `ℓ[B,W]`, mask `[B,W]`, inputs -> scalar loss. */
export type RMLossFn = (lr: tf.Tensor2D, mask: tf.Tensor2D, inputs: RMLossInputs) => tf.Scalar;

/**
 * The loss of each kind over `ℓ[B,W]`, in the order tables list the kinds.
 *
 * @example
 * ```ts
 * import { RM_KINDS } from "./kinds.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(RM_KINDS, ["dpo", "implicit_prm", "ipvrm"]);
 * ```
 */
export const RM_LOSSES = {
  // B3, Eq. 1–2: softplus(γ − β(Σℓ_w − Σℓ_l)), mean over pairs.
  dpo: (lr, mask, o) => {
    if (!o.pairs || o.pairs.length === 0) {
      throw new RangeError("Invalid batch.pairs: DPO needs pairs");
    }
    return dpoLoss(lr, mask, { pairs: o.pairs, beta: o.beta, gamma: o.gamma }).loss;
  },
  // B4, Eq. 4: r softplus(−βΣℓ) + (1−r) softplus(βΣℓ), mean over sequences (ADB/DLW online, e23).
  implicit_prm: (lr, mask, o) =>
    implicitPrmLoss(lr, mask, {
      labels: o.labels,
      beta: o.beta,
      sampleWeights: o.sampleWeights,
      sampleMargins: o.sampleMargins,
    }).loss,
  // B5/B6, Eq. 9, 16–18: Σ_t w_t softplus(m − sgn v̄_t), per-sequence or token reduction.
  ipvrm: (lr, mask, o) =>
    ipvrmLoss(lr, mask, {
      labels: o.labels,
      beta: o.beta,
      margin: o.margin,
      weighting: o.weighting,
      reduction: o.reduction,
      sampleWeights: o.sampleWeights,
      sampleMargins: o.sampleMargins,
    }).loss,
} as const satisfies Record<string, RMLossFn>;

/** Which implicit RM: DPO-RM (B3, Eq. 1–2), Implicit PRM cross-entropy (B4, Eq. 4), IPVRM (B5, Eq. 9). */
export type RMKind = keyof typeof RM_LOSSES;

/** Every {@linkcode RMKind}, in the order tables list them. */
export const RM_KINDS = Object.keys(RM_LOSSES) as readonly RMKind[];
