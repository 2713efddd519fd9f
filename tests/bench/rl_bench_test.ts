import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { rlStepBench } from "../../bench/rl_bench.ts";
import { setup } from "../rl/_rl_setup.ts";

Deno.test({
  name: "rlStepBench(): the three rl_step workloads, then their ratios, leaking no tensors",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await setup();
    const before = tf.memory().numTensors;
    const rows = await rlStepBench({ preset: "smoke", reps: 1 });
    assertEquals(tf.memory().numTensors, before);
    const byName = Object.fromEntries(rows.map((r) => [r.ratio ?? r.workload, r])) as Record<
      string,
      Record<string, number>
    >;
    for (const w of ["rl_step_grpo_ipvrm", "rl_step_distrl", "rl_step_distrl_repo"]) {
      assert(byName[w]!.ms! > 0, `${w}.ms`);
      assert(byName[w]!.peak_bytes! > 0, `${w}.peak_bytes`);
    }
    const g = byName["rl_step_grpo_ipvrm"]!;
    const d = byName["rl_step_distrl"]!;
    const r = byName["rl_step_distrl/rl_step_grpo_ipvrm"]!;
    // the ratio line is the formula over the printed rows; rows round ms to integers and the
    // ratio (of the unrounded times) to 3 decimals, so allow exactly those roundings
    const roundingSlack = (d.ms! + 0.5) / (g.ms! - 0.5) - d.ms! / g.ms! + 0.0005;
    assertAlmostEquals(r.time!, d.ms! / g.ms!, roundingSlack);
    assertAlmostEquals(r.peak_bytes!, d.peak_bytes! / g.peak_bytes!, 0.001);
    assertEquals(rows.filter((x) => x.workload === "rl_step_ratio").length, 2);
    let threw = false;
    try {
      await rlStepBench({ preset: "smoke", reps: 0 });
    } catch (e) {
      threw = (e as Error).message.includes("Invalid reps");
    }
    assert(threw, "reps 0 must throw naming reps");
  },
});
