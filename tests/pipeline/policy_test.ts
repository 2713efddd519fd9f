/**
 * End-to-end claims of the pipeline on a shrunken smoke preset (seconds on 2 cores):
 * training, exact resume, rollout labels, RM data, eval-set balance, cache hits.
 */
import { assert, assertEquals } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend.ts";
import { exportWeights } from "../../lib/model/exchange.ts";
import { CounterRng, Rng } from "../../lib/prng.ts";
import { ArtifactCache } from "../../lib/run/cache.ts";
import {
  buildAvgSet,
  buildBonSet,
  buildPolicy,
  buildProcessBenchSet,
  buildRmData,
  buildSftEval,
} from "../../lib/pipeline/stages.ts";
import {
  readAvgSet,
  readBonSet,
  readProcessBenchSet,
  toShiftedRow,
} from "../../lib/pipeline/eval_sets.ts";
import { loadPolicy, trainStage } from "../../lib/pipeline/policy.ts";
import { resolvePipelineConfig } from "../../lib/pipeline/presets.ts";
import { readRmData, selectMixed } from "../../lib/pipeline/rm_data.ts";
import { rolloutFromTokens, sampleRollouts } from "../../lib/pipeline/rollouts.ts";
import { labelResponse } from "../../lib/testbed/labeller.ts";
import { stepTokenEnds } from "../../lib/testbed/processbench_rows.ts";
import { sampleProblems } from "../../lib/testbed/splits.ts";
import { CharTokenizer, EOS_ID } from "../../lib/testbed/tokenizer.ts";
import { verify } from "../../lib/testbed/verifier.ts";

await initBackend("wasm", { threads: 1, log: () => {} });

const config = resolvePipelineConfig("smoke", {
  base: { steps: 5, batch: 4, warmup: 1, checkpointEvery: 2 },
  sft: { steps: 3, batch: 4, warmup: 1, checkpointEvery: 2 },
  sftEval: { problemsPerBucket: 2 },
  rmData: { prompts: 4, rollouts: 3 },
  evalSets: {
    processbenchRowsPerBucket: 2,
    bonProblemsPerSplit: 1,
    bonN: 2,
    avgProblemsPerSplit: 2,
  },
});
const quiet = () => {};
const tok = new CharTokenizer();

async function flatWeights(m: { params: Record<string, tf.Variable> }): Promise<Float32Array[]> {
  return await Promise.all(
    Object.values(m.params).map(async (v) => (await v.data()) as Float32Array),
  );
}

Deno.test("trainStage() trains with finite losses, leaks no tensors and resumes bit-exactly", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "pvl_policy_" });
  try {
    const full = await trainStage(config, { stage: "base", runDir: `${root}/a`, log: quiet });
    const ref = await flatWeights(full.model);
    full.model.dispose();
    await t.step("losses are finite and every update is recorded", () => {
      assertEquals(full.losses.length, 5);
      assert(full.losses.every(Number.isFinite), String(full.losses));
    });
    await t.step("no leaked tensors across a whole stage", async () => {
      const before = tf.memory().numTensors;
      const again = await trainStage(config, { stage: "base", runDir: `${root}/b`, log: quiet });
      again.model.dispose();
      assertEquals(tf.memory().numTensors, before);
    });
    await t.step(
      "killed after update 3 (last checkpoint at 2), rerun -> identical weights",
      async () => {
        const part = await trainStage(config, {
          stage: "base",
          runDir: `${root}/c`,
          log: quiet,
          stopAfter: 3,
        });
        assertEquals(part.step, 3);
        part.model.dispose();
        const resumed = await trainStage(config, {
          stage: "base",
          runDir: `${root}/c`,
          log: quiet,
        });
        assertEquals(resumed.resumedFrom, 2);
        assertEquals(resumed.step, 5);
        const got = await flatWeights(resumed.model);
        resumed.model.dispose();
        assertEquals(got.length, ref.length);
        got.forEach((w, i) => {
          const a = new Uint32Array(w.buffer, w.byteOffset, w.length);
          const b = new Uint32Array(ref[i]!.buffer, ref[i]!.byteOffset, ref[i]!.length);
          assert(a.every((x, j) => x === b[j]), `variable ${i} differs`);
        });
        assertEquals(resumed.losses, full.losses);
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rolloutFromTokens() labels as the labeller and verifier do, with token step ends", () => {
  const problem = {
    start: 3,
    ops: [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }],
    modulus: 7,
  };
  // 3+4=0 right, 0*2=1 wrong (0*2 = 0): label 1, answer 1 wrong
  const text = ">3+4=0\n?0\n>0*2=1\n#1\n";
  const r = rolloutFromTokens(problem, {
    tokens: [...tok.encode(text).ids, EOS_ID],
    bucket: "b",
    sample: 0,
    format: "sft",
  });
  assertEquals([r.correct, r.label, r.errorKind, r.finished, r.length], [
    0,
    1,
    "result",
    true,
    text.length + 1,
  ]);
  assertEquals(r.stepEnds, [10, 20]);
  const cut = rolloutFromTokens(problem, {
    tokens: tok.encode(">3+4=0\n").ids,
    bucket: "b",
    sample: 0,
    format: "sft",
  });
  assertEquals([cut.finished, cut.correct, cut.label], [false, 0, 0]);
});

