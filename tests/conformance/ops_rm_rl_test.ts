import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAlmostEquals,
  assertArrayAlmostEquals,
  assertEquals,
  assertStringIncludes,
} from "@std/assert";
import { runCase } from "../../lib/conformance/run.ts";
import {
  ipvrmRef,
  randomLabels,
  randomLogSoftmax,
  randomMask,
  randomMat,
  Rng,
} from "../rm/_ref.ts";
import { candidateSetRef, distrlRef, policyLossRef } from "../rl/_ref.ts";

/** Runs one case; the raw `args` text lets tests send 1e999 / null literally. */
async function run(op: string, args: unknown, raw?: string): Promise<Record<string, unknown>> {
  const line = raw ?? JSON.stringify({ id: "t", op, args });
  return await runCase(line);
}

async function out(op: string, args: unknown): Promise<Record<string, unknown>> {
  const r = await run(op, args);
  if (r.error !== undefined) throw new Error(`${op}: unexpected error ${r.error}`);
  return r.out as Record<string, unknown>;
}

async function err(op: string, args: unknown, needle: string, raw?: string): Promise<void> {
  const r = await run(op, args, raw);
  assert(
    typeof r.error === "string",
    `${op}: expected an error containing "${needle}", got ${JSON.stringify(r)}`,
  );
  assertStringIncludes(r.error as string, needle);
}

/** The conformance tolerance |a−b| <= 1e-4 + 1e-4|b|, element-wise. */
function close(a: unknown, b: unknown, path = ""): void {
  if (typeof b === "number") {
    assert(typeof a === "number", `${path}: expected a number, got ${JSON.stringify(a)}`);
    assert(Math.abs(a - b) <= 1e-4 + 1e-4 * Math.abs(b), `${path}: ${a} vs ${b}`);
    return;
  }
  const aa = a as unknown[], bb = b as unknown[];
  assertEquals(aa.length, bb.length, `${path}: length`);
  bb.forEach((x, i) => close(aa[i], x, `${path}[${i}]`));
}

Deno.test("conformance ops reproduce methods.md (g) items 1-4", async (t) => {
  await t.step("(g)1 ipvrm_loss + prefix_values", async () => {
    const pv = await out("prefix_values", {
      logratio: [[0.1, -0.2, 4]],
      mask: [[1, 1, 0]],
      beta: 10,
    });
    close(pv.values, [[1, -1, 0]]);
    close(pv.mean_values, [[1, -0.5, 0]]);
    const base = { logratio: [[0.1, -0.2]], mask: [[1, 1]] };
    close((await out("ipvrm_loss", { ...base, labels: [1] })).loss, 4.761114);
    close((await out("ipvrm_loss", { ...base, labels: [1], weighting: "late" })).loss, 5.008769);
    close((await out("ipvrm_loss", { ...base, labels: [1], weighting: "early" })).loss, 4.018150);
    close((await out("ipvrm_loss", { ...base, labels: [0] })).loss, 5.256762);
  });
  await t.step("(g)2 adb_dlw", async () => {
    const p = await out("adb_dlw", { labels: [1, 0, 0, 0], group_size: 4 });
    close(p.group_value, [-1.098612, -1.098612, -1.098612, -1.098612]);
    close(p.margins, [6.098612, 3.901388, 3.901388, 3.901388]);
    close(p.weights, [0.75, 0.25, 0.25, 0.25]);
    close(
      (await out("adb_dlw", { labels: [1, 0, 0, 0], group_size: 4, dlw: "normalized" })).weights,
      [2, 0.666667, 0.666667, 0.666667],
    );
    // per-prefix losses via sample_margins: per_sequence = mean of [5.104699, 6.599974] / [4.908796, 3.434171]
    const r = await out("ipvrm_loss", {
      logratio: [[0.1, -0.2], [0.1, -0.2]],
      mask: [[1, 1], [1, 1]],
      labels: [1, 0],
      sample_margins: [6.098612288668110, 3.901387711331890],
    });
    close(r.per_sequence, [(5.104699 + 6.599974) / 2, (4.908796 + 3.434171) / 2]);
  });
  await t.step("(g)3 grpo_advantages", async () => {
    close((await out("grpo_advantages", { labels: [1, 0, 0, 0], group_size: 4 })).advantages, [
      1.732051,
      -0.577350,
      -0.577350,
      -0.577350,
    ]);
  });
  await t.step("(g)4 distrl_advantages (repo form)", async () => {
    const r = await out("distrl_advantages", {
      td_sampled: [[0.4, -0.2, 0], [-0.1, 0, 0]],
      td_candidates: [[[0.4], [-0.2], [0]], [[-0.1], [0], [0]]],
      mask: [[1, 1, 1], [1, 1, 0]],
      labels: [1, 0],
      group_size: 2,
    });
    close(r.sigma_v, 0.193907);
    close(r.advantages, [[1.068480, 0.935713, 1.012578], [-1.029348, -0.987422, 0]]);
    close((r.candidate_advantages as number[][][])[0]!.map((s) => s[0]), [2.062842, -1.031421, 0]);
  });
});

