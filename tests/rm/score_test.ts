import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "@std/assert";
import { tokenLogprobs } from "../../lib/model/logprobs.ts";
import { Rng } from "../../lib/prng.ts";
import {
  frozenCopy,
  loadRewardModelPair,
  responseLogprobs,
  scoreSequences,
  sequenceScoreOf,
} from "../../lib/rm/score.ts";
import {
  assertNoLeak,
  randomSequences,
  sameBits,
  setup,
  TINY,
  tinyPair,
  weightsOf,
} from "./_rm_fixtures.ts";
import { createLM } from "../../lib/model/lm.ts";

await setup();

/** Loop reference: one unpadded row per sequence, float64 prefix sums. */
async function loopScores(
  pair: { rm: Parameters<typeof tokenLogprobs>[0]; ref: Parameters<typeof tokenLogprobs>[0] },
  s: { prompt: number[]; response: number[] },
  beta: number,
) {
  const row = tf.tensor2d([[...s.prompt, ...s.response]], undefined, "int32");
  const a = tokenLogprobs(pair.rm, row), b = tokenLogprobs(pair.ref, row);
  const [da, db] = [await a.data(), await b.data()];
  tf.dispose([row, a, b]);
  const p = s.prompt.length;
  const lr: number[] = [], ref: number[] = [], v: number[] = [], vbar: number[] = [];
  let acc = 0;
  for (let t = 0; t < s.response.length; t++) {
    const x = da[p + t]! - db[p + t]!;
    lr.push(x);
    ref.push(db[p + t]!);
    acc += x;
    v.push(beta * acc);
    vbar.push((beta * acc) / (t + 1));
  }
  return { lr, ref, v, vbar, sum: acc };
}

Deno.test("scoreSequences() equals a loop over single unpadded sequences (several B, chunk sizes, seeds)", async () => {
  for (const [seed, n, batchSize] of [[1, 5, 2], [2, 9, 4], [3, 7, 64]] as const) {
    const { sft, pair } = await tinyPair(seed);
    // make rm differ from ref
    const other = createLM(TINY, { rng: new Rng(seed + 100) });
    pair.rm.dispose();
    pair.rm = await frozenCopy(other);
    other.dispose();
    const items = randomSequences(new Rng(seed), n);
    const beta = 10;
    const got = await scoreSequences(pair, items, { beta, batchSize });
    assertEquals(got.length, n);
    for (let i = 0; i < n; i++) {
      const want = await loopScores(pair, items[i]!, beta);
      const g = got[i]!;
      assertEquals(g.logratio.length, items[i]!.response.length);
      want.lr.forEach((x, t) => assertAlmostEquals(g.logratio[t]!, x, 1e-5));
      want.ref.forEach((x, t) => assertAlmostEquals(g.logpRef[t]!, x, 1e-5));
      want.v.forEach((x, t) => assertAlmostEquals(g.values[t]!, x, 1e-4));
      want.vbar.forEach((x, t) => assertAlmostEquals(g.meanValues[t]!, x, 1e-4));
      assertAlmostEquals(g.sum, want.sum, 1e-4);
      assertAlmostEquals(sequenceScoreOf(g, "final_mean_value"), want.vbar.at(-1)!, 1e-4);
      assertAlmostEquals(sequenceScoreOf(g, "sum"), want.sum, 1e-4);
    }
    const lps = await responseLogprobs(pair.ref, items, { batchSize });
    lps.forEach((lp, i) => lp.forEach((x, t) => assertAlmostEquals(x, got[i]!.logpRef[t]!, 1e-6)));
    sft.dispose();
    pair.rm.dispose();
    pair.ref.dispose();
  }
});

Deno.test("scoreSequences() gives ℓ = 0 and V = 0 when the RM equals its reference", async () => {
  const { sft, pair } = await tinyPair(4);
  const got = await scoreSequences(pair, randomSequences(new Rng(4), 4), { beta: 10 });
  for (const g of got) {
    for (const x of g.logratio) assertEquals(x, 0);
    for (const x of g.values) assertEquals(x, 0);
  }
  sft.dispose();
  pair.rm.dispose();
  pair.ref.dispose();
});

Deno.test("frozenCopy() owns its variables: changing the source leaves the copy bit-identical", async () => {
  const m = createLM(TINY, { rng: new Rng(5) });
  const c = await frozenCopy(m);
  const before = await weightsOf(c);
  for (const v of m.variables) tf.tidy(() => v.assign(v.add(1)));
  const after = await weightsOf(c);
  for (const k of Object.keys(before)) assert(sameBits(before[k]!, after[k]!), k);
  assert(m.variables.every((v, i) => v !== c.variables[i]));
  m.dispose();
  c.dispose();
});

Deno.test("loadRewardModelPair() loads two independent models and rejects a loader returning one instance", async () => {
  const m = createLM(TINY, { rng: new Rng(6) });
  const pair = await loadRewardModelPair(() => frozenCopy(m));
  assert(pair.rm !== pair.ref && pair.rm.variables[0] !== pair.ref.variables[0]);
  pair.rm.dispose();
  pair.ref.dispose();
  await assertRejects(
    () => loadRewardModelPair(() => Promise.resolve(m)),
    RangeError,
    "same model twice",
  );
  m.dispose();
});

Deno.test("scoreSequences() leaks no tensors and names bad arguments", async () => {
  const { sft, pair } = await tinyPair(7);
  const items = randomSequences(new Rng(7), 6);
  await assertNoLeak(() => scoreSequences(pair, items, { beta: 1, batchSize: 4 }));
  await assertNoLeak(() => responseLogprobs(pair.ref, items, { batchSize: 4 }));
  await assertRejects(
    () => scoreSequences(pair, [{ prompt: [1], response: new Array(20).fill(1) }], { beta: 1 }),
    RangeError,
    "items[0]: prompt 1 + response 20 = 21 tokens exceeds the model context 12",
  );
  await assertRejects(
    () => scoreSequences(pair, [{ prompt: [], response: [1] }], { beta: 1 }),
    RangeError,
    "Invalid items[0].prompt",
  );
  await assertRejects(
    () => scoreSequences({ rm: pair.rm, ref: pair.rm }, items, { beta: 1 }),
    RangeError,
    "separate models",
  );
  await assertRejects(() => scoreSequences(pair, items, { beta: NaN }), RangeError, "Invalid beta");
  sft.dispose();
  pair.rm.dispose();
  pair.ref.dispose();
});
