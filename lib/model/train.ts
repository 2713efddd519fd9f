/**
 * Training of the tiny LM: our own Adam / AdamW (PyTorch's update rule, with state
 * that exports and imports exactly), a learning-rate schedule, gradient clipping by
 * global norm, and one step for any scalar loss ({@linkcode applyLossStep}) or for
 * masked next-token cross-entropy ({@linkcode trainStep}).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { check, is, validate } from "../schema.ts";
import { adamUpdate, gemmActive, sumOfSquares } from "../wasm_gemm/mod.ts";
import { type TinyLM } from "./lm.ts";
import {
  exchangeToInternal,
  type ExchangeWeights,
  internalToExchange,
  readInternal,
} from "./exchange.ts";
import { crossEntropyLoss } from "./logprobs.ts";

/** Invalid optimizer options or state; the message names the field. */
export class TrainError extends Error {
  override name = "TrainError";
}

/**
 * Learning-rate schedule. `"constant"`; `"cosine"` / `"linear"`: linear warmup from 0
 * over `warmupSteps`, then decay to `minLr` at `totalSteps` (held after).
 */
export type LrSchedule =
  | { kind: "constant"; warmupSteps?: number }
  | { kind: "cosine" | "linear"; warmupSteps?: number; totalSteps: number; minLr?: number };

/** Optimizer options. */
export interface OptimizerOptions {
  /** `"adam"` (Kingma & Ba 2015, L2 decay added to the gradient as torch.optim.Adam) or `"adamw"` (Loshchilov & Hutter 2019, decoupled decay). */
  kind: "adam" | "adamw";
  /** Peak learning rate. */
  lr: number;
  /** Moment decay rates (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Denominator epsilon (default 1e-8). */
  eps?: number;
  /** Weight decay (default 0; adamw's torch default 0.01 is not assumed). */
  weightDecay?: number;
  /** Schedule (default constant). */
  schedule?: LrSchedule;
  /** Clip gradients to this global L2 norm before the update (default: no clipping). */
  maxGradNorm?: number;
}

/** Resolved optimizer options. */
export type ResolvedOptimizerOptions = Required<Omit<OptimizerOptions, "maxGradNorm">> & {
  maxGradNorm: number | null;
};

/** Adam / AdamW state: moments by internal parameter name, and the step count. */
export interface Optimizer {
  /** Resolved options. */
  readonly options: ResolvedOptimizerOptions;
  /** Updates done so far (the next update is number `step + 1`). */
  step: number;
  /** First moments (created at the first update). */
  m: Record<string, tf.Variable>;
  /** Second moments. */
  v: Record<string, tf.Variable>;
  /** Frees the moments. */
  dispose(): void;
}

const ERR = { error: TrainError };
const OPTIMIZERS = { adam: 1, adamw: 1 } as const satisfies Record<OptimizerOptions["kind"], 1>;
const SCHEDULES = { constant: 1, cosine: 1, linear: 1 } as const satisfies Record<
  LrSchedule["kind"],
  1
>;
const beta = is.number({ min: 0, lt: 1 });

function resolveSchedule(s: LrSchedule | undefined): LrSchedule {
  const sch = s ?? { kind: "constant" };
  const warm = sch.warmupSteps ?? 0;
  check(warm, is.integer({ min: 0 }), "schedule.warmupSteps", ERR);
  check(sch.kind, is.oneOf(SCHEDULES), "schedule.kind", ERR);
  if (sch.kind === "constant") return { kind: "constant", warmupSteps: warm };
  const total = is.check(
    (v) => Number.isInteger(v) && (v as number) > warm,
    `an integer > warmupSteps=${warm}`,
  );
  check(sch.totalSteps, total, "schedule.totalSteps", ERR);
  const minLr = sch.minLr ?? 0;
  check(minLr, is.number({ min: 0 }), "schedule.minLr", ERR);
  return { kind: sch.kind, warmupSteps: warm, totalSteps: sch.totalSteps, minLr };
}

