import { assertEquals, assertThrows } from "@std/assert";
import { parseArgs } from "../../lib/cli/tables.ts";

Deno.test("deno task tables: --preset picks results/<preset>, flags are checked", () => {
  assertEquals(parseArgs([]), { resultsDir: "results/default", resamples: 1000, seed: 0 });
  assertEquals(parseArgs(["--preset", "smoke", "--resamples", "50", "--seed", "3"]), {
    resultsDir: "results/smoke",
    resamples: 50,
    seed: 3,
  });
  assertEquals(parseArgs(["--results", "/tmp/r"]).resultsDir, "/tmp/r");
  assertThrows(() => parseArgs(["--preset", "huge"]), RangeError, "--preset");
  assertThrows(() => parseArgs(["--resamples", "0"]), RangeError, "--resamples");
});
