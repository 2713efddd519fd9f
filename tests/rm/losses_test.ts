import * as tf from "@tensorflow/tfjs";
import {
  assertAlmostEquals,
  assertArrayAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import {
  dpoLoss,
  dpoPairsFromGroups,
  implicitPrmLoss,
  ipvrmLoss,
  softplus,
  temporalWeights,
  type Weighting,
} from "../../lib/rm/losses.ts";
import { logRatio } from "../../lib/rm/prefix_values.ts";
import { adbDlw } from "../../lib/rl/adb_dlw.ts";
import {
  arr,
  assertNoLeak,
  dpoRef,
  implicitPrmRef,
  ipvrmRef,
  randomLabels,
  randomMask,
  randomMat,
  Rng,
  softplusRef,
  t1,
  t2,
  val,
} from "./_ref.ts";

const G1 = [[0.1, -0.2]];

Deno.test("softplus() is stable and exact at large |z|", async () => {
  // softplus(±40): 40 + log1p(e^-40) ≈ 40, log1p(e^-40) ≈ 4.248e-18; softplus(0) = ln 2
  assertArrayAlmostEquals(await arr(softplus(tf.tensor1d([-40, 0, 4, 40, 200]))), [
    4.248354e-18,
    Math.LN2,
    4.018150,
    40,
    200,
  ], 1e-5);
});

Deno.test("ipvrmLoss() reproduces methods.md (g)1", async (t) => {
  // β=10, m=5, ℓ=[0.1,−0.2] ⇒ v̄=[1,−0.5]
  // r=1: λ=[softplus(5−1), softplus(5+0.5)] = [4.018150, 5.504078]
  //      uniform (4.018150+5.504078)/2 = 4.761114; late (1·λ1+2·λ2)/3 = 5.008769; early (w=[1,0]) 4.018150
  // r=0: λ=[softplus(1+5), softplus(−0.5+5)] = [6.002476, 4.511048], uniform 5.256762
  const lr = t2(G1), m = t2([[1, 1]]);
  const cases: [number, Weighting, number][] = [
    [1, "uniform", 4.761114],
    [1, "late", 5.008769],
    [1, "early", 4.018150],
    [0, "uniform", 5.256762],
  ];
  for (const [y, w, want] of cases) {
    await t.step(`r_o=${y} ${w}`, async () => {
      const r = ipvrmLoss(lr, m, { labels: t1([y]), weighting: w });
      assertAlmostEquals(await val(r.loss), want, 2e-5);
    });
  }
  await t.step("per-prefix λ", async () => {
    const r1 = ipvrmLoss(lr, m, { labels: t1([1]) });
    assertArrayAlmostEquals(await arr(r1.metrics.prefixLoss), [[4.018150, 5.504078]], 2e-5);
    const r0 = ipvrmLoss(lr, m, { labels: t1([0]) });
    assertArrayAlmostEquals(await arr(r0.metrics.prefixLoss), [[6.002476, 4.511048]], 2e-5);
  });
  await t.step("padding does not change the loss", async () => {
    // same row padded with junk: identical λ and loss; v̄_T = −0.5 is the final score
    const r = ipvrmLoss(t2([[0.1, -0.2, 7, -3]]), t2([[1, 1, 0, 0]]), { labels: t1([1]) });
    assertAlmostEquals(await val(r.loss), 4.761114, 2e-5);
    assertArrayAlmostEquals(await arr(r.metrics.prefixLoss), [[4.018150, 5.504078, 0, 0]], 2e-5);
    assertArrayAlmostEquals(await arr(r.metrics.finalScore), [-0.5], 1e-6);
  });
});

Deno.test("ipvrmLoss() with ADB margins reproduces methods.md (g)2", async () => {
  // n=4, one correct: μ=0.25, V(x)=logit(0.25)=−1.098612; margins 6.098612 / 3.901388
  // correct: λ = softplus(6.098612 − v̄) = [softplus(5.098612), softplus(6.598612)] = [5.104699, 6.599974]
  // wrong:   λ = softplus(3.901388 + v̄) = [softplus(4.901388), softplus(3.401388)] = [4.908796, 3.434171]
  const { margins, weights } = adbDlw([1, 0, 0, 0], { groupSize: 4 });
  const lr = t2([G1[0]!, G1[0]!, G1[0]!, G1[0]!]), m = t2([[1, 1], [1, 1], [1, 1], [1, 1]]);
  const r = ipvrmLoss(lr, m, {
    labels: t1([1, 0, 0, 0]),
    sampleMargins: t1(margins),
    sampleWeights: t1(weights),
  });
  const lam = await arr(r.metrics.prefixLoss);
  assertArrayAlmostEquals(lam[0], [5.104699, 6.599974], 2e-5);
  assertArrayAlmostEquals(lam[1], [4.908796, 3.434171], 2e-5);
  // loss = mean_b w_b L_b = (0.75·5.8523365 + 3·0.25·4.1714835)/4
  assertAlmostEquals(await val(r.loss), (0.75 * 5.8523365 + 0.75 * 4.1714835) / 4, 2e-5);
  assertArrayAlmostEquals(await arr(r.metrics.perSequence), [
    5.8523365,
    4.1714835,
    4.1714835,
    4.1714835,
  ], 2e-5);
});

Deno.test("temporalWeights(): rows sum to 1, early with T=1 falls back to uniform", async () => {
  const m = t2([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]);
  // T=3: uniform 1/3 each; late 2t/12 = [1/6, 2/6, 3/6]; early 2(3−t)/6 = [2/3, 1/3, 0]
  assertArrayAlmostEquals(await arr(temporalWeights(m, { weighting: "late" })), [
    [1 / 6, 1 / 3, 1 / 2, 0],
    [1, 0, 0, 0],
    [0, 0, 0, 0],
  ], 1e-6);
  assertArrayAlmostEquals(await arr(temporalWeights(m, { weighting: "early" })), [
    [2 / 3, 1 / 3, 0, 0],
    [1, 0, 0, 0],
    [0, 0, 0, 0],
  ], 1e-6);
  assertArrayAlmostEquals(await arr(temporalWeights(m)), [[1 / 3, 1 / 3, 1 / 3, 0], [1, 0, 0, 0], [
    0,
    0,
    0,
    0,
  ]], 1e-6);
  // T = 1 under early: λ_1 itself
  const r = ipvrmLoss(t2([[0.1]]), t2([[1]]), { labels: t1([1]), weighting: "early" });
  assertAlmostEquals(await val(r.loss), softplusRef(4), 1e-5);
});

Deno.test("ipvrmLoss() equals the loop reference on random (B, L, seed), all variants", async () => {
  for (const [b, l, seed] of [[2, 3, 1], [5, 8, 2], [7, 1, 3], [12, 16, 4]] as const) {
    const rng = new Rng(seed);
    const lr = randomMat(rng, b, l, 0.5), mk = randomMask(rng, b, l);
    const labels = randomLabels(rng, b);
    const sw = Array.from({ length: b }, () => rng.next() * 2);
    const sm = Array.from({ length: b }, () => rng.normal() * 3);
    for (const weighting of ["uniform", "early", "late"] as const) {
      for (
        const reduction of weighting === "uniform"
          ? ["sequence", "token"] as const
          : ["sequence"] as const
      ) {
        for (const extras of [false, true]) {
          const o = {
            labels,
            beta: 10,
            margin: 5,
            weighting,
            reduction,
            ...(extras ? { sw, sm } : {}),
          };
          const ref = ipvrmRef(lr, mk, o);
          const r = ipvrmLoss(t2(lr), t2(mk), {
            labels: t1(labels),
            weighting,
            reduction,
            ...(extras ? { sampleWeights: t1(sw), sampleMargins: t1(sm) } : {}),
          });
          const tag = `B=${b} L=${l} ${weighting} ${reduction} extras=${extras}`;
          assertAlmostEquals(await val(r.loss), ref.loss, 1e-4 + 1e-4 * Math.abs(ref.loss), tag);
          assertArrayAlmostEquals(await arr(r.metrics.perSequence), ref.perSeq, 1e-3, tag);
          assertAlmostEquals(await val(r.metrics.prefixAccuracy), ref.acc, 1e-6, tag);
        }
      }
    }
  }
});

Deno.test("implicitPrmLoss() and dpoLoss(): hand cases and loop reference", async (t) => {
  await t.step("hand", async () => {
    // ℓ sums: row0 1+2 = 3, row1 0.5 (pad 9 ignored); β = 0.05 → z = [0.15, 0.025]
    // PRM: r=[1,0]: [softplus(−0.15), softplus(0.025)] = [0.620957, 0.705725]
    const lr = t2([[1, 2], [0.5, 9]]), m = t2([[1, 1], [1, 0]]);
    const p = implicitPrmLoss(lr, m, { labels: t1([1, 0]) });
    assertArrayAlmostEquals(await arr(p.metrics.perSequence), [0.620957, 0.705725], 1e-5);
    // DPO (0 chosen, 1 rejected): softplus(−(0.15 − 0.025)) = softplus(−0.125) = 0.632599
    const d = dpoLoss(lr, m, { pairs: [[0, 1]] });
    assertAlmostEquals(await val(d.loss), 0.632599, 1e-5);
  });
  await t.step("loops", async () => {
    for (const [b, l, seed] of [[2, 4, 5], [6, 9, 6], [9, 3, 7]] as const) {
      const rng = new Rng(seed);
      const lr = randomMat(rng, b, l, 4), mk = randomMask(rng, b, l), y = randomLabels(rng, b);
      const ref = implicitPrmRef(lr, mk, y, 0.05);
      const r = implicitPrmLoss(t2(lr), t2(mk), { labels: t1(y) });
      assertAlmostEquals(await val(r.loss), ref.loss, 1e-5);
      assertArrayAlmostEquals(await arr(r.metrics.perSequence), ref.perSeq, 1e-5);
      const pairs = Array.from({ length: 5 }, () => [rng.int(b), rng.int(b)] as [number, number]);
      const dref = dpoRef(lr, mk, pairs, 0.05);
      const dr = dpoLoss(t2(lr), t2(mk), { pairs });
      assertAlmostEquals(await val(dr.loss), dref.loss, 1e-5);
      assertArrayAlmostEquals(await arr(dr.metrics.perPair), dref.perPair, 1e-5);
    }
  });
  await t.step("ADB margin form: softplus(m − sgn·z)", async () => {
    // z = 0.05·2 = 0.1, r=1, m=0.3: softplus(0.2)
    const r = implicitPrmLoss(t2([[2]]), t2([[1]]), { labels: t1([1]), sampleMargins: t1([0.3]) });
    assertAlmostEquals(await val(r.loss), softplusRef(0.2), 1e-6);
  });
});

Deno.test("dpoPairsFromGroups() zips the first min(#pos,#neg) positives and negatives per group", () => {
  // group 0 labels [0,1,1,0] → pos [1,2], neg [0,3] → (1,0), (2,3); group 1 [1,1,1,0] → (4,7)
  assertEquals(dpoPairsFromGroups([0, 1, 1, 0, 1, 1, 1, 0], { groupSize: 4 }), [[1, 0], [2, 3], [
    4,
    7,
  ]]);
  assertThrows(
    () => dpoPairsFromGroups([0, 1, 1], { groupSize: 2 }),
    RangeError,
    "groupSize must divide the batch: B=3, G=2",
  );
});

Deno.test("RM loss gradients reach the RM's log-probs only", async (t) => {
  await t.step("tf.grads over (logp_rm, logp_ref) through logRatio()", async () => {
    const rm = t2([[-1, -2, -0.5]]), ref = t2([[-1.2, -1.5, -0.1]]), m = t2([[1, 1, 0]]);
    for (
      const f of [
        (lr: tf.Tensor2D) => ipvrmLoss(lr, m, { labels: t1([1]) }).loss,
        (lr: tf.Tensor2D) => implicitPrmLoss(lr, m, { labels: t1([0]) }).loss,
        (lr: tf.Tensor2D) =>
          dpoLoss(tf.concat([lr, lr.mul(2)]) as tf.Tensor2D, tf.concat([m, m]) as tf.Tensor2D, {
            pairs: [[0, 1]],
          }).loss,
      ]
    ) {
      const [gRm, gRef] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        f(logRatio(a as tf.Tensor2D, b as tf.Tensor2D, { mask: m }))
      )([rm, ref]);
      const g = await arr(gRm!);
      assertEquals(g[0][2] === 0, true); // padding gets no gradient
      assertEquals(g[0].slice(0, 2).some((x: number) => x !== 0), true);
      assertArrayAlmostEquals(await arr(gRef!), [[0, 0, 0]]);
    }
  });
  await t.step("variableGrads: RM variables get gradients, the frozen reference none", () => {
    // tiny "models": logp = log_softmax(W·x) gathered at fixed targets via one-hot
    const x = tf.tensor2d([[1, 0.5], [-0.3, 2]]);
    const targets = tf.oneHot(tf.tensor1d([1, 2], "int32"), 3).toFloat();
    const wRm = tf.variable(
      tf.tensor2d([[0.1, 0.2, -0.1], [0.3, -0.2, 0.05]]),
      true,
      "rm_w_losses",
    );
    const wRef = tf.variable(tf.tensor2d([[0.2, 0.1, 0], [0, 0.1, 0.2]]), true, "ref_w_losses");
    const logp = (w: tf.Variable) =>
      tf.logSoftmax(x.matMul(w)).mul(targets).sum(1).reshape([1, 2]) as tf.Tensor2D;
    const logpRef = tf.tidy(() => logp(wRef)); // precomputed constant, outside the closure
    const m = t2([[1, 1]]);
    const { value, grads } = tf.variableGrads(() =>
      ipvrmLoss(logp(wRm).sub(logpRef) as tf.Tensor2D, m, { labels: t1([1]) }).loss
    );
    assertEquals(Object.keys(grads), ["rm_w_losses"]);
    tf.dispose([value, grads, logpRef, wRm, wRef, x, targets]);
  });
});

