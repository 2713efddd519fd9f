import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { loadMathJsonl, parseMathJsonl } from "../../lib/data/math_jsonl.ts";
import { DataError } from "../../lib/data/_errors.ts";

const FIX = new URL("../../data/fixtures/", import.meta.url).pathname;

Deno.test("loadMathJsonl() reads problem/answer with optional fields and keeps extras", async () => {
  const rows = await loadMathJsonl(`${FIX}math.jsonl`);
  assertEquals(rows.length, 3);
  assertEquals(rows[0]!.level, "Level 1");
  assertEquals(rows[1]!.level, 2);
  assertEquals(rows[1]!.extra, { unique_id: "fixture/algebra/1.json" });
  assertEquals(rows[2]!.solution, undefined);
  assertEquals(parseMathJsonl('{"problem":"p","answer":7}', { file: "n.jsonl" })[0]!.answer, "7");
});

Deno.test("malformed MATH lines are reported with file and line number", async () => {
  const e = await assertRejects(() => loadMathJsonl(`${FIX}math_bad.jsonl`), DataError);
  assertEquals((e as DataError).issues.map((i) => `${i.at} ${i.message.split(":")[0]}`), [
    "line 2 answer",
    "line 3 type",
  ]);
  assertThrows(
    () => parseMathJsonl("\n\nnot json\n", { file: "m.jsonl" }),
    DataError,
    "m.jsonl line 3",
  );
  assertThrows(() => parseMathJsonl("[1]\n", { file: "m.jsonl" }), DataError, "expected an object");
});
