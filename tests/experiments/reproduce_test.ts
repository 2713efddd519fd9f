import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  childArgs,
  MAX_AUTO_JOBS,
  parseReproduceArgs,
  reproduce,
  seedGroups,
} from "../../lib/cli/reproduce.ts";
import {
  EXPECTED_SECONDS,
  expectedSeconds,
  SHARED_SECONDS,
} from "../../lib/experiments/_registry.ts";

Deno.test("parseReproduceArgs() defaults to the default preset and checks flags", () => {
  assertEquals(parseReproduceArgs([]).preset, "default");
  assertEquals(parseReproduceArgs(["--preset", "smoke", "--only", "00,3"]).only, ["00", "3"]);
  assertThrows(() => parseReproduceArgs(["--preset", "huge"]), RangeError, "Invalid --preset");
  assertThrows(() => parseReproduceArgs(["--seeds", "0,1"]), RangeError, "Invalid --seeds");
  assertEquals(parseReproduceArgs(["--jobs", "1"], {}).jobs, 1);
  assertEquals(parseReproduceArgs(["--jobs", "3"]).jobs, 3);
  assertThrows(() => parseReproduceArgs(["--jobs", "0"]), RangeError, "Invalid --jobs");
  assertThrows(() => parseReproduceArgs(["--jobs", "two"]), RangeError, "Invalid --jobs");
});

Deno.test("--jobs: seeds dealt round-robin, each child gets its seeds and its own figures dir", () => {
  assertEquals(seedGroups([1, 2, 3], 2), [[1, 3], [2]]);
  assertEquals(seedGroups([1, 2], 4), [[1], [2]]);
  assertEquals(seedGroups([1, 2, 3, 4, 5], 1), [[1, 2, 3, 4, 5]]);
  const a = parseReproduceArgs(["--preset", "smoke", "--only", "03,04", "--fresh", "--jobs", "2"], {
    PVL_BACKEND: "cpu",
  });
  const c = childArgs(a, [1, 3], "/tmp/f1");
  assertEquals(c, [
    "--preset",
    "smoke",
    "--only",
    "03,04",
    "--seeds",
    "1,3",
    "--fresh",
    "--figures",
    "/tmp/f1",
    "--backend",
    "cpu",
    "--child",
  ]);
  // a child never gets --jobs (no recursion) and knows the shared stages are built
  assert(!c.includes("--jobs"));
  assertEquals(parseReproduceArgs(c).jobs, 1);
  assertEquals(parseReproduceArgs(c).child, true);
  assertEquals(parseReproduceArgs([]).child, false);
});

Deno.test("--jobs defaults to one process per seed for default/full on the CPU backends", () => {
  // the README's main command: default preset, wasm, 6 seeds -> one child per core
  assertEquals(parseReproduceArgs([], {}).jobs, Math.min(6, MAX_AUTO_JOBS));
  assertEquals(parseReproduceArgs([], {}).backend, "wasm");
  // full: 10 seeds, one child per core
  assertEquals(parseReproduceArgs(["--preset", "full"], {}).jobs, MAX_AUTO_JOBS);
  assertEquals(parseReproduceArgs(["--seeds", "1,2"], {}).jobs, Math.min(2, MAX_AUTO_JOBS));
  assertEquals(parseReproduceArgs(["--backend", "cpu"], {}).jobs, Math.min(6, MAX_AUTO_JOBS));
  // one process: smoke, gpu, a GPU backend, an explicit --jobs 1, and every child
  assertEquals(parseReproduceArgs(["--preset", "smoke"], {}).jobs, 1);
  assertEquals(parseReproduceArgs(["--preset", "gpu"], {}).jobs, 1);
  assertEquals(parseReproduceArgs(["--backend", "webgpu"], {}).jobs, 1);
  assertEquals(parseReproduceArgs([], { PVL_BACKEND: "webgpu" }).jobs, 1);
  assertEquals(parseReproduceArgs(["--jobs", "1"], {}).jobs, 1);
  assertEquals(parseReproduceArgs(["--seeds", "1,4", "--child"], {}).jobs, 1);
  assertThrows(() => parseReproduceArgs(["--backend", "tpu"], {}), Error, "Invalid --backend");
});

Deno.test("expectedSeconds(): shared stages first unless built, scaled by the seed share", () => {
  const t = EXPECTED_SECONDS.default!;
  const shared = SHARED_SECONDS.default!;
  assert(shared > 0);
  assertEquals(expectedSeconds("default", ["01", "03"]), [t["01"]! + shared, t["03"]!]);
  assertEquals(expectedSeconds("default", ["01", "03"], { sharedBuilt: true }), [
    t["01"]!,
    t["03"]!,
  ]);
  // one seed of the default six: a sixth of each experiment, shared stages still once
  const one = expectedSeconds("default", ["03", "01"], { seeds: [2] });
  assertEquals(one, [t["03"]! / 6 + shared, t["01"]! / 6]);
  // full has ten default seeds: two of them are 2/10 of it
  const f = expectedSeconds("full", ["04"], { seeds: [1, 2], sharedBuilt: true });
  assertEquals(f, [EXPECTED_SECONDS.full!["04"]! * 2 / 10]);
  assertEquals(expectedSeconds("smoke", ["77"], { sharedBuilt: true }), [60]);
});

// End to end on the smoke preset (uses the shared artifact cache: the first run builds the smoke
// SFT policy, later runs reuse it). Results and figures go to a temp dir.
Deno.test({
  name: "reproduce --preset smoke --only 00 runs end to end into a temp results/figures dir",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir();
    const args = parseReproduceArgs([
      "--preset",
      "smoke",
      "--only",
      "00",
      "--results",
      `${root}/results`,
      "--figures",
      `${root}/figures`,
    ]);
    const [r] = await reproduce(args, { log: () => {} });
    assertEquals(r!.id, "00_quickstart");
    assertEquals(r!.records.length, 1);
    await Deno.stat(`${root}/results/00_quickstart/results.jsonl`);
    await Deno.stat(`${root}/results/00_quickstart.parquet`);
    await Deno.stat(`${root}/results/verdicts.md`);
    await Deno.stat(`${root}/figures/00_quickstart/trace_values.json`);
    assert((await Deno.readTextFile(`${root}/figures/index.html`)).includes("00_quickstart"));
    // A second call resumes: nothing is run again.
    const [again] = await reproduce(args, { log: () => {} });
    assertEquals(again!.ran, []);
    await Deno.remove(root, { recursive: true });
  },
});
