import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { createLM } from "../../lib/model/lm.ts";
import { Rng } from "../../lib/prng.ts";
import { distinctSequences, lengthOrder, RefLogps, sequenceKey } from "../../lib/rm/ref_logps.ts";
import {
  frozenCopy,
  responseLogprobs,
  type RewardModelPair,
  scoreSequences,
} from "../../lib/rm/score.ts";
import { epochBatches, rmTrainStep } from "../../lib/rm/train.ts";
import { createOptimizer } from "../../lib/model/train.ts";
import { resolveRMConfig } from "../../lib/rm/config.ts";
import { initBackend } from "../../lib/backend.ts";

await initBackend("wasm");
const LM = { vocab: 7, width: 8, layers: 1, heads: 2, context: 12 };

function items(n: number, seed: number) {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => ({
    prompt: [1, 1 + rng.int(6)],
    response: Array.from({ length: 1 + rng.int(7) }, () => rng.int(7)),
    correct: rng.int(2) as 0 | 1,
    group: "g",
  }));
}

async function pairOf(seed: number): Promise<RewardModelPair> {
  const ref = createLM(LM, { rng: new Rng(seed) });
  const rm = await frozenCopy(ref);
  // move the RM away from the reference so the log-ratios are not all 0
  for (const v of rm.variables) {
    v.assign(tf.tidy(() => v.add(tf.randomNormal(v.shape, 0, 0.1, "float32", 7))));
  }
  return { rm, ref };
}

Deno.test("distinctSequences: first occurrences in order, index back into them", () => {
  const a = { prompt: [1], response: [2, 3] }, b = { prompt: [1, 2], response: [3] };
  // same ids split differently between prompt and response are different sequences
  assert(sequenceKey(a) !== sequenceKey(b));
  const { unique, index } = distinctSequences([b, a, { prompt: [1, 2], response: [3] }, a]);
  assertEquals(unique, [0, 1]);
  assertEquals(index, [0, 1, 0, 1]);
  assertEquals(distinctSequences([]), { unique: [], index: [] });
});

Deno.test("lengthOrder: stable by total length", () => {
  const s = [[1, 2, 3], [1], [4, 5], [6]].map((r) => ({ prompt: [0], response: r }));
  assertEquals(lengthOrder(s), [1, 3, 2, 0]);
});

Deno.test("RefLogps: equals the reference forward, each distinct sequence computed once", async () => {
  const pair = await pairOf(3);
  const xs = items(40, 5);
  const dup = [...xs, ...xs.slice(0, 10).map((r) => ({ ...r }))];
  const cache = new RefLogps(pair.ref, { batchSize: 8 });
  const got = await cache.get(dup);
  const want = await responseLogprobs(pair.ref, dup, { batchSize: 64 });
  const distinct = distinctSequences(dup).unique.length;
  assertEquals(cache.computed, distinct);
  got.forEach((g, i) => {
    assertEquals(g.length, want[i]!.length);
    g.forEach((x, t) => assertAlmostEquals(x, want[i]![t]!, 1e-5));
  });
  await cache.get(xs.slice(0, 5)); // all seen: nothing computed
  assertEquals(cache.computed, distinct);
  pair.rm.dispose();
  pair.ref.dispose();
});

Deno.test("scoreSequences: with the cache and duplicates = without (1e-5), in item order", async () => {
  const pair = await pairOf(4);
  const xs = items(30, 6);
  const dup = [xs[3]!, ...xs, { ...xs[7]! }];
  const plain = await scoreSequences(pair, dup, { beta: 10, batchSize: 64 });
  // the old path, one item at a time: no padding, no dedupe
  const single = await Promise.all(dup.map((x) => scoreSequences(pair, [x], { beta: 10 })));
  const cached = await scoreSequences(
    { ...pair, refLogps: new RefLogps(pair.ref) },
    dup,
    { beta: 10, batchSize: 4 },
  );
  for (const [i, want] of single.entries()) {
    for (const got of [plain[i]!, cached[i]!]) {
      for (const k of ["logratio", "logpRef", "values", "meanValues"] as const) {
        assertEquals(got[k].length, want[0]![k].length);
        got[k].forEach((x, t) => assertAlmostEquals(x, want[0]![k][t]!, 1e-5, `${k}[${i}][${t}]`));
      }
      assertAlmostEquals(got.sum, want[0]!.sum, 1e-5);
    }
  }
  pair.rm.dispose();
  pair.ref.dispose();
});

Deno.test("rmTrainStep: the cached reference gives the same loss and update (1e-5), no leak", async () => {
  const config = resolveRMConfig("smoke", { kind: "ipvrm", seed: 1 });
  const xs = items(8, 9);
  const batch = epochBatches({ pointwise: xs, pairs: [], evalGroups: [] }, {
    config,
    epoch: 1,
  })[0]!;
  const runs: { loss: number; w: Float32Array }[] = [];
  for (const cached of [false, true]) {
    const pair = await pairOf(11);
    if (cached) pair.refLogps = new RefLogps(pair.ref);
    if (cached) await pair.refLogps!.get(xs); // warm: the step itself forwards nothing
    const optimizer = createOptimizer({ kind: "adam", lr: 1e-2 });
    const r = await rmTrainStep(pair, batch, { config, optimizer });
    const w = (await pair.rm.variables[0]!.data()) as Float32Array;
    const after1 = tf.memory().numTensors; // the optimiser's state exists from the first step on
    await rmTrainStep(pair, batch, { config, optimizer });
    assertEquals(tf.memory().numTensors, after1, "a step leaks no tensors");
    runs.push({ loss: r.loss, w });
    optimizer.dispose();
    pair.rm.dispose();
    pair.ref.dispose();
  }
  assertAlmostEquals(runs[0]!.loss, runs[1]!.loss, 1e-5);
  runs[0]!.w.forEach((x, i) => assertAlmostEquals(x, runs[1]!.w[i]!, 1e-5));
});
