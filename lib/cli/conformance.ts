/**
 * `deno task conformance [--backend wasm|cpu|webgpu] < cases.jsonl > results.jsonl`
 * (../shared/spec/conformance.md). Exits 0 whatever the cases say.
 * @module
 */
import { initBackendFromArgs } from "../backend.ts";
import { runLines } from "../conformance/run.ts";
import { startBackend } from "./_main.ts";

if (import.meta.main) {
  await startBackend(() => initBackendFromArgs(Deno.args, { log: () => {} }));
  const text = await new Response(Deno.stdin.readable).text();
  const enc = new TextEncoder();
  await runLines(text, (line) => Deno.stdout.writeSync(enc.encode(line + "\n")));
}
