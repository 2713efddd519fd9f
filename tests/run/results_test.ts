import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { join } from "node:path";
import {
  openJsonl,
  partitionUnits,
  readJsonl,
  readParquet,
  saveResolvedConfig,
  writeParquet,
} from "../../lib/run/results.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pvl_results_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("openJsonl() appends one line per record, each on disk once append resolves", () =>
  withDir(async (dir) => {
    const path = join(dir, "r.jsonl");
    const w = await openJsonl(path);
    await w.append({ unit: "a", f1: 0.5 });
    // Readable before close: a crash from here on keeps this record.
    assertEquals(await Deno.readTextFile(path), '{"unit":"a","f1":0.5}\n');
    // Concurrent appends never interleave.
    await Promise.all([w.append({ unit: "b" }), w.append({ unit: "c" })]);
    assertEquals(w.count, 3);
    await w.close();
    await w.close(); // idempotent
    const w2 = await openJsonl(path); // reopening appends
    await w2.append({ unit: "d" });
    await w2.close();
    assertEquals((await readJsonl(path)).records.map((r) => r.unit), ["a", "b", "c", "d"]);
  }));

Deno.test("readJsonl() drops and reports a truncated last line, and throws on a bad middle line", () =>
  withDir(async (dir) => {
    const path = join(dir, "r.jsonl");
    await Deno.writeTextFile(path, '{"unit":"a"}\n{"unit":"b"}\n{"unit":"c","f1":0.');
    const logs: string[] = [];
    const { records, truncated } = await readJsonl(path, { log: (l) => logs.push(l) });
    assertEquals(records, [{ unit: "a" }, { unit: "b" }]);
    assertEquals(truncated, { line: 3, text: '{"unit":"c","f1":0.' });
    assertStringIncludes(logs[0]!, "ignoring truncated last line 3");

    await Deno.writeTextFile(path, '{"unit":"a"}\n{"unit":\n{"unit":"c"}\n');
    await assertRejects(() => readJsonl(path), SyntaxError, `Invalid JSON in ${path} at line 2`);
    await Deno.writeTextFile(path, '{"unit":"a"}\n[1,2]\n');
    await assertRejects(
      () => readJsonl(path),
      TypeError,
      "line 2: expected a JSON object, got an array",
    );
    await assertRejects(
      () => readJsonl(join(dir, "none.jsonl")),
      Deno.errors.NotFound,
      "does not exist",
    );
    assertEquals((await readJsonl(join(dir, "none.jsonl"), { missingOk: true })).records, []);
  }));

Deno.test("readJsonl() keeps a complete last record that only lacks its newline", () =>
  withDir(async (dir) => {
    const path = join(dir, "r.jsonl");
    await Deno.writeTextFile(path, '{"unit":"a"}\n{"unit":"b"}');
    assertEquals((await readJsonl(path)).records.length, 2);
  }));

Deno.test("openJsonl() after a crash drops the partial line so new records start clean", () =>
  withDir(async (dir) => {
    const path = join(dir, "r.jsonl");
    await Deno.writeTextFile(path, '{"unit":"a"}\n{"unit":"b","x":[1,2');
    const logs: string[] = [];
    const w = await openJsonl(path, { log: (l) => logs.push(l) });
    await w.append({ unit: "b", x: [1, 2] });
    await w.close();
    assertEquals(await Deno.readTextFile(path), '{"unit":"a"}\n{"unit":"b","x":[1,2]}\n');
    assertStringIncludes(logs[0]!, "dropped a truncated last line");

    // A whole record missing only its newline is kept, the newline added.
    await Deno.writeTextFile(path, '{"unit":"a"}');
    const w2 = await openJsonl(path, { log: (l) => logs.push(l) });
    await w2.append({ unit: "b" });
    await w2.close();
    assertEquals(await Deno.readTextFile(path), '{"unit":"a"}\n{"unit":"b"}\n');

    // A partial line longer than the 64 KiB read-back chunk, with no newline at all.
    await Deno.writeTextFile(path, '{"blob":"' + "x".repeat(100_000));
    const w3 = await openJsonl(path, { log: () => {} });
    await w3.append({ unit: "z" });
    await w3.close();
    assertEquals(await Deno.readTextFile(path), '{"unit":"z"}\n');
  }));