/**
 * Checks options and returns an optimizer with empty state.
 *
 * @example
 * ```ts
 * import { createOptimizer } from "./train.ts";
 * import { assertEquals } from "@std/assert";
 * const opt = createOptimizer({ kind: "adamw", lr: 1e-3, weightDecay: 0.01 });
 * assertEquals(opt.options.betas, [0.9, 0.999]);
 * ```
 */
export function createOptimizer(options: OptimizerOptions): Optimizer {
  check(options?.kind, is.oneOf(OPTIMIZERS), "kind", ERR);
  const betas = options.betas ?? [0.9, 0.999];
  check(
    betas,
    is.check(
      (v) => Array.isArray(v) && v.length === 2 && v.every((b) => beta(b) === undefined),
      "two numbers in [0, 1)",
    ),
    "betas",
    ERR,
  );
  const eps = options.eps ?? 1e-8, weightDecay = options.weightDecay ?? 0;
  validate({ lr: options.lr, eps, weightDecay }, {
    lr: is.number({ min: 0 }),
    eps: is.number({ gt: 0 }),
    weightDecay: is.number({ min: 0 }),
  }, ERR);
  const schedule = resolveSchedule(options.schedule);
  if (options.maxGradNorm !== undefined) {
    check(options.maxGradNorm, is.number({ gt: 0 }), "maxGradNorm", ERR);
  }
  const resolved: ResolvedOptimizerOptions = {
    kind: options.kind,
    lr: options.lr,
    betas: [betas[0], betas[1]],
    eps,
    weightDecay,
    schedule,
    maxGradNorm: options.maxGradNorm === undefined ? null : options.maxGradNorm,
  };
  const opt: Optimizer = {
    options: resolved,
    step: 0,
    m: {},
    v: {},
    dispose() {
      for (const t of [...Object.values(opt.m), ...Object.values(opt.v)]) t.dispose();
      opt.m = {};
      opt.v = {};
    },
  };
  return opt;
}

/**
 * Learning rate of update number `step` (1-based): warmup `lr * step / warmup`,
 * then cosine `minLr + (lr - minLr) (1 + cos(pi p)) / 2` or linear
 * `lr + (minLr - lr) p`, `p = (step - warmup) / (total - warmup)` clamped to [0, 1].
 */
export function learningRate(options: ResolvedOptimizerOptions, step: number): number {
  const s = options.schedule;
  const warm = s.warmupSteps ?? 0;
  if (warm > 0 && step <= warm) return (options.lr * step) / warm;
  if (s.kind === "constant") return options.lr;
  const minLr = s.minLr ?? 0;
  const p = Math.min(1, Math.max(0, (step - warm) / (s.totalSteps - warm)));
  return s.kind === "cosine"
    ? minLr + ((options.lr - minLr) * (1 + Math.cos(Math.PI * p))) / 2
    : options.lr + (minLr - options.lr) * p;
}

/** What one update reports. */
export interface StepResult {
  /** The loss before the update. */
  loss: number;
  /** Global L2 norm of the gradient before clipping. */
  gradNorm: number;
  /** Learning rate used. */
  lr: number;
}

let varCounter = 0;

/**
 * One optimizer update from a scalar loss: `lossFn(model)` runs inside
 * `tf.variableGrads` (so compute constants such as pi_old outside it), gradients are
 * clipped by global norm when `maxGradNorm` is set, then Adam/AdamW updates every
 * variable that received a gradient. One asynchronous read at the end.
 *
 * Update (torch.optim.Adam / AdamW): `g += wd w` (adam) or `w *= 1 - lr wd` (adamw);
 * `m = b1 m + (1-b1) g`; `v = b2 v + (1-b2) g^2`;
 * `w -= (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps)`.
 */
