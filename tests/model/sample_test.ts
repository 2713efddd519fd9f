import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertArrayAlmostEquals, assertEquals } from "@std/assert";
import { nextTokenLogprobs } from "../../lib/model/logprobs.ts";
import {
  _cacheTesting,
  compactCache,
  decodeStep,
  disposeCache,
  prefill,
  sample,
  truncateDistribution,
} from "../../lib/model/sample.ts";
import { CounterRng, Rng } from "../../lib/prng.ts";
import { assertNoLeak, randomTokens, setup, TINY, tinyModel } from "./_setup.ts";

await setup();

/** Row `i` keyed as problem `i`, sample 0. */
const rowKeys = (b: number) => Array.from({ length: b }, (_, i) => ({ problem: i, sample: 0 }));

for (const block of [undefined, 1, 2, 3]) {
  Deno.test(`KV-cache decode logits equal the full forward's at every position (block ${block ?? "default"})`, async () => {
    const m = tinyModel(2);
    const rows = randomTokens(new Rng(5), 3, 6, TINY.vocab);
    const full = await nextTokenLogprobs(m, rows);
    const V = TINY.vocab;
    const prompt = tf.tensor2d(rows.map((r) => r.slice(0, 2)), [3, 2], "int32");
    const { logits, cache } = prefill(m, prompt, block ? { block } : {});
    const check = async (lg: tf.Tensor2D, t: number) => {
      const ls = tf.logSoftmax(lg);
      const got = Array.from(await ls.data());
      ls.dispose();
      for (let b = 0; b < 3; b++) {
        assertArrayAlmostEquals(
          got.slice(b * V, (b + 1) * V),
          Array.from(full.data.subarray((b * 6 + t) * V, (b * 6 + t + 1) * V)),
          1e-5,
          `b=${b} t=${t}`,
        );
      }
    };
    await check(logits, 1);
    logits.dispose();
    for (let t = 2; t < 6; t++) {
      const ids = tf.tensor1d(rows.map((r) => r[t]!), "int32");
      const lg = decodeStep(m, cache, ids);
      await check(lg, t);
      tf.dispose([ids, lg]);
    }
    disposeCache(cache);
    prompt.dispose();
    m.dispose();
  });
}

/**
 * Prefills the first 3 tokens of 4 random rows, decodes tokens 3..5 (compacting the
 * cache to `keep` just before token `compactAt`) and checks every kept row's
 * log-softmax against the full forward's.
 */
async function checkCompactedDecode(
  seed: number,
  options: { compactAt: number; keep: number[] },
): Promise<void> {
  const m = tinyModel(2);
  const rows = randomTokens(new Rng(seed), 4, 6, TINY.vocab);
  const full = await nextTokenLogprobs(m, rows);
  const V = TINY.vocab;
  const prompt = tf.tensor2d(rows.map((r) => r.slice(0, 3)), [4, 3], "int32");
  const { logits, cache } = prefill(m, prompt, { block: 2 });
  logits.dispose();
  let keep = [0, 1, 2, 3];
  for (let t = 3; t < 6; t++) {
    if (t === options.compactAt) {
      keep = options.keep;
      compactCache(cache, keep, TINY.heads);
    }
    const ids = tf.tensor1d(keep.map((r) => rows[r]![t]!), "int32");
    const lg = decodeStep(m, cache, ids);
    const ls = tf.logSoftmax(lg);
    const got = Array.from(await ls.data());
    tf.dispose([ids, lg, ls]);
    keep.forEach((r, i) => {
      assertArrayAlmostEquals(
        got.slice(i * V, (i + 1) * V),
        Array.from(full.data.subarray((r * 6 + t) * V, (r * 6 + t + 1) * V)),
        1e-5,
        `row=${r} t=${t}`,
      );
    });
  }
  disposeCache(cache);
  prompt.dispose();
  m.dispose();
}

Deno.test("compactCache(): the kept rows decode exactly as before", async () => {
  await checkCompactedDecode(6, { compactAt: 4, keep: [3, 1] });
});

