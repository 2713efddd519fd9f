/** Shared fixtures of the RM trainer/scorer/evaluation tests: a tiny model and tiny data. */
import { initBackend } from "../../lib/backend.ts";
import { createLM, type TinyLM } from "../../lib/model/lm.ts";
import { exportWeights } from "../../lib/model/exchange.ts";
import { Rng } from "../../lib/prng.ts";
import { frozenCopy, type RewardModelPair } from "../../lib/rm/score.ts";
import type { RMRollout } from "../../lib/rm/train.ts";

export const TINY = { vocab: 7, width: 8, layers: 2, heads: 2, context: 12 } as const;

export async function setup(): Promise<void> {
  await initBackend("wasm", { threads: 1, log: () => {} });
}

/** A random tiny "SFT" model and an RM pair made of two frozen copies of it. */
export async function tinyPair(seed = 1): Promise<{ sft: TinyLM; pair: RewardModelPair }> {
  const sft = createLM(TINY, { rng: new Rng(seed) });
  return { sft, pair: { rm: await frozenCopy(sft), ref: await frozenCopy(sft) } };
}

/** Random sequences: prompt 1..3 tokens, response 1..6 tokens, ids in [1, V). */
export function randomSequences(
  rng: Rng,
  n: number,
): { prompt: number[]; response: number[] }[] {
  return Array.from({ length: n }, () => ({
    prompt: Array.from({ length: 1 + rng.int(3) }, () => 1 + rng.int(TINY.vocab - 1)),
    response: Array.from({ length: 1 + rng.int(6) }, () => 1 + rng.int(TINY.vocab - 1)),
  }));
}

/** `groups` prompts x `per` rollouts, each group mixed (first correct, second wrong, rest random). */
export function tinyRollouts(seed: number, groups = 4, per = 3): RMRollout[] {
  const rng = new Rng(seed);
  const out: RMRollout[] = [];
  for (let g = 0; g < groups; g++) {
    const prompt = Array.from({ length: 1 + rng.int(2) }, () => 1 + rng.int(TINY.vocab - 1));
    for (let k = 0; k < per; k++) {
      const response = Array.from({ length: 2 + rng.int(5) }, () => 1 + rng.int(TINY.vocab - 1));
      const correct = (k === 0 ? 1 : k === 1 ? 0 : rng.int(2)) as 0 | 1;
      out.push({ group: `p${g}`, prompt, response, correct });
    }
  }
  return out;
}

/** Weights as plain arrays by name. */
export async function weightsOf(model: TinyLM): Promise<Record<string, Float32Array>> {
  const w = await exportWeights(model);
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.data]));
}

export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.every((x, i) => x === ub[i]);
}

export { assertNoLeak } from "../_tensors.ts";