Deno.test("RM loss errors name the argument", () => {
  const lr = t2(G1), m = t2([[1, 1]]);
  assertThrows(
    () => ipvrmLoss(lr, m, { labels: t1([1]), weighting: "middle" as Weighting }),
    RangeError,
    'Invalid weighting: expected one of "uniform", "late", "early", got "middle"',
  );
  assertThrows(
    () => ipvrmLoss(lr, m, { labels: t1([1]), weighting: "late", reduction: "token" }),
    RangeError,
    'reduction "token" needs "uniform"',
  );
  assertThrows(
    () => ipvrmLoss(lr, m, { labels: t1([1, 0]) }),
    RangeError,
    "Invalid labels: expected shape [B] = [1], got [2]",
  );
  assertThrows(
    () => ipvrmLoss(lr, m, {} as { labels: tf.Tensor1D }),
    RangeError,
    "Invalid labels: required",
  );
  assertThrows(
    () => ipvrmLoss(lr, m, { labels: t1([1]), beta: Infinity }),
    RangeError,
    "Invalid beta",
  );
  assertThrows(
    () => implicitPrmLoss(lr, t2([[1]]), { labels: t1([1]) }),
    RangeError,
    "Invalid mask",
  );
  assertThrows(
    () => dpoLoss(lr, m, { pairs: [] }),
    RangeError,
    "Invalid pairs: expected at least one",
  );
  assertThrows(
    () => dpoLoss(lr, m, { pairs: [[0, 3]] }),
    RangeError,
    "Invalid pairs: expected row indices in [0, 1), got 3 at [0][1]",
  );
});

Deno.test("RM losses leak no tensors", async () => {
  const lr = t2([[0.1, -0.2, 1], [0.3, 0.2, 0]]), m = t2([[1, 1, 0], [1, 1, 1]]), y = t1([1, 0]);
  const w = t1([1, 2]);
  for (const weighting of ["uniform", "early", "late"] as const) {
    await assertNoLeak(() => ipvrmLoss(lr, m, { labels: y, weighting, sampleWeights: w }));
  }
  await assertNoLeak(() => ipvrmLoss(lr, m, { labels: y, reduction: "token", sampleMargins: w }));
  await assertNoLeak(() => implicitPrmLoss(lr, m, { labels: y }));
  await assertNoLeak(() => dpoLoss(lr, m, { pairs: [[0, 1]], score: "mean" }));
  await assertNoLeak(() => temporalWeights(m, { weighting: "early" }));
  await assertNoLeak(() => softplus(lr));
});
