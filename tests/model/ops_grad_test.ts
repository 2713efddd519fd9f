import * as tf from "@tensorflow/tfjs";
import { assertArrayAlmostEquals, assertLess } from "@std/assert";
import {
  causalAttention,
  embed,
  linear,
  linearRelu,
  pickLogprobs,
  rmsNorm,
  weightedCrossEntropy,
} from "../../lib/model/_ops.ts";
import { createLM } from "../../lib/model/lm.ts";
import { exportWeights, importWeights } from "../../lib/model/exchange.ts";
import { crossEntropyLoss } from "../../lib/model/logprobs.ts";
import { Rng } from "../../lib/prng.ts";
import { setup } from "./_setup.ts";

await setup();

/** Gradients of sum(f(xs) * r) for a fixed random r, by tfjs autograd. */
async function grads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): Promise<number[][]> {
  const gs = tf.tidy(() => {
    const out = f(...xs);
    const r = tf.randomNormal(out.shape, 0, 1, "float32", 7);
    return tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), r)))(xs);
  });
  const res = await Promise.all(gs.map(async (g) => Array.from(await g.data())));
  tf.dispose(gs);
  return res;
}

async function same(
  name: string,
  ours: (...x: tf.Tensor[]) => tf.Tensor,
  ref: (...x: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor[],
) {
  const a = tf.tidy(() => ours(...xs)), b = tf.tidy(() => ref(...xs));
  assertArrayAlmostEquals(
    Array.from(await a.data()),
    Array.from(await b.data()),
    1e-5,
    `${name} value`,
  );
  tf.dispose([a, b]);
  const ga = await grads(ours, xs), gb = await grads(ref, xs);
  ga.forEach((g, i) => assertArrayAlmostEquals(g, gb[i]!, 2e-5, `${name} grad ${i}`));
}

const rn = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

Deno.test("every custom gradient equals tfjs autograd of the plain formula", async (t) => {
  const x = rn([6, 4], 1), w = rn([4, 5], 2), g = rn([4], 3);
  await t.step(
    "linear",
    () =>
      same(
        "linear",
        (a, b) => linear(a as tf.Tensor2D, b as tf.Tensor2D),
        (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
        [x, w],
      ),
  );
  await t.step(
    "linearRelu",
    () =>
      same(
        "linearRelu",
        (a, b) => linearRelu(a as tf.Tensor2D, b as tf.Tensor2D),
        (a, b) => tf.relu(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)),
        [x, w],
      ),
  );
  await t.step(
    "rmsNorm",
    () =>
      same(
        "rmsNorm",
        (a, b) => rmsNorm(a as tf.Tensor2D, b as tf.Tensor1D),
        (a, b) => tf.mul(tf.div(a, tf.sqrt(tf.add(tf.mean(tf.square(a), -1, true), 1e-6))), b),
        [x, g],
      ),
  );
  const ids = tf.tensor1d([0, 3, 3, 1, 4, 2], "int32");
  const emb = rn([5, 4], 4);
  await t.step(
    "embed",
    () =>
      same(
        "embed",
        (e) => embed(ids, e as tf.Tensor2D),
        (e) => tf.matMul(tf.oneHot(ids, 5).cast("float32"), e as tf.Tensor2D),
        [emb],
      ),
  );
  const h = rn([6, 4], 5);
  const pick = tf.tensor2d([[0, 1], [3, 3], [4, 0], [1, 2], [2, 2], [0, 4]], [6, 2], "int32");
  await t.step(
    "pickLogprobs (temperature 0.7)",
    () =>
      same(
        "pick",
        (a, e) => pickLogprobs(a as tf.Tensor2D, e as tf.Tensor2D, pick, 0.7),
        (a, e) => {
          const lp = tf.logSoftmax(
            tf.div(tf.matMul(a as tf.Tensor2D, e as tf.Tensor2D, false, true), 0.7),
          );
          return tf.sum(tf.mul(tf.oneHot(pick, 5).cast("float32"), tf.expandDims(lp, 1)), -1);
        },
        [h, emb],
      ),
  );
  const wts = tf.tensor1d([0.1, 0.2, 0, 0.3, 0.25, 0.15]);
  await t.step(
    "weightedCrossEntropy",
    () =>
      same(
        "ce",
        (a, e) => weightedCrossEntropy(a as tf.Tensor2D, e as tf.Tensor2D, ids, wts),
        (a, e) => {
          const lp = tf.logSoftmax(tf.matMul(a as tf.Tensor2D, e as tf.Tensor2D, false, true));
          return tf.sum(
            tf.mul(tf.neg(tf.sum(tf.mul(tf.oneHot(ids, 5).cast("float32"), lp), -1)), wts),
          );
        },
        [h, emb],
      ),
  );
  // Attention: T=5 positions, C=3 channels, E=4; reference with batched matMul.
  const q = rn([5, 3, 4], 6), k = rn([5, 3, 4], 7), v = rn([5, 3, 4], 8);
  await t.step(
    "causalAttention",
    () =>
      same(
        "attn",
        (a, b, c) => causalAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D),
        (a, b, c) => {
          const [qc, kc, vc] = [a, b, c].map((z) => tf.transpose(z, [1, 0, 2]) as tf.Tensor3D);
          const s = tf.div(tf.matMul(qc!, kc!, false, true), 2);
          const mask = tf.linalg.bandPart(tf.ones([5, 5]), -1, 0);
          const p = tf.softmax(tf.add(s, tf.mul(tf.sub(1, mask), -1e9)));
          return tf.transpose(tf.matMul(p, vc!), [1, 0, 2]);
        },
        [q, k, v],
      ),
  );
  tf.dispose([x, w, g, ids, emb, h, pick, wts, q, k, v]);
});

