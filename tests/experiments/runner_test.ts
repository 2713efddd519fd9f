import { assertEquals, assertRejects } from "@std/assert";
import {
  leaveUnitFiles,
  metricOf,
  runGrid,
  seriesOf,
  type UnitOutput,
} from "../../lib/experiments/_runner.ts";

const arms = ["a", "b"].map((name) => ({ name, config: (seed: number) => ({ name, seed }) }));

Deno.test("runGrid() resumes after a simulated kill and never reruns finished units", async (t) => {
  const dir = await Deno.makeTempDir();
  const calls: string[] = [];
  const unit = (failAt: string | null) => (arm: string, seed: number): Promise<UnitOutput> => {
    const id = `${arm}${seed}`;
    if (id === failAt) throw new Error("killed");
    calls.push(id);
    return Promise.resolve({
      metrics: { x: seed + (arm === "b" ? 10 : 0) },
      series: { s: [seed, seed] },
    });
  };
  const opts = {
    ablation: "t_grid",
    preset: "smoke" as const,
    arms,
    seeds: [1, 2],
    resultsDir: dir,
    log: () => {},
  };

  await t.step("a kill in the third unit leaves two records", async () => {
    await assertRejects(() => runGrid({ ...opts, runUnit: unit("b1") }), Error, "killed");
    assertEquals(calls, ["a1", "a2"]);
  });
  await t.step("a partial last line (killed mid-write) is ignored", async () => {
    await Deno.writeTextFile(`${dir}/t_grid/results.jsonl`, '{"unit":"t_grid__b__1","metr', {
      append: true,
    });
  });
  await t.step("the rerun runs only the pending units", async () => {
    calls.length = 0;
    const g = await runGrid({ ...opts, runUnit: unit(null) });
    assertEquals(calls, ["b1", "b2"]);
    assertEquals(g.resumed, ["t_grid__a__1", "t_grid__a__2"]);
    assertEquals(metricOf(g.records, { arm: "b", metric: "x" }), [11, 12]);
    assertEquals(seriesOf(g.records, { arm: "a", series: "s" }), [[1, 1], [2, 2]]);
    const cfg = JSON.parse(await Deno.readTextFile(`${dir}/t_grid/t_grid__b__2/config.json`));
    assertEquals(cfg.runId, "t_grid__b__2");
    await Deno.stat(`${dir}/t_grid.parquet`);
  });
  await t.step("a third call runs nothing", async () => {
    calls.length = 0;
    const g = await runGrid({ ...opts, runUnit: unit(null) });
    assertEquals(calls, []);
    assertEquals(g.records.length, 4);
  });
  await t.step("a finished unit under another config is refused", async () => {
    const changed = arms.map((a) => ({
      ...a,
      config: (seed: number) => ({ name: a.name, seed, lr: 2 }),
    }));
    await assertRejects(
      () => runGrid({ ...opts, arms: changed, runUnit: unit(null) }),
      Error,
      "Config mismatch",
    );
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("runGrid() rejects an unknown arm in only, naming the arms", async () => {
  await assertRejects(
    () =>
      runGrid({
        ablation: "t",
        preset: "smoke",
        arms,
        only: ["z"],
        runUnit: () => Promise.resolve({ metrics: {} }),
        resultsDir: "/nonexistent",
      }),
    RangeError,
    "expected arms of t (a, b)",
  );
});

Deno.test("leaveUnitFiles() copies per-item files and stores each model once per content", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(`${root}/src.json.gz`, "items");
  await Deno.writeTextFile(`${root}/w.safetensors`, "weights-a");
  for (const u of ["01_x__a__s1", "02_y__b__s1"]) {
    await leaveUnitFiles(`${root}/res/${u.slice(0, 4)}/${u}`, `${root}/res/models`, {
      files: { "pb_items.json.gz": `${root}/src.json.gz`, "avg_items.json": { json: { k: 2 } } },
      models: { rm: `${root}/w.safetensors`, gone: `${root}/missing.safetensors` },
    });
  }
  const unit = `${root}/res/01_x/01_x__a__s1`;
  assertEquals(await Deno.readTextFile(`${unit}/pb_items.json.gz`), "items");
  assertEquals(JSON.parse(await Deno.readTextFile(`${unit}/avg_items.json`)), { k: 2 });
  const index = JSON.parse(await Deno.readTextFile(`${unit}/models.json`));
  assertEquals(Object.keys(index), ["rm"]); // a missing source is skipped
  assertEquals(index.rm.file, `../../models/${index.rm.sha256.slice(0, 16)}.safetensors`);
  assertEquals(await Deno.readTextFile(`${unit}/${index.rm.file}`), "weights-a");
  const stored = [];
  for await (const e of Deno.readDir(`${root}/res/models`)) stored.push(e.name);
  assertEquals(stored.length, 1); // both units share one copy
  await Deno.remove(root, { recursive: true });
});
