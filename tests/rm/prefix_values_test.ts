import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertArrayAlmostEquals, assertThrows } from "@std/assert";
import { logRatio, prefixValues, sequenceScore, stopGradient } from "../../lib/rm/prefix_values.ts";
import { arr, assertNoLeak, prefixValuesRef, randomMask, randomMat, Rng, t2 } from "./_ref.ts";

Deno.test("prefixValues() matches methods.md (g)1 and zeroes padding", async () => {
  // ℓ = [0.1, −0.2, (pad 5)], β = 10: V = [1, −1], v̄ = [1/1, −1/2]; padding → 0 even though ℓ=5 there
  const r = prefixValues(t2([[0.1, -0.2, 5]]), t2([[1, 1, 0]]), { beta: 10 });
  assertArrayAlmostEquals(await arr(r.values), [[1, -1, 0]], 1e-6);
  assertArrayAlmostEquals(await arr(r.meanValues), [[1, -0.5, 0]], 1e-6);
});

Deno.test("prefixValues() equals the loop reference on random (B, L, seed)", async () => {
  for (const [b, l, seed] of [[1, 1, 1], [3, 7, 2], [8, 16, 3], [5, 2, 4]] as const) {
    const rng = new Rng(seed);
    const lr = randomMat(rng, b, l), m = randomMask(rng, b, l, 0);
    const ref = prefixValuesRef(lr, m, 3);
    const r = prefixValues(t2(lr), t2(m), { beta: 3 });
    assertArrayAlmostEquals(await arr(r.values), ref.v, 1e-4);
    assertArrayAlmostEquals(await arr(r.meanValues), ref.vbar, 1e-4);
  }
});

Deno.test("sequenceScore(): β·sum (B3) and token mean (Eq. 19)", async () => {
  // rows: [1, 2 | pad 9] → sum 3, mean 1.5; β = 0.5 → 1.5 / 0.75
  const lr = t2([[1, 2, 9]]), m = t2([[1, 1, 0]]);
  assertArrayAlmostEquals(await arr(sequenceScore(lr, m, { beta: 0.5 })), [1.5]);
  assertArrayAlmostEquals(await arr(sequenceScore(lr, m, { beta: 0.5, reduce: "mean" })), [0.75]);
  assertThrows(
    () => sequenceScore(lr, m, { reduce: "max" as "sum" }),
    RangeError,
    'Invalid reduce: expected one of "sum", "mean", got "max"',
  );
});

Deno.test("logRatio(): gradient reaches logp_rm only (the reference is a constant)", async () => {
  const rm = t2([[-1, -2]]), ref = t2([[-1.5, -1]]), m = t2([[1, 1]]);
  const [gRm, gRef] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    prefixValues(logRatio(a as tf.Tensor2D, b as tf.Tensor2D, { mask: m }), m, { beta: 2 }).values
      .sum()
  )([rm, ref]);
  // d/dℓ_1 Σ_t V_t = β·(#t ≥ 1) = 2·2 = 4, d/dℓ_2 = 2
  assertArrayAlmostEquals(await arr(gRm!), [[4, 2]]);
  assertArrayAlmostEquals(await arr(gRef!), [[0, 0]]);
  assertArrayAlmostEquals(await arr(stopGradient(rm)), [[-1, -2]]);
});

Deno.test("shape and mask errors name the argument", async (t) => {
  await t.step("shape", () => {
    assertThrows(
      () => prefixValues(t2([[1, 2]]), t2([[1, 1, 1]]), { beta: 1 }),
      RangeError,
      "Invalid mask: expected shape [B,L] = [1,2], got [1,3]",
    );
    assertThrows(
      () => prefixValues(t2([[1]]), t2([[1]]), { beta: NaN }),
      RangeError,
      "Invalid beta",
    );
  });
});

Deno.test("prefix-value functions leak no tensors", async () => {
  const lr = t2([[0.1, -0.2, 3]]), ref = t2([[0, 0, 0]]), m = t2([[1, 1, 0]]);
  await assertNoLeak(() => prefixValues(lr, m, { beta: 10 }));
  await assertNoLeak(() => sequenceScore(lr, m, { reduce: "mean" }));
  await assertNoLeak(() => logRatio(lr, ref, { mask: m }));
  await assertNoLeak(() => tf.tidy(() => tf.grads((a: tf.Tensor) => stopGradient(a).sum())([lr])));
  assertAlmostEquals(1, 1);
});
