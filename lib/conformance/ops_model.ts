/**
 * Conformance ops of lib/model (../shared/spec/conformance.md): `lm_logprobs` and
 * `lm_loss_grad`, through the same model code as training.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Op } from "./_op.ts";
import { ArgError, type Args, checkTensor, mask as maskArg, mat } from "./_args.ts";
import { type ResolvedLMConfig, resolveLMConfig } from "../model/config.ts";
import { createLM, type TinyLM } from "../model/lm.ts";
import {
  exchangeShapes,
  importWeights,
  internalToExchange,
  type WeightTensor,
} from "../model/exchange.ts";
import { crossEntropyLoss, nextTokenLogprobs } from "../model/logprobs.ts";
import { Rng } from "../prng.ts";

function configArg(args: Args): ResolvedLMConfig {
  const c = args.config;
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    throw new ArgError(
      `config: expected an object {vocab, width, layers, heads, context}, got ${JSON.stringify(c)}`,
    );
  }
  const rec = c as Record<string, unknown>;
  for (const k of ["vocab", "width", "layers", "heads", "context"]) {
    const v = rec[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new ArgError(`config.${k}: expected an integer >= 1, got ${JSON.stringify(v)}`);
    }
  }
  try {
    return resolveLMConfig(rec as Partial<ResolvedLMConfig>);
  } catch (e) {
    throw new ArgError(`config: ${(e as Error).message}`);
  }
}

function weightsArg(args: Args, config: ResolvedLMConfig): Record<string, WeightTensor> {
  const w = args.weights;
  if (typeof w !== "object" || w === null || Array.isArray(w)) {
    throw new ArgError("weights: expected an object {name: nested array} in the exchange layout");
  }
  const rec = w as Record<string, unknown>;
  const shapes = exchangeShapes(config);
  for (const k of Object.keys(rec)) {
    if (!(k in shapes)) throw new ArgError(`weights: unknown tensor "${k}" for this config`);
  }
  const out: Record<string, WeightTensor> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    if (rec[name] === undefined) {
      throw new ArgError(`weights.${name}: required tensor [${shape}] is missing`);
    }
    const { value } = checkTensor(rec[name], `weights.${name}`, shape.length, shape, `[${shape}]`);
    out[name] = { shape, data: Float32Array.from((value as unknown[]).flat(Infinity) as number[]) };
  }
  return out;
}

function idsArg(
  args: Args,
  name: string,
  config: ResolvedLMConfig,
  rows?: number,
  cols?: number,
): number[][] {
  const m = mat(args, name, rows, cols);
  const l = m[0]?.length ?? 0;
  if (m.length === 0 || l === 0) {
    throw new ArgError(`${name}: expected a non-empty [B][L] array of token ids`);
  }
  if (l > config.context) {
    throw new ArgError(`${name}: expected L <= context=${config.context}, got L=${l}`);
  }
  m.forEach((row, b) =>
    row.forEach((x, t) => {
      if (!Number.isInteger(x) || x < 0 || x >= config.vocab) {
        throw new ArgError(
          `${name}: expected integer ids in [0, ${config.vocab}), got ${x} at [${b}][${t}]`,
        );
      }
    })
  );
  return m;
}

function nest(data: ArrayLike<number>, shape: readonly number[]): unknown {
  const rec = (off: number, d: number): unknown => {
    if (d === shape.length - 1) return Array.from({ length: shape[d]! }, (_, i) => data[off + i]!);
    const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shape[d]! }, (_, i) => rec(off + i * stride, d + 1));
  };
  return rec(0, 0);
}

function withModel<T>(args: Args, fn: (m: TinyLM, c: ResolvedLMConfig) => Promise<T>): Promise<T> {
  const config = configArg(args);
  const weights = weightsArg(args, config);
  const model = createLM(config, { rng: new Rng(1) });
  importWeights(model, weights);
  return fn(model, config).finally(() => model.dispose());
}

/** Ops of this area, by name. */
export const MODEL_OPS: Record<string, Op> = {
  lm_logprobs: (args) =>
    withModel(args, async (model, config) => {
      const tokens = idsArg(args, "tokens", config);
      const r = await nextTokenLogprobs(model, tokens);
      return { logp: nest(r.data, r.shape) };
    }),
  lm_loss_grad: (args) =>
    withModel(args, async (model, config) => {
      const tokens = idsArg(args, "tokens", config);
      const b = tokens.length, l = tokens[0]!.length;
      const targets = idsArg(args, "targets", config, b, l);
      const m = maskArg(args, "mask", b, l);
      if (!m.some((row) => row.some((x) => x === 1))) {
        throw new ArgError("mask: no valid position (the mean cross-entropy needs one)");
      }
      const tt = tf.tensor2d(tokens, [b, l], "int32");
      const tg = tf.tensor2d(targets, [b, l], "int32");
      const mk = tf.tensor2d(m, [b, l], "float32");
      try {
        const { value, grads } = tf.variableGrads(
          () => crossEntropyLoss(model, { tokens: tt, targets: tg, mask: mk }),
          model.variables,
        );
        const loss = (await value.data())[0]!;
        const internal: Record<string, Float32Array> = {};
        for (const [vname, g] of Object.entries(grads)) {
          internal[model.byVarName.get(vname)!] = (await g.data()) as Float32Array;
        }
        tf.dispose([value, ...Object.values(grads)]);
        const ex = internalToExchange(model.config, internal);
        const out: Record<string, unknown> = {};
        for (const [k, t] of Object.entries(ex)) out[k] = nest(t.data, t.shape);
        return { loss, grads: out };
      } finally {
        tf.dispose([tt, tg, mk]);
      }
    }),
};
