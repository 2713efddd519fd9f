/**
 * The tiny causal LM (../shared/bench/README.md): weights as `tf.Variable`s in a
 * wasm-friendly internal layout, conversion to and from the PyTorch exchange layout
 * (../shared/spec/conformance.md), the batched forward pass and its log-probabilities.
 *
 * Shapes: `B` sequences, `L` tokens per sequence (`L <= context`), `V` vocabulary,
 * `D` width, `H` heads, `K` candidate slots.
 *
 * Alignment conventions (both are used, each function says which):
 * - **token-aligned** `[B, L]`: entry `t` is about token `tokens[b][t]` given
 *   `tokens[b][0..t-1]`; entry 0 (no prefix) is 0. A caller scoring response tokens
 *   after a prompt of length P masks entries `P..` and reads `[B, L]` directly.
 * - **next-aligned** `[B, L, V]`: entry `t` is the distribution of the token after
 *   position `t` (given `tokens[b][0..t]`), defined at every position including the last.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type LMConfig, plainConfig, type ResolvedLMConfig, resolveLMConfig } from "./config.ts";
import {
  causalAttention,
  embed,
  linear,
  linearRelu,
  pickLogprobs,
  rmsNorm,
  weightedCrossEntropy,
} from "./_ops.ts";
import type { Rng } from "../prng.ts";

/** A host-side tensor in the exchange layout (float32, row-major). */
export interface WeightTensor {
  /** Dimensions, e.g. `[V, D]`. */
  shape: number[];
  /** Row-major values, `product(shape)` of them. */
  data: Float32Array;
}

/** Weights (or tensors shaped like them) by exchange name: `emb`, `blocks.0.qkv.weight`, ... */
export type ExchangeWeights = Record<string, WeightTensor>;

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

/** Exchange-layout names and shapes for `config` (conformance.md, "model exchange layout"). */
export function exchangeShapes(config: Partial<LMConfig>): Record<string, number[]> {
  const c = resolveLMConfig(config);
  const { vocab: V, width: D, context: T } = c;
  const s: Record<string, number[]> = { emb: [V, D], pos: [T, D], gf: [D] };
  for (let i = 0; i < c.layers; i++) {
    const p = `blocks.${i}.`;
    s[p + "g1"] = [D];
    s[p + "g2"] = [D];
    s[p + "qkv.weight"] = [3 * D, D];
    s[p + "o.weight"] = [D, D];
    s[p + "f1.weight"] = [4 * D, D];
    s[p + "f2.weight"] = [D, 4 * D];
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
 * const m = createLM({ vocab: 8, width: 8, layers: 1, heads: 2, context: 4 }, { rng: new Rng(1) });
 * m.numParams; // 8*8 + 4*8 + 8 + 2*8 + 4*64 + 2*256
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

function transposeHost(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) out[k * rows + r] = a[r * cols + k]!;
  }
  return out;
}

/**
 * Internal-layout arrays (by internal name) to the exchange layout. Used for the
 * weights and for anything shaped like them (optimizer moments).
 */
export function internalToExchange(
  config: ResolvedLMConfig,
  internal: Readonly<Record<string, Float32Array>>,
): ExchangeWeights {
  const shapes = internalShapes(config);
  const ex = exchangeShapes(config);
  const get = (n: string): Float32Array => {
    const a = internal[n];
    if (!a) throw new ModelError(`internal: missing "${n}"`);
    return a;
  };
  const out: ExchangeWeights = {};
  const D = config.width;
  for (const name of Object.keys(ex)) {
    const shape = ex[name]!;
    const m = /^blocks\.(\d+)\.(qkv|o|f1|f2)\.weight$/.exec(name);
    if (!m) {
      out[name] = { shape, data: get(name).slice() };
      continue;
    }
    const p = `blocks.${m[1]}.`;
    if (m[2] === "qkv") {
      const data = new Float32Array(3 * D * D);
      ["wq", "wk", "wv"].forEach((w, j) => data.set(transposeHost(get(p + w), D, D), j * D * D));
      out[name] = { shape, data };
    } else {
      const w = p + ({ o: "wo", f1: "w1", f2: "w2" } as Record<string, string>)[m[2]!]!;
      const [r, k] = shapes[w]!;
      out[name] = { shape, data: transposeHost(get(w), r!, k!) };
    }
  }
  return out;
}

