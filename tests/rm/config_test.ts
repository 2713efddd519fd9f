import { assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import {
  DEFAULT_RM_CONFIG,
  resolveRMConfig,
  RMConfigError,
  trainingKeyConfig,
  variantName,
} from "../../lib/rm/config.ts";

Deno.test("resolveRMConfig() derives β from the kind: IPVRM 10, DPO-RM / Implicit PRM 0.05 (App. C)", () => {
  assertEquals(resolveRMConfig("default", { kind: "ipvrm" }).beta, 10);
  assertEquals(resolveRMConfig("default", { kind: "dpo" }).beta, 0.05);
  assertEquals(resolveRMConfig("default", { kind: "implicit_prm" }).beta, 0.05);
  assertEquals(resolveRMConfig("default", { kind: "dpo", beta: 0.1 }).beta, 0.1);
});

Deno.test("resolveRMConfig() paper preset = defaults (m 5, sequence, 1 pair); repo preset flips the e15/e16/e20 switches", () => {
  const paper = resolveRMConfig({ budget: "default", switches: "paper" });
  assertEquals(paper.ipvrm, { margin: 5, weighting: "uniform", reduction: "sequence" });
  assertEquals(paper.dpo.pairsPerPrompt, "one");
  assertEquals(paper.pointwiseData, "all_rollouts");
  const repo = resolveRMConfig({ budget: "default", switches: "repo" });
  assertEquals(repo.ipvrm, { margin: 0, weighting: "uniform", reduction: "token" });
  assertEquals(repo.dpo.pairsPerPrompt, "all");
  assertEquals(repo.pointwiseData, "pairs_split");
  assertEquals(repo.presets, { switches: "repo", budget: "default" });
  // overrides win over presets
  assertEquals(
    resolveRMConfig({ budget: "smoke", switches: "repo" }, { ipvrm: { margin: 5 } }).ipvrm.margin,
    5,
  );
});

Deno.test("resolveRMConfig() budgets per pipeline preset", () => {
  assertEquals(resolveRMConfig("smoke").train.epochs, 1);
  const d = resolveRMConfig("default").train;
  assertEquals([
    d.epochs,
    d.lr,
    d.batchSize,
    d.schedule,
    d.warmupRatio,
    d.maxGradNorm,
    d.weightDecay,
  ], [
    2,
    1e-4,
    16,
    "cosine",
    0.03,
    1,
    0,
  ]);
  assertEquals(resolveRMConfig("gpu").train.batchSize, 64);
  assertEquals(DEFAULT_RM_CONFIG.train.epochs, 5);
});

Deno.test("resolveRMConfig() errors name the field and what was expected", () => {
  assertThrows(
    () => resolveRMConfig("default", { kind: "prm" as never }),
    RMConfigError,
    'Invalid kind: expected one of "dpo"',
  );
  assertThrows(
    () => resolveRMConfig("default", { ipvrm: { weighting: "middle" as never } }),
    RMConfigError,
    "Invalid ipvrm.weighting",
  );
  assertThrows(
    () => resolveRMConfig("default", { ipvrm: { margin: -1 } }),
    RMConfigError,
    "Invalid ipvrm.margin: expected a finite number >= 0, got -1",
  );
  assertThrows(
    () => resolveRMConfig("default", { train: { epochs: 0 } }),
    RMConfigError,
    "Invalid train.epochs: expected an integer >= 1",
  );
  assertThrows(
    () => resolveRMConfig("default", { train: { lr: 0 } }),
    RMConfigError,
    "Invalid train.lr",
  );
  assertThrows(() => resolveRMConfig("huge" as never), RMConfigError, "Invalid preset.budget");
  assertThrows(
    () => resolveRMConfig("default", { ipvrm: { reduction: "token", weighting: "late" } }),
    RMConfigError,
    'reduction "token" needs "uniform"',
  );
  assertThrows(
    () => resolveRMConfig("default", { train: { lrr: 1 } } as never),
    Error,
    'did you mean "train.lr"',
  );
});

Deno.test("trainingKeyConfig() ignores switches of other kinds and evaluation-only fields", () => {
  const a = resolveRMConfig("default", { kind: "dpo" });
  const b = resolveRMConfig("default", {
    kind: "dpo",
    ipvrm: { margin: 0 },
    train: { scoreBatch: 7 },
  });
  assertEquals(trainingKeyConfig(a), trainingKeyConfig(b));
  const c = resolveRMConfig("default", { kind: "ipvrm" });
  const d = resolveRMConfig("default", { kind: "ipvrm", ipvrm: { weighting: "late" } });
  assertNotEquals(trainingKeyConfig(c), trainingKeyConfig(d));
  assertEquals(variantName(d), "ipvrm-late");
  assertEquals(
    variantName(resolveRMConfig("default", { kind: "ipvrm", ipvrm: { margin: 0 } })),
    "ipvrm-m0",
  );
  assertEquals(variantName(a), "dpo");
});
