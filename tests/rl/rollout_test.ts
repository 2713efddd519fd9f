import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { createLM } from "../../lib/model/lm.ts";
import { CounterRng, Rng } from "../../lib/prng.ts";
import { rollout } from "../../lib/rl/_rollout.ts";
import { sampleProblems } from "../../lib/testbed/splits.ts";
import { LM, parityTask, setup } from "./_rl_setup.ts";

await setup();

Deno.test("rollout(): a prompt's rollouts depend on (seed, step stream, prompt, index) only, not on its batch", async () => {
  const policy = createLM(LM, { rng: new Rng(4) });
  const draw = (seed: number, steps: number) =>
    sampleProblems(new Rng(seed), {
      role: "train",
      bucket: { name: `k${steps}`, minSteps: steps, maxSteps: steps },
      n: 3,
    });
  // prompts of three lengths (rollout() buckets rows by prompt length)
  const ps = [...draw(1, 2), ...draw(2, 4), ...draw(3, 6)];
  const opts = { task: parityTask(), groupSize: 3, temperature: 1, maxResponseTokens: 10 };
  const rng = new CounterRng(5, "rl/rollout/1");
  const all = await rollout(policy, ps, { ...opts, rng, samplingBatch: 64 });
  assert(new Set(all.responses.map((r) => r.length)).size > 1, "responses of several lengths");
  const group = (r: { responses: number[][] }, j: number) => r.responses.slice(j * 3, j * 3 + 3);
  for (
    const [order, samplingBatch] of [[[4], 1], [[7, 0, 3], 2], [[8, 6, 2, 5, 1], 4]] as const
  ) {
    const r = await rollout(policy, order.map((i) => ps[i]!), { ...opts, rng, samplingBatch });
    order.forEach((i, j) => assertEquals(group(r, j), group(all, i), `prompt ${i} in [${order}]`));
  }
  // another step's stream draws other rollouts
  const next = await rollout(policy, ps, {
    ...opts,
    rng: new CounterRng(5, "rl/rollout/2"),
    samplingBatch: 64,
  });
  assertNotEquals(next.responses, all.responses);
  policy.dispose();
});