Deno.test("conformance ops match the loop references on random inputs", async () => {
  for (const [g, n, l, k, seed] of [[2, 2, 5, 3, 11], [3, 2, 4, 2, 12]] as const) {
    const rng = new Rng(seed);
    const b = g * n;
    const lr = randomMat(rng, b, l, 0.3), m = randomMask(rng, b, l, 2), y = randomLabels(rng, b);
    const ref = ipvrmRef(lr, m, {
      labels: y,
      beta: 10,
      margin: 5,
      weighting: "late",
      reduction: "sequence",
    });
    const r = await out("ipvrm_loss", { logratio: lr, mask: m, labels: y, weighting: "late" });
    close(r.loss, ref.loss);
    close(r.per_sequence, ref.perSeq);
    close(r.prefix_accuracy, ref.acc);
    const cand = Array.from({ length: b }, () => randomMat(rng, l, k, 0.3));
    const dref = distrlRef(lr, cand, m, {
      labels: y,
      g,
      gaeNorm: "group",
      whiten: true,
      gaeCoef: 0.05,
      outCoef: 1,
      dropLast: true,
    });
    const d = await out("distrl_advantages", {
      td_sampled: lr,
      td_candidates: cand,
      mask: m,
      labels: y,
      group_size: g,
      gae_norm: "group",
    });
    close(d.sigma_v, dref.sigma);
    close(d.advantages, dref.adv);
    close(d.candidate_advantages, dref.cadv);
    const v = 7;
    const logp = randomLogSoftmax(rng, b, l, v);
    const sampled = Array.from({ length: b }, () => Array.from({ length: l }, () => rng.int(v)));
    const cref = candidateSetRef(logp, sampled, m, {
      mode: "sampled_plus_topk",
      pMin: 0.1,
      topK: 3,
      dropLast: true,
    });
    const c = await out("candidate_set", {
      logp,
      sampled,
      mask: m,
      mode: "sampled_plus_topk",
      top_k: 3,
    });
    assertEquals(c.sets, cref.sets);
    close(c.mean_size, cref.size);
    close(c.mean_mass, cref.mass);
    const cm = cand.map((r2, bb) => r2.map((s, t) => s.map(() => (m[bb]![t] ? 1 : 0))));
    const x = {
      lpNew: lr,
      lpOld: lr.map((r2) => r2.map((q) => q + 0.1)),
      adv: lr,
      m,
      cNew: cand,
      cOld: cand,
      cAdv: cand,
      cm,
    };
    const pref = policyLossRef(x, {
      epsLow: 0.2,
      epsHigh: 0.28,
      distEps: 0.2,
      dual: 3,
      alpha: 0.1,
      agg: "token",
    });
    const p = await out("policy_loss", {
      logp_new: x.lpNew,
      logp_old: x.lpOld,
      advantages: x.adv,
      mask: m,
      cand_logp_new: cand,
      cand_logp_old: cand,
      cand_advantages: cand,
      cand_mask: cm,
      dual_clip: 3,
      agg: "token",
    });
    close(p.loss, pref.loss);
    close(p.tok_clip_frac, pref.clip);
    assertEquals((p.grad_cand_logp_new as number[][][]).length, b);
  }
});

