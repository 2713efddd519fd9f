/**
 * The tiny causal LM (../shared/bench/README.md): weights as `tf.Variable`s in a
 * wasm-friendly internal layout, initialisation, the batched forward pass to hidden states and
 * the host token rows it reads. The PyTorch exchange layout is lib/model/exchange.ts; the
 * log-probability readers are lib/model/logprobs.ts.
 *
 * Shapes: `B` sequences, `L` tokens per sequence (`L <= context`), `V` vocabulary,
 * `D` width, `H` heads.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type LMConfig, type ResolvedLMConfig, resolveLMConfig } from "./config.ts";
import { causalAttention, embed, linear, linearRelu, rmsNorm } from "./_ops.ts";
import type { Rng } from "../prng.ts";

/** Invalid weights, tokens or options given to the model; the message names the argument. */
export class ModelError extends Error {
  override name = "ModelError";
}

let modelCounter = 0;

/**
 * Internal parameter names and `[in, out]` layouts. Linear weights are stored
 * transposed from PyTorch's `[out, in]` so that the forward is a plain `x @ w`;
 * q, k and v are three `[D, D]` weights (no split of a fused `[N, 3D]` on wasm).
 */
export function internalShapes(c: ResolvedLMConfig): Record<string, number[]> {
  const { vocab: V, width: D, context: T } = c;
  const s: Record<string, number[]> = { emb: [V, D], pos: [T, D], gf: [D] };
  for (let i = 0; i < c.layers; i++) {
    const p = `blocks.${i}.`;
    s[p + "g1"] = [D];
    s[p + "g2"] = [D];
    s[p + "wq"] = [D, D];
    s[p + "wk"] = [D, D];
    s[p + "wv"] = [D, D];
    s[p + "wo"] = [D, D];
    s[p + "w1"] = [D, 4 * D];
    s[p + "w2"] = [4 * D, D];
  }
  return s;
}

/** Options of {@linkcode createLM}. */
export interface CreateLMOptions {
  /** Seeds the initialisation (default `new Rng(1)`'s stream is not used: pass one). */
  rng: Rng;
}

/**
 * The model: one `tf.Variable` per internal parameter. Dispose with
 * {@linkcode TinyLM.dispose}.
 */
export class TinyLM {
  /** The resolved sizes. */
  readonly config: ResolvedLMConfig;
  /** Parameters by internal name (see {@linkcode internalShapes}). */
  readonly params: Readonly<Record<string, tf.Variable>>;
  /** tfjs variable name -> internal name (tfjs names are global, so ours are prefixed). */
  readonly byVarName: ReadonlyMap<string, string>;

  constructor(config: ResolvedLMConfig, params: Record<string, tf.Variable>) {
    this.config = config;
    this.params = params;
    this.byVarName = new Map(Object.entries(params).map(([k, v]) => [v.name, k]));
  }

  /** A parameter by internal name (throws for an unknown name). */
  p(name: string): tf.Variable {
    const v = this.params[name];
    if (!v) throw new ModelError(`internal: unknown parameter "${name}"`);
    return v;
  }

  /** The trainable variables, in a fixed order. */
  get variables(): tf.Variable[] {
    return Object.values(this.params);
  }

  /** Number of scalar parameters. */
  get numParams(): number {
    return this.variables.reduce((n, v) => n + v.size, 0);
  }

  /** Frees every variable. */
  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/**
 * A freshly initialised model, as the PyTorch reference: `emb`, `pos ~ N(0, 0.02)`;
 * linear weights `~ U(-1/sqrt(in), 1/sqrt(in))` (torch.nn.Linear); gains 1.
 *
 * @example
 * ```ts
 * import { createLM } from "./lm.ts";
 * import { Rng } from "../prng.ts";
 * import { assertEquals } from "@std/assert";
 * const m = createLM({ vocab: 8, width: 8, layers: 1, heads: 2, context: 4 }, { rng: new Rng(1) });
 * assertEquals(m.numParams, 8 * 8 + 4 * 8 + 8 + 2 * 8 + 4 * 64 + 2 * 256); // 888
 * m.dispose();
 * ```
 */
export function createLM(config: Partial<LMConfig>, options: CreateLMOptions): TinyLM {
  const c = resolveLMConfig(config);
  const rng = options?.rng;
  if (!rng || typeof rng.seed !== "function") {
    throw new ModelError("Invalid options.rng: expected an Rng (lib/prng.ts)");
  }
  const id = ++modelCounter;
  const params: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(internalShapes(c))) {
    const init = tf.tidy(() => {
      if (name === "emb" || name === "pos") {
        return tf.randomNormal(shape, 0, 0.02, "float32", rng.seed());
      }
      if (shape.length === 1) return tf.ones(shape);
      const bound = 1 / Math.sqrt(shape[0]!);
      return tf.randomUniform(shape, -bound, bound, "float32", rng.seed());
    });
    params[name] = tf.variable(init, true, `pvl_lm${id}/${name}`);
    init.dispose();
  }
  return new TinyLM(c, params);
}

