import * as tf from "@tensorflow/tfjs";
import { assertAlmostEquals, assertArrayAlmostEquals, assertEquals } from "@std/assert";
import {
  candidateLogprobs,
  nextTokenLogprobs,
  nextTokenTopK,
  tokenLogprobs,
} from "../../lib/model/logprobs.ts";
import { Rng } from "../../lib/prng.ts";
import { randomTokens, setup, TINY, tinyModel } from "./_setup.ts";

await setup();

Deno.test("tokenLogprobs() is token-aligned and agrees with nextTokenLogprobs()/topK, chunked or not", async () => {
  const m = tinyModel(4);
  const rows = randomTokens(new Rng(3), 5, 6, TINY.vocab);
  const V = TINY.vocab;
  const full = await nextTokenLogprobs(m, rows, { temperature: 0.7 });
  const chunked = await nextTokenLogprobs(m, rows, { temperature: 0.7, batchChunk: 2 });
  assertArrayAlmostEquals(Array.from(chunked.data), Array.from(full.data), 1e-6);
  const tt = tf.tensor2d(rows, [5, 6], "int32");
  const cand = tf.tensor3d(
    rows.map((r) => r.map((x) => [(x + 1) % V, (x + 2) % V])),
    [5, 6, 2],
    "int32",
  );
  const tl = tokenLogprobs(m, tt, { temperature: 0.7 });
  const cl = candidateLogprobs(m, tt, { temperature: 0.7, candidates: cand });
  const tla = await tl.array(), cla = await cl.candidateLogp.array(), cll = await cl.logp.array();
  for (let b = 0; b < 5; b++) {
    assertEquals(tla[b]![0], 0);
    for (let t = 1; t < 6; t++) {
      const base = (b * 6 + t - 1) * V;
      assertAlmostEquals(tla[b]![t]!, full.data[base + rows[b]![t]!]!, 1e-5);
      assertAlmostEquals(cll[b]![t]!, tla[b]![t]!, 1e-6);
      assertAlmostEquals(cla[b]![t]![1]!, full.data[base + (rows[b]![t]! + 2) % V]!, 1e-5);
    }
  }
  const top = await nextTokenTopK(m, rows, { k: 3, temperature: 0.7 });
  const row0 = Array.from(full.data.subarray(0, V));
  const best = row0.indexOf(Math.max(...row0));
  assertEquals(top.ids[0], best);
  assertAlmostEquals(top.logp[0]!, row0[best]!, 1e-6);
  const tokAligned = await nextTokenLogprobs(m, rows, { temperature: 0.7, align: "token" });
  assertEquals(
    Array.from(tokAligned.data.subarray(V, 2 * V)),
    Array.from(full.data.subarray(0, V)),
  );
  tf.dispose([tt, cand, tl, cl.logp, cl.candidateLogp]);
  m.dispose();
});
