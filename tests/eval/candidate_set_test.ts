import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  candidateSetStats,
  candidateStats,
  policyCandidateStats,
  tokenRollout,
} from "../../lib/eval/candidate_set.ts";
import { nextTokenLogprobs } from "../../lib/model/logprobs.ts";
import { Rng } from "../../lib/prng.ts";
import { assertNoLeak, setup, TINY, tinyModel } from "../model/_setup.ts";

await setup();

const logs = (rows: number[][]) => new Float32Array(rows.flat().map(Math.log));

Deno.test("candidateSetStats(): hand case (0.5, 0.3, 0.2) and (0.9, 0.05, 0.05)", () => {
  const [a, b] = candidateSetStats(logs([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]]), 3, [0.25, 0.6]);
  // P_min 0.25: sizes 2 and 1, masses 0.8 and 0.9
  assertAlmostEquals(a!.size, 1.5, 1e-9);
  assertAlmostEquals(a!.mass, 0.85, 1e-6);
  assertEquals(a!.emptyFrac, 0);
  // P_min 0.6: the first set is empty (size 0, mass 0)
  assertAlmostEquals(b!.size, 0.5, 1e-9);
  assertAlmostEquals(b!.mass, 0.45, 1e-6);
  assertEquals(b!.emptyFrac, 0.5);
  assertEquals(b!.positions, 2);
});

Deno.test("candidateSetStats(): statistics restricted to branching positions", () => {
  // Position 0 branches (three tokens >= 0.01); position 1 does not (0.995, 0.004, 0.001).
  const [s] = candidateSetStats(logs([[0.5, 0.3, 0.2], [0.995, 0.004, 0.001]]), 3, [0.25]);
  assertEquals([s!.branchSize, s!.branchFrac], [2, 0.5]);
  assertAlmostEquals(s!.branchMass, 0.8, 1e-6);
  assertAlmostEquals(s!.size, 1.5, 1e-12);
  const [none] = candidateSetStats(logs([[0.995, 0.004, 0.001]]), 3, [0.25]);
  assertEquals([none!.branchSize, none!.branchFrac], [NaN, 0]);
});

Deno.test("candidateSetStats() equals the tensor form candidateStats() on random distributions", async () => {
  const rng = new Rng(4);
  const n = 40, v = 9;
  const z = Array.from({ length: n }, () => Array.from({ length: v }, () => 2 * rng.normal()));
  const probs = z.map((r) => {
    const m = Math.max(...r), e = r.map((x) => Math.exp(x - m)), s = e.reduce((a, x) => a + x);
    return e.map((x) => x / s);
  });
  for (const pMin of [0.05, 0.1, 0.2]) {
    const [ours] = candidateSetStats(logs(probs), v, [pMin]);
    const t = tf.tensor2d(probs);
    const ref = candidateStats(t, { pMin });
    assertAlmostEquals(ours!.size, (await ref.meanSize.data())[0]!, 1e-5);
    assertAlmostEquals(ours!.mass, (await ref.meanMass.data())[0]!, 1e-5);
    tf.dispose([t, ref.meanSize, ref.meanMass]);
  }
});

Deno.test("policyCandidateStats(): response positions only, whatever the padding (per-row loop)", async () => {
  const m = tinyModel(3);
  const rollouts = [
    { prompt: [1, 3], response: [4, 5, 2] },
    { prompt: [1], response: [6] },
    { prompt: [1, 4, 4], response: [3, 2] },
  ];
  const pMins = [0.1, 0.2];
  await assertNoLeak(() => policyCandidateStats(m, rollouts, pMins));
  const got = await policyCandidateStats(m, rollouts, pMins);
  // loop: each row alone, unpadded; the distribution of token t is entry t (align "token")
  const rows: number[][] = [];
  for (const r of rollouts) {
    const ids = [...r.prompt, ...r.response];
    const { data } = await nextTokenLogprobs(m, [ids], { align: "token" });
    for (let t = r.prompt.length; t < ids.length; t++) {
      rows.push(Array.from(data.subarray(t * TINY.vocab, (t + 1) * TINY.vocab)));
    }
  }
  assertEquals(rows.length, 6);
  const want = candidateSetStats(new Float32Array(rows.flat()), TINY.vocab, pMins);
  for (let k = 0; k < pMins.length; k++) {
    assertAlmostEquals(got[k]!.size, want[k]!.size, 1e-6);
    assertAlmostEquals(got[k]!.mass, want[k]!.mass, 1e-5);
    assertEquals(got[k]!.positions, 6);
  }
  m.dispose();
});

Deno.test("candidate-set statistics: errors name the argument", async () => {
  assertThrows(() => candidateSetStats(new Float32Array(5), 3, [0.1]), RangeError, "multiple of v");
  assertThrows(() => candidateSetStats(new Float32Array(0), 3, [0.1]), RangeError, "at least one");
  assertThrows(() => candidateSetStats(new Float32Array(3), 3, [1.5]), RangeError, "pMins");
  assertThrows(
    () => candidateSetStats(new Float32Array([NaN, 0, 0]), 3, [0.1]),
    RangeError,
    "NaN at position 0",
  );
  const m = tinyModel(1);
  await assertRejects(() => policyCandidateStats(m, [], [0.1]), RangeError, "non-empty");
  await assertRejects(
    () => policyCandidateStats(m, [{ prompt: [1, 3, 3, 3], response: [3, 3, 3] }], [0.1]),
    RangeError,
    "exceed the context 6",
  );
  m.dispose();
  assertEquals(tokenRollout({ prompt: "1+2=", tokens: [5, 2] }).response, [5, 2]);
});

Deno.test("candidateStats() reproduces a hand case (d4)", async () => {
  // rows [0.6, 0.3, 0.1] → size 3 mass 1; [0.05, 0.05, 0.9] → size 1 mass 0.9: means 2, 0.95
  const r = candidateStats(tf.tensor2d([[0.6, 0.3, 0.1], [0.05, 0.05, 0.9]]));
  assertAlmostEquals((await r.meanSize.data())[0]!, 2, 1e-6);
  assertAlmostEquals((await r.meanMass.data())[0]!, 0.95, 1e-6);
  const r2 = candidateStats(tf.tensor2d([[0.6, 0.3, 0.1]]), { pMin: 0.5 });
  assertAlmostEquals((await r2.meanSize.data())[0]!, 1, 1e-6);
});

Deno.test("candidateStats() checks its arguments and leaks no tensors", async () => {
  assertThrows(
    () => candidateStats(tf.zeros([0, 3]) as tf.Tensor2D),
    RangeError,
    "Invalid probs: expected at least one row",
  );
  const probs = tf.tensor2d([[0.5, 0.5]]);
  await assertNoLeak(() => candidateStats(probs));
});
