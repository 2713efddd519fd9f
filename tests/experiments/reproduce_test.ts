import { assert, assertEquals, assertThrows } from "@std/assert";
import { parseReproduceArgs, reproduce } from "../../lib/cli/reproduce.ts";

Deno.test("parseReproduceArgs() defaults to the default preset and checks flags", () => {
  assertEquals(parseReproduceArgs([]).preset, "default");
  assertEquals(parseReproduceArgs(["--preset", "smoke", "--only", "00,3"]).only, ["00", "3"]);
  assertThrows(() => parseReproduceArgs(["--preset", "huge"]), RangeError, "Invalid --preset");
  assertThrows(() => parseReproduceArgs(["--seeds", "0,1"]), RangeError, "Invalid --seeds");
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
