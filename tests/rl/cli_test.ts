import { assert, assertEquals } from "@std/assert";
import { readJsonl } from "../../lib/run/results.ts";

// `deno task rl` end to end on the smoke pipeline (its SFT policy is built or read from the
// shared artifact cache): one GRPO step, then the same command again resumes and runs nothing.
Deno.test({
  name: "deno task rl --method grpo --preset smoke --steps 1: metrics, config and resume",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const out = await Deno.makeTempDir();
    const cmd = () =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "lib/cli/rl.ts",
          "--method",
          "grpo",
          "--preset",
          "smoke",
          "--steps",
          "1",
          "--out",
          `${out}/run`,
        ],
        env: { WASM_THREADS: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const r = await cmd();
    const text = new TextDecoder().decode(r.stdout);
    assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
    assert(text.includes("done: 1 steps (resumed from 0)"), text);
    const { records } = await readJsonl<Record<string, unknown>>(`${out}/run/metrics.jsonl`);
    assertEquals(records.filter((x) => x.kind === "train").length, 1);
    assert(records.some((x) => x.kind === "eval" && x.step === 0));
    const config = JSON.parse(await Deno.readTextFile(`${out}/run/config.json`));
    assertEquals(config.method, "grpo");
    const again = await cmd();
    assertEquals(again.code, 0);
    assert(new TextDecoder().decode(again.stdout).includes("resumed from 1"));
    // a bad flag names itself
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "lib/cli/rl.ts", "--method", "ppo"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(bad.code, 2);
    assert(new TextDecoder().decode(bad.stderr).includes("--method"));
    await Deno.remove(out, { recursive: true });
  },
});