/**
 * Exchange-layout arrays to internal-layout arrays, checking names (none missing,
 * none unknown), shapes and lengths. `source` names where they came from in errors
 * (`weights`, a file path, ...).
 */
export function exchangeToInternal(
  config: ResolvedLMConfig,
  weights: Readonly<Record<string, WeightTensor>>,
  source = "weights",
): Record<string, Float32Array> {
  const ex = exchangeShapes(config);
  if (typeof weights !== "object" || weights === null) {
    throw new ModelError(`Invalid ${source}: expected an object of named tensors`);
  }
  for (const name of Object.keys(weights)) {
    if (!(name in ex)) {
      throw new ModelError(
        `Invalid ${source}: unknown tensor "${name}" for config ${
          JSON.stringify(plainConfig(config))
        }`,
      );
    }
  }
  const D = config.width;
  const out: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(ex)) {
    const w = weights[name];
    if (!w) throw new ModelError(`Invalid ${source}: missing tensor "${name}" [${shape}]`);
    if (!Array.isArray(w.shape) || w.shape.join(",") !== shape.join(",")) {
      throw new ModelError(
        `Invalid ${source}["${name}"]: expected shape [${shape}], got [${w.shape}]`,
      );
    }
    if (!(w.data instanceof Float32Array)) {
      throw new ModelError(`Invalid ${source}["${name}"]: expected Float32Array data`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (w.data.length !== n) {
      throw new ModelError(
        `Invalid ${source}["${name}"]: expected ${n} values for [${shape}], got ${w.data.length}`,
      );
    }
    const m = /^blocks\.(\d+)\.(qkv|o|f1|f2)\.weight$/.exec(name);
    if (!m) {
      out[name] = w.data.slice();
      continue;
    }
    const p = `blocks.${m[1]}.`;
    if (m[2] === "qkv") {
      ["wq", "wk", "wv"].forEach((iw, j) => {
        out[p + iw] = transposeHost(w.data.subarray(j * D * D, (j + 1) * D * D), D, D);
      });
    } else {
      const iw = ({ o: "wo", f1: "w1", f2: "w2" } as Record<string, string>)[m[2]!]!;
      out[p + iw] = transposeHost(w.data, shape[0]!, shape[1]!);
    }
  }
  return out;
}

/** Reads tensors keyed by internal name (asynchronously) into host arrays. */
export async function readInternal(
  tensors: Readonly<Record<string, tf.Tensor>>,
): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = (await t.data()) as Float32Array;
  return out;
}

/** The model's weights in the exchange layout (copies). */
export async function exportWeights(model: TinyLM): Promise<ExchangeWeights> {
  return internalToExchange(model.config, await readInternal(model.params));
}

/**
 * Sets the model's weights from the exchange layout (validated first: nothing is
 * assigned when any name, shape or length is wrong).
 */
export function importWeights(
  model: TinyLM,
  weights: Readonly<Record<string, WeightTensor>>,
  options: { source?: string } = {},
): void {
  const internal = exchangeToInternal(model.config, weights, options.source ?? "weights");
  for (const [name, data] of Object.entries(internal)) {
    const v = model.p(name);
    tf.tidy(() => v.assign(tf.tensor(data, v.shape, "float32")));
  }
}

function checkLength(model: TinyLM, l: number, name: string): void {
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

function checkTemperature(t: number | undefined): number {
  const v = t ?? 1;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new ModelError(`Invalid temperature: expected a finite number > 0, got ${t}`);
  }
  return v;
}

