import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertNotEquals } from "@std/assert";
import { candidateLogprobs } from "../../lib/model/logprobs.ts";
import { Rng } from "../../lib/prng.ts";
import { type Method, type RLConfigInput } from "../../lib/rl/config.ts";
import {
  buildBatch,
  computeAdvantages,
  disposeBatch,
  type Phase,
  policyLossFn,
  recomputeOld,
  referenceLogprobs,
  rescore,
  rlStep,
  rollout,
  selectGroups,
  updateOnBatch,
} from "../../lib/rl/step.ts";
import {
  changed,
  disposeModels,
  makeModels,
  numTensors,
  parityTask,
  problems,
  setup,
  smokeConfig,
  weightsOf,
} from "./_rl_setup.ts";

await setup();

const METHODS: Method[] = ["grpo", "grpo_ipvrm", "prime", "distrl"];

Deno.test("rlStep() on the smoke preset, every method: finite losses, policy moves, RM moves iff updated, SFT frozen, no leak", async (t) => {
  const variants: Array<[string, RLConfigInput]> = [
    ...METHODS.map((method) => [method, { method }] as [string, RLConfigInput]),
    ["distrl repo (sampled + top-K)", { method: "distrl", preset: "repo" }],
    ["distrl ref sft, rm after", {
      method: "distrl",
      switches: { ref: "sft", rmUpdate: "after", pMin: 0.03 },
    }],
    ["grpo_ipvrm frozen RM", { method: "grpo_ipvrm", switches: { rmUpdate: "none" } }],
    ["distrl w/ dpo", { method: "distrl", rm: "dpo", preset: "repo" }],
  ];
  for (const [name, input] of variants) {
    await t.step(name, async () => {
      const c = smokeConfig(input);
      const m = await makeModels(c);
      const rng = new Rng(3);
      const p0 = await weightsOf(m.policy);
      const r0 = m.rm ? await weightsOf(m.rm) : null;
      const s0 = m.sft ? await weightsOf(m.sft) : null;
      const run = () =>
        rlStep(m, problems(rng.int(1000) + 1, c.promptsDrawn), {
          config: c,
          task: parityTask(),
          rng,
        });
      const first = await run(); // burn-in
      const before = numTensors();
      const r = await run();
      assertEquals(numTensors(), before, "tensors leaked by one step");
      for (
        const k of ["loss/policy", "loss/tok", "loss/dist", "verifier/accuracy", "time/step_ms"]
      ) {
        assert(Number.isFinite(r[k]), `${k} = ${r[k]}`);
      }
      assertEquals(
        changed(p0, await weightsOf(m.policy)).length,
        Object.keys(p0).length,
        "every policy weight moves",
      );
      if (r0) {
        const moved = changed(r0, await weightsOf(m.rm!)).length;
        if (c.switches.rmUpdate === "none") assertEquals(moved, 0);
        else {
          assertEquals(moved, Object.keys(r0).length);
          assert(
            Number.isFinite(r["loss/rm"]) && Number.isFinite(r["rm/acc_before"]),
            "rm metrics",
          );
        }
        assert(
          Number.isFinite(r["rm/score"]) && Number.isFinite(r["rm/acc_after"]),
          "rm/score, rm/acc_after",
        );
      } else assertEquals(r["rm/score"], undefined);
      if (s0) assertEquals(changed(s0, await weightsOf(m.sft!)), []);
      if (c.method === "distrl") {
        assert(
          Number.isFinite(first["cand/size"]) && Number.isFinite(r["cand/mass"]),
          "cand metrics",
        );
        assert(Number.isFinite(r["adv/sigma_v"]), "sigma_v");
        if (c.switches.candidateSet === "sampled_plus_topk") {
          assert(r["cand/size"]! >= 1, "the sampled token is always a candidate");
          assertNotEquals(r["loss/dist"], 0);
        }
      } else assertEquals(r["loss/dist"], 0);
      disposeModels(m);
    });
  }
});

