import { assertEquals } from "@std/assert";
import { rolloutMetrics } from "../../lib/rl/step_metrics.ts";
import type { RLBatch, Rollouts } from "../../lib/rl/_rollout.ts";

Deno.test("rolloutMetrics(): accuracy, kept accuracy, mixed fraction, uniform fill, length, truncation", () => {
  // 3 groups of G = 2: [1, 0] mixed, [1, 1] uniform, [0, 0] uniform; keep groups 0 and 1
  const roll: Rollouts = {
    problems: [],
    groupSize: 2,
    prompts: [[1], [1], [1], [1], [1], [1]],
    responses: [[3, 2], [3], [4, 4, 2], [5], [6, 2], [7, 7]],
    truncated: [false, true, false, false, false, true],
    labels: [1, 0, 1, 1, 0, 0],
  };
  const batch = { labels: [1, 0, 1, 1] } as unknown as RLBatch;
  assertEquals(rolloutMetrics(roll, batch, [0, 1]), {
    "verifier/accuracy": 3 / 6,
    "verifier/accuracy_kept": 3 / 4,
    "filter/mixed_frac": 1 / 3,
    "filter/kept_uniform": 1, // 2 kept groups, 1 of them mixed
    "rollout/length": 11 / 6,
    "rollout/truncated_frac": 2 / 6,
  });
});