Deno.test("conformance ops: K = 0 and empty-mask conventions", async () => {
  const d = await out("distrl_advantages", {
    td_sampled: [[0.1, 0.2]],
    td_candidates: [],
    mask: [[1, 1]],
    labels: [1],
    group_size: 1,
  });
  assertEquals(d.candidate_advantages, [[[], []]]);
  const p = await out("policy_loss", {
    logp_new: [[-1]],
    logp_old: [[-1]],
    advantages: [[1]],
    mask: [[1]],
    cand_logp_new: [],
    cand_logp_old: [],
    cand_advantages: [],
    cand_mask: [],
  });
  assertEquals(p.dist_loss, 0);
  close(p.grad_logp_new, [[-1]]); // d(−ρA)/dlogp = −ρA = −1
  const c = await out("candidate_set", {
    logp: [[[0, -50]], [[-0.1, -3]]],
    sampled: [[0], [0]],
    mask: [[1], [0]],
  });
  assertEquals(c.sets, [[[]], [[]]]); // last valid position dropped, padding empty
  assertEquals([c.mean_size, c.mean_mass], [0, 0]);
  const s = await out("candidate_stats", { probs: [[0.6, 0.3, 0.1], [0.05, 0.05, 0.9]] });
  close([s.mean_size, s.mean_mass], [2, 0.95]);
  close(
    (await out("rm_pair_accuracy", { scores: [2, 1, 0, 0], labels: [1, 0, 1, 1], group_size: 2 }))
      .accuracy,
    0.75,
  );
  close((await out("gae", { td: [[1, 2, 4, 8]], mask: [[1, 1, 1, 0]], lam: 0.5 })).advantages, [[
    3,
    4,
    4,
    0,
  ]]);
  close(
    (await out("dpo_loss", {
      logratio: [[1, 2], [0.5, 0]],
      mask: [[1, 1], [1, 0]],
      pairs: [[0, 1]],
    })).per_pair,
    [0.632599],
  );
  close(
    (await out("implicit_prm_loss", {
      logratio: [[1, 2], [0.5, 9]],
      mask: [[1, 1], [1, 0]],
      labels: [1, 0],
    })).per_sequence,
    [0.620957, 0.705725],
  );
});

