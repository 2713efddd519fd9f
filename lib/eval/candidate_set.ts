/**
 * P_min candidate-set statistics of a policy on its own samples (methods.md d4, paper
 * Table 11, App. D): at every response position `t` of a set of rollouts, the next-token
 * distribution `π(·|s_t)` the token was drawn from, its candidate set
 * `C_t = {v : π(v|s_t) ≥ P_min}`, the set's size `|C_t|` and retained mass `Σ_{v∈C_t} π(v|s_t)`,
 * averaged over every response position (EOS included). The paper measures these on the SFT
 * policy over 1,000 training prompts. Eval owns these statistics; RL imports them.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkFinite, checkShape } from "../checks.ts";
import type { TinyLM } from "../model/lm.ts";
import { nextTokenLogprobs } from "../model/logprobs.ts";
import { CharTokenizer, PAD_ID } from "../testbed/tokenizer.ts";

/** Statistics of one P_min. */
export interface CandidateSetStats {
  pMin: number;
  /** Mean `|C_t|` over response positions (an empty set counts 0). */
  size: number;
  /** Mean retained mass `Σ_{v∈C_t} π(v|s_t)` (an empty set counts 0). */
  mass: number;
  /** Fraction of positions whose candidate set is empty. */
  emptyFrac: number;
  /** Response positions averaged over. */
  positions: number;
  /** Mean `|C_t|` over the branching positions only (more than one token with probability >=
   * {@linkcode BRANCH_P}); NaN when there is none. */
  branchSize: number;
  /** Mean retained mass over the branching positions only; NaN when there is none. */
  branchMass: number;
  /** Fraction of positions that branch. */
  branchFrac: number;
}

/**
 * A position "branches" when more than one token has probability >= this (0.01): where the
 * policy's next token is all but fixed, every P_min keeps the same one token and the same mass,
 * so the averages over all positions mostly count those; restricted to branching positions they
 * show what P_min changes where sampling has a choice.
 */
export const BRANCH_P = 0.01;

/** A rollout as this module reads it: prompt ids and sampled response ids. */
export interface TokenRollout {
  /** Prompt ids (BOS included), the context the first response token was drawn from. */
  prompt: readonly number[];
  /** Sampled response ids (EOS included when the sample finished). */
  response: readonly number[];
}

/** Paper P_min (App. C, D). */
export const P_MIN = 0.1;

/**
 * Candidate-set statistics (d4, paper Table 11) from log-probabilities at `N` positions
 * (pure, float64 host loop over `V`; several P_min in one pass).
 *
 * @param logp `[N, V]` row-major log-probabilities, one row per position
 * @param pMins thresholds in (0, 1)
 * @example
 * ```ts
 * import { assertAlmostEquals, assertEquals } from "@std/assert";
 * import { candidateSetStats } from "./candidate_set.ts";
 * const logp = new Float32Array([0.5, 0.3, 0.2, 0.9, 0.05, 0.05].map(Math.log));
 * const [s] = candidateSetStats(logp, 3, [0.25]); // sets {0.5, 0.3} and {0.9}
 * assertEquals([s!.size, s!.emptyFrac, s!.positions], [1.5, 0, 2]);
 * assertAlmostEquals(s!.mass, (0.8 + 0.9) / 2, 1e-6);
 * ```
 */
export function candidateSetStats(
  logp: Float32Array,
  v: number,
  pMins: readonly number[],
): CandidateSetStats[] {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`Invalid v: expected an integer >= 1, got ${v}`);
  }
  if (logp.length % v !== 0) {
    throw new RangeError(
      `Invalid logp: expected a multiple of v = ${v} values, got ${logp.length}`,
    );
  }
  const n = logp.length / v;
  if (n === 0) throw new RangeError("Invalid logp: expected at least one position");
  for (const p of pMins) {
    if (!(p > 0 && p < 1)) {
      throw new RangeError(`Invalid pMins: expected values in (0, 1), got ${p}`);
    }
  }
  const size = pMins.map(() => 0), mass = pMins.map(() => 0), empty = pMins.map(() => 0);
  const bSize = pMins.map(() => 0), bMass = pMins.map(() => 0);
  let branching = 0;
  for (let i = 0; i < n; i++) {
    let above = 0;
    const counts = pMins.map(() => 0), kept = pMins.map(() => 0);
    for (let j = 0; j < v; j++) {
      const lp = logp[i * v + j]!;
      if (Number.isNaN(lp)) throw new RangeError(`Invalid logp: NaN at position ${i}, id ${j}`);
      const p = Math.exp(lp);
      for (let k = 0; k < pMins.length; k++) {
        if (p >= pMins[k]!) (counts[k]!++, kept[k]! += p);
      }
      if (p >= BRANCH_P) above++;
    }
    const branches = above > 1;
    if (branches) branching++;
    for (let k = 0; k < pMins.length; k++) {
      size[k]! += counts[k]!;
      mass[k]! += kept[k]!;
      if (counts[k] === 0) empty[k]!++;
      if (branches) (bSize[k]! += counts[k]!, bMass[k]! += kept[k]!);
    }
  }
  return pMins.map((pMin, k) => ({
    pMin,
    size: size[k]! / n,
    mass: mass[k]! / n,
    emptyFrac: empty[k]! / n,
    positions: n,
    branchSize: branching ? bSize[k]! / branching : NaN,
    branchMass: branching ? bMass[k]! / branching : NaN,
    branchFrac: branching / n,
  }));
}