async function fixedBatch(
  c: ReturnType<typeof smokeConfig>,
  m: Awaited<ReturnType<typeof makeModels>>,
) {
  const roll = await rollout(m.policy, problems(11, c.promptsDrawn), {
    task: parityTask(),
    groupSize: c.budget.groupSize,
    rng: new Rng(5),
    temperature: 1,
    maxResponseTokens: c.budget.maxResponseTokens,
    samplingBatch: 64,
  });
  return buildBatch(
    roll,
    selectGroups(roll.labels, roll.truncated, { groupSize: 4, keep: c.budget.promptsPerStep }),
  );
}

Deno.test("updateOnBatch(): phases run in the B15 order (RM update before or after the policy)", async () => {
  for (
    const [rmUpdate, want] of [
      ["before", [
        "recompute_old",
        "rm_update",
        "rescore",
        "advantages",
        "policy_update",
        "metrics",
      ]],
      ["after", [
        "recompute_old",
        "rescore",
        "advantages",
        "policy_update",
        "rm_update",
        "metrics",
      ]],
      ["none", ["recompute_old", "rescore", "advantages", "policy_update", "metrics"]],
    ] as const
  ) {
    const c = smokeConfig({ method: "distrl", switches: { rmUpdate } });
    const m = await makeModels(c);
    const batch = await fixedBatch(c, m);
    const seen: Phase[] = [];
    await updateOnBatch(m, batch, {
      config: c,
      task: parityTask(),
      rng: new Rng(1),
      onPhase: (p) => seen.push(p),
    });
    assertEquals(seen, [...want]);
    disposeBatch(batch);
    disposeModels(m);
  }
});

Deno.test("updateOnBatch(): with rmUpdate 'before' the advantages come from the updated RM", async () => {
  const c = smokeConfig({ method: "distrl", preset: "repo" });
  const a = await makeModels(c), b = await makeModels(c); // identical initial weights
  const batch = await fixedBatch(c, a);
  let inStep: tf.Tensor | null = null;
  await updateOnBatch(a, batch, {
    config: c,
    task: parityTask(),
    rng: new Rng(1),
    onPhase: (p, ts) => {
      if (p === "advantages") inStep = ts["advantages"]!.clone();
    },
  });
  // the same phases by hand with b's (never updated) RM, then with a's updated RM
  const old = await recomputeOld(b.policy, batch, c);
  const ref = referenceLogprobs(null, batch, old, c);
  const advWith = (rm: typeof a.rm) => {
    const s = rescore(rm, batch, old, ref, c)!;
    const adv = computeAdvantages(c, batch, s, old);
    tf.dispose([s.logratio, s.tdCand!, adv.candAdvantages!, adv.sigmaV!]);
    return adv.advantages;
  };
  const pre = advWith(b.rm), post = advWith(a.rm);
  const [x, y, z] = await Promise.all([inStep!.data(), pre.data(), post.data()]);
  assertEquals(Array.from(x), Array.from(z), "the step's advantages = those of the updated RM");
  assert(Array.from(x).some((v, i) => v !== y[i]), "and differ from those of the pre-update RM");
  tf.dispose([
    inStep!,
    pre,
    post,
    old.logp,
    old.cand!.ids,
    old.cand!.mask,
    old.cand!.logp,
    old.cand!.size,
    old.cand!.mass,
  ]);
  disposeBatch(batch);
  disposeModels(a);
  disposeModels(b);
});

Deno.test("policyLossFn(): the gradient reaches the policy only (not the RM, not the SFT reference)", async () => {
  const c = smokeConfig({ method: "distrl", preset: "repo", switches: { ref: "sft" } });
  const m = await makeModels(c);
  const batch = await fixedBatch(c, m);
  const old = await recomputeOld(m.policy, batch, c);
  const ref = referenceLogprobs(m.sft, batch, old, c);
  const s = rescore(m.rm, batch, old, ref, c)!;
  const adv = computeAdvantages(c, batch, s, old);
  const mb = {
    tokens: batch.tokens,
    mask: batch.mask,
    logpOld: old.logp,
    advantages: adv.advantages,
    cand: {
      ids: old.cand!.ids,
      mask: old.cand!.mask,
      logpOld: old.cand!.logp,
      advantages: adv.candAdvantages!,
    },
  };
  const all = [...m.policy.variables, ...m.rm!.variables, ...m.sft!.variables];
  const { value, grads } = tf.variableGrads(() => policyLossFn(m.policy, mb, c).loss, all);
  assertEquals(Object.keys(grads).sort(), m.policy.variables.map((v) => v.name).sort());
  tf.dispose([
    value,
    ...Object.values(grads),
    old.logp,
    ...Object.values(old.cand!),
    ref.logp,
    ref.candLogp!,
  ]);
  tf.dispose([s.logratio, s.tdCand!, adv.advantages, adv.candAdvantages!, adv.sigmaV!]);
  disposeBatch(batch);
  disposeModels(m);
});