Deno.test("truncateDistribution(): top-k then top-p keep the smallest most-likely set, renormalised", () => {
  const p = [0.1, 0.4, 0.05, 0.3, 0.15];
  // top-p 0.7: sorted 0.4 (id1), 0.3 (id3) -> cumulative 0.7 >= 0.7: keep {1, 3}, renormalise by 0.7.
  assertArrayAlmostEquals(Array.from(truncateDistribution(p, { topP: 0.7 })), [
    0,
    4 / 7,
    0,
    3 / 7,
    0,
  ], 1e-12);
  // top-p 0.71 needs the third (0.15, id4): {1, 3, 4} / 0.85.
  assertArrayAlmostEquals(Array.from(truncateDistribution(p, { topP: 0.71 })), [
    0,
    0.4 / 0.85,
    0,
    0.3 / 0.85,
    0.15 / 0.85,
  ], 1e-12);
  // top-k 2 then top-p 0.5 on the renormalised {0.4/0.7, 0.3/0.7}: 0.571 >= 0.5 keeps id1 only.
  assertArrayAlmostEquals(Array.from(truncateDistribution(p, { topK: 2, topP: 0.5 })), [
    0,
    1,
    0,
    0,
    0,
  ], 1e-12);
  // Ties under top-k keep the lower id.
  assertArrayAlmostEquals(Array.from(truncateDistribution([0.25, 0.25, 0.25, 0.25], { topK: 1 })), [
    1,
    0,
    0,
    0,
  ], 1e-12);
});

Deno.test("temperature 0 is greedy: each token is the argmax of the full forward's distribution", async () => {
  const m = tinyModel(3);
  const prompts = randomTokens(new Rng(9), 4, 2, TINY.vocab);
  const r = await sample(m, prompts, {
    rng: new CounterRng(1, "t"),
    keys: rowKeys(4),
    maxNewTokens: 4,
    temperature: 0,
  });
  const seqs = prompts.map((p, b) => [...p, ...Array.from(r.tokens.subarray(b * 4, b * 4 + 4))]);
  const full = await nextTokenLogprobs(m, seqs);
  const V = TINY.vocab;
  for (let b = 0; b < 4; b++) {
    for (let s = 0; s < 4; s++) {
      const row = Array.from(full.data.subarray((b * 6 + 1 + s) * V, (b * 6 + 2 + s) * V));
      assertEquals(r.tokens[b * 4 + s], row.indexOf(Math.max(...row)));
      assertAlmostEquals(r.modelLogprobs[b * 4 + s]!, Math.max(...row), 1e-5);
      assertEquals(r.logprobs[b * 4 + s], 0);
    }
  }
  m.dispose();
});

Deno.test("sampling is seeded, stops rows at EOS with padding, reports both log-probs", async () => {
  const m = tinyModel(4);
  const prompts = randomTokens(new Rng(2), 16, 2, TINY.vocab);
  const opts = { maxNewTokens: 4, temperature: 1.5, topP: 0.9, eosId: 3, padId: 6 };
  const keys = rowKeys(16);
  const a = await sample(m, prompts, { ...opts, keys, rng: new CounterRng(7, "t") });
  const b = await sample(m, prompts, { ...opts, keys, rng: new CounterRng(7, "t") });
  assertEquals(a.tokens, b.tokens);
  let stopped = 0;
  for (let r = 0; r < 16; r++) {
    const len = a.lengths[r]!;
    const row = Array.from(a.tokens.subarray(r * 4, r * 4 + 4));
    if (len < 4) {
      stopped++;
      assertEquals(row[len - 1], 3);
      assertEquals(row.slice(len), Array(4 - len).fill(6));
    }
    for (let s = 0; s < len; s++) {
      if (row[s] === 3 && s < len - 1) throw new Error("EOS before the end");
      // The sampling distribution is tempered (T=1.5, flatter) and truncated.
      assertEquals(Number.isFinite(a.logprobs[r * 4 + s]!), true);
    }
  }
  assertEquals(stopped > 0, true, "some row should hit EOS with this seed");
  m.dispose();
});

