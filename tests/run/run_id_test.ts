import { assertEquals, assertThrows } from "@std/assert";
import { formatRunId, parseRunId } from "../../lib/run/run_id.ts";

Deno.test("formatRunId() joins ablation, variant and seed with '__' and parseRunId() inverts it", () => {
  const parts = { ablation: "ipvrm_weighting", variant: "late-m0.5".replace(".", ""), seed: 3 };
  const id = formatRunId(parts);
  assertEquals(id, "ipvrm_weighting__late-m05__3");
  assertEquals(parseRunId(id), parts);
  assertEquals(parseRunId("a__b__0"), { ablation: "a", variant: "b", seed: 0 });
});

Deno.test("formatRunId() rejects bad segments and seeds, naming the argument", async (t) => {
  await t.step("uppercase", () => {
    assertThrows(
      () => formatRunId({ ablation: "RM", variant: "x", seed: 0 }),
      RangeError,
      'Invalid ablation: expected lowercase letters, digits, "_" or "-"',
    );
  });
  await t.step("separator inside a segment", () => {
    assertThrows(
      () => formatRunId({ ablation: "a", variant: "b__c", seed: 0 }),
      RangeError,
      'Invalid variant: "__" is the run-id separator',
    );
  });
  await t.step("trailing underscore (would make ___ ambiguous)", () => {
    assertThrows(
      () => formatRunId({ ablation: "a_", variant: "b", seed: 0 }),
      RangeError,
      "Invalid ablation",
    );
  });
  await t.step("empty", () => {
    assertThrows(
      () => formatRunId({ ablation: "", variant: "b", seed: 0 }),
      RangeError,
      "Invalid ablation",
    );
  });
  await t.step("negative or fractional seed", () => {
    assertThrows(
      () => formatRunId({ ablation: "a", variant: "b", seed: -1 }),
      RangeError,
      "Invalid seed: expected a non-negative integer, got -1",
    );
    assertThrows(
      () => formatRunId({ ablation: "a", variant: "b", seed: 1.5 }),
      RangeError,
      "got 1.5",
    );
  });
});

Deno.test("parseRunId() rejects malformed ids with the reason", async (t) => {
  await t.step("wrong number of parts", () => {
    assertThrows(() => parseRunId("a__b"), RangeError, "(2 parts)");
    assertThrows(() => parseRunId("a__b__c__1"), RangeError, "(4 parts)");
  });
  await t.step("seed not a number", () => {
    assertThrows(() => parseRunId("a__b__x"), RangeError, 'Invalid seed in run id "a__b__x"');
  });
  await t.step("seed with leading zero (not canonical)", () => {
    assertThrows(() => parseRunId("a__b__01"), RangeError, "without leading zeros");
  });
  await t.step("triple underscore", () => {
    assertThrows(() => parseRunId("a___b__1"), RangeError, "Invalid variant");
  });
});