Deno.test("selectGroups(): mixed untruncated groups first, then the rest in draw order", () => {
  const labels = [1, 1, 0, 1, 0, 0, 1, 0, 0, 1];
  const trunc = [false, false, false, false, false, false, true, false, false, false];
  // groups (G=2): 0 uniform, 1 mixed, 2 uniform, 3 mixed but truncated, 4 mixed
  assertEquals(selectGroups(labels, trunc, { groupSize: 2, keep: 3 }), [1, 4, 0]);
  assertEquals(selectGroups(labels, trunc, { groupSize: 2, keep: 5 }), [1, 4, 0, 2, 3]);
});

Deno.test("policyLossFn(): PRIME's entropy bonus is loss − 0.001·H, H from the full next-token distribution (loop)", async () => {
  const c = smokeConfig({ method: "prime" });
  assertEquals(c.switches.entropyCoef, 0.001);
  const off = { ...c, switches: { ...c.switches, entropyCoef: 0 } };
  const m = await makeModels(c);
  const batch = await fixedBatch(c, m);
  const old = await recomputeOld(m.policy, batch, c);
  const adv = tf.tidy(() => tf.randomNormal(batch.mask.shape, 0, 1, "float32", 5)) as tf.Tensor2D;
  const mb = {
    tokens: batch.tokens,
    mask: batch.mask,
    logpOld: old.logp,
    advantages: adv,
    cand: null,
  };
  const before = numTensors();
  const on = policyLossFn(m.policy, mb, c), plain = policyLossFn(m.policy, mb, off);
  const [lOn, lOff, hOn] = await Promise.all([
    on.loss.data(),
    plain.loss.data(),
    on.metrics.entropy.data(),
  ]);
  assert(Number.isNaN((await plain.metrics.entropy.data())[0]!), "no entropy computed when off");
  // loop: H_t = -sum_v p log p from the temperature-scaled distribution, sequence mean over the mask
  const [b, l] = batch.tokens.shape, v = m.policy.config.vocab;
  const ids = tf.tidy(() =>
    tf.broadcastTo(tf.range(0, v, 1, "int32").reshape([1, 1, v]), [b, l, v]) as tf.Tensor3D
  );
  const all = candidateLogprobs(m.policy, batch.tokens, {
    candidates: ids,
    temperature: c.budget.rolloutTemperature,
  });
  const lp = await all.candidateLogp.array(), mask = await batch.mask.array();
  let want = 0;
  for (let i = 0; i < b; i++) {
    let s = 0, n = 0;
    for (let t = 0; t < l; t++) {
      if (!mask[i]![t]) continue;
      let h = 0;
      for (const x of lp[i]![t]!) h -= Math.exp(x) * x;
      (s += h, n++);
    }
    want += s / Math.max(n, 1) / b;
  }
  assertAlmostEquals(hOn[0]!, want, 1e-4);
  assertAlmostEquals(lOn[0]!, lOff[0]! - 0.001 * want, 1e-6);
  tf.dispose([ids, all.logp, all.candidateLogp]);
  tf.dispose([on.loss, ...Object.values(on.metrics), plain.loss, ...Object.values(plain.metrics)]);
  assertEquals(numTensors(), before, "policyLossFn leaks no tensor");
  tf.dispose([adv, old.logp]);
  disposeBatch(batch);
  disposeModels(m);
});
