import { assert, assertEquals } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import { ArtifactCache } from "../../lib/run/cache.ts";
import { resolveRMConfig } from "../../lib/rm/config.ts";
import type { RMKind } from "../../lib/rm/kinds.ts";
import { frozenCopy } from "../../lib/rm/score.ts";
import { getOrTrainRewardModel, rmStageSpec } from "../../lib/pipeline/stages.ts";
import { createLM } from "../../lib/model/lm.ts";
import { sameBits, setup, TINY, tinyRollouts, weightsOf } from "../rm/_rm_fixtures.ts";

await setup();

const quiet = () => {};

const smoke = (kind: RMKind) =>
  resolveRMConfig("smoke", {
    kind,
    train: { epochs: 2, batchSize: 4, lr: 1e-2, evalFraction: 0.25 },
  });

Deno.test("rmStageSpec() is the `rm` key as it always was: stage, version 1, training config, sft and data keys", async () => {
  const c = smoke("ipvrm");
  const spec = rmStageSpec(c, { sftKey: "s", dataKey: "d" });
  assertEquals(spec.stage, "rm");
  assertEquals(spec.version, 1);
  assertEquals(spec.inputs, { sft: "s", data: "d" });
  assertEquals(Object.keys(spec), ["stage", "version", "config", "inputs"]);
  const root = await Deno.makeTempDir();
  const cache = new ArtifactCache({ root, log: quiet });
  // Changing this hash invalidates every cached RM: bump RM_STAGE_VERSION instead of editing the spec.
  assertEquals(
    await cache.key(spec),
    await cache.key({
      stage: "rm",
      version: 1,
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