Deno.test("conformance ops: bad input gives an error naming the argument", async (t) => {
  const lr = [[0.1, -0.2]], m = [[1, 1]];
  await t.step("missing args", async () => {
    await err("prefix_values", { logratio: lr, mask: m }, "beta: required argument is missing");
    await err("ipvrm_loss", { logratio: lr, mask: m }, "labels: required");
    await err("implicit_prm_loss", { mask: m, labels: [1] }, "logratio: required");
    await err("dpo_loss", { logratio: lr, mask: m }, "pairs: required");
    await err("rm_pair_accuracy", { scores: [1, 2], labels: [1, 0] }, "group_size: required");
    await err("adb_dlw", { labels: [1, 0] }, "group_size: required");
    await err("grpo_advantages", { group_size: 2 }, "labels: required");
    await err("gae", { td: lr }, "mask: required");
    await err("candidate_set", { logp: [[[0]]], mask: [[1]] }, "sampled: required");
    await err(
      "distrl_advantages",
      { td_sampled: lr, mask: m, labels: [1], group_size: 1 },
      "td_candidates: required",
    );
    await err("policy_loss", { logp_new: lr, logp_old: lr, mask: m }, "advantages: required");
    await err("candidate_stats", {}, "probs: required");
  });
  await t.step("non-finite numbers, null and strings inside arrays", async () => {
    await err(
      "",
      null,
      "logratio: expected a [B][L] array of finite numbers, got Infinity at [0][1]",
      '{"id":1,"op":"ipvrm_loss","args":{"logratio":[[0.1,1e999]],"mask":[[1,1]],"labels":[1]}}',
    );
    await err(
      "gae",
      { td: [[1, null]], mask: m },
      "td: expected a [B][L] array of finite numbers, got null at [0][1]",
    );
    await err(
      "grpo_advantages",
      { labels: [1, "0"], group_size: 2 },
      "labels: expected a [N] array of finite numbers",
    );
    await err(
      "",
      null,
      "td_sampled",
      '{"id":1,"op":"distrl_advantages","args":{"td_sampled":[[1e999]],"td_candidates":[],"mask":[[1]],"labels":[1],"group_size":1}}',
    );
    await err("policy_loss", {
      logp_new: lr,
      logp_old: [[0, null]],
      advantages: lr,
      mask: m,
      cand_logp_new: [],
    }, "logp_old");
    await err("candidate_stats", { probs: [[0.5, "x"]] }, "probs");
    const bare = await runCase("NaN");
    assertEquals(bare.id, null);
  });
  await t.step("mask not 0/1, and rows with no valid token", async () => {
    await err(
      "ipvrm_loss",
      { logratio: lr, mask: [[1, 0.5]], labels: [1] },
      "mask: expected 0/1 values, got 0.5 at [0][1]",
    );
    await err(
      "ipvrm_loss",
      { logratio: lr, mask: [[0, 0]], labels: [1] },
      "mask: row 0 has no valid token",
    );
    await err(
      "implicit_prm_loss",
      { logratio: lr, mask: [[0, 0]], labels: [1] },
      "mask: row 0 has no valid token",
    );
    await err("policy_loss", {
      logp_new: lr,
      logp_old: lr,
      advantages: lr,
      mask: [[0, 0]],
      cand_logp_new: [],
    }, "mask: row 0 has no valid token");
    await err("policy_loss", {
      logp_new: lr,
      logp_old: lr,
      advantages: lr,
      mask: m,
      cand_logp_new: [[[0], [0]]],
      cand_logp_old: [[[0], [0]]],
      cand_advantages: [[[0], [0]]],
      cand_mask: [[[2], [0]]],
    }, "cand_mask: expected 0/1 values, got 2 at [0][0][0]");
    await err("gae", { td: lr, mask: [[0, 1]] }, "mask: expected the valid tokens first");
    await err(
      "candidate_set",
      { logp: [[[0, -1]]], sampled: [[0]], mask: [[3]] },
      "mask: expected 0/1",
    );
    await err("distrl_advantages", {
      td_sampled: lr,
      td_candidates: [],
      mask: [[1, 0]],
      labels: [1],
      group_size: 1,
    }, "mask: whitening needs at least 2 valid tokens");
    await err(
      "adb_dlw",
      { labels: [1, 0.5], group_size: 2 },
      "labels: expected 0/1 values, got 0.5 at [1]",
    );
    await err("ipvrm_loss", { logratio: lr, mask: m, labels: [2] }, "labels: expected 0/1");
  });
  await t.step("group size not dividing B", async () => {
    await err(
      "adb_dlw",
      { labels: [1, 0, 1], group_size: 2 },
      "group_size: must divide the batch: B=3, group_size=2",
    );
    await err(
      "grpo_advantages",
      { labels: [1, 0, 1], group_size: 2 },
      "group_size: must divide the batch",
    );
    await err(
      "rm_pair_accuracy",
      { scores: [1, 0, 1], labels: [1, 0, 1], group_size: 2 },
      "group_size: must divide the batch",
    );
    await err("distrl_advantages", {
      td_sampled: [[1, 2], [3, 4], [5, 6]],
      td_candidates: [],
      mask: [[1, 1], [1, 1], [1, 1]],
      labels: [1, 0, 1],
      group_size: 2,
    }, "group_size: must divide the batch");
  });
  await t.step("unknown enum values", async () => {
    await err(
      "ipvrm_loss",
      { logratio: lr, mask: m, labels: [1], weighting: "middle" },
      'weighting: expected one of "uniform", "early", "late", got "middle"',
    );
    await err(
      "ipvrm_loss",
      { logratio: lr, mask: m, labels: [1], reduction: "batch" },
      "reduction: expected one of",
    );
    await err("ipvrm_loss", {
      logratio: lr,
      mask: m,
      labels: [1],
      weighting: "late",
      reduction: "token",
    }, 'weighting: reduction "token" needs "uniform"');
    await err("adb_dlw", { labels: [1, 0], group_size: 2, dlw: "both" }, "dlw: expected one of");
    await err(
      "candidate_set",
      { logp: [[[0, -1]]], sampled: [[0]], mask: [[1]], mode: "nucleus" },
      "mode: expected one of",
    );
    await err("distrl_advantages", {
      td_sampled: lr,
      td_candidates: [],
      mask: m,
      labels: [1],
      group_size: 1,
      gae_norm: "x",
    }, "gae_norm: expected one of");
    await err("policy_loss", {
      logp_new: lr,
      logp_old: lr,
      advantages: lr,
      mask: m,
      cand_logp_new: [],
      agg: "mean",
    }, "agg: expected one of");
  });
  await t.step("other shape and range errors", async () => {
    await err(
      "dpo_loss",
      { logratio: lr, mask: m, pairs: [[0, 1]] },
      "pairs: expected a row index in [0, 1), got 1 at [0][1]",
    );
    await err(
      "candidate_set",
      { logp: [[[0, -1]]], sampled: [[5]], mask: [[1]] },
      "sampled: expected a token id in [0, 2), got 5 at [0][0]",
    );
    await err("policy_loss", {
      logp_new: lr,
      logp_old: [[1]],
      advantages: lr,
      mask: m,
      cand_logp_new: [],
    }, "logp_old: expected a [B][L] array");
    await err(
      "grpo_advantages",
      { labels: [1, 0], group_size: 2, eps: 0 },
      "eps: expected a number > 0",
    );
    await err(
      "ipvrm_loss",
      { logratio: lr, mask: m, labels: [1], sample_weights: [1, 2] },
      "sample_weights",
    );
  });
});

Deno.test("conformance ops leak no tensors", async () => {
  const cases: [string, unknown][] = [
    ["ipvrm_loss", { logratio: [[0.1, -0.2]], mask: [[1, 1]], labels: [1] }],
    ["policy_loss", {
      logp_new: [[-1]],
      logp_old: [[-1.1]],
      advantages: [[1]],
      mask: [[1]],
      cand_logp_new: [[[-1]]],
      cand_logp_old: [[[-1]]],
      cand_advantages: [[[1]]],
      cand_mask: [[[1]]],
    }],
    ["candidate_set", { logp: [[[-0.1, -3]]], sampled: [[0]], mask: [[1]], drop_last: false }],
    ["distrl_advantages", {
      td_sampled: [[0.1, 0.2]],
      td_candidates: [],
      mask: [[1, 1]],
      labels: [1],
      group_size: 1,
    }],
  ];
  for (const [op, args] of cases) await out(op, args);
  const before = tf.memory().numTensors;
  for (const [op, args] of cases) await out(op, args);
  assertEquals(tf.memory().numTensors, before);
  assertAlmostEquals(0, 0);
  assertArrayAlmostEquals([], []);
});
