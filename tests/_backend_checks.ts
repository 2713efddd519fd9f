/**
 * Checks run on a started backend, identical on every backend, so that the results on
 * webgpu can be compared with wasm's (tests/webgpu_kernels_test.ts runs this module in a
 * subprocess with `--backend webgpu` and in-process on wasm). Sizes are above the ~1,000
 * elements under which tfjs-webgpu computes on the CPU, where its kernel bugs do not show.
 *
 * `deno run -A --unstable-webgpu tests/_backend_checks.ts webgpu` prints one JSON object, or
 * `SKIP <reason>` when the backend cannot start.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { createLM } from "../lib/model/lm.ts";
import { tokenLogprobs } from "../lib/model/logprobs.ts";
import { createOptimizer, trainStep } from "../lib/model/train.ts";
import { Rng } from "../lib/prng.ts";

/** Model of the checks: the smoke pipeline's shape (2 layers, head width 16). */
export const CHECK_LM = { vocab: 26, width: 32, layers: 2, heads: 2, context: 96 };

/** What {@linkcode backendChecks} measures; every field is compared across backends. */
export interface BackendCheckResult {
  /** int32 transposes (rank 2, 3, 4) as host arrays. */
  transposes: number[][];
  /** `tf.addN` of n = 1..20 tensors of 1,500 elements holding 1..n: element 0 of each. */
  addN: number[];
  /** `tokenLogprobs` of a [16, 81] batch, row-major. */
  logp: number[];
  /** Three AdamW steps with grad clipping: loss and gradient norm of each. */
  losses: number[];
  gradNorms: number[];
  /** Sum of every parameter after the steps. */
  paramSums: number[];
  /** Tensors alive after the checks minus before. */
  leaked: number;
}

/** Deterministic int32 ids in [0, vocab). */
function ids(n: number, vocab: number, seed: number): number[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => r.int(vocab));
}

/** Runs the checks on the current backend. */
export async function backendChecks(): Promise<BackendCheckResult> {
  const before = tf.memory().numTensors;
  const transposes: number[][] = [];
  for (
    const [shape, perm] of [[[16, 81], [1, 0]], [[16, 81, 1], [1, 0, 2]], [[4, 6, 81, 2], [
      2,
      0,
      3,
      1,
    ]]] as const
  ) {
    const n = tf.util.sizeFromShape([...shape]);
    const x = tf.tensor(ids(n, 1 << 30, n), [...shape], "int32");
    const y = tf.transpose(x, [...perm]);
    transposes.push(Array.from(await y.data()));
    tf.dispose([x, y]);
  }
  const addN: number[] = [];
  for (let n = 1; n <= 20; n++) {
    const xs = Array.from({ length: n }, (_, i) => tf.fill([1500], i + 1));
    const s = tf.addN(xs);
    addN.push((await s.data())[0]!);
    tf.dispose([...xs, s]);
  }
  const model = createLM(CHECK_LM, { rng: new Rng(3) });
  const tokens = tf.tensor2d(ids(16 * 81, CHECK_LM.vocab, 5), [16, 81], "int32");
  const lp = tokenLogprobs(model, tokens);
  const logp = Array.from(await lp.data());
  lp.dispose();
  const opt = createOptimizer({ kind: "adamw", lr: 1e-2, weightDecay: 0.01, maxGradNorm: 1 });
  const losses: number[] = [], gradNorms: number[] = [];
  for (let s = 0; s < 3; s++) {
    const r = await trainStep(model, { tokens }, { optimizer: opt });
    losses.push(r.loss);
    gradNorms.push(r.gradNorm);
  }
  const paramSums: number[] = [];
  for (const v of model.variables) {
    const t = tf.sum(v);
    paramSums.push((await t.data())[0]!);
    t.dispose();
  }
  opt.dispose();
  tokens.dispose();
  model.dispose();
  return {
    transposes,
    addN,
    logp,
    losses,
    gradNorms,
    paramSums,
    leaked: tf.memory().numTensors - before,
  };
}

if (import.meta.main) {
  try {
    await initBackend(Deno.args[0] as "webgpu", { log: () => {} });
  } catch (e) {
    console.log(`SKIP ${(e as Error).message.split("\n")[0]}`);
    Deno.exit(0);
  }
  console.log(JSON.stringify(await backendChecks()));
  Deno.exit(0);
}
