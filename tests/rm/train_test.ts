import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "@std/assert";
import { createOptimizer } from "../../lib/model/train.ts";
import { Rng } from "../../lib/prng.ts";
import { resolveRMConfig } from "../../lib/rm/config.ts";
import type { RMKind } from "../../lib/rm/kinds.ts";
import { dpoLoss, implicitPrmLoss, ipvrmLoss, type Weighting } from "../../lib/rm/losses.ts";
import { frozenCopy, scoreSequences } from "../../lib/rm/score.ts";
import {
  batchTensors,
  buildUnits,
  disposeBatchTensors,
  epochBatches,
  pairsOfGroup,
  rmLossFn,
  rmTrainStep,
  trainRewardModel,
} from "../../lib/rm/train.ts";
import { createLM } from "../../lib/model/lm.ts";
import { sameBits, setup, TINY, tinyPair, tinyRollouts, weightsOf } from "./_rm_fixtures.ts";

await setup();

const quiet = () => {};
const smoke = (kind: RMKind, extra: Record<string, unknown> = {}) =>
  resolveRMConfig("smoke", {
    kind,
    train: { epochs: 2, batchSize: 4, lr: 1e-2, evalFraction: 0.25 },
    ...extra,
  });

for (const kind of ["dpo", "implicit_prm", "ipvrm"] as const) {
  Deno.test(`trainRewardModel(${kind}) smoke: finite losses, every RM variable moves, reference bit-identical, no leak per step`, async () => {
    const { sft, pair } = await tinyPair(11);
    const refBefore = await weightsOf(pair.ref);
    const rmBefore = await weightsOf(pair.rm);
    const counts: number[] = [];
    const epochs: number[] = [];
    const r = await trainRewardModel(pair, tinyRollouts(3, 6, 3), {
      config: smoke(kind),
      log: quiet,
      onStep: () => counts.push(tf.memory().numTensors),
      onEpoch: (e) => void epochs.push(e.epoch),
    });
    assertEquals(epochs, [1, 2]);
    assert(r.steps >= 2 && counts.length === r.steps);
    // after the first step (Adam moments created) the tensor count stays put
    assert(counts.slice(1).every((c) => c === counts[1]), `tensor counts ${counts}`);
    for (const h of r.history) {
      for (
        const k of [
          "trainLoss",
          "evalLoss",
          "prefixAccuracy",
          "pairAccuracy",
          "scoreCorrect",
          "scoreWrong",
        ] as const
      ) {
        assert(Number.isFinite(h[k]), `${k} = ${h[k]}`);
      }
    }
    const refAfter = await weightsOf(pair.ref);
    const rmAfter = await weightsOf(pair.rm);
    for (const k of Object.keys(refBefore)) {
      assert(sameBits(refBefore[k]!, refAfter[k]!), `reference ${k} changed`);
      assert(!sameBits(rmBefore[k]!, rmAfter[k]!), `RM ${k} did not change`);
    }
    sft.dispose();
    pair.rm.dispose();
    pair.ref.dispose();
  });
}

Deno.test("rmLossFn(): the gradient reaches only the RM's variables (none for the reference)", async () => {
  const { sft, pair } = await tinyPair(12);
  for (const kind of ["dpo", "implicit_prm", "ipvrm"] as const) {
    const c = smoke(kind);
    const batch = epochBatches(buildUnits(tinyRollouts(4), c), { config: c, epoch: 1 })[0]!;
    const t = batchTensors(pair.ref, batch);
    const { value, grads } = tf.variableGrads(
      () => rmLossFn(t, { config: c, pairs: batch.pairs })(pair.rm),
      [...pair.rm.variables, ...pair.ref.variables],
    );
    const rmNames = new Set(pair.rm.variables.map((v) => v.name));
    const refNames = pair.ref.variables.map((v) => v.name);
    for (const n of refNames) {
      assert(!(n in grads), `${kind}: reference variable ${n} got a gradient`);
    }
    for (const n of rmNames) assert(n in grads, `${kind}: RM variable ${n} got no gradient`);
    let norm = 0;
    for (const g of Object.values(grads)) norm += (await tf.sum(tf.square(g)).data())[0]!;
    assert(norm > 0 && Number.isFinite(norm));
    tf.dispose([value, ...Object.values(grads)]);
    disposeBatchTensors(t);
  }
  sft.dispose();
  pair.rm.dispose();
  pair.ref.dispose();
});

