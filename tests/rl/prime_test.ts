import { assertArrayAlmostEquals, assertThrows } from "@std/assert";
import { primeAdvantages, type PrimeNorm } from "../../lib/rl/prime.ts";
import { arr, assertNoLeak, randomLabels, randomMask, randomMat, Rng, t1, t2 } from "../rm/_ref.ts";
import { primeRef, whitenRef } from "./_ref.ts";

Deno.test("primeAdvantages(): hand case without batch_norm", async () => {
  // n=2, β=1: row0 ℓ=[1, 2, x] T=3 → r=[1, 2, 0]; row1 ℓ=[4, x] T=2 → r=[4, 0]
  // token means r̄ = [1, 2]; Σ = 3: r' = r·2 − 3 on valid tokens: row0 [−1, 1, −3], row1 [5, −3]
  // outcomes [1, 0] on last token: o' = o·2 − 1 → row0 last +1, row1 last −1
  // total = 5 r' + 5 o': row0 [−5, 5, −10], row1 [25, −20]; returns row0 [−10, −5, −10], row1 [5, −20]
  const lr = t2([[1, 2, 7], [4, 9, 9]]), m = t2([[1, 1, 1], [1, 1, 0]]);
  const r = primeAdvantages(lr, m, { outcomes: t1([1, 0]), groupSize: 2, beta: 1, norm: "none" });
  assertArrayAlmostEquals(await arr(r.returns), [[-10, -5, -10], [5, -20, 0]], 1e-4);
  assertArrayAlmostEquals(
    await arr(r.advantages),
    whitenRef([[-10, -5, -10], [5, -20, 0]], [[1, 1, 1], [1, 1, 0]]),
    1e-4,
  );
});

Deno.test("primeAdvantages() with batch_norm equals the loop reference", async () => {
  for (const [g, n, l, seed] of [[2, 2, 4, 1], [4, 3, 6, 2], [3, 2, 2, 3]] as const) {
    const rng = new Rng(seed);
    const b = g * n;
    const lr = randomMat(rng, b, l, 2), m = randomMask(rng, b, l, 2), y = randomLabels(rng, b);
    const ref = primeRef(lr, m, { outcomes: y, g, beta: 0.05 });
    const r = primeAdvantages(t2(lr), t2(m), { outcomes: t1(y), groupSize: g });
    assertArrayAlmostEquals(await arr(r.returns), ref.ret, 1e-3);
    assertArrayAlmostEquals(await arr(r.advantages), ref.adv, 1e-3);
  }
});

Deno.test("primeAdvantages() checks arguments and leaks nothing", async () => {
  const lr = t2([[1, 2], [3, 4]]), m = t2([[1, 1], [1, 1]]), y = t1([1, 0]);
  assertThrows(
    () => primeAdvantages(lr, m, { outcomes: y, groupSize: 1 }),
    RangeError,
    "RLOO needs at least 2 rollouts",
  );
  assertThrows(
    () => primeAdvantages(lr, m, { outcomes: y, groupSize: 3 }),
    RangeError,
    "groupSize must divide the batch: B=2, G=3",
  );
  assertThrows(
    () => primeAdvantages(lr, m, { outcomes: y, groupSize: 2, norm: "max" as PrimeNorm }),
    RangeError,
    "Invalid norm",
  );
  await assertNoLeak(() => primeAdvantages(lr, m, { outcomes: y, groupSize: 2 }));
});
