/**
 * Configuration of the tiny causal LM (../shared/bench/README.md): sizes with
 * defaults equal to the benchmark contract, and one resolver that checks them.
 * @module
 */

/** Sizes of the tiny causal LM. */
export interface LMConfig {
  /** Vocabulary size V (token ids are 0..V-1). */
  vocab: number;
  /** Residual width D. */
  width: number;
  /** Number L of pre-norm transformer blocks. */
  layers: number;
  /** Attention heads H; the head width is D / H. */
  heads: number;
  /** Context T: the longest sequence (learned positions 0..T-1). */
  context: number;
}

/** The benchmark contract: V=64, D=128, L=4, H=4, T=64. */
export const DEFAULT_LM_CONFIG: Readonly<LMConfig> = Object.freeze({
  vocab: 64,
  width: 128,
  layers: 4,
  heads: 4,
  context: 64,
});

/** RMSNorm epsilon (inside the square root), as in the reference. */
export const RMS_EPS = 1e-6;

/** Thrown for an invalid config; the message names the field. */
export class LMConfigError extends Error {
  override name = "LMConfigError";
}

/** A resolved config: every field present and checked, plus derived sizes. */
export interface ResolvedLMConfig extends LMConfig {
  /** Head width D / H. */
  headDim: number;
}

/**
 * Fills defaults and checks the invariants: every size an integer >= 1, `width`
 * divisible by `heads`. Unknown fields are an error (a misspelt size would
 * otherwise silently fall back to its default).
 *
 * @example
 * ```ts
 * import { resolveLMConfig } from "./config.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(resolveLMConfig({ width: 32, heads: 2 }).headDim, 16);
 * ```
 */
export function resolveLMConfig(partial: Partial<LMConfig> = {}): ResolvedLMConfig {
  if (typeof partial !== "object" || partial === null || Array.isArray(partial)) {
    throw new LMConfigError(`Invalid config: expected an object, got ${JSON.stringify(partial)}`);
  }
  const known = Object.keys(DEFAULT_LM_CONFIG);
  for (const k of Object.keys(partial)) {
    // A resolved config passes through (its derived headDim is recomputed below).
    if (!known.includes(k) && k !== "headDim") {
      throw new LMConfigError(
        `Invalid config: unknown field "${k}" (known: ${known.join(", ")})`,
      );
    }
  }
  const { headDim: _derived, ...given } = partial as Partial<ResolvedLMConfig>;
  const c = { ...DEFAULT_LM_CONFIG, ...given } as LMConfig;
  for (const k of known as (keyof LMConfig)[]) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new LMConfigError(
        `Invalid config.${k}: expected an integer >= 1, got ${JSON.stringify(v)}`,
      );
    }
  }
  if (c.width % c.heads !== 0) {
    throw new LMConfigError(
      `Invalid config: width must be divisible by heads: width=${c.width}, heads=${c.heads}`,
    );
  }
  return { ...c, headDim: c.width / c.heads };
}

/** The plain {@linkcode LMConfig} fields of a resolved config (for saving). */
export function plainConfig(c: LMConfig): LMConfig {
  return {
    vocab: c.vocab,
    width: c.width,
    layers: c.layers,
    heads: c.heads,
    context: c.context,
  };
}
