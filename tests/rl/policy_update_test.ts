import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { candidateLogprobs } from "../../lib/model/logprobs.ts";
import { policyLossFn } from "../../lib/rl/policy_update.ts";
import {
  candidateAdvantage,
  candidates,
  disposeBatch,
  recomputeOld,
  referenceLogprobs,
  rescore,
  tokenAdvantage,
} from "../../lib/rl/step.ts";
import {
  disposeModels,
  fixedBatch,
  makeModels,
  numTensors,
  setup,
  smokeConfig,
} from "./_rl_setup.ts";

await setup();

Deno.test("policyLossFn(): the gradient reaches the policy only (not the RM, not the SFT reference)", async () => {
  const c = smokeConfig({ method: "distrl", preset: "repo", switches: { ref: "sft" } });
  const m = await makeModels(c);
  const batch = await fixedBatch(c, m);
  const old = await recomputeOld(m.policy, batch, c);
  const cand = candidates(old, batch, c)!;
  const ref = referenceLogprobs(m.sft, batch, { old, cand }, c);
  const s = rescore(m.rm, batch, { cand, ref }, c)!;
  const tok = tokenAdvantage(batch, s, c);
  const candAdv = candidateAdvantage(batch, { scores: s, sigmaV: tok.sigmaV }, c)!;
  const mb = {
    tokens: batch.tokens,
    mask: batch.mask,
    logpOld: old.logp,
    advantages: tok.advantages,
    cand: { ids: cand.ids, mask: cand.mask, logpOld: cand.logp, advantages: candAdv },
  };
  const all = [...m.policy.variables, ...m.rm!.variables, ...m.sft!.variables];
  const { value, grads } = tf.variableGrads(() => policyLossFn(m.policy, mb, c).loss, all);
  assertEquals(Object.keys(grads).sort(), m.policy.variables.map((v) => v.name).sort());
  tf.dispose([
    value,
    ...Object.values(grads),
    old.logp,
    ...Object.values(cand),
    ref.logp,
    ref.candLogp!,
  ]);
  tf.dispose([s.logratio, s.tdCand!, tok.advantages, candAdv, tok.sigmaV!]);
  disposeBatch(batch);
  disposeModels(m);
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
