import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  checkChoice,
  checkFinite,
  checkGroupSize,
  checkShape,
  lastTokenMask,
  safeDiv,
  tokenCounts,
  validateMask,
} from "../lib/checks.ts";
import { arr, assertNoLeak, t2 } from "./rm/_ref.ts";

Deno.test("lastTokenMask() marks the last valid token; empty rows have none", async () => {
  assertEquals(await arr(lastTokenMask(t2([[1, 1, 0], [1, 1, 1], [0, 0, 0]]))), [[0, 1, 0], [
    0,
    0,
    1,
  ], [0, 0, 0]]);
});

Deno.test("validateMask() names the argument, the expectation and the place", async () => {
  await assertRejects(
    () =>
      validateMask(
        t2([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0.5]]),
      ),
    RangeError,
    "Invalid mask: expected 0/1 values, got 0.5 at [2][7]",
  );
  await assertRejects(() => validateMask(t2([[0, 1]])), RangeError, "right padding");
  await assertRejects(
    () => validateMask(t2([[1, 0], [0, 0]]), { requireRowValid: true }),
    RangeError,
    "row 1 has no valid token",
  );
  await assertRejects(
    () => validateMask(t2([[1, 0]]), { minValid: 2 }),
    RangeError,
    "at least 2 valid tokens, got 1",
  );
  await validateMask(t2([[1, 0], [1, 1]]), { requireRowValid: true, minValid: 2 });
});

Deno.test("synchronous checks name the argument, what was expected and what came", () => {
  assertThrows(
    () => checkShape(t2([[1, 2]]), "x", [1, 3], "[B,L]"),
    RangeError,
    "Invalid x: expected shape [B,L] = [1,3], got [1,2]",
  );
  assertThrows(() => checkGroupSize(6, 4), RangeError, "groupSize must divide the batch: B=6, G=4");
  assertThrows(
    () => checkGroupSize(4, 0),
    RangeError,
    "Invalid groupSize: expected an integer >= 1, got 0",
  );
  assertThrows(
    () => checkFinite(NaN, "beta"),
    RangeError,
    "Invalid beta: expected a finite number, got NaN",
  );
  assertThrows(
    () => checkChoice({ a: 1, b: 2 }, "c", "mode"),
    RangeError,
    'Invalid mode: expected one of "a", "b", got "c"',
  );
});

Deno.test("tokenCounts() and safeDiv(): counts per row, 0 where the divisor is 0", async () => {
  assertEquals(await arr(tokenCounts(t2([[1, 1, 0], [0, 0, 0]]))), [2, 0]);
  assertEquals(await arr(safeDiv(t2([[3, 4]]), t2([[2, 0]]))), [[1.5, 0]]);
});

Deno.test("mask helpers leak no tensors", async () => {
  const m = t2([[1, 1, 0]]);
  await assertNoLeak(() => lastTokenMask(m));
  await assertNoLeak(() => tokenCounts(m));
  await assertNoLeak(() => safeDiv(m, m));
  await assertNoLeak(() => validateMask(m));
});