/** Options of {@linkcode tokenLogprobs} and {@linkcode candidateLogprobs}. */
export interface LogprobOptions {
  /** Policy temperature: logits are divided by it before the log-softmax (default 1). */
  temperature?: number;
}

/** Shared forward: token-aligned picks `[B, L, 1 + K]` (slot 0 = the realised token). */
function pickTokenAligned(
  model: TinyLM,
  tokens: tf.Tensor2D,
  candidates: tf.Tensor3D | undefined,
  temperature: number,
): tf.Tensor3D {
  const [b, l] = tokens.shape;
  const k = candidates ? candidates.shape[2] : 0;
  if (l < 2) {
    checkLength(model, l, "tokens");
    return tf.zeros([b, l, 1 + k]);
  }
  const { width: D } = model.config;
  const h = hiddenStates(model, tokens);
  const hPrev = tf.slice(h, [0, 0], [(l - 1) * b, D]) as tf.Tensor2D; // rows t = 0..L-2
  let ids = tf.expandDims(tf.slice(tokens, [0, 1], [b, l - 1]), 2) as tf.Tensor3D;
  if (candidates) {
    ids = tf.concat([ids, tf.slice(candidates, [0, 1, 0], [b, l - 1, k])], 2);
  }
  const idsTM = tf.reshape(tf.transpose(ids, [1, 0, 2]), [(l - 1) * b, 1 + k]) as tf.Tensor2D;
  const picked = pickLogprobs(hPrev, model.p("emb") as tf.Tensor2D, idsTM, temperature);
  const bm = tf.transpose(tf.reshape(picked, [l - 1, b, 1 + k]), [1, 0, 2]);
  return tf.pad(bm, [[0, 0], [1, 0], [0, 0]]) as tf.Tensor3D;
}

/**
 * Log-probability of each realised token given its prefix, token-aligned and
 * differentiable (use inside `tf.variableGrads` closures):
 * `out[b, t] = log softmax(z_{t-1} / temperature)[tokens[b, t]]` for `t >= 1`,
 * `out[b, 0] = 0`, with `z_{t-1}` the next-token logits after position `t-1`.
 *
 * @param tokens `[B, L]` int32, `L <= context` (ids unchecked: see {@linkcode hiddenStates})
 * @returns `[B, L]`
 */
export function tokenLogprobs(
  model: TinyLM,
  tokens: tf.Tensor2D,
  options: LogprobOptions = {},
): tf.Tensor2D {
  const temp = checkTemperature(options.temperature);
  return tf.tidy(() =>
    tf.squeeze(pickTokenAligned(model, tokens, undefined, temp), [2]) as tf.Tensor2D
  );
}

/**
 * {@linkcode tokenLogprobs} plus the log-probabilities of candidate ids at each
 * position, from the same distribution (token-aligned, differentiable):
 * `candidateLogp[b, t, k] = log softmax(z_{t-1} / temperature)[candidates[b, t, k]]`,
 * 0 at `t = 0`. Pad unused candidate slots with any valid id and mask them downstream.
 *
 * @param tokens `[B, L]` int32
 * @param options.candidates `[B, L, K]` int32 ids
 * @returns `logp [B, L]`, `candidateLogp [B, L, K]`
 */
export function candidateLogprobs(
  model: TinyLM,
  tokens: tf.Tensor2D,
  options: LogprobOptions & { candidates: tf.Tensor3D },
): { logp: tf.Tensor2D; candidateLogp: tf.Tensor3D } {
  const temp = checkTemperature(options.temperature);
  const cand = options.candidates;
  if (
    !cand || cand.rank !== 3 || cand.shape[0] !== tokens.shape[0] ||
    cand.shape[1] !== tokens.shape[1]
  ) {
    throw new ModelError(
      `Invalid candidates: expected an int32 [B, L, K] tensor with [B, L] = [${tokens.shape}], got [${cand?.shape}]`,
    );
  }
  return tf.tidy(() => {
    const all = pickTokenAligned(model, tokens, cand, temp);
    const [b, l, k1] = all.shape;
    return {
      logp: tf.reshape(tf.slice(all, [0, 0, 0], [b, l, 1]), [b, l]) as tf.Tensor2D,
      candidateLogp: tf.slice(all, [0, 0, 1], [b, l, k1 - 1]) as tf.Tensor3D,
    };
  });
}