export async function applyLossStep(
  model: TinyLM,
  lossFn: (model: TinyLM) => tf.Scalar,
  options: { optimizer: Optimizer },
): Promise<StepResult> {
  const opt = options?.optimizer;
  if (!opt || !opt.options) {
    throw new TrainError("Invalid options.optimizer: expected createOptimizer()'s result");
  }
  const { value, grads } = tf.variableGrads(() => {
    const l = lossFn(model);
    if (!(l instanceof tf.Tensor) || l.rank !== 0) {
      throw new TrainError(
        `Invalid lossFn: expected a scalar tensor, got ${
          l instanceof tf.Tensor ? `shape [${l.shape}]` : typeof l
        }`,
      );
    }
    return l;
  }, model.variables);
  const o = opt.options;
  const t = opt.step + 1;
  const lr = learningRate(o, t);
  let norm: tf.Scalar;
  try {
    norm = tf.tidy(() => {
      const gs = Object.values(grads);
      const fused = gemmActive(); // one-pass kernels of lib/wasm_gemm (same floats)
      const n = tf.sqrt(
        fused ? sumOfSquares(gs) : tf.addN(gs.map((g) => tf.sum(tf.square(g)))),
      ) as tf.Scalar;
      const scale = o.maxGradNorm === null
        ? null
        : tf.minimum(1, tf.div(o.maxGradNorm, tf.add(n, 1e-6)));
      const [b1, b2] = o.betas;
      const bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
      for (const [vname, g0] of Object.entries(grads)) {
        const name = model.byVarName.get(vname);
        if (name === undefined) continue;
        const w = model.p(name);
        if (!opt.m[name]) {
          const id = ++varCounter;
          opt.m[name] = tf.variable(tf.zerosLike(w), false, `pvl_adam${id}/m/${name}`);
          opt.v[name] = tf.variable(tf.zerosLike(w), false, `pvl_adam${id}/v/${name}`);
        }
        if (fused) {
          const adamW = o.kind === "adamw" && o.weightDecay > 0;
          const [w2, m2, v2] = adamUpdate(w, g0, opt.m[name]!, opt.v[name]!, scale, {
            l2: o.kind === "adam" ? o.weightDecay : 0,
            decay: adamW ? 1 - lr * o.weightDecay : 1,
            b1,
            b2,
            sqrtBc2: Math.sqrt(bc2),
            eps: o.eps,
            lrBc1: lr / bc1,
          });
          opt.m[name]!.assign(m2);
          opt.v[name]!.assign(v2);
          w.assign(w2);
          continue;
        }
        let g: tf.Tensor = scale ? tf.mul(g0, scale) : g0;
        if (o.kind === "adam" && o.weightDecay > 0) g = tf.add(g, tf.mul(w, o.weightDecay));
        const m = opt.m[name]!, v = opt.v[name]!;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), o.eps);
        let base: tf.Tensor = w;
        if (o.kind === "adamw" && o.weightDecay > 0) base = tf.mul(w, 1 - lr * o.weightDecay);
        w.assign(tf.sub(base, tf.mul(tf.div(m, denom), lr / bc1)));
      }
      return n;
    });
  } finally {
    tf.dispose(grads);
  }
  opt.step = t;
  const both = tf.tidy(() => tf.stack([value, norm]));
  try {
    const d = await both.data();
    return { loss: d[0]!, gradNorm: d[1]!, lr };
  } finally {
    tf.dispose([value, norm, both]);
  }
}

/** A next-token training batch: `[B, L]` each. */
export interface LMBatch {
  /** Input ids, int32. */
  tokens: tf.Tensor2D;
  /** Target id at each position (the token after it), int32; default `tokens` shifted left. */
  targets?: tf.Tensor2D;
  /** 1 where the target counts, float32 or int32 0/1; default all 1 except the last column. */
  mask?: tf.Tensor2D;
}

/**
 * One update on masked next-token cross-entropy ({@linkcode crossEntropyLoss}).
 * Without `targets`, targets are the tokens shifted left and the last column is
 * masked out.
 */
