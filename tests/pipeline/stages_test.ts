import { assert, assertEquals } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import { ArtifactCache } from "../../lib/run/cache.ts";
import { resolveRMConfig } from "../../lib/rm/config.ts";
import type { RMKind } from "../../lib/rm/kinds.ts";
import { frozenCopy } from "../../lib/rm/score.ts";
import {
  getOrTrainRewardModel,
  nextTokenCandidates,
  rmStageSpec,
} from "../../lib/pipeline/stages.ts";
import { nextTokenLogprobs } from "../../lib/model/logprobs.ts";
import { createLM } from "../../lib/model/lm.ts";
import { sameBits, setup, TINY, tinyRollouts, weightsOf } from "../rm/_rm_fixtures.ts";

await setup();

const quiet = () => {};

const smoke = (kind: RMKind) =>
  resolveRMConfig("smoke", {
    kind,
    train: { epochs: 2, batchSize: 4, lr: 1e-2, evalFraction: 0.25 },
  });

Deno.test("rmStageSpec() is the `rm` key as it always was: stage, version 2, training config, sft and data keys", async () => {
  const c = smoke("ipvrm");
  const spec = rmStageSpec(c, { sftKey: "s", dataKey: "d" });
  assertEquals(spec.stage, "rm");
  assertEquals(spec.version, 2); // 2: reference log-probs from the shared cache
  assertEquals(spec.inputs, { sft: "s", data: "d" });
  assertEquals(Object.keys(spec), ["stage", "version", "config", "inputs"]);
  const root = await Deno.makeTempDir();
  const cache = new ArtifactCache({ root, log: quiet });
  // Changing this hash invalidates every cached RM: bump RM_STAGE_VERSION instead of editing the spec.
  assertEquals(
    await cache.key(spec),
    await cache.key({
      stage: "rm",
      version: 2,
      config: spec.config,
      inputs: { sft: "s", data: "d" },
    }),
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("getOrTrainRewardModel() stores the RM in the artifact cache and loads it back on a hit", async () => {
  const root = await Deno.makeTempDir();
  const cache = new ArtifactCache({ root, log: quiet });
  const sft = createLM(TINY, { rng: new Rng(15) });
  const data = tinyRollouts(7, 4, 3);
  const opts = {
    config: smoke("implicit_prm"),
    sftKey: "sft0",
    dataKey: "data0",
    cache,
    log: quiet,
  };
  const first = await getOrTrainRewardModel(() => frozenCopy(sft), data, opts);
  assert(!first.artifact.hit && first.history.length === 2);
  const second = await getOrTrainRewardModel(() => frozenCopy(sft), data, opts);
  assert(second.artifact.hit && second.artifact.key === first.artifact.key);
  assertEquals(second.history, first.history);
  const w1 = await weightsOf(first.pair.rm), w2 = await weightsOf(second.pair.rm);
  for (const k of Object.keys(w1)) assert(sameBits(w1[k]!, w2[k]!), k);
  const ws = await weightsOf(sft), wr = await weightsOf(second.pair.ref);
  for (const k of Object.keys(ws)) assert(sameBits(ws[k]!, wr[k]!), k);
  const other = await getOrTrainRewardModel(() => frozenCopy(sft), data, {
    ...opts,
    dataKey: "data1",
  });
  assert(other.artifact.key !== first.artifact.key);
  for (const p of [first.pair, second.pair, other.pair]) p.rm.dispose(), p.ref.dispose();
  sft.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("nextTokenCandidates() ranks the distribution after the whole prefix (Sec. 4.3.3's y'), not the last token's", async () => {
  const model = createLM(TINY, { rng: new Rng(7) });
  try {
    const ids = [0, 3, 5]; // seed 7: top-3 after the prefix 1,4,6; before its last token 6,1,4
    const k = 3;
    const top = await nextTokenCandidates(model, ids, k);
    // reference: full next-aligned log-softmax at the last position, sorted on the host
    const full = await nextTokenLogprobs(model, [ids]);
    const V = TINY.vocab, L = ids.length;
    const next = Array.from(full.data.subarray((L - 1) * V, L * V));
    const byNext = [...next.keys()].sort((a, b) => next[b]! - next[a]!).slice(0, k);
    assertEquals(top, byNext);
    // the old reading (the distribution ids[L-1] was drawn from) is position L-2's next-token row
    const prev = Array.from(full.data.subarray((L - 2) * V, (L - 1) * V));
    const byPrev = [...prev.keys()].sort((a, b) => prev[b]! - prev[a]!).slice(0, k);
    assert(JSON.stringify(byPrev) !== JSON.stringify(byNext), "fixture must tell the two apart");
    // a one-token prefix works; k = V lists every token once
    assertEquals((await nextTokenCandidates(model, [3], V)).toSorted((a, b) => a - b), [
      ...Array(V).keys(),
    ]);
  } finally {
    model.dispose();
  }
});