/**
 * Masked mean next-token cross-entropy (differentiable):
 * `sum_{b,t} mask[b,t] * -log softmax(z_t)[targets[b,t]] / max(1, sum mask)`, where
 * `z_t` are the next-token logits after position `t` (next-aligned: for plain LM
 * training `targets[b, t] = tokens[b, t+1]` and the last column is masked out).
 *
 * @param batch.tokens `[B, L]` int32; `batch.targets` `[B, L]` int32; `batch.mask` `[B, L]` 0/1 float32
 */
export function crossEntropyLoss(
  model: TinyLM,
  batch: { tokens: tf.Tensor2D; targets: tf.Tensor2D; mask: tf.Tensor2D },
): tf.Scalar {
  const { tokens, targets, mask } = batch;
  for (const [name, t] of [["targets", targets], ["mask", mask]] as const) {
    if (!t || t.shape.join() !== tokens.shape.join()) {
      throw new ModelError(
        `Invalid ${name}: expected a [B, L] tensor shaped like tokens [${tokens.shape}], got [${t?.shape}]`,
      );
    }
  }
  return tf.tidy(() => {
    const n = tokens.size;
    const h = hiddenStates(model, tokens);
    const tm = (t: tf.Tensor2D) => tf.reshape(tf.transpose(t), [n]) as tf.Tensor1D;
    const m = tf.cast(tm(mask), "float32");
    const w = tf.div(m, tf.maximum(tf.sum(m), 1)) as tf.Tensor1D;
    return weightedCrossEntropy(h, model.p("emb") as tf.Tensor2D, tm(targets), w);
  });
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

/** Options of {@linkcode nextTokenLogprobs} and {@linkcode nextTokenTopK}. */
export interface FullLogprobOptions extends LogprobOptions {
  /**
   * `"next"` (default): entry `t` = distribution after position `t`.
   * `"token"`: entry `t` = distribution that token `t` was drawn from (entry 0 zeros).
   */
  align?: "next" | "token";
  /** Sequences per forward pass, bounding memory (default: about 64K positions*V / chunk). */
  batchChunk?: number;
}

function chunkSize(model: TinyLM, b: number, l: number, opt?: number): number {
  if (opt !== undefined) {
    if (!Number.isInteger(opt) || opt < 1) {
      throw new ModelError(`Invalid batchChunk: expected an integer >= 1, got ${opt}`);
    }
    return Math.min(opt, b);
  }
  // Keep a chunk's activations near 2^18 positions*width floats.
  const per = l * Math.max(model.config.width * 4, model.config.vocab);
  return Math.max(1, Math.min(b, Math.floor((1 << 21) / per)));
}

async function chunked(
  model: TinyLM,
  tokens: TokenRows,
  batchChunk: number | undefined,
  fn: (t: tf.Tensor2D) => tf.Tensor[],
  sink: (b0: number, parts: Float32Array[] | Int32Array[]) => void,
): Promise<void> {
  const tt = tokenTensor(model, tokens);
  try {
    const [b, l] = tt.shape;
    const cs = chunkSize(model, b, l, batchChunk);
    for (let b0 = 0; b0 < b; b0 += cs) {
      const n = Math.min(cs, b - b0);
      const outs = tf.tidy(() => fn(tf.slice(tt, [b0, 0], [n, l])));
      try {
        const arrs = await Promise.all(outs.map((o) => o.data()));
        sink(b0, arrs as Float32Array[]);
      } finally {
        tf.dispose(outs);
      }
    }
  } finally {
    if (tt !== tokens) tt.dispose();
  }
}

/** Next-aligned `[b, L, V]` log-softmax of the chunk's logits / temperature. */
function fullLogSoftmax(model: TinyLM, t: tf.Tensor2D, temperature: number): tf.Tensor3D {
  const [b, l] = t.shape;
  const V = model.config.vocab;
  let z = tf.matMul(hiddenStates(model, t), tf.transpose(model.p("emb")));
  if (temperature !== 1) z = tf.div(z, temperature);
  return tf.transpose(tf.reshape(tf.logSoftmax(z), [l, b, V]), [1, 0, 2]);
}

function copyAligned(
  dst: Float32Array | Int32Array,
  src: Float32Array | Int32Array,
  rowOffset: number,
  rows: number,
  l: number,
  w: number,
  align: "next" | "token",
): void {
  for (let r = 0; r < rows; r++) {
    const base = (rowOffset + r) * l * w;
    if (align === "next") dst.set(src.subarray(r * l * w, (r + 1) * l * w), base);
    else dst.set(src.subarray(r * l * w, (r * l + l - 1) * w), base + w);
  }
}

function checkAlign(a: string | undefined): "next" | "token" {
  const v = a ?? "next";
  if (v !== "next" && v !== "token") {
    throw new ModelError(`Invalid align: expected "next" or "token", got ${JSON.stringify(a)}`);
  }
  return v;
}

/**
 * Full log-softmax of the (tempered) next-token logits at every position, computed
 * in batch chunks and read asynchronously (not differentiable).
 *
 * @param tokens `[B, L]` ids (host rows are range-checked)
 * @returns `Float32Array` of `[B, L, V]`, next-aligned by default (see `align`)
 */
export async function nextTokenLogprobs(
  model: TinyLM,
  tokens: TokenRows,
  options: FullLogprobOptions = {},
): Promise<{ shape: [number, number, number]; data: Float32Array }> {
  const temp = checkTemperature(options.temperature);
  const align = checkAlign(options.align);
  const [b, l] = tokens instanceof tf.Tensor
    ? tokens.shape
    : [tokens.length, tokens[0]?.length ?? 0];
  const V = model.config.vocab;
  const data = new Float32Array(b * l * V);
  await chunked(
    model,
    tokens,
    options.batchChunk,
    (t) => [fullLogSoftmax(model, t, temp)],
    (b0, [a]) => {
      copyAligned(data, a!, b0, a!.length / (l * V), l, V, align);
    },
  );
  return { shape: [b, l, V], data };
}

/**
 * The `k` most likely next tokens at every position (descending log-prob), from the
 * (tempered) distribution, in batch chunks.
 *
 * @returns `ids` and `logp`, each `[B, L, k]` (next-aligned by default)
 */
export async function nextTokenTopK(
  model: TinyLM,
  tokens: TokenRows,
  options: FullLogprobOptions & { k: number },
): Promise<{ shape: [number, number, number]; ids: Int32Array; logp: Float32Array }> {
  const temp = checkTemperature(options.temperature);
  const align = checkAlign(options.align);
  const k = options.k;
  const V = model.config.vocab;
  if (!Number.isInteger(k) || k < 1 || k > V) {
    throw new ModelError(`Invalid k: expected an integer in [1, ${V}], got ${k}`);
  }
  const [b, l] = tokens instanceof tf.Tensor
    ? tokens.shape
    : [tokens.length, tokens[0]?.length ?? 0];
  const ids = new Int32Array(b * l * k);
  const logp = new Float32Array(b * l * k);
  await chunked(model, tokens, options.batchChunk, (t) => {
    const top = tf.topk(fullLogSoftmax(model, t, temp), k);
    return [top.values, top.indices];
  }, (b0, [vals, idx]) => {
    const rows = vals!.length / (l * k);
    copyAligned(logp, vals!, b0, rows, l, k, align);
    copyAligned(ids, idx!, b0, rows, l, k, align);
  });
  return { shape: [b, l, k], ids, logp };
}
