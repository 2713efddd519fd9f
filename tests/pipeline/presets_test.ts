import { assert, assertEquals, assertThrows } from "@std/assert";
import { hashString, Rng } from "../../lib/prng.ts";
import { drawExamples, pickFormat } from "../../lib/pipeline/corpus.ts";
import {
  longestSequence,
  type PipelineConfig,
  resolvePipelineConfig,
  SFT_DATA_V1,
  SFT_DATA_V2,
  writerAccuracy,
} from "../../lib/pipeline/presets.ts";
import type { DeepPartial } from "../../lib/run/config.ts";
import { canonicalJson } from "../../lib/run/hash.ts";
import { PIPELINE_PRESET_NAMES } from "../../lib/vocabulary.ts";
import { parseResponse } from "../../lib/testbed/format.ts";
import { roleOf } from "../../lib/testbed/splits.ts";

Deno.test("every preset resolves and its context holds the longest chain in every format", () => {
  for (const p of PIPELINE_PRESET_NAMES) {
    const c = resolvePipelineConfig(p);
    assertEquals(c.preset, p);
    assert(
      c.model.context >=
        longestSequence({ modulus: 7, maxSteps: c.task.maxSteps, maxVerify: c.sftData.maxVerify })
          .length,
    );
  }
});

Deno.test("resolvePipelineConfig() errors name the field", () => {
  assertThrows(
    () => resolvePipelineConfig("smoke", { model: { context: 64 } }),
    RangeError,
    "model.context: expected >= 87",
  );
  assertThrows(
    () => resolvePipelineConfig("smoke", { sft: { warmup: 10, steps: 5 } }),
    RangeError,
    "sft.warmup",
  );
  assertThrows(
    () => resolvePipelineConfig("smoke", { evalSets: { processbenchRowsPerBucket: 5 } }),
    RangeError,
    "evalSets.processbenchRowsPerBucket",
  );
  assertThrows(
    () => resolvePipelineConfig("smoke", { rmData: { rollouts: 1 } }),
    RangeError,
    "rmData.rollouts",
  );
  assertThrows(() => resolvePipelineConfig("smoke", { sftData: { rate: 2 } }), RangeError, "rate");
  assertThrows(
    () => resolvePipelineConfig("smoke", { model: { vocab: 30 } }),
    RangeError,
    "model.vocab",
  );
  assertThrows(
    () => resolvePipelineConfig("smoke", { rmData: { promts: 3 } } as never),
    Error,
    'did you mean "rmData.prompts"',
  );
  assertThrows(
    () => resolvePipelineConfig("big" as never),
    RangeError,
    'preset: expected one of "smoke", "default", "gpu"',
  );
});

Deno.test("drawExamples() follows the base format mix and uses train problems only", () => {
  const c = resolvePipelineConfig("default");
  const ex = drawExamples(new Rng(3), { config: c, stage: c.base, n: 4000 });
  const counts: Record<string, number> = {};
  for (const e of ex) {
    counts[e.format] = (counts[e.format] ?? 0) + 1;
    assertEquals(roleOf(e.problem, { config: c.split }), "train");
    assert(parseResponse(e.response, e.format).wellFormed, e.response);
  }
  // 4000 draws: standard error of a 15% share is 0.56 points; allow 3 points
  for (const [f, w] of Object.entries(c.base.formatMix)) {
    assert(Math.abs((counts[f] ?? 0) / 4000 - w) < 0.03, `${f}: ${counts[f]} of 4000 vs ${w}`);
  }
  const sft = drawExamples(new Rng(3), { config: c, stage: c.sft, n: 200 });
  assert(sft.every((e) => e.format === "sft"));
});

Deno.test("pickFormat() never picks a zero-weight format", () => {
  const rng = new Rng(1);
  for (let i = 0; i < 500; i++) {
    assertEquals(pickFormat(rng, { sft: 0, shifted: 1, numbered: 0, inline: 0 }), "shifted");
  }
});

Deno.test("the data writer's accuracy falls with chain length (difficulty is set by the data)", () => {
  const acc = writerAccuracy(resolvePipelineConfig("default"), { samples: 1500 });
  // 36 of 126 triples wrong at q = 0.5 plus 2% corruption: about 16% wrong per step, so
  // about 0.84^2 = 0.71 at k = 2 and 0.84^8 = 0.25-0.33 at k = 8 (1,500 samples: sd ~1.2%).
  assert(acc[2]! > 0.65 && acc[2]! < 0.77 && acc[8]! < 0.4, JSON.stringify(acc));
  assert(acc[2]! > acc[5]! && acc[5]! > acc[8]!, JSON.stringify(acc));
});

Deno.test("the default stays v1, its canonical config (every cache key) unchanged by v2", () => {
  // hashString(canonicalJson(...)) of the configs resolved by the code before v2 (commit 7bbcd56)
  const before: Record<string, number> = {
    smoke: 2260491408,
    default: 2784007275,
    gpu: 4005728300,
  };
  for (const p of PIPELINE_PRESET_NAMES) {
    const c = resolvePipelineConfig(p);
    assertEquals(hashString(canonicalJson(c)), before[p], p);
    assertEquals(hashString(canonicalJson(c.sftData)), 1631352415, `${p} sftData`);
    assertEquals(c.sftData.writer, undefined);
    // SFT_DATA_V1 as an override selects the same config
    const v1 = resolvePipelineConfig(p, { sftData: SFT_DATA_V1 } as DeepPartial<PipelineConfig>);
    assertEquals(canonicalJson(v1), canonicalJson(c));
  }
});

Deno.test("SFT_DATA_V2 resolves in every preset, fits the context, and writes v2 data", () => {
  const over = { sftData: SFT_DATA_V2 } as DeepPartial<PipelineConfig>;
  for (const p of PIPELINE_PRESET_NAMES) {
    const c = resolvePipelineConfig(p, over);
    assertEquals(c.sftData.writer, "v2");
    assertEquals(c.sftData.misconceptions.length, SFT_DATA_V2.gradedSet!.count);
    const longest = longestSequence({
      modulus: 7,
      maxSteps: c.task.maxSteps,
      maxVerify: c.sftData.maxVerify,
      maxFiller: c.task.maxSteps,
    });
    assert(c.model.context >= longest.length, `${p}: ${longest.length}`);
  }
  const c = resolvePipelineConfig("default", over);
  const ex = drawExamples(new Rng(2), { config: c, stage: c.base, n: 1000 });
  let variants = 0;
  for (const e of ex) {
    const parsed = parseResponse(e.response, e.format);
    assert(parsed.wellFormed, e.response);
    if (/[:;]/.test(e.response) && e.format === "sft") variants++;
  }
  assert(variants > 100, `${variants} sft responses with an alternative tag or a filler`);
  // one verify line more would not fit a k = 8 chain with a filler on every step
  assertThrows(
    () =>
      resolvePipelineConfig("default", {
        sftData: { ...SFT_DATA_V2, maxVerify: 4 },
      } as DeepPartial<PipelineConfig>),
    RangeError,
    "model.context: expected >= 99",
  );
});
