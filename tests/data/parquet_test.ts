import { assertEquals, assertThrows } from "@std/assert";
import {
  EURUS_REQUIRED_COLUMNS,
  loadEurusParquet,
  writeEurusParquet,
} from "../../lib/data/parquet.ts";
import { DataError } from "../../lib/data/_errors.ts";

const FIX = new URL("../../data/fixtures/", import.meta.url).pathname;

Deno.test("loadEurusParquet() reads the Eurus-2 schema: chat prompt list<struct>, reward_model struct", () => {
  const rows = loadEurusParquet(`${FIX}eurus2_rl.parquet`);
  assertEquals(rows.length, 3);
  assertEquals(rows[0]!.prompt.map((m) => m.role), ["system", "user"]);
  assertEquals(rows[0]!.reward_model, { style: "rule", ground_truth: "11" });
  assertEquals(rows[2]!.extra_info, { split: "train", index: 2 });
  assertEquals(rows.map((r) => r.ability), ["math", "math", "math"]);
});

Deno.test("a missing column and a malformed row are reported with file and row", () => {
  assertThrows(
    () => loadEurusParquet(`${FIX}eurus2_missing_column.parquet`),
    DataError,
    "missing column(s) reward_model",
  );
  try {
    loadEurusParquet(`${FIX}eurus2_bad_row.parquet`);
    throw new Error("no error");
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    assertEquals(e.issues.map((i) => i.at), ["row 1"]);
    assertEquals(e.issues[0]!.message.startsWith("reward_model"), true);
    assertEquals(e.issues[0]!.file.endsWith("eurus2_bad_row.parquet"), true);
  }
  assertThrows(() => loadEurusParquet(`${FIX}math.jsonl`), DataError, "not a readable parquet");
});

Deno.test("writeEurusParquet() round-trips rows through a parquet file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const row = {
      data_source: "x",
      prompt: [{ role: "user", content: "1+1?" }],
      ability: "math",
      reward_model: { style: "rule", ground_truth: "2" },
      extra_info: { split: "test", index: 0 },
    };
    writeEurusParquet([row], `${dir}/t.parquet`);
    assertEquals(loadEurusParquet(`${dir}/t.parquet`), [row]);
    assertEquals(EURUS_REQUIRED_COLUMNS.length, 4);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
