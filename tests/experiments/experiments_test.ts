import { assert, assertEquals, assertThrows } from "@std/assert";
import { EXPERIMENTS, selectExperiments } from "../../lib/experiments/_registry.ts";
import {
  resolveRlArm,
  resolveRmArm,
  RL_METHOD_ARMS,
  RM_ARMS,
} from "../../lib/experiments/_experiment.ts";
import { overridePaths, overridesObject } from "../../lib/experiments/_summary.ts";
import { diffConfig } from "../../lib/run/config.ts";
import { PaperIndex } from "../../lib/report/paper.ts";
import { claimDirection } from "../../lib/report/stats.ts";
import * as e01 from "../../lib/experiments/01_reward_models.ts";
import * as e02 from "../../lib/experiments/02_temporal_weighting.ts";
import * as e03 from "../../lib/experiments/03_main_rl.ts";
import * as e04 from "../../lib/experiments/04_online_update.ts";
import * as e05 from "../../lib/experiments/05_reference_choice.ts";
import * as e06 from "../../lib/experiments/06_margin.ts";
import * as e07 from "../../lib/experiments/07_p_min.ts";
import * as e08 from "../../lib/experiments/08_processbench_protocols.ts";
import * as e09 from "../../lib/experiments/09_prefix_values.ts";

Deno.test("every experiment's config diff is valid against the base config", async (t) => {
  for (const e of EXPERIMENTS) {
    await t.step(e.id, () => {
      for (const preset of ["smoke", "default", "full", "gpu"] as const) {
        const resolve = (o: object) =>
          e.grid === "rl" ? resolveRlArm(preset, o) : resolveRmArm(preset, o);
        const base = resolve({});
        for (const arm of e.arms()) {
          const cfg = resolve(overridesObject<object>(arm.overrides)); // throws on an unknown path or bad value
          const changed = diffConfig(base, cfg).map((c) => c.path);
          for (const o of arm.overrides) {
            for (const path of overridePaths(o.set)) {
              assert(o.reason.length > 10, `${e.id}/${arm.name}: override ${path} needs a reason`);
              assert(
                changed.some((p) => p === path || p.startsWith(path + ".")),
                `${e.id}/${arm.name}: ${path} changes nothing`,
              );
            }
          }
        }
        const text = e.configDiff(preset);
        for (const arm of e.arms()) {
          assert(text.includes(`[${arm.name}]`), `${e.id}: diff lacks arm ${arm.name}`);
        }
      }
    });
  }
});

Deno.test("every claim names paper cells that exist and arms of its experiment", async () => {
  const paper = await PaperIndex.load();
  const modules = [e01, e02, e03, e04, e05, e06, e07, e08, e09];
  for (const [i, m] of modules.entries()) {
    const arms = m.experiment.arms().map((a) => a.name);
    for (const c of m.CLAIMS) {
      assert(
        arms.includes(c.treatment.arm) && arms.includes(c.control.arm),
        `${m.experiment.id}/${c.id}: unknown arm`,
      );
      const pt = c.treatment.paper ? paper.value(c.treatment.paper) : null;
      const pc = c.control.paper ? paper.value(c.control.paper) : null;
      if (!c.direction) claimDirection(pt!, pc!); // throws when the paper's two numbers give no direction
      assert(i >= 0);
    }
  }
});

Deno.test("selectExperiments() picks by number and rejects unknown numbers", () => {
  assertEquals(selectExperiments(["0", "08"]).map((e) => e.id), [
    "00_quickstart",
    "08_processbench_protocols",
  ]);
  assertEquals(selectExperiments([]).length, 10);
  assertThrows(() => selectExperiments(["42"]), RangeError, "Invalid --only");
});

Deno.test("shared arms resolve to the same config (cache reuse across experiments)", () => {
  const distrl = resolveRlArm("default", {});
  for (const e of [e04, e05, e07]) {
    const same = e.experiment.arms().filter((a) => a.overrides.length === 0);
    assertEquals(same.length, 1);
    assertEquals(resolveRlArm("default", overridesObject(same[0]!.overrides)), distrl);
  }
  assertEquals(RM_ARMS.length, 3);
  assertEquals(RL_METHOD_ARMS.at(-1)!.name, "distrl");
});

Deno.test("09's natural success logit: IPVRM reads v̄_t, DPO-RM and Implicit PRM β Σ_{s≤t} ℓ_s (not / t)", () => {
  // β = 0.5, ℓ = [2, 4]: V = [1, 3], v̄ = [1, 1.5]
  const s = { values: [1, 3], meanValues: [1, 1.5] };
  assertEquals(e09.naturalLogit("ipvrm", s, 1), 1.5);
  assertEquals(e09.naturalLogit("dpo", s, 1), 3);
  assertEquals(e09.naturalLogit("implicit_prm", s, 1), 3);
  assertEquals(e09.ARMS.map((a) => a.name), ["dpo", "implicit_prm", "ipvrm", "ipvrm_m0"]);
  // ECE is never the only calibration row: every arm has Brier and log loss rows
  for (const a of e09.ARMS) {
    for (const m of ["calib/brier", "calib/logloss", "calib/auc", "calib/ece"]) {
      assertEquals(e09.EXTRA.filter((r) => r.arm === a.name && r.metric === m).length, 1, m);
    }
  }
});
