import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "@std/assert";
import { createLM } from "../../lib/model/lm.ts";
import { tokenLogprobs } from "../../lib/model/logprobs.ts";
import { createOptimizer } from "../../lib/model/train.ts";
import { Rng } from "../../lib/prng.ts";
import { rmPairAccuracy } from "../../lib/rm/pair_accuracy.ts";
import { adbDlw } from "../../lib/rl/adb_dlw.ts";
import { type OnlineRmOptions, onlineRmUpdate, rmLossFn } from "../../lib/rl/online_rm.ts";
import type { RMKind } from "../../lib/rm/kinds.ts";
import { changed, LM, numTensors, setup, weightsOf } from "./_rl_setup.ts";

await setup();

/** 8 rows (G = 4): random tokens, a response mask after a 3-token prompt. */
function fixture(seed: number) {
  const rng = new Rng(seed);
  const b = 8, t = 12;
  const ids = Array.from({ length: b * t }, () => 3 + rng.int(LM.vocab - 3));
  const mask = Array.from(
    { length: b * t },
    (_, i) => (i % t >= 3 && i % t < 3 + 4 + (Math.floor(i / t) % 5) ? 1 : 0),
  );
  return {
    tokens: tf.tensor2d(ids, [b, t], "int32"),
    mask: tf.tensor2d(mask, [b, t]),
    labels: [1, 0, 0, 1, 0, 1, 0, 0],
  };
}

function opts(
  kind: RMKind,
  logpRef: tf.Tensor2D,
  labels: number[],
  over: Partial<OnlineRmOptions> = {},
): OnlineRmOptions {
  // the ADB/DLW phase of the step (B15 step 4); labels of a wrong length get placeholders
  // so that onlineRmUpdate's own length check is what throws
  const margin = kind === "ipvrm" ? 5 : 0;
  const c = labels.length % 4 === 0
    ? adbDlw(labels, {
      groupSize: 4,
      margin,
      adb: kind !== "dpo",
      dlw: kind === "dpo" ? "off" : "normalized",
      skipUniform: true,
    })
    : { weights: labels.map(() => 1), margins: labels.map(() => margin) };
  return {
    kind,
    optimizer: createOptimizer({ kind: "adamw", lr: 1e-2, maxGradNorm: 10 }),
    labels,
    groupSize: 4,
    logpRef,
    miniBatchRows: 4,
    beta: kind === "ipvrm" ? 10 : 0.05,
    sampleWeights: c.weights,
    sampleMargins: c.margins,
    ...over,
  };
}

Deno.test("onlineRmUpdate() moves the RM only (policy/reference untouched), every kind, no leak", async (t) => {
  for (const kind of ["ipvrm", "implicit_prm", "dpo"] as const) {
    await t.step(kind, async () => {
      const f = fixture(1);
      const rm = createLM(LM, { rng: new Rng(2) }), ref = createLM(LM, { rng: new Rng(3) });
      const logpRef = tf.tidy(() => tokenLogprobs(ref, f.tokens));
      const o = opts(kind, logpRef, f.labels);
      const rm0 = await weightsOf(rm), ref0 = await weightsOf(ref);
      const r = await onlineRmUpdate(rm, f, o); // burn-in
      assert(Number.isFinite(r.loss) && r.updates === 2, `loss ${r.loss}, updates ${r.updates}`);
      assertEquals(changed(rm0, await weightsOf(rm)).length, Object.keys(rm0).length);
      assertEquals(changed(ref0, await weightsOf(ref)), []);
      const before = numTensors();
      await onlineRmUpdate(rm, f, o);
      assertEquals(numTensors(), before);
      o.optimizer.dispose();
      tf.dispose([f.tokens, f.mask, logpRef]);
      rm.dispose();
      ref.dispose();
    });
  }
});