Deno.test("selectMixed() keeps only mixed prompts, one (correct, wrong) pair of the same prompt each", () => {
  const p = (start: number) => ({ start, ops: [{ op: "+" as const, operand: 1 }], modulus: 7 });
  const mk = (start: number, answer: number, sample: number) =>
    rolloutFromTokens(p(start), {
      tokens: [...tok.encode(`>${start}+1=${answer}\n#${answer}\n`).ids, EOS_ID],
      bucket: "train",
      sample,
      format: "sft",
    });
  const rs = [
    mk(1, 2, 0),
    mk(1, 3, 1),
    mk(1, 2, 2),
    mk(2, 3, 0),
    mk(2, 3, 1),
    mk(4, 0, 0),
    mk(4, 1, 1),
    mk(5, 0, 0),
  ];
  const out = selectMixed(rs, new Rng(2));
  assertEquals(out.pairs.length, 1);
  assertEquals([out.allCorrect, out.allWrong], [1, 2]);
  assertEquals(out.rollouts.length, 3);
  for (const pr of out.pairs) {
    assertEquals([pr.chosen.correct, pr.rejected.correct], [1, 0]);
    assertEquals(pr.chosen.key, pr.rejected.key);
  }
});

Deno.test("toShiftedRow() re-renders in the shifted format and relabels there", () => {
  const problem = {
    start: 3,
    ops: [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }],
    modulus: 7,
  };
  // a wrong verify line is an error in the SFT format only: the shifted rendering drops it
  const row = toShiftedRow(problem, {
    response: ">3+4=0\n?5\n>0*2=0\n#0\n",
    bucket: "gsm8k",
    id: "x",
  });
  assertEquals(labelResponse(problem, ">3+4=0\n?5\n>0*2=0\n#0\n", { format: "sft" }).label, 0);
  assertEquals([row?.response, row?.label, row?.final_answer_correct], [
    "3+4=0\n0*2=0\n$0\n",
    -1,
    true,
  ]);
  assertEquals(toShiftedRow(problem, { response: ">3+4=0\nxx\n", bucket: "gsm8k", id: "x" }), null);
});

