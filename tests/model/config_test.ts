import { assertEquals, assertThrows } from "@std/assert";
import { DEFAULT_LM_CONFIG, LMConfigError, resolveLMConfig } from "../../lib/model/config.ts";

Deno.test("resolveLMConfig() defaults to the bench contract and derives headDim", () => {
  assertEquals(resolveLMConfig(), { ...DEFAULT_LM_CONFIG, headDim: 32 });
});

Deno.test("resolveLMConfig() errors name the field", () => {
  assertThrows(() => resolveLMConfig({ width: 10, heads: 4 }), LMConfigError, "width=10, heads=4");
  assertThrows(() => resolveLMConfig({ vocab: 0 }), LMConfigError, "config.vocab");
  assertThrows(() => resolveLMConfig({ layers: 1.5 }), LMConfigError, "config.layers");
  assertThrows(() => resolveLMConfig({ widht: 3 } as never), LMConfigError, '"widht"');
});
