import { assert, assertEquals } from "@std/assert";
import {
  EXPERIMENT_PRESET_NAMES,
  EXPERIMENT_PRESET_PIPELINE,
  isExperimentPreset,
  PIPELINE_PRESET_NAMES,
  SWITCH_PRESET_NAMES,
} from "../lib/vocabulary.ts";

Deno.test("the preset lists are the records' keys, in order of cost", () => {
  assertEquals(PIPELINE_PRESET_NAMES, ["smoke", "default", "gpu"]);
  assertEquals(EXPERIMENT_PRESET_NAMES, ["smoke", "default", "full", "gpu"]);
  assertEquals(SWITCH_PRESET_NAMES, ["paper", "repo"]);
  for (const p of EXPERIMENT_PRESET_NAMES) {
    assert(PIPELINE_PRESET_NAMES.includes(EXPERIMENT_PRESET_PIPELINE[p]));
  }
  assertEquals(EXPERIMENT_PRESET_PIPELINE.full, "default");
});

Deno.test("isExperimentPreset() accepts the names only", () => {
  assert(isExperimentPreset("full"));
  assert(!isExperimentPreset("toString"));
  assert(!isExperimentPreset("paper"));
});