Deno.test("smoke pipeline: policy, rollouts, RM data and eval sets are built once, then cache hits", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "pvl_cache_" });
  const cache = new ArtifactCache({ root: `${root}/artifacts`, log: quiet });
  const opts = { cache, runsDir: `${root}/runs`, log: quiet };
  try {
    const first = await buildPolicy(config, opts);
    assert(!first.base.hit && !first.sft.hit);
    assert(Number.isFinite(first.sft.manifest.meta?.finalLoss as number));
    const model = await loadPolicy(first.sft, { config });
    try {
      await t.step("rollout records agree with the labeller, verifier and tokenizer", async () => {
        const problems = sampleProblems(new Rng(5), {
          role: "processbench",
          bucket: { name: "b", minSteps: 2, maxSteps: 3 },
          n: 3,
        });
        const rs = await sampleRollouts(
          model,
          problems.map((problem) => ({ problem, bucket: "b" })),
          { rng: new CounterRng(1, "t"), n: 2, log: quiet },
        );
        assertEquals(rs.length, 6);
        rs.forEach((r, i) => {
          assertEquals(
            r.key,
            rolloutFromTokens(problems[Math.floor(i / 2)]!, {
              tokens: r.tokens,
              bucket: "b",
              sample: 0,
              format: "sft",
            }).key,
          );
          assertEquals(r.sample, i % 2);
          assertEquals(r.label, labelResponse(r.problem, r.response, { format: "sft" }).label);
          assertEquals(r.correct, verify(r.problem, r.response, { format: "sft" }));
          assertEquals(r.stepEnds, stepTokenEnds(r.response, { format: "sft" }));
          assertEquals(tok.decode(r.tokens), r.response);
          assertEquals(r.length, r.tokens.length);
          assert(r.prompt.length + 1 + r.length <= config.model.context);
        });
        const again = await sampleRollouts(
          model,
          problems.map((problem) => ({ problem, bucket: "b" })),
          { rng: new CounterRng(1, "t"), n: 2, log: quiet },
        );
        assertEquals(again.map((r) => r.tokens), rs.map((r) => r.tokens));
        // A problem's samples do not depend on the batch it sits in: alone, or among
        // problems of other prompt and response lengths, in another order and chunking.
        const others = sampleProblems(new Rng(6), {
          role: "processbench",
          bucket: { name: "c", minSteps: 1, maxSteps: 4 },
          n: 5,
        });
        const mixed = [others[0]!, problems[2]!, ...others.slice(1), problems[0]!, problems[1]!];
        for (const batchRows of [1, 3, 64]) {
          const rm = await sampleRollouts(
            model,
            mixed.map((problem) => ({ problem, bucket: "b" })),
            { rng: new CounterRng(1, "t"), n: 2, batchRows, log: quiet },
          );
          const of = (p: number) => rm.slice(p * 2, p * 2 + 2).map((r) => r.tokens);
          assertEquals(of(mixed.length - 2), [rs[0]!.tokens, rs[1]!.tokens]);
          assertEquals(of(mixed.length - 1), [rs[2]!.tokens, rs[3]!.tokens]);
          assertEquals(of(1), [rs[4]!.tokens, rs[5]!.tokens]);
        }
        const alone = await sampleRollouts(model, [{ problem: problems[1]!, bucket: "b" }], {
          rng: new CounterRng(1, "t"),
          n: 2,
          log: quiet,
        });
        assertEquals(alone.map((r) => r.tokens), [rs[2]!.tokens, rs[3]!.tokens]);
      });
      await t.step("RM data keeps only mixed prompts with (correct, wrong) pairs", async () => {
        const a = await buildRmData(config, { sft: first.sft, model, cache, log: quiet });
        const { pairs, rollouts, summary } = await readRmData(a);
        assertEquals(summary.sampled, 12);
        assertEquals(summary.keptPrompts + summary.allCorrect + summary.allWrong, 4);
        for (const p of pairs) {
          assertEquals([p.chosen.correct, p.rejected.correct, p.chosen.key === p.rejected.key], [
            1,
            0,
            true,
          ]);
        }
        const byKey = new Map<string, number[]>();
        for (const r of rollouts) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.correct]);
        for (const cs of byKey.values()) assert(cs.includes(0) && cs.includes(1));
        assert((await buildRmData(config, { sft: first.sft, model, cache, log: quiet })).hit);
      });
      await t.step(
        "ProcessBench analogue is balanced per bucket and labelled in the shifted format",
        async () => {
          const a = await buildProcessBenchSet(config, {
            sft: first.sft,
            model,
            cache,
            log: quiet,
          });
          const rows = await readProcessBenchSet(a);
          assertEquals(rows.length, 4 * 2);
          for (const b of config.split.processbench) {
            const rb = rows.filter((r) => r.bucket === b.name);
            assertEquals(rb.filter((r) => r.label >= 0).length, 1);
            assertEquals(rb.filter((r) => r.label === -1).length, 1);
          }
          for (const r of rows) {
            assertEquals(
              r.label,
              labelResponse(r.problem_data, r.response, { format: "shifted" }).label,
            );
            assertEquals(r.steps.join(""), r.response);
            assertEquals(r.step_ends, stepTokenEnds(r.response, { format: "shifted" }));
          }
        },
      );
      await t.step("BoN, avg@k and SFT-accuracy sets have the configured sizes", async () => {
        const bon = await readBonSet(
          await buildBonSet(config, { sft: first.sft, model, cache, log: quiet }),
        );
        assertEquals(bon.problems.length, 2);
        assert(
          bon.rollouts.every((rs, i) =>
            rs.length === 2 && rs.every((r) => r.key === bon.problems[i]!.key)
          ),
        );
        const avg = await readAvgSet(await buildAvgSet(config, { cache }));
        assertEquals(avg.length, 2 * config.split.policyEval.length);
        const ev = await buildSftEval(config, { sft: first.sft, model, cache, log: quiet });
        const acc = ev.manifest.meta?.accuracy as Record<string, number>;
        assertEquals(Object.keys(acc), config.split.processbench.map((b) => b.name));
      });
    } finally {
      model.dispose();
    }
    await t.step("a second build is a cache hit; a corrupt entry is rebuilt", async () => {
      const second = await buildPolicy(config, opts);
      assert(second.base.hit && second.sft.hit);
      assertEquals(second.sft.key, first.sft.key);
      const w = second.sft.file("weights.safetensors");
      const bytes = await Deno.readFile(w);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      await Deno.writeFile(w, bytes);
      const third = await buildPolicy(config, opts);
      assert(third.base.hit && !third.sft.hit);
      // the rebuild is deterministic: same weights file as the first build
      const digest = (a: typeof first.sft) =>
        a.manifest.files.find((f) => f.path === "weights.safetensors");
      assertEquals(digest(third.sft), digest(first.sft));
      const m1 = await loadPolicy(third.sft, { config });
      assert(Object.keys(await exportWeights(m1)).length > 0);
      m1.dispose();
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