Deno.test("JsonlWriter rejects non-objects, non-finite numbers (with path) and use after close", () =>
  withDir(async (dir) => {
    const w = await openJsonl(join(dir, "r.jsonl"));
    assertThrows(
      () => w.append([1] as never),
      TypeError,
      "Invalid record: expected a plain object, got an array",
    );
    assertThrows(
      () => w.append({ unit: "a", metrics: { f1: NaN } }),
      RangeError,
      "expected finite numbers, got NaN at record.metrics.f1",
    );
    await w.close();
    assertThrows(() => w.append({ unit: "a" }), Error, "the writer is closed");
    const w2 = await openJsonl(join(dir, "n.jsonl"), { nonFinite: "null" });
    await w2.append({ f1: NaN });
    await w2.close();
    assertEquals(await Deno.readTextFile(join(dir, "n.jsonl")), '{"f1":null}\n');
    await assertRejects(
      () => openJsonl(join(dir, "x"), { sync: "never" as never }),
      TypeError,
      "Invalid sync",
    );
  }));

Deno.test("partitionUnits() returns done and pending units in the given order (resume)", () =>
  withDir(async (dir) => {
    const path = join(dir, "r.jsonl");
    const units = ["s0", "s1", "s2", "s3"];
    assertEquals(await partitionUnits(path, units), { done: [], pending: units }); // no file yet
    const w = await openJsonl(path);
    await w.append({ unit: "s2", f1: 0.1 });
    await w.append({ unit: "s0", f1: 0.2 });
    await w.close();
    // A killed process left s1 half-written: it is not done.
    await Deno.writeTextFile(path, '{"unit":"s1","f1":', { append: true });
    assertEquals(await partitionUnits(path, units, { log: () => {} }), {
      done: ["s0", "s2"],
      pending: ["s1", "s3"],
    });
    await Deno.writeTextFile(path, '{"id":"s0"}\n');
    assertEquals((await partitionUnits(path, units, { idField: "id" })).done, ["s0"]);
    await assertRejects(
      () => partitionUnits(path, units),
      TypeError,
      'expected a string field "unit", got none',
    );
  }));

Deno.test("writeParquet() round-trips records: union of columns, nulls, lists, flattened metrics", () =>
  withDir(async (dir) => {
    const path = join(dir, "r.parquet");
    await writeParquet([
      { unit: "a", seed: 0, ok: true, f1: [0.5, 0.25], metrics: { "rm/acc": 0.75 } },
      { unit: "b", seed: 1, ok: false, metrics: { "rm/acc": 0.5, extra: 2 } },
    ], path);
    assertEquals(readParquet(path), [
      {
        unit: "a",
        seed: 0,
        ok: true,
        f1: [0.5, 0.25],
        "metrics.rm/acc": 0.75,
        "metrics.extra": null,
      },
      { unit: "b", seed: 1, ok: false, f1: null, "metrics.rm/acc": 0.5, "metrics.extra": 2 },
    ]);
    // Atomic: no temporary file left beside it.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["r.parquet"]);
  }));

Deno.test("writeParquet() rejects a column mixing kinds, naming column and record", () =>
  withDir(async (dir) => {
    const path = join(dir, "r.parquet");
    await assertRejects(
      () => writeParquet([{ x: 1 }, { x: "1" }], path),
      TypeError,
      'Cannot export column "x" to parquet: expected number values, got string at records[1]',
    );
    await assertRejects(() => writeParquet([3 as never], path), TypeError, "Invalid records[0]");
    // Nothing half-written.
    assertEquals([...Deno.readDirSync(dir)], []);
  }));

Deno.test("saveResolvedConfig() writes sorted JSON, accepts the same config, refuses another", () =>
  withDir(async (dir) => {
    const runDir = join(dir, "ablation__v__0");
    const cfg = { seed: 0, rm: { lr: 1e-4, epochs: 5 } };
    const a = await saveResolvedConfig(runDir, cfg);
    assertEquals(a.path, join(runDir, "config.json"));
    assertEquals(
      await Deno.readTextFile(a.path),
      '{\n  "rm": {\n    "epochs": 5,\n    "lr": 0.0001\n  },\n  "seed": 0\n}\n',
    );
    const b = await saveResolvedConfig(runDir, { rm: { epochs: 5, lr: 1e-4 }, seed: 0 });
    assertEquals(b.hash, a.hash);
    const e = await assertRejects(
      () => saveResolvedConfig(runDir, { seed: 0, rm: { lr: 2e-4, epochs: 5 } }),
      Error,
      "Config mismatch",
    );
    assertStringIncludes(e.message, "rm.lr: 0.0001 -> 0.0002");
    const c = await saveResolvedConfig(runDir, { seed: 1 }, { onMismatch: "overwrite" });
    assert(c.hash !== a.hash);
    assertEquals(JSON.parse(await Deno.readTextFile(c.path)), { seed: 1 });
    await assertRejects(() => saveResolvedConfig(runDir, { lr: NaN }), TypeError, "$.lr");
    await assertRejects(() => saveResolvedConfig(runDir, [] as never), TypeError, "Invalid config");
  }));