Deno.test("model gradients match central finite differences (float32, step 1e-2)", async () => {
  const cfg = { vocab: 5, width: 4, layers: 1, heads: 2, context: 4 };
  const m = createLM(cfg, { rng: new Rng(11) });
  // Embeddings ~ N(0, 1) instead of N(0, 0.02): RMSNorm of 0.02-sized vectors is curved
  // on the scale of the step, which makes differences meaningless, not the gradient wrong.
  const w0 = await exportWeights(m);
  const rng = new Rng(3);
  for (const n of ["emb", "pos"]) w0[n]!.data.forEach((_, i, a) => (a[i] = rng.normal()));
  importWeights(m, w0);
  const tok = tf.tensor2d([[1, 2, 3, 4], [0, 4, 2, 1]], [2, 4], "int32");
  const tgt = tf.tensor2d([[2, 3, 4, 0], [4, 2, 1, 3]], [2, 4], "int32");
  const mask = tf.tensor2d([[1, 1, 1, 0], [1, 1, 0, 0]]);
  const lossAt = async () => {
    const l = crossEntropyLoss(m, { tokens: tok, targets: tgt, mask });
    const v = (await l.data())[0]!;
    l.dispose();
    return v;
  };
  const { value, grads } = tf.variableGrads(
    () => crossEntropyLoss(m, { tokens: tok, targets: tgt, mask }),
    m.variables,
  );
  const internalGrads: Record<string, Float32Array> = {};
  for (const [vn, g] of Object.entries(grads)) {
    internalGrads[m.byVarName.get(vn)!] = (await g.data()) as Float32Array;
  }
  tf.dispose([value, ...Object.values(grads)]);
  const { internalToExchange } = await import("../../lib/model/exchange.ts");
  const gx = internalToExchange(m.config, internalGrads);
  const h = 1e-2;
  let worst = 0;
  for (
    const name of [
      "emb",
      "pos",
      "gf",
      "blocks.0.g1",
      "blocks.0.qkv.weight",
      "blocks.0.o.weight",
      "blocks.0.f1.weight",
      "blocks.0.f2.weight",
    ]
  ) {
    for (let trial = 0; trial < 3; trial++) {
      const i = rng.int(w0[name]!.data.length);
      const probe = async (d: number) => {
        const w = structuredClone(w0);
        w[name]!.data[i] = w0[name]!.data[i]! + d;
        importWeights(m, w);
        return await lossAt();
      };
      const fd = ((await probe(h)) - (await probe(-h))) / (2 * h);
      const an = gx[name]!.data[i]!;
      const err = Math.abs(fd - an) / (1e-2 + Math.abs(an));
      worst = Math.max(worst, err);
    }
  }
  assertLess(worst, 5e-2, `worst relative error ${worst}`);
  tf.dispose([tok, tgt, mask]);
  m.dispose();
});