Deno.test("rmLossFn(): the gradient reaches the RM's variables and nothing else", () => {
  const f = fixture(2);
  const rm = createLM(LM, { rng: new Rng(2) }), ref = createLM(LM, { rng: new Rng(3) });
  const policy = createLM(LM, { rng: new Rng(4) });
  const { weights, margins } = adbDlw(f.labels, {
    groupSize: 4,
    margin: 5,
    adb: true,
    dlw: "paper",
    skipUniform: true,
  });
  const logpRef = tf.tidy(() => tokenLogprobs(ref, f.tokens));
  const mb = {
    tokens: f.tokens,
    mask: f.mask,
    logpRef,
    labels: tf.tensor1d(f.labels),
    weights: tf.tensor1d(weights),
    margins: tf.tensor1d(margins),
    pairs: [] as Array<readonly [number, number]>,
  };
  const all = [...rm.variables, ...ref.variables, ...policy.variables];
  const { value, grads } = tf.variableGrads(
    () => rmLossFn(rm, mb, { kind: "ipvrm", beta: 10 }).loss,
    all,
  );
  const names = new Set(rm.variables.map((v) => v.name));
  assertEquals(Object.keys(grads).sort(), [...names].sort());
  tf.dispose([
    value,
    ...Object.values(grads),
    f.tokens,
    f.mask,
    logpRef,
    mb.labels,
    mb.weights,
    mb.margins,
  ]);
  [rm, ref, policy].forEach((m) => m.dispose());
});

Deno.test("onlineRmUpdate(): acc_before is the pairwise accuracy of the pre-update scores", async () => {
  const f = fixture(3);
  const rm = createLM(LM, { rng: new Rng(5) }), ref = createLM(LM, { rng: new Rng(6) });
  const logpRef = tf.tidy(() => tokenLogprobs(ref, f.tokens));
  const s = tf.tidy(() => tokenLogprobs(rm, f.tokens).sub(logpRef).mul(f.mask).sum(1));
  const want = rmPairAccuracy(await s.data(), f.labels, { groupSize: 4 });
  const o = opts("ipvrm", logpRef, f.labels, { miniBatchRows: 8 });
  const r = await onlineRmUpdate(rm, f, o);
  assertAlmostEquals(r.accBefore, want, 1e-12);
  o.optimizer.dispose();
  tf.dispose([f.tokens, f.mask, logpRef, s]);
  rm.dispose();
  ref.dispose();
});

Deno.test("onlineRmUpdate(): all-uniform batches (weight 0) and pairless DPO batches take no step", async () => {
  const f = fixture(4);
  const rm = createLM(LM, { rng: new Rng(7) });
  const logpRef = tf.zeros([8, 12]) as tf.Tensor2D;
  const uniform = [1, 1, 1, 1, 0, 0, 0, 0];
  const w0 = await weightsOf(rm);
  for (const kind of ["ipvrm", "dpo"] as const) {
    const o = opts(kind, logpRef, uniform);
    const r = await onlineRmUpdate(rm, f, o);
    assertEquals(r.updates, 0);
    assert(Number.isNaN(r.loss));
    assertEquals(r.accBefore, 0.5); // no pair with different outcomes
    o.optimizer.dispose();
  }
  assertEquals(changed(w0, await weightsOf(rm)), []);
  tf.dispose([f.tokens, f.mask, logpRef]);
  rm.dispose();
});

Deno.test("onlineRmUpdate() checks its arguments", async () => {
  const f = fixture(5);
  const rm = createLM(LM, { rng: new Rng(8) });
  const logpRef = tf.zeros([8, 12]) as tf.Tensor2D;
  await assertRejects(
    () => onlineRmUpdate(rm, f, opts("ipvrm", logpRef, f.labels, { miniBatchRows: 6 })),
    RangeError,
    "Invalid miniBatchRows: mini-batches must hold whole groups: got 6, G=4",
  );
  await assertRejects(
    () => onlineRmUpdate(rm, f, opts("ipvrm", logpRef, [1, 0])),
    RangeError,
    "Invalid labels: expected length B=8, got 2",
  );
  const bad = tf.zeros([8, 3]) as tf.Tensor2D;
  await assertRejects(
    () => onlineRmUpdate(rm, f, opts("ipvrm", bad, f.labels)),
    RangeError,
    "Invalid logpRef",
  );
  await assertRejects(
    () => onlineRmUpdate(rm, f, opts("ipvrm", logpRef, f.labels, { sampleWeights: [1] })),
    RangeError,
    "Invalid sampleWeights: expected length B=8, got 1",
  );
  tf.dispose([f.tokens, f.mask, logpRef, bad]);
  rm.dispose();
});