Deno.test("sample() checks its options", async () => {
  const m = tinyModel();
  const bad = async (o: Record<string, unknown>, msg: string) => {
    let err = "";
    await sample(m, [[1, 2]], {
      rng: new CounterRng(1, "t"),
      keys: rowKeys(1),
      maxNewTokens: 2,
      ...o,
    }).catch((
      e,
    ) => (err = String(e)));
    if (!err.includes(msg)) throw new Error(`expected "${msg}", got "${err}"`);
  };
  await bad({ maxNewTokens: 6 }, "maxNewTokens");
  await bad({ topP: 0 }, "topP");
  await bad({ eosId: 7 }, "eosId");
  await bad({ temperature: -1 }, "temperature");
  await bad({ keys: rowKeys(2) }, "keys");
  await bad({ rng: new Rng(1) }, "rng");
  m.dispose();
});

Deno.test("sampling leaks no tensors", async () => {
  const m = tinyModel();
  const prompts = randomTokens(new Rng(2), 3, 2, TINY.vocab);
  await assertNoLeak(() =>
    sample(m, prompts, { rng: new CounterRng(1, "t"), keys: rowKeys(3), maxNewTokens: 4 })
  );
  m.dispose();
});

Deno.test("sampling with rows stopping (batch compaction): every model log-prob matches the full forward", async () => {
  const m = tinyModel(5);
  const prompts = randomTokens(new Rng(3), 24, 1, TINY.vocab);
  const n = 6;
  const r = await sample(m, prompts, {
    rng: new CounterRng(11, "t"),
    keys: rowKeys(24),
    maxNewTokens: n,
    eosId: 2,
    padId: 0,
  });
  const lens = Array.from(r.lengths);
  assertEquals(lens.some((l) => l < 3), true, "some rows should stop early with this seed");
  assertEquals(lens.some((l) => l === n), true, "some rows should run to the end");
  const seqs = prompts.map((p, b) => {
    const row = [...p, ...Array.from(r.tokens.subarray(b * n, b * n + n))];
    return row.slice(0, 6);
  });
  const full = await nextTokenLogprobs(m, seqs);
  const V = TINY.vocab;
  for (let b = 0; b < 24; b++) {
    for (let s = 0; s < lens[b]!; s++) {
      const id = r.tokens[b * n + s]!;
      assertAlmostEquals(r.modelLogprobs[b * n + s]!, full.data[(b * 6 + s) * V + id]!, 1e-5);
    }
    for (let s = lens[b]!; s < n; s++) assertEquals(r.tokens[b * n + s], 0);
  }
  m.dispose();
});

Deno.test("the generic cache path (non-wasm backends) decodes as the full forward", async () => {
  _cacheTesting.forceGeneric = true;
  try {
    await checkCompactedDecode(8, { compactAt: 5, keep: [2, 0] });
  } finally {
    _cacheTesting.forceGeneric = false;
  }
});

Deno.test("a row's tokens depend on its key only, not on the batch it sits in", async () => {
  const m = tinyModel(6);
  const prompts = randomTokens(new Rng(4), 12, 2, TINY.vocab);
  const keys = prompts.map((_, i) => ({ problem: 1000 + (i % 5), sample: Math.floor(i / 5) }));
  const opts = { maxNewTokens: 5, temperature: 1.2, topP: 0.95, eosId: 3, padId: 0 };
  const rng = new CounterRng(3, "batch");
  const all = await sample(m, prompts, { ...opts, rng, keys });
  const rowOf = (r: { tokens: Int32Array }, i: number) =>
    Array.from(r.tokens.subarray(i * 5, i * 5 + 5));
  assertEquals(all.lengths.some((l) => l < 5), true, "some rows should stop early");
  // alone, reversed, and in a sub-batch with a shorter budget for nobody else
  for (const order of [[7], [11, 3, 7, 0], [...prompts.keys()].reverse()]) {
    const r = await sample(m, order.map((i) => prompts[i]!), {
      ...opts,
      rng,
      keys: order.map((i) => keys[i]!),
    });
    order.forEach((i, j) => assertEquals(rowOf(r, j), rowOf(all, i), `row ${i} in [${order}]`));
  }
  // another sample index of the same problem draws other tokens somewhere
  const other = await sample(m, prompts, {
    ...opts,
    rng,
    keys: keys.map((k) => ({ ...k, sample: k.sample + 7 })),
  });
  assertEquals(Array.from(other.tokens).join() === Array.from(all.tokens).join(), false);
  m.dispose();
});
