import { assertEquals, assertThrows } from "@std/assert";
import {
  resolveRLConfig,
  RL_BUDGETS,
  RLConfigError,
  SWITCH_PRESETS,
  variantName,
} from "../../lib/rl/config.ts";

Deno.test("resolveRLConfig(): defaults are DistRL + IPVRM, paper switches, default budget", () => {
  const c = resolveRLConfig();
  assertEquals([c.method, c.rm, c.preset, c.pipeline, c.seed], [
    "distrl",
    "ipvrm",
    "paper",
    "default",
    1,
  ]);
  assertEquals(c.switches, { ...SWITCH_PRESETS.paper });
  assertEquals(c.budget.groupSize, 4); // paper App. C: n = 4
  assertEquals(c.batchRows, c.budget.promptsPerStep * 4);
  assertEquals(c.promptsDrawn, c.budget.promptsPerStep * c.budget.oversample);
  assertEquals(c.rmHyper, { beta: 10, margin: 5 });
  assertEquals(variantName(c), "distrl-ipvrm-paper");
});

Deno.test("resolveRLConfig(): the presets differ exactly where methods.md (e) says", () => {
  const p = SWITCH_PRESETS.paper, r = SWITCH_PRESETS.repo;
  const diff = Object.keys(p).filter((k) => p[k as keyof typeof p] !== r[k as keyof typeof r])
    .sort();
  assertEquals(diff, [
    "candidateSet",
    "dlw",
    "dualClip",
    "gaeNorm",
    "lossAgg",
    "rmSkipUniform",
    "topK",
  ]);
  assertEquals(resolveRLConfig({ preset: "repo" }).switches.topK, 5);
});

Deno.test("resolveRLConfig(): each method's forced and default switches", async (t) => {
  await t.step("grpo: c_gae 0, no RM, no update, alpha 0", () => {
    const c = resolveRLConfig({ method: "grpo" });
    assertEquals([c.rm, c.switches.gaeCoef, c.switches.rmUpdate, c.switches.alpha], [
      null,
      0,
      "none",
      0,
    ]);
  });
  await t.step("grpo_ipvrm: alpha 0, any RM kind (Table 6)", () => {
    assertEquals(resolveRLConfig({ method: "grpo_ipvrm" }).switches.alpha, 0);
    assertEquals(resolveRLConfig({ method: "grpo_ipvrm", rm: "dpo" }).rmHyper.beta, 0.05);
  });
  await t.step("prime: Implicit PRM, CE without ADB/DLW, frozen SFT reference, clip 1", () => {
    const c = resolveRLConfig({ method: "prime" });
    assertEquals([c.rm, c.switches.adb, c.switches.dlw, c.switches.ref, c.budget.rmGradClip], [
      "implicit_prm",
      false,
      "off",
      "sft",
      1,
    ]);
    assertEquals(
      resolveRLConfig({ method: "prime", switches: { ref: "old" } }).switches.ref,
      "old",
    );
  });
  await t.step("dpo RM: no ADB/DLW", () => {
    const c = resolveRLConfig({ method: "distrl", rm: "dpo" });
    assertEquals([c.switches.adb, c.switches.dlw], [false, "off"]);
  });
});

Deno.test("resolveRLConfig(): budgets per pipeline preset", () => {
  assertEquals(resolveRLConfig({ pipeline: "smoke" }).budget, { ...RL_BUDGETS.standalone.smoke });
  assertEquals(resolveRLConfig({ pipeline: "gpu", budget: { steps: 7 } }).budget.steps, 7);
});

Deno.test("resolveRLConfig() errors name the field and what was expected", async (t) => {
  const cases: Array<[string, Parameters<typeof resolveRLConfig>[0], string]> = [
    [
      "method",
      { method: "ppo" as never },
      'method: expected one of "grpo", "grpo_ipvrm", "prime", "distrl", got "ppo"',
    ],
    [
      "rm with grpo",
      { method: "grpo", rm: "ipvrm" },
      'rm: method "grpo" uses the verifiable reward only',
    ],
    [
      "rm of prime",
      { method: "prime", rm: "ipvrm" },
      'rm: method "prime" needs one of "implicit_prm", got "ipvrm"',
    ],
    [
      "forced alpha",
      { method: "grpo_ipvrm", switches: { alpha: 0.1 } },
      'switches.alpha: method "grpo_ipvrm" needs 0',
    ],
    [
      "forced rmUpdate",
      { method: "grpo", switches: { rmUpdate: "before" } },
      'switches.rmUpdate: method "grpo" needs "none"',
    ],
    [
      "distrl alpha 0",
      { switches: { alpha: 0 } },
      'switches.alpha: method "distrl" needs alpha > 0',
    ],
    ["unknown switch", { switches: { alpah: 1 } as never }, "switches.alpah: unknown field"],
    [
      "pMin",
      { switches: { pMin: 1.5 } },
      "switches.pMin: expected a probability in (0, 1), got 1.5",
    ],
    ["topK", { switches: { topK: 0 } }, "switches.topK: expected an integer >= 1, got 0"],
    [
      "choice",
      { switches: { ref: "base" as never } },
      'switches.ref: expected one of "old", "sft", got "base"',
    ],
    [
      "groupSize",
      { budget: { groupSize: 1 } },
      "budget.groupSize: expected n >= 2 rollouts per prompt, got 1",
    ],
    [
      "mini-batch",
      { pipeline: "smoke", budget: { miniBatchPrompts: 3 } },
      "budget.miniBatchPrompts must divide budget.promptsPerStep (mini-batches hold whole groups): B=16, mini-batch=12, G=4",
    ],
    ["seed", { seed: 0 }, "seed: expected an integer >= 1, got 0"],
    [
      "dpo adb",
      { rm: "dpo", switches: { adb: true } },
      'switches.adb/dlw: rm "dpo" trains on pairs',
    ],
  ];
  for (const [name, input, msg] of cases) {
    await t.step(name, () => void assertThrows(() => resolveRLConfig(input), RLConfigError, msg));
  }
});

Deno.test("RL_BUDGETS names both uses: standalone runs and the experiments' ablation trims", () => {
  assertEquals(RL_BUDGETS.standalone.default.steps, 40); // `deno task rl`
  assertEquals(RL_BUDGETS.ablation.default.steps, 12); // lib/experiments/ RL arms
  // full keeps the standalone budget; every preset but smoke ends on k = 32 samples per problem
  assertEquals(RL_BUDGETS.ablation.full, { evalK: 32 });
  assertEquals(RL_BUDGETS.ablation.default.evalK, 32);
  assertEquals(RL_BUDGETS.ablation.default.evalEvery, 12); // no intermediate evaluation
});
