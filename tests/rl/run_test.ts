import { assert, assertEquals, assertRejects } from "@std/assert";
import { createLM } from "../../lib/model/lm.ts";
import { Rng } from "../../lib/prng.ts";
import { readJsonl } from "../../lib/run/results.ts";
import { runRL } from "../../lib/rl/run.ts";
import type { RLConfig } from "../../lib/rl/config.ts";
import { changed, LM, parityTask, problems, setup, smokeConfig, weightsOf } from "./_rl_setup.ts";

await setup();

const EVAL = [{ name: "k2", problems: problems(99, 1) }];

async function run(c: RLConfig, dir: string, stopAfter?: number) {
  const policy = createLM(LM, { rng: new Rng(1) });
  const rm = c.rm ? createLM(LM, { rng: new Rng(101) }) : null;
  const lines: string[] = [];
  const r = await runRL({
    config: c,
    dir,
    policy,
    rm,
    task: parityTask(),
    drawProblems: (rng, n) => problems(rng.int(1_000_000) + 1, n),
    evalSets: EVAL,
    stopAfter,
    write: (l) => lines.push(l),
  });
  const out = { r, lines, policy: await weightsOf(policy), rm: rm ? await weightsOf(rm) : null };
  policy.dispose();
  rm?.dispose();
  return out;
}

const strip = (rs: Record<string, unknown>[]) =>
  rs.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith("time/"))));

Deno.test("runRL(): a stopped run resumes to bit-exact final weights, metrics and evals", async () => {
  const c = smokeConfig({
    method: "distrl",
    preset: "repo",
    budget: { steps: 3, checkpointEvery: 1, evalEvery: 2, evalK: 2 },
  });
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  const full = await run(c, a);
  assertEquals([full.r.step, full.r.resumedFrom], [3, 0]);
  const first = await run(c, b, 1);
  assertEquals(first.r.step, 1);
  const resumed = await run(c, b);
  assertEquals([resumed.r.step, resumed.r.resumedFrom], [3, 1]);
  assertEquals(changed(full.policy, resumed.policy), [], "policy weights bit-exact");
  assertEquals(changed(full.rm!, resumed.rm!), [], "RM weights bit-exact");
  const ra = (await readJsonl<Record<string, unknown>>(`${a}/metrics.jsonl`)).records;
  const rb = (await readJsonl<Record<string, unknown>>(`${b}/metrics.jsonl`)).records;
  assertEquals(strip(rb), strip(ra));
  assertEquals(ra.map((r) => `${r.kind}@${r.step}`), [
    "eval@0",
    "train@1",
    "train@2",
    "eval@2",
    "train@3",
    "eval@3",
  ]);
  assert(full.lines.some((l) => l.startsWith("[rl:distrl] step 3/3")), full.lines.join("\n"));
  assert(
    JSON.parse(await Deno.readTextFile(`${a}/config.json`)).switches.candidateSet ===
      "sampled_plus_topk",
  );
  await Deno.remove(a, { recursive: true });
  await Deno.remove(b, { recursive: true });
});

Deno.test("runRL(): records after the checkpoint are dropped and redone; another config refuses to resume", async () => {
  const c = smokeConfig({
    method: "grpo",
    budget: { steps: 2, checkpointEvery: 2, evalEvery: 2, evalK: 2 },
  });
  const d = await Deno.makeTempDir();
  await run(c, d, 1); // step 1 written, no checkpoint yet (every 2)
  const done = await run(c, d);
  assertEquals(done.r.resumedFrom, 0);
  const recs = (await readJsonl<Record<string, unknown>>(`${d}/metrics.jsonl`)).records;
  assertEquals(recs.map((r) => `${r.kind}@${r.step}`), ["eval@0", "train@1", "train@2", "eval@2"]);
  await assertRejects(
    () => run(smokeConfig({ method: "grpo", seed: 2 }), d),
    Error,
    "Config mismatch",
  );
  await Deno.remove(d, { recursive: true });
});
