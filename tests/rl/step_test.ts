import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { CounterRng, Rng } from "../../lib/prng.ts";
import { type Method, type RLConfigInput } from "../../lib/rl/config.ts";
import {
  candidateAdvantage,
  candidates,
  disposeBatch,
  type Phase,
  PHASES,
  recomputeOld,
  referenceLogprobs,
  rescore,
  rlStep,
  selectGroups,
  tokenAdvantage,
  updateOnBatch,
} from "../../lib/rl/step.ts";
import {
  changed,
  disposeModels,
  fixedBatch,
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
          rng: new CounterRng(3, `rl/rollout/${rng.int(1000)}`),
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

Deno.test("updateOnBatch(): phases run in the B15 order (RM update before or after the policy)", async () => {
  for (
    const [rmUpdate, want] of [
      ["before", PHASES.slice(3)],
      ["after", [
        "adb_dlw",
        "recompute_old",
        "candidate_set",
        "rescore",
        "token_advantage",
        "candidate_advantage",
        "policy_update",
        "rm_update",
        "log",
      ]],
      ["none", [
        "adb_dlw",
        "recompute_old",
        "candidate_set",
        "rescore",
        "token_advantage",
        "candidate_advantage",
        "policy_update",
        "log",
      ]],
    ] as const
  ) {
    const c = smokeConfig({ method: "distrl", switches: { rmUpdate } });
    const m = await makeModels(c);
    const batch = await fixedBatch(c, m);
    const seen: Phase[] = [];
    await updateOnBatch(m, batch, {
      config: c,
      task: parityTask(),
      rng: new CounterRng(1, "t"),
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
    rng: new CounterRng(1, "t"),
    onPhase: (p, ts) => {
      if (p === "token_advantage") inStep = ts["advantages"]!.clone();
    },
  });
  // the same phases by hand with b's (never updated) RM, then with a's updated RM
  const old = await recomputeOld(b.policy, batch, c);
  const cand = candidates(old, batch, c)!;
  const ref = referenceLogprobs(null, batch, { old, cand }, c);
  const advWith = (rm: typeof a.rm) => {
    const s = rescore(rm, batch, { cand, ref }, c)!;
    const tok = tokenAdvantage(batch, s, c);
    const ca = candidateAdvantage(batch, { scores: s, sigmaV: tok.sigmaV }, c);
    tf.dispose([s.logratio, s.tdCand!, ca!, tok.sigmaV!]);
    return tok.advantages;
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
    ...Object.values(cand),
  ]);
  disposeBatch(batch);
  disposeModels(a);
  disposeModels(b);
});

Deno.test("selectGroups(): mixed untruncated groups first, then the rest in draw order", () => {
  const labels = [1, 1, 0, 1, 0, 0, 1, 0, 0, 1];
  const trunc = [false, false, false, false, false, false, true, false, false, false];
  // groups (G=2): 0 uniform, 1 mixed, 2 uniform, 3 mixed but truncated, 4 mixed
  assertEquals(selectGroups(labels, trunc, { groupSize: 2, keep: 3 }), [1, 4, 0]);
  assertEquals(selectGroups(labels, trunc, { groupSize: 2, keep: 5 }), [1, 4, 0, 2, 3]);
});