export async function trainStep(
  model: TinyLM,
  batch: LMBatch,
  options: { optimizer: Optimizer },
): Promise<StepResult> {
  const [b, l] = batch.tokens.shape;
  const owned: tf.Tensor[] = [];
  let targets = batch.targets, mask = batch.mask;
  if (!targets) {
    targets = tf.tidy(() =>
      tf.concat([tf.slice(batch.tokens, [0, 1], [b, l - 1]), tf.zeros([b, 1], "int32")], 1)
    );
    owned.push(targets);
    if (!mask) {
      mask = tf.tidy(() => tf.concat([tf.ones([b, l - 1]), tf.zeros([b, 1])], 1));
      owned.push(mask);
    }
  }
  if (!mask) {
    mask = tf.ones([b, l]);
    owned.push(mask);
  }
  const tg = targets, mk = mask;
  try {
    return await applyLossStep(
      model,
      (m) => crossEntropyLoss(m, { tokens: batch.tokens, targets: tg, mask: mk }),
      options,
    );
  } finally {
    tf.dispose(owned);
  }
}

/** Saved optimizer state: options, step, and moments in the exchange layout as `m.<name>` / `v.<name>`. */
export interface OptimizerState {
  /** Resolved options. */
  options: ResolvedOptimizerOptions;
  /** Updates done. */
  step: number;
  /** `m.<exchange name>` and `v.<exchange name>` (empty before the first update). */
  tensors: ExchangeWeights;
}

/** Reads the optimizer state (moments converted to the exchange layout of `model`). */
export async function exportOptimizerState(opt: Optimizer, model: TinyLM): Promise<OptimizerState> {
  const tensors: ExchangeWeights = {};
  if (opt.step > 0 && Object.keys(opt.m).length > 0) {
    for (const [prefix, rec] of [["m", opt.m], ["v", opt.v]] as const) {
      const ex = internalToExchange(model.config, await readInternal(rec));
      for (const [k, t] of Object.entries(ex)) tensors[`${prefix}.${k}`] = t;
    }
  }
  return { options: structuredClone(opt.options), step: opt.step, tensors };
}

/**
 * An optimizer restored from {@linkcode exportOptimizerState}; names and shapes are
 * checked against `model` (`source` names the origin in errors).
 */
export function importOptimizerState(
  state: OptimizerState,
  model: TinyLM,
  options: { source?: string } = {},
): Optimizer {
  const src = options.source ?? "optimizer state";
  const opt = createOptimizer({
    ...state.options,
    maxGradNorm: state.options.maxGradNorm ?? undefined,
  });
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new TrainError(`Invalid ${src}: step must be an integer >= 0, got ${state.step}`);
  }
  opt.step = state.step;
  const names = Object.keys(state.tensors);
  if (names.length === 0) return opt;
  for (const n of names) {
    if (!n.startsWith("m.") && !n.startsWith("v.")) {
      throw new TrainError(
        `Invalid ${src}: unexpected tensor "${n}" (expected m.<name> or v.<name>)`,
      );
    }
  }
  const id = ++varCounter;
  for (const prefix of ["m", "v"] as const) {
    const part: ExchangeWeights = {};
    for (const n of names) if (n.startsWith(prefix + ".")) part[n.slice(2)] = state.tensors[n]!;
    let internal: Record<string, Float32Array>;
    try {
      internal = exchangeToInternal(model.config, part, `${src} (${prefix}.*)`);
    } catch (e) {
      opt.dispose();
      throw new TrainError((e as Error).message);
    }
    for (const [name, data] of Object.entries(internal)) {
      const t = tf.tensor(data, model.p(name).shape, "float32");
      opt[prefix][name] = tf.variable(t, false, `pvl_adam${id}/${prefix}/${name}`);
      t.dispose();
    }
  }
  return opt;
}