Deno.test("the trainer's loss equals the pure loss function on the same log-ratios (IPVRM weightings and reductions, CE, DPO)", async () => {
  const cases: [RMKind, Record<string, unknown>][] = [
    ["ipvrm", { ipvrm: { weighting: "uniform" as Weighting } }],
    ["ipvrm", { ipvrm: { weighting: "early" as Weighting, margin: 2 } }],
    ["ipvrm", { ipvrm: { weighting: "late" as Weighting } }],
    ["ipvrm", { ipvrm: { reduction: "token" } }],
    ["implicit_prm", {}],
    ["dpo", {}],
  ];
  for (const [kind, extra] of cases) {
    const { sft, pair } = await tinyPair(13);
    // perturb the RM so ℓ ≠ 0
    const other = createLM(TINY, { rng: new Rng(99) });
    pair.rm.dispose();
    pair.rm = await frozenCopy(other);
    other.dispose();
    const c = smoke(kind, extra);
    const batch = epochBatches(buildUnits(tinyRollouts(5), c), { config: c, epoch: 1 })[0]!;
    const scored = await scoreSequences(pair, batch.items, { beta: c.beta });
    const b = scored.length, l = Math.max(...scored.map((s) => s.logratio.length));
    const lr = tf.tensor2d(
      scored.flatMap((s) => Array.from({ length: l }, (_, t) => s.logratio[t] ?? 0)),
      [b, l],
    );
    const m = tf.tensor2d(
      scored.flatMap((s) => Array.from({ length: l }, (_, t) => (t < s.logratio.length ? 1 : 0))),
      [b, l],
    );
    const labels = tf.tensor1d(batch.items.map((r) => r.correct));
    const pure = kind === "ipvrm"
      ? ipvrmLoss(lr, m, { labels, beta: c.beta, ...c.ipvrm }).loss
      : kind === "implicit_prm"
      ? implicitPrmLoss(lr, m, { labels, beta: c.beta }).loss
      : dpoLoss(lr, m, { pairs: batch.pairs!, beta: c.beta }).loss;
    const want = (await pure.data())[0]!;
    const opt = createOptimizer({ kind: "adam", lr: 1e-3 });
    const got = await rmTrainStep(pair, batch, { config: c, optimizer: opt });
    assertAlmostEquals(
      got.loss,
      want,
      1e-4 * Math.max(1, Math.abs(want)),
      `${kind} ${JSON.stringify(extra)}`,
    );
    tf.dispose([lr, m, labels, pure]);
    opt.dispose();
    sft.dispose();
    pair.rm.dispose();
    pair.ref.dispose();
  }
});

Deno.test("buildUnits()/pairsOfGroup(): one pair per prompt (paper) or all min(pos,neg) (repo); pairs_split data", () => {
  const g = [
    { group: "a", prompt: [1], response: [2], correct: 1 as const },
    { group: "a", prompt: [1], response: [3], correct: 0 as const },
    { group: "a", prompt: [1], response: [4], correct: 1 as const },
    { group: "a", prompt: [1], response: [5], correct: 0 as const },
    { group: "a", prompt: [1], response: [6], correct: 0 as const },
  ];
  assertEquals(
    pairsOfGroup(g, { pairsPerPrompt: "one" }).map(([w, l]) => [w.response[0], l.response[0]]),
    [[2, 3]],
  );
  assertEquals(
    pairsOfGroup(g, { pairsPerPrompt: "all" }).map(([w, l]) => [w.response[0], l.response[0]]),
    [[2, 3], [4, 5]],
  );
  const repo = resolveRMConfig({ budget: "smoke", switches: "repo" }, {
    kind: "ipvrm",
    train: { evalFraction: 0 },
  });
  const u = buildUnits(g, repo);
  assertEquals(u.pointwise.map((r) => r.response[0]), [2, 3, 4, 5]);
  assertEquals(u.evalGroups.length, 1); // no held-out group: evaluation falls back to the training prompts
});

Deno.test("trainRewardModel() resumes from its epoch checkpoint to the same weights as an uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  const c = smoke("ipvrm");
  const data = tinyRollouts(6, 5, 3);
  const full = await tinyPair(14);
  await trainRewardModel(full.pair, data, { config: c, log: quiet });
  const a = await tinyPair(14);
  await assertRejects(
    () =>
      trainRewardModel(a.pair, data, {
        config: c,
        log: quiet,
        checkpointDir: dir,
        onEpoch: () => {
          throw new Error("interrupted");
        },
      }),
    Error,
    "interrupted",
  );
  const b = await tinyPair(14);
  const lines: string[] = [];
  const r = await trainRewardModel(b.pair, data, {
    config: c,
    log: (l) => lines.push(l),
    checkpointDir: dir,
  });
  assert(lines.some((l) => l.includes("resumed")), lines.join("\n"));
  assertEquals(r.history.map((h) => h.epoch), [1, 2]);
  const wf = await weightsOf(full.pair.rm), wb = await weightsOf(b.pair.rm);
  for (const k of Object.keys(wf)) {
    assert(sameBits(wf[k]!, wb[k]!), `weights ${k} differ after resume`);
  }
  for (const p of [full, a, b]) {
    p.sft.dispose();
    p.pair.rm.dispose();
    p.pair.ref.dispose();
  }
  await Deno.remove(dir, { recursive: true });
});
