import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { wasmWorkerContents } from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";
import { prepareWasm, shutdownWasm, wasmWorkerSource } from "../lib/wasm_threads.ts";

const REPO = new URL("../", import.meta.url);

Deno.test("wasmWorkerSource() makes the package's worker script runnable under Deno", async (t) => {
  const src = wasmWorkerSource(wasmWorkerContents);
  await t.step("it redefines the `location` accessor before the script assigns it", () => {
    const fix = src.indexOf('Object.defineProperty(globalThis, "location"');
    const assign = src.indexOf("location:{href:__filename}");
    assert(
      fix >= 0 && assign > fix,
      "the location fix must come before Object.assign(global, ...)",
    );
  });
  await t.step("it parses as a script (a raw newline would break a string literal)", () => {
    // Parsing only: the body is never called.
    new Function(src);
  });
  await t.step("it rejects text that is not the worker script", () => {
    assertThrows(() => wasmWorkerSource(""), TypeError, "Invalid workerContents");
  });
});

Deno.test("prepareWasm() rejects thread counts that are not whole numbers >= 1", async () => {
  for (const bad of [0, -2, 1.5, Number.NaN]) {
    let err: unknown;
    try {
      await prepareWasm(bad);
    } catch (e) {
      err = e;
    }
    assert(err instanceof RangeError, `expected RangeError for ${bad}`);
    assertStringIncludes(err.message, "Invalid threads: expected a whole number >= 1");
  }
});

Deno.test("prepareWasm(1) changes nothing and says nothing", async () => {
  assertEquals(await prepareWasm(1), { threads: 1 });
});

Deno.test("prepareWasm() falls back to 1 thread naming ERR_WORKER_PATH when Deno refuses the worker", async () => {
  // The obstacle tfjs itself hits under Deno: a blob: URL as the worker script.
  const prep = await prepareWasm(2, { workerPath: "blob:forced-failure" });
  assertEquals(prep.threads, 1);
  assertStringIncludes(prep.note ?? "", "threaded SIMD binary could not start");
  assertStringIncludes(prep.note ?? "", "ERR_WORKER_PATH");
  assertStringIncludes(prep.note ?? "", "asked 2");
  assertEquals(shutdownWasm(), 0, "nothing was left running");
});

Deno.test("prepareWasm() falls back after timeoutMs when the workers never load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl-wasm-test-" });
  try {
    const silent = `${dir}/silent_worker.cjs`;
    await Deno.writeTextFile(silent, "// never answers Emscripten's load message\n");
    const prep = await prepareWasm(2, { workerPath: silent, timeoutMs: 4000 });
    assertEquals(prep.threads, 1);
    assertStringIncludes(prep.note ?? "", "did not start within 4000 ms");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** What the child program prints: thread counts and hashes of the outputs' bytes. */
interface ChildReport {
  threads: number;
  xnnThreads: number;
  /** Threads of the own GEMM runtime (lib/wasm_gemm). */
  gemm: number;
  /** What shutdownWasm() returned at the end; -1 when the child did not call it. */
  stopped: number;
  notes: string[];
  outputs: Record<string, { hash: string; first: number[]; size: number }>;
}

// Runs in a fresh process so that each thread count gets its own tfjs. It never
// calls Deno.exit(); without CHILD_SHUTDOWN=1 it does not call shutdownWasm() either,
// so its exit shows that the unref'd workers let the process end on its own.
const CHILD = `
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { initBackend } from "${new URL("lib/backend.ts", REPO).href}";
import { shutdownWasm } from "${new URL("lib/wasm_threads.ts", REPO).href}";
import { gemmThreads, matMulNN, matMulTN } from "${new URL("lib/wasm_gemm/mod.ts", REPO).href}";
const info = await initBackend("wasm", { log: () => {} }); // threads from WASM_THREADS
function hash(x) {
  const b = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h.toString(16);
}
const out = {};
function record(name, t) {
  const v = t.dataSync();
  out[name] = { hash: hash(v), first: Array.from(v.slice(0, 4)), size: v.length };
  t.dispose();
}
const a = tf.randomUniform([2048, 128], -1, 1, "float32", 11);
const b = tf.randomUniform([128, 384], -1, 1, "float32", 12);
record("matMul 2048x128@128x384", tf.matMul(a, b));
record("matMul transposeB", tf.matMul(a, tf.transpose(b), false, true));
// the project's own kernels: rows split between its threads, same floats on any count
const g = tf.randomUniform([2048, 70], -1, 1, "float32", 15);
record("own nn 2048x128@128x384 relu", matMulNN(a, b, true));
record("own tn (2048x128)^T@2048x70", matMulTN(a, g));
const gemm = gemmThreads();
const img = tf.randomUniform([4, 16, 16, 8], -1, 1, "float32", 13);
const k = tf.randomUniform([3, 3, 8, 16], -1, 1, "float32", 14);
record("conv2d 4x16x16x8 * 3x3x8x16 same", tf.conv2d(img, k, 1, "same"));
const xnnThreads = getThreadsCount();
const stopped = Deno.env.get("CHILD_SHUTDOWN") === "1" ? shutdownWasm() : -1;
console.log(JSON.stringify({ threads: info.threads, xnnThreads, gemm, stopped, notes: info.notes, outputs: out }));
`;

async function runChild(wasmThreads: string, shutdown: boolean): Promise<ChildReport> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", CHILD],
    cwd: REPO,
    env: { WASM_THREADS: wasmThreads, CHILD_SHUTDOWN: shutdown ? "1" : "0", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  });
  const t0 = performance.now();
  const r = await cmd.output();
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const stderr = new TextDecoder().decode(r.stderr);
  assert(
    r.success,
    `child with WASM_THREADS=${wasmThreads} failed or did not exit (code ${r.code}, ` +
      `signal ${r.signal}, ${secs} s); a hang here means worker threads kept it alive.\n${stderr}`,
  );
  const lines = new TextDecoder().decode(r.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1] ?? "") as ChildReport;
}

Deno.test({
  name:
    "WASM_THREADS=2 runs 2 threads (XNNPACK and own GEMM), matches 1 thread bit for bit, exits with or without shutdownWasm()",
  async fn() {
    const single = await runChild("1", true);
    const threaded = await runChild("2", false);
    const released = await runChild("2", true);
    assertEquals(single.threads, 1);
    assertEquals(single.xnnThreads, 1);
    assertEquals(threaded.notes, [], "the threaded binary started without a fallback note");
    assertEquals(threaded.threads, 2);
    assertEquals(threaded.xnnThreads, 2, "XNNPACK's pool runs 2 threads");
    assertEquals([single.gemm, threaded.gemm], [1, 2], "the own GEMM follows WASM_THREADS");
    assertEquals(single.stopped, 0, "shutdownWasm() has nothing to stop on 1 thread");
    assertEquals(threaded.stopped, -1, "this child exited without shutdownWasm()");
    assertEquals(released.stopped, 2, "shutdownWasm() released the 2-thread backend");
    assertEquals(released.outputs, threaded.outputs);
    assertEquals(Object.keys(threaded.outputs), Object.keys(single.outputs));
    for (const [name, s] of Object.entries(single.outputs)) {
      assertEquals(threaded.outputs[name], s, `${name}: threaded differs from single-threaded`);
    }
  },
});
