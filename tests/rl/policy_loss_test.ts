import * as tf from "@tensorflow/tfjs";
import {
  assertAlmostEquals,
  assertArrayAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import {
  aggregateEntropy,
  type Aggregation,
  policyLoss,
  type PolicyLossOptions,
  tokenEntropy,
} from "../../lib/rl/policy_loss.ts";
import { distrlAdvantages } from "../../lib/rl/advantages.ts";
import {
  arr,
  assertNoLeak,
  disposeAll,
  type M2,
  type M3,
  randomMask,
  randomMat,
  Rng,
  t1,
  t2,
  t3,
  val,
} from "../rm/_ref.ts";
import { policyLossRef, type PolicyRefOpts } from "./_ref.ts";

function hand() {
  return {
    lpNew: t2([[-1, -2]]),
    cNew: t3([[[-1, -2], [-0.5, -3]]]),
    opts: {
      logpOld: t2([[-1.1, -1.5]]),
      advantages: t2([[1, -1]]),
      mask: t2([[1, 1]]),
      candLogpOld: t3([[[-1.1, -2.2], [-0.6, -3]]]),
      candAdvantages: t3([[[1, -2], [0.5, 1]]]),
      candMask: t3([[[1, 1], [1, 0]]]),
    } satisfies PolicyLossOptions,
  };
}

Deno.test("policyLoss(): hand case, both aggregations, dual clip", async () => {
  const { lpNew, cNew, opts } = hand();
  // token: ρ = [e^0.1, e^−0.5] = [1.105171, 0.606531]
  //   t1 A=1: max(−1.105171, −clip(1.105171, 0.8, 1.28)) = −1.105171
  //   t2 A=−1: max(0.606531, 0.8) = 0.8; dual clip min(0.8, 3) = 0.8
  //   sequence = (−1.105171 + 0.8)/2 = −0.152586 (= token mean here, one row)
  // dist (ε 0.2): (t1,j0) ρ=e^0.1, Â=1 → −1.105171, p=e^−1.1=0.332871
  //   (t1,j1) ρ=e^0.2=1.221403, Â=−2: max(2.442806, 2·1.2=2.4) = 2.442806, p=e^−2.2=0.110803
  //   (t2,j0) ρ=e^0.1, Â=0.5: −0.552585, p=e^−0.6=0.548812; (t2,j1) masked
  //   sequence: (0.332871·−1.105171 + 0.110803·2.442806 + 0.548812·−0.552585)/T=2 = −0.200237
  const seq = policyLoss(lpNew, cNew, { ...opts, dualClip: 3 });
  assertAlmostEquals(await val(seq.metrics.tokLoss), -0.152586, 1e-5);
  assertAlmostEquals(await val(seq.metrics.distLoss), -0.200237, 1e-5);
  assertAlmostEquals(await val(seq.loss), -0.152586 + 0.1 * -0.200237, 1e-5);
  assertAlmostEquals(await val(seq.metrics.tokClipFrac), 0.5, 1e-6); // ρ2 = 0.61 < 0.8
  // token agg dist: Σ p L / Σ p = −0.400474 / (0.332871 + 0.110803 + 0.548812) = −0.403503
  const tok = policyLoss(lpNew, cNew, { ...opts, agg: "token" });
  assertAlmostEquals(await val(tok.metrics.distLoss), -0.400474 / 0.992486, 1e-5);
  // dual clip bites: A = −1, ρ = e^2 = 7.389: max(7.389, 1.28·... clip → 1.28) = 7.389 → min(7.389, 3) = 3
  const big = policyLoss(t2([[0.5]]), null, {
    logpOld: t2([[-1.5]]),
    advantages: t2([[-1]]),
    mask: t2([[1]]),
    dualClip: 3,
  });
  assertAlmostEquals(await val(big.loss), 3, 1e-5);
  const noDual = policyLoss(t2([[0.5]]), null, {
    logpOld: t2([[-1.5]]),
    advantages: t2([[-1]]),
    mask: t2([[1]]),
  });
  assertAlmostEquals(await val(noDual.loss), Math.exp(2), 1e-4);
});

Deno.test("policyLoss(): an empty candidate mask contributes 0 without NaN gradients", async () => {
  const { lpNew, cNew, opts } = hand();
  const empty = { ...opts, candMask: t3([[[0, 0], [0, 0]]]) };
  for (const agg of ["sequence", "token"] as Aggregation[]) {
    const r = policyLoss(lpNew, cNew, { ...empty, agg });
    assertEquals(await val(r.metrics.distLoss), 0);
    const g = tf.grad((c: tf.Tensor) =>
      policyLoss(lpNew, c as tf.Tensor3D, { ...empty, agg }).loss
    )(cNew);
    assertArrayAlmostEquals(await arr(g), [[[0, 0], [0, 0]]]);
  }
});

function randomCase(rng: Rng, b: number, l: number, k: number) {
  const m = randomMask(rng, b, l);
  const lpOld = randomMat(rng, b, l, 1).map((r) => r.map((x) => -Math.abs(x) - 0.1));
  const lpNew = lpOld.map((r) => r.map((x) => x + rng.normal() * 0.3));
  const adv = randomMat(rng, b, l);
  const cOld: M3 = Array.from(
    { length: b },
    () => randomMat(rng, l, k).map((r) => r.map((x) => -Math.abs(x) - 0.05)),
  );
  const cNew: M3 = cOld.map((r) => r.map((s) => s.map((x) => x + rng.normal() * 0.3)));
  const cAdv: M3 = Array.from({ length: b }, () => randomMat(rng, l, k));
  const cm: M3 = cOld.map((r, bb) =>
    r.map((s, t) => s.map(() => (m[bb]![t] && rng.next() < 0.7 ? 1 : 0)))
  );
  return { lpNew, lpOld, adv, m, cNew, cOld, cAdv, cm };
}

Deno.test("policyLoss() equals the loop reference; grads match finite differences", async () => {
  for (const [b, l, k, seed] of [[2, 3, 2, 1], [4, 6, 5, 2], [3, 1, 1, 3]] as const) {
    const rng = new Rng(seed);
    const x = randomCase(rng, b, l, k);
    for (const agg of ["sequence", "token"] as const) {
      for (const dual of [null, 3]) {
        const o: PolicyRefOpts = {
          epsLow: 0.2,
          epsHigh: 0.28,
          distEps: 0.2,
          dual,
          alpha: 0.3,
          agg,
        };
        const ref = policyLossRef(x, o);
        const opts: PolicyLossOptions = {
          logpOld: t2(x.lpOld),
          advantages: t2(x.adv),
          mask: t2(x.m),
          candLogpOld: t3(x.cOld),
          candAdvantages: t3(x.cAdv),
          candMask: t3(x.cm),
          dualClip: dual,
          alpha: 0.3,
          agg,
        };
        const tag = `B=${b} L=${l} K=${k} ${agg} dual=${dual}`;
        const r = policyLoss(t2(x.lpNew), t3(x.cNew), opts);
        assertAlmostEquals(await val(r.loss), ref.loss, 1e-5, tag);
        assertAlmostEquals(await val(r.metrics.tokLoss), ref.tok, 1e-5, tag);
        assertAlmostEquals(await val(r.metrics.distLoss), ref.dist, 1e-5, tag);
        assertAlmostEquals(await val(r.metrics.tokClipFrac), ref.clip, 1e-6, tag);
        const [gx, gc] = tf.grads((a: tf.Tensor, c: tf.Tensor) =>
          policyLoss(a as tf.Tensor2D, c as tf.Tensor3D, opts).loss
        )([t2(x.lpNew), t3(x.cNew)]);
        const h = 1e-5;
        const fd = (edit: (y: typeof x, d: number) => void) => {
          const up = structuredClone(x), dn = structuredClone(x);
          edit(up, h);
          edit(dn, -h);
          return (policyLossRef(up, o).loss - policyLossRef(dn, o).loss) / (2 * h);
        };
        const gxa: M2 = await arr(gx!), gca: M3 = await arr(gc!);
        for (let bb = 0; bb < b; bb++) {
          for (let t = 0; t < l; t++) {
            const want = fd((y, d) => (y.lpNew[bb]![t]! += d));
            assertAlmostEquals(gxa[bb]![t]!, want, 1e-4, `${tag} d/dlogp_new[${bb}][${t}]`);
            for (let j = 0; j < k; j++) {
              const wc = fd((y, d) => (y.cNew[bb]![t]![j]! += d));
              assertAlmostEquals(gca[bb]![t]![j]!, wc, 1e-4, `${tag} d/dcand[${bb}][${t}][${j}]`);
            }
          }
        }
      }
    }
  }
});

Deno.test("variableGrads of the policy loss touches only policy variables", async () => {
  // tiny policy (θ) and RM (φ) "models": log-softmax of a linear map, read at fixed token ids
  const feats = tf.tensor2d([[1, 0.5], [-0.3, 2], [0.7, -1]]); // 3 positions
  const onehot = tf.tensor2d([[0, 1, 0], [0, 0, 1], [1, 0, 0]]);
  const theta = tf.variable(
    tf.tensor2d([[0.1, 0.2, -0.1], [0.3, -0.2, 0.05]]),
    true,
    "policy_theta_pl",
  );
  const phi = tf.variable(tf.tensor2d([[0.2, 0.1, 0], [0, 0.1, 0.2]]), true, "rm_phi_pl");
  const logp = (w: tf.Tensor) =>
    tf.logSoftmax(feats.matMul(w)).mul(onehot).sum(1).reshape([1, 3]) as tf.Tensor2D;
  const mask = t2([[1, 1, 1]]);
  // constants: π_old snapshot, RM-derived TD and advantages (computed outside the closure)
  const logpOld = tf.tidy(() => logp(theta));
  const td = tf.tidy(() => logp(phi).sub(logpOld).mul(10) as tf.Tensor2D);
  const adv = distrlAdvantages(td, mask, {
    outcomes: t1([1]),
    groupSize: 1,
    whitenGae: false,
    gaeCoef: 1,
  });
  const { value, grads } = tf.variableGrads(() =>
    policyLoss(logp(theta), null, { logpOld, advantages: adv.advantages, mask }).loss
  );
  assertEquals(Object.keys(grads), ["policy_theta_pl"]);
  const g = await arr(grads["policy_theta_pl"]!);
  assertEquals(g.flat().some((v: number) => v !== 0), true);
  tf.dispose([value, grads, theta, phi, feats, onehot, logpOld, td]);
  disposeAll(adv);
});

Deno.test("policyLoss() checks arguments", () => {
  const { lpNew, cNew, opts } = hand();
  assertThrows(
    () => policyLoss(lpNew, cNew, { ...opts, agg: "batch" as Aggregation }),
    RangeError,
    'Invalid agg: expected one of "sequence", "token", got "batch"',
  );
  assertThrows(
    () => policyLoss(lpNew, cNew, { ...opts, mask: t2([[1, 1, 1]]) }),
    RangeError,
    "Invalid mask: expected shape [B,L] = [1,2], got [1,3]",
  );
  assertThrows(
    () => policyLoss(lpNew, cNew, { ...opts, candMask: undefined }),
    RangeError,
    "Invalid candMask: required with candLogpNew",
  );
  assertThrows(
    () => policyLoss(lpNew, cNew, { ...opts, epsLow: NaN }),
    RangeError,
    "Invalid epsLow",
  );
  assertThrows(
    () => policyLoss(lpNew, cNew, { ...opts, dualClip: Infinity }),
    RangeError,
    "Invalid dualClip",
  );
  assertThrows(
    () => policyLoss(lpNew, cNew, { ...opts, logpOld: undefined } as unknown as PolicyLossOptions),
    RangeError,
    "Invalid logpOld: required",
  );
});

Deno.test("policyLoss() leaks no tensors (forward and gradient)", async () => {
  const { lpNew, cNew, opts } = hand();
  for (const agg of ["sequence", "token"] as const) {
    await assertNoLeak(() => policyLoss(lpNew, cNew, { ...opts, agg, dualClip: 3 }));
    await assertNoLeak(() => policyLoss(lpNew, null, { ...opts, agg }));
    await assertNoLeak(() =>
      tf.grads((a: tf.Tensor, c: tf.Tensor) =>
        policyLoss(a as tf.Tensor2D, c as tf.Tensor3D, { ...opts, agg }).loss
      )([lpNew, cNew])
    );
  }
});

Deno.test("tokenEntropy(): hand case H(1/2, 1/4, 1/4) = 1.5 ln 2, and a point mass has 0", async () => {
  const lp = t3([[[Math.log(0.5), Math.log(0.25), Math.log(0.25)], [0, -1e9, -1e9]]]);
  const h = tokenEntropy(lp);
  assertArrayAlmostEquals((await arr(h))[0]!, [1.5 * Math.LN2, 0], 1e-6);
  disposeAll([lp, h]);
});

Deno.test("aggregateEntropy(): sequence and token forms equal their loops", async () => {
  const rng = new Rng(11);
  const H = randomMat(rng, 3, 5).map((r) => r.map(Math.abs));
  const M = randomMask(rng, 3, 5);
  M[0]![0] = 1;
  const tH = t2(H), tM = t2(M);
  let seq = 0;
  for (let b = 0; b < 3; b++) {
    const n = M[b]!.reduce((a, x) => a + x, 0);
    seq += M[b]!.reduce((a, m, t) => a + m * H[b]![t]!, 0) / Math.max(n, 1) / 3;
  }
  let num = 0, den = 0;
  for (let b = 0; b < 3; b++) {
    for (let t = 0; t < 5; t++) (num += M[b]![t]! * H[b]![t]!, den += M[b]![t]!);
  }
  const s = aggregateEntropy(tH, tM, "sequence"), k = aggregateEntropy(tH, tM, "token");
  assertAlmostEquals(await val(s), seq, 1e-5);
  assertAlmostEquals(await val(k), num / den, 1e-5);
  assertThrows(() => aggregateEntropy(tH, t2([[1, 0]])), RangeError, "mask");
  disposeAll([tH, tM, s, k]);
});
