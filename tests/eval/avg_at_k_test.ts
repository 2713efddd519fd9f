import { assertEquals, assertThrows } from "@std/assert";
import { avgAtK } from "../../lib/eval/avg_at_k.ts";

Deno.test("avgAtK(): avg = mean of per-problem accuracy, pass = fraction with any correct", () => {
  // (2/4 + 0 + 4/4) / 3 = 0.5; pass 2/3
  const r = avgAtK([[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]]);
  assertEquals(r.avg, 0.5);
  assertEquals(r.pass, 2 / 3);
});

Deno.test("avgAtK() rejects empty input, ragged rows and non-binary values", () => {
  assertThrows(() => avgAtK([]), RangeError, "correct");
  assertThrows(() => avgAtK([[]]), RangeError, "k >= 1");
  assertThrows(() => avgAtK([[1, 0], [1]]), RangeError, "correct[1]");
  assertThrows(() => avgAtK([[1, 2]]), RangeError, "0/1");
});
