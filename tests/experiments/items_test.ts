import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { itemTables } from "../../lib/experiments/_items.ts";
import { writeJsonGz } from "../../lib/run/results.ts";
import type { BonItems, PbItems } from "../../lib/rm/evaluate.ts";

async function unit(dir: string, id: string, arm: string, seed: number) {
  await Deno.mkdir(`${dir}/${id}`, { recursive: true });
  return JSON.stringify({ unit: id, ablation: "x", arm, seed, preset: "smoke", metrics: {} });
}

Deno.test("itemTables() recomputes BoN, avg@k and PB metrics from the items, with seed and item CIs", async () => {
  const root = await Deno.makeTempDir();
  const dir = `${root}/01_x`;
  const lines: string[] = [];
  for (const seed of [1, 2]) {
    const id = `01_x__a__${seed}`;
    lines.push(await unit(dir, id, "a", seed));
    // 4 problems, 2 splits, N = 2; the RM picks right on 3 of 4 (seed 1) or 2 of 4 (seed 2)
    const bon: BonItems = {
      keys: ["p0", "p1", "p2", "p3"],
      splits: ["s", "s", "t", "t"],
      ns: [2],
      correct: ["01", "10", "01", "01"],
      picks: {
        rm: { "2": seed === 1 ? [1, 0, 1, 0] : [1, 0, 0, 0] },
        random: { "2": [0, 0, 0, 0] },
      },
      majority: { "2": [0, 1, 0, 0] },
      pass: { "2": [1, 1, 1, 1] },
    };
    await writeJsonGz(`${dir}/${id}/bon_items.json.gz`, bon);
    // PB: one bucket; the RM's step scores flag the first error perfectly (F1 1)
    const pb: PbItems = {
      ids: ["r0", "r1", "r2", "r3"],
      buckets: ["b", "b", "b", "b"],
      labels: [-1, 1, 0, -1],
      scores: {
        rm_process: [[1, 1], [1, -1], [-1], [1]],
        sft_logprob: [[1, 1], [1, -1], [-1], [1]],
      },
    };
    await writeJsonGz(`${dir}/${id}/pb_items.json.gz`, pb);
    await Deno.writeTextFile(
      `${dir}/${id}/avg_items.json`,
      JSON.stringify({ step: 4, k: 4, correct: { s: [4, 0], t: [2, 2] } }),
    );
  }
  await Deno.writeTextFile(`${dir}/results.jsonl`, lines.join("\n") + "\n");
  const rows = await itemTables(root, { resamples: 200 });
  const get = (m: string) => rows.find((r) => r.metric === m)!;
  // bon/rm/avg: seed 1 picks p0->1 (right), p1->0 (right), p2->1 (right), p3->0 (wrong):
  // mean(split s 2/2, split t 1/2) = 0.75; seed 2 picks p2->0 (wrong): mean(1, 0) = 0.5; -> 62.5
  assertAlmostEquals(get("bon/rm/avg").mean, 62.5, 1e-9);
  assertEquals(get("bon/rm/avg").seeds, 2);
  assertEquals(get("bon/rm/avg").items, 4);
  // random always picks 0: right on p1 only -> mean(0.5, 0) = 25; rm - random = 37.5
  assertAlmostEquals(get("bon/rm-random/avg").mean, 37.5, 1e-9);
  assertAlmostEquals(get("bon/majority/avg").mean, 25, 1e-9);
  // avg@k: split s (4/4 + 0/4)/2 = 0.5, split t 0.5 -> 50, identical seeds: zero-width seed CI
  const avg = get("eval/avg/mean");
  assertAlmostEquals(avg.mean, 50, 1e-9);
  assertAlmostEquals(avg.seedLow, 50, 1e-9);
  assert(avg.itemLow <= 50 && avg.itemHigh >= 50 && avg.itemHigh > avg.itemLow);
  assertAlmostEquals(get("pb/rm_process/oracle/avg").mean, 100, 1e-9);
  const md = await Deno.readTextFile(`${dir}/items_table.md`);
  assert(md.includes("| a | `bon/rm/avg` | 2 | 4 | 62.5 |"), md);
  await Deno.remove(root, { recursive: true });
});
