import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { exportWeights } from "../../lib/model/exchange.ts";
import { tokenLogprobs } from "../../lib/model/logprobs.ts";
import {
  applyLossStep,
  createOptimizer,
  exportOptimizerState,
  importOptimizerState,
  learningRate,
  TrainError,
  trainStep,
} from "../../lib/model/train.ts";
import { CheckpointError, loadCheckpoint, saveCheckpoint } from "../../lib/model/checkpoint.ts";
import { Rng } from "../../lib/prng.ts";
import { assertNoLeak, randomTokens, setup, TINY, tinyModel } from "./_setup.ts";

await setup();

const batch = () => tf.tensor2d(randomTokens(new Rng(8), 4, 6, TINY.vocab), [4, 6], "int32");

Deno.test("one Adam step equals the hand-written torch.optim.Adam update on a scalar", async () => {
  // w=1, loss = w^2 (g = 2): m = 0.1*2 = 0.2, v = 0.001*4 = 0.004, bias-corrected
  // m^ = 2, sqrt(v^) = 2, w' = 1 - 0.1 * 2 / (2 + 1e-8) = 0.9 (lr 0.1).
  const m = tinyModel();
  const opt = createOptimizer({ kind: "adam", lr: 0.1 });
  const gf = m.p("gf");
  const r = await applyLossStep(
    m,
    (mm) => tf.square(tf.sum(tf.slice(mm.p("gf"), [0], [1]))) as tf.Scalar,
    { optimizer: opt },
  );
  assertAlmostEquals(r.loss, 1, 1e-6);
  assertAlmostEquals(r.gradNorm, 2, 1e-6);
  assertAlmostEquals((await gf.data())[0]!, 0.9, 1e-6);
  assertAlmostEquals((await gf.data())[1]!, 1, 0, "no gradient, no move");
  opt.dispose();
  m.dispose();
});

Deno.test("gradient clipping scales to maxGradNorm; schedules warm up then decay", async () => {
  const m = tinyModel();
  const opt = createOptimizer({ kind: "adamw", lr: 0.1, maxGradNorm: 0.5, weightDecay: 0.1 });
  const r = await applyLossStep(m, (mm) => tf.mul(tf.sum(mm.p("gf")), 10) as tf.Scalar, {
    optimizer: opt,
  });
  assertAlmostEquals(r.gradNorm, 10 * Math.sqrt(TINY.width), 1e-4);
  opt.dispose();
  m.dispose();
  const o = createOptimizer({
    kind: "adam",
    lr: 1,
    schedule: { kind: "cosine", warmupSteps: 2, totalSteps: 6, minLr: 0.1 },
  }).options;
  assertEquals([1, 2, 4, 6, 9].map((s) => +learningRate(o, s).toFixed(4)), [
    0.5,
    1,
    0.55,
    0.1,
    0.1,
  ]);
  const lin =
    createOptimizer({ kind: "adam", lr: 1, schedule: { kind: "linear", totalSteps: 4 } }).options;
  assertEquals(learningRate(lin, 2), 0.5);
  assertThrows(() => createOptimizer({ kind: "sgd" as "adam", lr: 1 }), TrainError, '"sgd"');
  assertThrows(
    () => createOptimizer({ kind: "adam", lr: 1, betas: [0.9, 1] }),
    TrainError,
    "betas",
  );
  assertThrows(
    () => createOptimizer({ kind: "adam", lr: 1, schedule: { kind: "cosine", totalSteps: 0 } }),
    TrainError,
    "totalSteps",
  );
});

Deno.test("trainStep() lowers the loss, moves every variable, leaks nothing", async () => {
  const m = tinyModel(2);
  const before = await exportWeights(m);
  const opt = createOptimizer({ kind: "adam", lr: 1e-2 });
  const tokens = batch();
  const first = await trainStep(m, { tokens }, { optimizer: opt });
  let last = first;
  for (let i = 0; i < 20; i++) last = await trainStep(m, { tokens }, { optimizer: opt });
  assert(last.loss < first.loss - 0.1, `${first.loss} -> ${last.loss}`);
  const after = await exportWeights(m);
  for (const k of Object.keys(before)) {
    assert(before[k]!.data.some((x, i) => x !== after[k]!.data[i]), `${k} unchanged`);
  }
  await assertNoLeak(() => trainStep(m, { tokens }, { optimizer: opt }));
  // An RL-style loss through applyLossStep: constants computed outside the closure.
  const old = tokenLogprobs(m, tokens);
  await assertNoLeak(() =>
    applyLossStep(
      m,
      (mm) => tf.neg(tf.mean(tf.exp(tf.sub(tokenLogprobs(mm, tokens), old)))) as tf.Scalar,
      { optimizer: opt },
    )
  );
  tf.dispose([tokens, old]);
  opt.dispose();
  m.dispose();
});

Deno.test("checkpoint round trip is bit-exact and resumed training equals uninterrupted training", async () => {
  const dir = await Deno.makeTempDir();
  const tokens = batch();
  const run = async (
    m: ReturnType<typeof tinyModel>,
    opt: ReturnType<typeof createOptimizer>,
    n: number,
  ) => {
    for (let i = 0; i < n; i++) await trainStep(m, { tokens }, { optimizer: opt });
  };
  const mk = () =>
    createOptimizer({
      kind: "adamw",
      lr: 1e-2,
      weightDecay: 0.01,
      schedule: { kind: "cosine", warmupSteps: 1, totalSteps: 6 },
    });
  const a = tinyModel(3), oa = mk();
  await run(a, oa, 6);
  const b = tinyModel(3), ob = mk();
  await run(b, ob, 3);
  await saveCheckpoint(dir, b, { optimizer: ob, metadata: { run: "t" } });
  const wb = await exportWeights(b);
  const sb = await exportOptimizerState(ob, b);
  b.dispose();
  ob.dispose();
  const loaded = await loadCheckpoint(dir, { expectConfig: TINY });
  assertEquals(loaded.metadata, { run: "t" });
  const wl = await exportWeights(loaded.model);
  for (const k of Object.keys(wb)) assertEquals(wl[k]!.data, wb[k]!.data, k);
  const sl = await exportOptimizerState(loaded.optimizer!, loaded.model);
  assertEquals(sl.step, 3);
  for (const k of Object.keys(sb.tensors)) {
    assertEquals(sl.tensors[k]!.data, sb.tensors[k]!.data, k);
  }
  await run(loaded.model, loaded.optimizer!, 3);
  const wa = await exportWeights(a), wr = await exportWeights(loaded.model);
  for (const k of Object.keys(wa)) assertEquals(wr[k]!.data, wa[k]!.data, k);
  // importOptimizerState round trip without files too.
  const again = importOptimizerState(sl, loaded.model);
  assertEquals(again.step, 3);
  again.dispose();
  tf.dispose(tokens);
  oa.dispose();
  a.dispose();
  loaded.optimizer!.dispose();
  loaded.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadCheckpoint() errors name the file and the mismatch", async () => {
  const dir = await Deno.makeTempDir();
  await assertRejects(() => loadCheckpoint(`${dir}/none`), CheckpointError, "does not exist");
  const m = tinyModel();
  await saveCheckpoint(dir, m);
  await assertRejects(
    () => loadCheckpoint(dir, { expectConfig: { ...TINY, width: 16 } }),
    CheckpointError,
    "model.safetensors: config",
  );
  await Deno.writeFile(`${dir}/model.safetensors`, new Uint8Array([1, 2, 3]));
  await assertRejects(() => loadCheckpoint(dir), CheckpointError, "model.safetensors");
  m.dispose();
  await Deno.remove(dir, { recursive: true });
});
