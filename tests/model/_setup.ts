/** Shared test setup: the wasm backend on one thread, quiet. */
import { initBackend } from "../../lib/backend.ts";
import { createLM, type TinyLM } from "../../lib/model/lm.ts";
import { Rng } from "../../lib/prng.ts";

export const TINY = { vocab: 7, width: 8, layers: 2, heads: 2, context: 6 } as const;

export async function setup(): Promise<void> {
  await initBackend("wasm", { threads: 1, log: () => {} });
}

export function tinyModel(seed = 1): TinyLM {
  return createLM(TINY, { rng: new Rng(seed) });
}

export function randomTokens(rng: Rng, b: number, l: number, v: number): number[][] {
  return Array.from({ length: b }, () => Array.from({ length: l }, () => rng.int(v)));
}

export { assertNoLeak } from "../_tensors.ts";
