/**
 * Conversion between the model's internal weight layout and the PyTorch exchange layout
 * (../shared/spec/conformance.md, "model exchange layout"): names, shapes, the transposes and
 * the fused `qkv`, checked on the way in; export and import of a model's weights.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type LMConfig, plainConfig, type ResolvedLMConfig, resolveLMConfig } from "./config.ts";
import { internalShapes, ModelError, type TinyLM } from "./lm.ts";

/** A host-side tensor in the exchange layout (float32, row-major). */
export interface WeightTensor {
  /** Dimensions, e.g. `[V, D]`. */
  shape: number[];
  /** Row-major values, `product(shape)` of them. */
  data: Float32Array;
}

/** Weights (or tensors shaped like them) by exchange name: `emb`, `blocks.0.qkv.weight`, ... */
export type ExchangeWeights = Record<string, WeightTensor>;

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
