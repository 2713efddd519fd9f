import * as tf from "@tensorflow/tfjs";
import {
  assertAlmostEquals,
  assertArrayAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import {
  candidateAdvantages,
  candidateTd,
  distrlAdvantages,
  gae,
  type GaeNorm,
  grpoAdvantages,
  sigmaV,
  tokenAdvantages,
  tokenTd,
  whiten,
} from "../../lib/rl/advantages.ts";
import {
  arr,
  assertNoLeak,
  randomLabels,
  randomMask,
  randomMat,
  Rng,
  t1,
  t2,
  t3,
  val,
} from "../rm/_ref.ts";
import { distrlRef, gaeRef, grpoRef, whitenRef } from "./_ref.ts";

Deno.test("grpoAdvantages() reproduces methods.md (g)3 and clamps uniform groups", async () => {
  // μ=0.25, s=sqrt(0.1875)=0.433013: (1−0.25)/s = 1.732051, (0−0.25)/s = −0.577350
  assertArrayAlmostEquals(await arr(grpoAdvantages(t1([1, 0, 0, 0]), { groupSize: 4 })), [
    1.732051,
    -0.57735,
    -0.57735,
    -0.57735,
  ], 1e-5);
  // uniform group: (1−1)/max(0, 1e-6) = 0
  assertArrayAlmostEquals(await arr(grpoAdvantages(t1([1, 1, 0, 1]), { groupSize: 2 })), [
    0,
    0,
    -1,
    1,
  ], 1e-6);
  for (const [g, n, seed] of [[2, 4, 1], [4, 3, 2], [16, 2, 3]] as const) {
    const y = randomLabels(new Rng(seed), g * n);
    assertArrayAlmostEquals(
      await arr(grpoAdvantages(t1(y), { groupSize: g })),
      grpoRef(y, g),
      1e-4,
    );
  }
});

Deno.test("gae() resets at padding and equals the loop reference", async (t) => {
  await t.step("hand", async () => {
    // γλ = 0.5, δ = [1, 2, 4 | pad 8]: g3 = 4, g2 = 2 + 2 = 4, g1 = 1 + 2 = 3, pad → 0
    assertArrayAlmostEquals(
      await arr(gae(t2([[1, 2, 4, 8]]), t2([[1, 1, 1, 0]]), { gamma: 1, lam: 0.5 })),
      [[3, 4, 4, 0]],
      1e-6,
    );
  });
  await t.step("random", async () => {
    for (
      const [b, l, seed, gamma, lam] of [[3, 5, 1, 1, 1], [6, 12, 2, 0.9, 0.95], [
        1,
        1,
        3,
        1,
        0.5,
      ]] as const
    ) {
      const rng = new Rng(seed);
      const td = randomMat(rng, b, l), m = randomMask(rng, b, l, 0);
      assertArrayAlmostEquals(
        await arr(gae(t2(td), t2(m), { gamma, lam })),
        gaeRef(td, m, gamma, lam),
        1e-4,
      );
    }
  });
});

Deno.test("tokenTd() and candidateTd(): β ℓ at the sampled token, β Δlog p at the candidates (B7, B9)", async () => {
  // β=10, ℓ=[0.1, −0.2, 0.3 | pad 0] ⇒ δ = [1, −2, 3, 0] (= V_t − V_{t−1} with V = [1, −1, 2])
  assertArrayAlmostEquals(await arr(tokenTd(t2([[0.1, -0.2, 0.3, 0]]), { beta: 10 })), [[
    1,
    -2,
    3,
    0,
  ]], 1e-5);
  // candidates: (−0.5 − (−0.6))·10 = 1 kept; slot 1 outside the set → 0
  const c = candidateTd(t3([[[-0.5, -1]]]), t3([[[-0.6, -0.8]]]), {
    beta: 10,
    mask: t3([[[1, 0]]]),
  });
  assertArrayAlmostEquals(await arr(c), [[[1, 0]]], 1e-5);
  assertThrows(
    () => candidateTd(t3([[[-0.5, -1]]]), t3([[[-0.6]]]), { beta: 1, mask: t3([[[1, 0]]]) }),
    RangeError,
    "Invalid candLogpRef",
  );
});

Deno.test("distrlAdvantages() = tokenAdvantages() + candidateAdvantages() with the same σ_V, bit for bit", async () => {
  const rng = new Rng(7);
  const td = t2(randomMat(rng, 4, 5)), m = t2(randomMask(rng, 4, 5)), y = t1([1, 0, 0, 1]);
  const cand = t3(
    randomMat(rng, 20, 3).reduce((acc: number[][][], row, i) => {
      (acc[Math.floor(i / 5)] ??= []).push(row);
      return acc;
    }, []),
  );
  const whole = distrlAdvantages(td, m, { outcomes: y, groupSize: 2, tdCandidates: cand });
  const tok = tokenAdvantages(td, m, { outcomes: y, groupSize: 2 });
  const c = candidateAdvantages(cand, m, { sigmaV: tok.sigmaV });
  assertEquals(Array.from(await whole.advantages.data()), Array.from(await tok.advantages.data()));
  assertEquals(Array.from(await whole.candidateAdvantages.data()), Array.from(await c.data()));
});

Deno.test("whiten(): Bessel variance + 1e-8, padding 0", async () => {
  // valid [1, 2, 3]: mean 2, var_unbiased 1 → [−1, 0, 1]/sqrt(1+1e-8)
  assertArrayAlmostEquals(await arr(whiten(t2([[1, 2], [3, 100]]), t2([[1, 1], [1, 0]]))), [
    [-1, 0],
    [1, 0],
  ], 1e-6);
  for (const seed of [1, 2, 3]) {
    const rng = new Rng(seed);
    const x = randomMat(rng, 4, 6, 3), m = randomMask(rng, 4, 6);
    assertArrayAlmostEquals(await arr(whiten(t2(x), t2(m))), whitenRef(x, m), 1e-4);
  }
});

Deno.test("distrlAdvantages() reproduces methods.md (g)4 (repo form)", async () => {
  // sampled-token TD, last token zeroed: A (correct, T=3) [0.4, −0.2, 0]; B (wrong, T=2) [−0.1, 0]
  // paths [0.4, 0.2, 0.2 | −0.1, −0.1]: mean 0.12, popvar 0.0376 → σ_V = 0.193907
  // batch TD mean (0.4−0.2−0.1)/5 = 0.02; δ̂ = (δ−0.02)/σ_V; GAE A [0.721995, −1.237705, −0.103142], B [−0.721995, −0.103142]
  // whitened [1.369592, −1.285739, 0.251558 | −0.586968, 0.251558]; A = ±1 + 0.05·whitened
  // the last-token inputs (0.7, 0.3) must be dropped (drop_last_td)
  const td = t2([[0.4, -0.2, 0.7], [-0.1, 0.3, 5]]), m = t2([[1, 1, 1], [1, 1, 0]]);
  const cand = t3([[[0.4, 0.1], [-0.2, 0], [0.5, 0.5]], [[-0.1, 0], [0.3, 0.3], [9, 9]]]);
  const r = distrlAdvantages(td, m, { outcomes: t1([1, 0]), groupSize: 2, tdCandidates: cand });
  assertAlmostEquals(await val(r.sigmaV), 0.193907, 1e-6);
  assertArrayAlmostEquals(await arr(r.gae), [[0.721995, -1.237705, -0.103142], [
    -0.721995,
    -0.103142,
    0,
  ]], 1e-5);
  assertArrayAlmostEquals(await arr(r.advantages), [[1.068480, 0.935713, 1.012578], [
    -1.029348,
    -0.987422,
    0,
  ]], 1e-5);
  // candidate slot 0 of A: [0.4, −0.2, 0]/σ_V = [2.062842, −1.031421, 0]
  const c = await arr(r.candidateAdvantages);
  assertArrayAlmostEquals(c[0].map((s: number[]) => s[0]), [2.062842, -1.031421, 0], 1e-5);
  assertArrayAlmostEquals(c[1], [[-0.515711, 0], [0, 0], [0, 0]], 1e-5);
  // sigmaV() alone on the zeroed TD
  assertAlmostEquals(await val(sigmaV(t2([[0.4, -0.2, 0], [-0.1, 0, 0]]), m)), 0.193907, 1e-6);
});

Deno.test("distrlAdvantages() equals the loop reference on random (B, L, G, K, seed), all switches", async () => {
  for (
    const [g, n, l, k, seed] of [[2, 2, 4, 3, 1], [4, 3, 7, 1, 2], [3, 2, 10, 5, 3], [
      2,
      1,
      2,
      0,
      4,
    ]] as const
  ) {
    const b = g * n;
    const rng = new Rng(seed);
    const td = randomMat(rng, b, l, 0.3), m = randomMask(rng, b, l, 2);
    const cand = Array.from({ length: b }, () => randomMat(rng, l, k, 0.3));
    const labels = randomLabels(rng, b);
    for (const gaeNorm of ["batch_mean_sigma_v", "group"] as GaeNorm[]) {
      for (
        const [whitenGae, gaeCoef, dropLast] of [[true, 0.05, true], [false, 1, false], [
          true,
          0.5,
          false,
        ]] as const
      ) {
        const ref = distrlRef(td, cand, m, {
          labels,
          g,
          gaeNorm,
          whiten: whitenGae,
          gaeCoef,
          outCoef: 0.7,
          dropLast,
        });
        const r = distrlAdvantages(t2(td), t2(m), {
          outcomes: t1(labels),
          groupSize: g,
          tdCandidates: tf.tensor3d(cand.flat(2), [b, l, k]),
          gaeNorm,
          whitenGae,
          gaeCoef,
          outcomeCoef: 0.7,
          dropLastTd: dropLast,
        });
        const tag = `G=${g} B=${b} L=${l} K=${k} ${gaeNorm} ${whitenGae} ${gaeCoef} ${dropLast}`;
        assertAlmostEquals(await val(r.sigmaV), ref.sigma, 1e-5, tag);
        assertArrayAlmostEquals(await arr(r.advantages), ref.adv, 1e-3, tag);
        if (k > 0) assertArrayAlmostEquals(await arr(r.candidateAdvantages), ref.cadv, 1e-3, tag);
        else assertArrayAlmostEquals(r.candidateAdvantages.shape, [b, l, 0], 0, tag);
      }
    }
  }
});

Deno.test("advantage functions check shapes, group sizes and enums", () => {
  const td = t2([[1, 2]]), m = t2([[1, 1]]);
  assertThrows(
    () => grpoAdvantages(t1([1, 0, 1]), { groupSize: 2 }),
    RangeError,
    "groupSize must divide the batch: B=3, G=2",
  );
  assertThrows(() => gae(td, t2([[1]])), RangeError, "Invalid mask");
  assertThrows(() => gae(td, m, { lam: NaN }), RangeError, "Invalid lam");
  assertThrows(
    () => distrlAdvantages(td, m, { outcomes: t1([1]), groupSize: 1, gaeNorm: "token" as GaeNorm }),
    RangeError,
    'Invalid gaeNorm: expected one of "batch_mean_sigma_v", "group", got "token"',
  );
  assertThrows(
    () => distrlAdvantages(td, m, { outcomes: t1([1, 0]), groupSize: 1 }),
    RangeError,
    "Invalid outcomes",
  );
  assertThrows(
    () =>
      distrlAdvantages(td, m, {
        outcomes: t1([1]),
        groupSize: 1,
        tdCandidates: t3([[[1], [2], [3]]]),
      }),
    RangeError,
    "Invalid tdCandidates",
  );
});

Deno.test("advantage functions leak no tensors", async () => {
  const td = t2([[0.4, -0.2, 0.7], [-0.1, 0.3, 5]]), m = t2([[1, 1, 1], [1, 1, 0]]), y = t1([1, 0]);
  const cand = t3([[[1], [2], [3]], [[4], [5], [6]]]);
  await assertNoLeak(() => grpoAdvantages(y, { groupSize: 2 }));
  await assertNoLeak(() => gae(td, m, { lam: 0.9 }));
  await assertNoLeak(() => whiten(td, m));
  await assertNoLeak(() => sigmaV(td, m));
  await assertNoLeak(() => tokenTd(td, { beta: 2 }));
  await assertNoLeak(() => candidateTd(cand, cand, { beta: 2, mask: cand }));
  await assertNoLeak(() => tokenAdvantages(td, m, { outcomes: y, groupSize: 2 }));
  for (const gaeNorm of ["batch_mean_sigma_v", "group"] as const) {
    await assertNoLeak(() =>
      distrlAdvantages(td, m, { outcomes: y, groupSize: 2, tdCandidates: cand, gaeNorm })
    );
  }
  await assertNoLeak(() =>
    distrlAdvantages(td, m, { outcomes: y, groupSize: 1, whitenGae: false })
  );
});