/** Throws unless `1 <= l <= context` (internal to lib/model/). */
export function checkLength(model: TinyLM, l: number, name: string): void {
  if (l < 1 || l > model.config.context) {
    throw new ModelError(
      `Invalid ${name}: expected 1 <= L <= context=${model.config.context} tokens per row, got ${l}`,
    );
  }
}

/** Options of {@linkcode hiddenStates}. */
export interface HiddenOptions {
  /**
   * Called with each block's keys and values `[L, B*H, D/H]` (channel `b*H + h`), e.g.
   * to fill a key/value cache; keep them (`tf.keep`) to use them outside the caller's tidy.
   */
  capture?: (layer: number, k: tf.Tensor3D, v: tf.Tensor3D) => void;
}

/**
 * Final hidden states (after the last RMSNorm), time-major: `tokens [B, L]` int32 ->
 * `[L*B, D]` with row `t*B + b`. Differentiable (custom gradients). Token ids are not
 * range-checked here (a tensor cannot be read synchronously): out-of-range ids give
 * undefined rows; the host-array entry points check them.
 */
export function hiddenStates(
  model: TinyLM,
  tokens: tf.Tensor2D,
  options: HiddenOptions = {},
): tf.Tensor2D {
  const [b, l] = tokens.shape;
  checkLength(model, l, "tokens");
  const { width: D, heads: H, headDim: E } = model.config;
  const n = l * b;
  const ids = tf.reshape(tf.transpose(tokens), [n]) as tf.Tensor1D;
  const emb = model.p("emb") as tf.Tensor2D;
  const pos = tf.slice(model.p("pos"), [0, 0], [l, D]);
  let x = tf.reshape(
    tf.add(tf.reshape(embed(ids, emb), [l, b, D]), tf.reshape(pos, [l, 1, D])),
    [n, D],
  ) as tf.Tensor2D;
  for (let i = 0; i < model.config.layers; i++) {
    const w = (s: string) => model.p(`blocks.${i}.${s}`) as tf.Tensor2D;
    const h = rmsNorm(x, w("g1") as unknown as tf.Tensor1D);
    const heads = (t: tf.Tensor2D) => tf.reshape(t, [l, b * H, E]) as tf.Tensor3D;
    const k = heads(linear(h, w("wk"))), v = heads(linear(h, w("wv")));
    options.capture?.(i, k, v);
    const y = causalAttention(heads(linear(h, w("wq"))), k, v);
    x = tf.add(x, linear(tf.reshape(y, [n, D]), w("wo")));
    const h2 = rmsNorm(x, w("g2") as unknown as tf.Tensor1D);
    x = tf.add(x, linear(linearRelu(h2, w("w1")), w("w2")));
  }
  return rmsNorm(x, model.p("gf") as tf.Tensor1D);
}

/** Token ids as plain rows, or an int32 `[B, L]` tensor. */
export type TokenRows = tf.Tensor2D | readonly (readonly number[])[];

/**
 * Checks host token rows: rectangular, integers in `[0, V)`, `1 <= L <= context`.
 * Returns an int32 tensor (caller disposes) or the given tensor itself.
 */
export function tokenTensor(model: TinyLM, tokens: TokenRows, name = "tokens"): tf.Tensor2D {
  if (tokens instanceof tf.Tensor) {
    if (tokens.rank !== 2) {
      throw new ModelError(`Invalid ${name}: expected [B, L], got [${tokens.shape}]`);
    }
    checkLength(model, tokens.shape[1], name);
    return tokens;
  }
  if (!Array.isArray(tokens) || tokens.length === 0) {
    throw new ModelError(`Invalid ${name}: expected a non-empty [B][L] array of token ids`);
  }
  const l = tokens[0]!.length;
  checkLength(model, l, name);
  const V = model.config.vocab;
  const data = new Int32Array(tokens.length * l);
  tokens.forEach((row, b) => {
    if (!Array.isArray(row) || row.length !== l) {
      throw new ModelError(
        `Invalid ${name}: expected rows of length ${l}, got ${row?.length} at [${b}]`,
      );
    }
    row.forEach((x, t) => {
      if (!Number.isInteger(x) || x < 0 || x >= V) {
        throw new ModelError(
          `Invalid ${name}: expected integer ids in [0, ${V}), got ${x} at [${b}][${t}]`,
        );
      }
      data[b * l + t] = x;
    });
  });
  return tf.tensor2d(data, [tokens.length, l], "int32");
}
