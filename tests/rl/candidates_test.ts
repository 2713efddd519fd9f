import * as tf from "@tensorflow/tfjs";
import {
  assertAlmostEquals,
  assertArrayAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import { type CandidateMode, candidateSet, gatherCandidates } from "../../lib/rl/candidates.ts";
import { arr, assertNoLeak, randomLogSoftmax, randomMask, Rng, t2, t3, val } from "../rm/_ref.ts";
import { candidateSetRef } from "./_ref.ts";

const ln = Math.log;
const sampledT = (x: number[][]) => tf.tensor2d(x, undefined, "int32");

async function sets(c: { ids: tf.Tensor3D; mask: tf.Tensor3D }): Promise<number[][][]> {
  const ids: number[][][] = await c.ids.array(), keep: number[][][] = await c.mask.array();
  return ids.map((r, b) =>
    r.map((s, t) => s.filter((_, j) => keep[b]![t]![j] === 1).sort((a, c) => a - c))
  );
}

Deno.test("candidateSet(): both modes on a hand case, padding and the dropped last position", async () => {
  // position 0: p = [0.55, 0.25, 0.1, 0.06, 0.04], sampled 4 (outside top-2)
  //   threshold {p ≥ 0.1} = {0, 1, 2};  sampled_plus_topk K=2: [4, 0] (1 dropped), 0 has p > 0.1 → {0, 4}
  // position 1: p = [0.1, 0.9, 0, 0, 0] (≈), sampled 0 (in top-2, swapped to slot 0)
  //   threshold {0, 1} (0.1 ≥ 0.1);  repo: slot0 = 0, slot1 = 1 (0.9 > 0.1) → {0, 1}
  // position 2: last valid → [];  position 3: padding → []
  const p0 = [0.55, 0.25, 0.1, 0.06, 0.04], p1 = [0.1, 0.9 - 3e-6, 1e-6, 1e-6, 1e-6];
  const logp = t3([[p0.map(ln), p1.map(ln), p0.map(ln), p0.map(ln)]]);
  const s = sampledT([[4, 0, 0, 0]]), m = t2([[1, 1, 1, 0]]);
  const th = candidateSet(logp, { sampled: s, mask: m, mode: "threshold" });
  assertEquals(await sets(th), [[[0, 1, 2], [0, 1], [], []]]);
  // mean size (3 + 2)/2; mass (0.9 + 1.0)/2
  assertAlmostEquals(await val(th.meanSize), 2.5, 1e-6);
  assertAlmostEquals(await val(th.meanMass), 0.95 - 1.5e-6, 1e-5);
  const rp = candidateSet(logp, { sampled: s, mask: m, mode: "sampled_plus_topk", topK: 2 });
  assertEquals(await sets(rp), [[[0, 4], [0, 1], [], []]]);
  // slot layout: the sampled token is slot 0 and its π_old log-prob is gathered
  const ids = await arr(rp.ids), lp = await arr(rp.logp);
  assertEquals([ids[0][0][0], ids[0][1][0]], [4, 0]);
  assertArrayAlmostEquals([lp[0][0][0], lp[0][0][1]], [ln(0.04), ln(0.55)], 1e-5);
  // strict > for repo slots j > 0: p(0) = 0.1 exactly is dropped when it is not the sampled token
  const strict = candidateSet(logp, {
    sampled: sampledT([[0, 1, 0, 0]]),
    mask: m,
    mode: "sampled_plus_topk",
    topK: 2,
  });
  assertEquals((await sets(strict))[0]![1], [1]);
  // drop_last false keeps the last position
  const keepLast = candidateSet(logp, { sampled: s, mask: m, dropLast: false });
  assertEquals((await sets(keepLast))[0]![2], [0, 1, 2]);
});

Deno.test("candidateSet(): threshold is uncapped and may be empty", async () => {
  // 9 tokens at p = 0.11 (+ rest): all 9 ≥ 0.1 (more than the repo's K=5); flat 20-way: empty set
  const many = [...new Array(9).fill(0.11), 0.01], flat = new Array(20).fill(0.05);
  const a = candidateSet(t3([[many.map(ln)]]), {
    sampled: sampledT([[0]]),
    mask: t2([[1]]),
    dropLast: false,
  });
  assertEquals(await sets(a), [[[0, 1, 2, 3, 4, 5, 6, 7, 8]]]);
  const e = candidateSet(t3([[flat.map(ln)]]), {
    sampled: sampledT([[0]]),
    mask: t2([[1]]),
    dropLast: false,
  });
  assertEquals(await sets(e), [[[]]]);
  assertAlmostEquals(await val(e.meanMass), 0);
});

Deno.test("candidateSet() equals the loop reference on random (B, L, V, K, seed)", async () => {
  for (
    const [b, l, v, k, seed] of [[2, 4, 6, 5, 1], [3, 6, 12, 3, 2], [4, 3, 4, 5, 3], [
      1,
      5,
      30,
      1,
      4,
    ]] as const
  ) {
    const rng = new Rng(seed);
    const logp = randomLogSoftmax(rng, b, l, v);
    const sampled = Array.from({ length: b }, () => Array.from({ length: l }, () => rng.int(v)));
    const m = randomMask(rng, b, l, 0);
    for (const mode of ["threshold", "sampled_plus_topk"] as CandidateMode[]) {
      for (const dropLast of [true, false]) {
        const o = { mode, pMin: 0.1, topK: k, dropLast };
        const ref = candidateSetRef(logp, sampled, m, o);
        const c = candidateSet(t3(logp), { sampled: sampledT(sampled), mask: t2(m), ...o });
        const tag = `B=${b} L=${l} V=${v} K=${k} ${mode} ${dropLast}`;
        assertEquals(await sets(c), ref.sets, tag);
        assertAlmostEquals(await val(c.meanSize), ref.size, 1e-5, tag);
        assertAlmostEquals(await val(c.meanMass), ref.mass, 1e-5, tag);
      }
    }
  }
});

Deno.test("gatherCandidates() reads logp at ids with a gradient w.r.t. logp", async () => {
  const logp = t3([[[-1, -2, -3], [-0.5, -1.5, -2.5]]]);
  const ids = tf.tensor3d([[[2, 0], [1, 1]]], undefined, "int32");
  assertArrayAlmostEquals(await arr(gatherCandidates(logp, ids)), [[[-3, -1], [-1.5, -1.5]]]);
  const g = tf.grad((x: tf.Tensor) => gatherCandidates(x as tf.Tensor3D, ids).sum())(logp);
  assertArrayAlmostEquals(await arr(g), [[[1, 0, 1], [0, 2, 0]]]);
});

Deno.test("candidate functions check arguments", () => {
  const logp = t3([[[-1, -2]]]), s = sampledT([[0]]), m = t2([[1]]);
  assertThrows(
    () => candidateSet(logp, { sampled: s, mask: m, mode: "topk" as CandidateMode }),
    RangeError,
    'Invalid mode: expected one of "threshold", "sampled_plus_topk", got "topk"',
  );
  assertThrows(
    () => candidateSet(logp, { sampled: sampledT([[0, 1]]), mask: m }),
    RangeError,
    "Invalid sampled",
  );
  assertThrows(
    () => candidateSet(logp, { sampled: s, mask: m, topK: 0 }),
    RangeError,
    "Invalid topK",
  );
  assertThrows(
    () => candidateSet(logp, { sampled: s, mask: m, pMin: NaN }),
    RangeError,
    "Invalid pMin",
  );
});

Deno.test("candidate functions leak no tensors", async () => {
  const logp = t3([[[-1, -2, -0.5], [-0.1, -3, -4]]]), s = sampledT([[1, 2]]), m = t2([[1, 1]]);
  const ids = tf.tensor3d([[[2], [1]]], undefined, "int32");
  for (const mode of ["threshold", "sampled_plus_topk"] as const) {
    await assertNoLeak(() => candidateSet(logp, { sampled: s, mask: m, mode, topK: 2 }));
  }
  await assertNoLeak(() => gatherCandidates(logp, ids));
});