/**
 * Candidate-set statistics of `model` on `rollouts` (its own samples) for each P_min.
 * One forward pass per batch chunk, read asynchronously.
 *
 * @param options.temperature the distribution's temperature (default 1: the policy itself)
 */
export async function policyCandidateStats(
  model: TinyLM,
  rollouts: readonly TokenRollout[],
  pMins: readonly number[],
  options: { temperature?: number } = {},
): Promise<CandidateSetStats[]> {
  if (rollouts.length === 0) throw new RangeError("Invalid rollouts: expected a non-empty array");
  const ctx = model.config.context, V = model.config.vocab;
  const rows = rollouts.map((r, i) => {
    if (r.prompt.length === 0) throw new RangeError(`Invalid rollouts[${i}].prompt: expected ids`);
    const ids = [...r.prompt, ...r.response];
    if (ids.length > ctx) {
      throw new RangeError(
        `Invalid rollouts[${i}]: ${ids.length} tokens exceed the context ${ctx}`,
      );
    }
    return ids;
  });
  const l = Math.max(...rows.map((r) => r.length));
  const padded = rows.map((r) => [...r, ...new Array(l - r.length).fill(PAD_ID)]);
  // align "token": entry t is the distribution token t was drawn from
  const { data } = await nextTokenLogprobs(model, padded, {
    align: "token",
    temperature: options.temperature ?? 1,
  });
  const positions = rollouts.reduce((a, r) => a + r.response.length, 0);
  if (positions === 0) throw new RangeError("Invalid rollouts: every response is empty");
  const picked = new Float32Array(positions * V);
  let o = 0;
  rollouts.forEach((r, i) => {
    const start = (i * l + r.prompt.length) * V;
    picked.set(data.subarray(start, start + r.response.length * V), o);
    o += r.response.length * V;
  });
  return candidateSetStats(picked, V, pMins);
}

const tokenizer = new CharTokenizer();

/** Prompt ids (BOS included) and response ids of a pipeline rollout. */
export function tokenRollout(r: { prompt: string; tokens: readonly number[] }): TokenRollout {
  return { prompt: tokenizer.encode(r.prompt, { bos: true }).ids, response: r.tokens };
}

/**
 * Candidate statistics (d4, paper Table 11): over N positions with full next-token
 * distributions `probs[N,V]`, mean `|{v : p(v) ≥ P_min}|` and mean `Σ_{p(v) ≥ P_min} p(v)`
 * (empty sets count as size 0, mass 0). N must be ≥ 1.
 *
 * The float32 tensor form of {@linkcode candidateSetStats} (the conformance op
 * `candidate_stats` answers with it); the two agree to float32 rounding (tested), and each
 * keeps its precision because the recorded results and conformance answers are bit-exact.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assertAlmostEquals } from "@std/assert";
 * import { candidateStats } from "./candidate_set.ts";
 * // rows [0.6, 0.3, 0.1] → size 3, mass 1; [0.05, 0.05, 0.9] → size 1, mass 0.9 (P_min 0.1)
 * const r = candidateStats(tf.tensor2d([[0.6, 0.3, 0.1], [0.05, 0.05, 0.9]]));
 * assertAlmostEquals((await r.meanSize.data())[0]!, 2, 1e-6);
 * assertAlmostEquals((await r.meanMass.data())[0]!, 0.95, 1e-6);
 * ```
 */
export function candidateStats(
  probs: tf.Tensor2D,
  options: { pMin?: number } = {},
): { meanSize: tf.Scalar; meanMass: tf.Scalar } {
  checkShape(probs, "probs", [undefined, undefined], "[N,V]");
  if (probs.shape[0] === 0) throw new RangeError("Invalid probs: expected at least one row");
  const pMin = options.pMin ?? P_MIN;
  checkFinite(pMin, "pMin");
  return tf.tidy(() => {
    const keep = probs.greaterEqual(pMin).toFloat();
    return {
      meanSize: keep.sum(1).mean() as tf.Scalar,
      meanMass: keep.mul(probs).sum(1).mean() as tf.Scalar,
    };
  });
}
