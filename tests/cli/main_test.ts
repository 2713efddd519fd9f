import { assert, assertEquals, assertThrows } from "@std/assert";
import { parseReproduceArgs } from "../../lib/cli/reproduce.ts";

// Every command-line error is one clear line on stderr and exit status 2, never a stack trace.
// Each case stops before any work starts (no model is built, no cache is touched).
const CASES: { cli: string; args: string[]; says: string; env?: Record<string, string> }[] = [
  { cli: "reproduce", args: ["--only", "99"], says: "Invalid --only" },
  { cli: "reproduce", args: ["--preset", "nope"], says: "Invalid --preset" },
  { cli: "reproduce", args: ["--jobs", "-1"], says: "Invalid --jobs" },
  { cli: "reproduce", args: ["--backend", "foo"], says: "Invalid --backend" },
  { cli: "rm", args: ["--rm", "foo"], says: "Invalid --rm" },
  { cli: "rm", args: ["--rm", "dpo", "--backend", "foo"], says: "Invalid --backend" },
  { cli: "rm", args: ["--rm", "ipvrm", "--margin", "-1"], says: "Invalid --margin" },
  { cli: "rl", args: ["--method", "foo"], says: "Invalid --method" },
  { cli: "rl", args: ["--method", "grpo", "--backend", "foo"], says: "Invalid --backend" },
  { cli: "policy", args: ["--backend", "foo"], says: "Invalid --backend" },
  { cli: "policy", args: [], says: "Invalid PVL_BACKEND", env: { PVL_BACKEND: "bar" } },
  { cli: "conformance", args: ["--backend", "foo"], says: "Invalid --backend" },
  { cli: "calculator", args: ["--writer", "v3"], says: "Invalid --writer" },
  { cli: "calculator", args: ["--samples", "0"], says: "Invalid --samples" },
];

for (const c of CASES) {
  Deno.test(`deno task ${c.cli} ${c.args.join(" ")}: one line, exit 2, no stack trace`, async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `lib/cli/${c.cli}.ts`, ...c.args],
      env: c.env ?? {},
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr).trim();
    assertEquals(out.code, 2, err);
    assertEquals(err.split("\n").length, 1, err);
    assert(err.startsWith(c.says), err);
    assert(!/\bat .*\.ts:\d+|Uncaught/.test(err), err);
  });
}

Deno.test("parseReproduceArgs() checks --only against the registry", () => {
  assertThrows(() => parseReproduceArgs(["--only", "99"], {}), RangeError, "Invalid --only");
  assertEquals(parseReproduceArgs(["--only", "9"], {}).only, ["9"]);
});
