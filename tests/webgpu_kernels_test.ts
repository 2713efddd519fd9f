import * as tf from "@tensorflow/tfjs";
import {
  assert,
  assertAlmostEquals,
  assertArrayAlmostEquals,
  assertEquals,
  assertThrows,
} from "@std/assert";
import { initBackend } from "../lib/backend.ts";
import { chunkedAddN, Int32TransposeProgram } from "../lib/webgpu_kernels.ts";
import { type BackendCheckResult, backendChecks } from "./_backend_checks.ts";

await initBackend("wasm", { threads: 1, log: () => {} });

/** A fake TensorInfo carrying a number, for chunkedAddN's bookkeeping. */
function info(v: number): tf.TensorInfo & { v: number } {
  return { dataId: {}, shape: [], dtype: "float32", v };
}

Deno.test("chunkedAddN: sums any count in chunks of at most maxInputs and releases every partial sum", () => {
  for (const max of [2, 3, 7]) {
    for (let n = 1; n <= 40; n++) {
      const calls: number[] = [];
      const made = new Set<object>();
      const released = new Set<object>();
      const inputs = Array.from({ length: n }, (_, i) => info(i + 1));
      const out = chunkedAddN(
        inputs,
        max,
        (chunk) => {
          calls.push(chunk.length);
          const r = info(chunk.reduce((a, t) => a + (t as ReturnType<typeof info>).v, 0));
          made.add(r.dataId);
          return r;
        },
        (t) => released.add(t.dataId),
      ) as ReturnType<typeof info>;
      assertEquals(out.v, (n * (n + 1)) / 2, `n=${n} max=${max}`);
      assert(calls.every((c) => c <= max), `n=${n} max=${max}: chunk sizes ${calls}`);
      // every partial sum released, the inputs and the returned sum not
      assertEquals(released.size, made.size - 1);
      assert(!released.has(out.dataId));
      for (const t of inputs) assert(!released.has(t.dataId));
      if (n <= max) assertEquals(calls, [n]);
    }
  }
  assertThrows(() => chunkedAddN([info(1)], 1, () => info(0), () => {}), RangeError, "maxInputs");
});

Deno.test("Int32TransposeProgram: output shape, permuted coordinates and i32 setter in the shader", () => {
  const p = new Int32TransposeProgram([4, 6, 81, 2], [2, 0, 3, 1]);
  assertEquals(p.outputShape, [81, 4, 2, 6]);
  const code = p.getUserCode();
  // input coordinate d of A is the output coordinate i with perm[i] = d
  assert(code.includes("vec4<i32>(coords.y,coords.w,coords.x,coords.z)"), code);
  assert(code.includes("setOutputAtIndexI32"), code);
  assertThrows(
    () => new Int32TransposeProgram([1, 1, 1, 1, 1, 1, 1], [0, 1, 2, 3, 4, 5, 6]),
    RangeError,
  );
});

/** Host transposes of the int32 inputs of backendChecks, for the wasm side's sanity. */
Deno.test("backend checks on wasm: transposes exact, addN = n(n+1)/2, no tensor leaked", async () => {
  const r = await backendChecks();
  assertEquals(r.addN, Array.from({ length: 20 }, (_, i) => ((i + 1) * (i + 2)) / 2));
  assertEquals(r.leaked, 0);
  assert(r.losses.every(Number.isFinite) && r.gradNorms.every((g) => g > 0));
  assert(r.logp.every(Number.isFinite));
});

Deno.test("webgpu agrees with wasm: int32 transposes, addN of 1-20, log-probs, 3 clipped AdamW steps (skipped without an adapter)", async (t) => {
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-webgpu",
      new URL("./_backend_checks.ts", import.meta.url).pathname,
      "webgpu",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: dir },
  }).output();
  await Deno.remove(dir, { recursive: true });
  const text = new TextDecoder().decode(out.stdout).trim();
  if (text.startsWith("SKIP")) {
    console.log(`webgpu checks skipped: ${text}`);
    return;
  }
  assert(out.success, new TextDecoder().decode(out.stderr));
  const gpu = JSON.parse(text) as BackendCheckResult;
  const ref = await backendChecks();
  await t.step("int32 transposes are exact", () => assertEquals(gpu.transposes, ref.transposes));
  await t.step("addN of up to 20 tensors", () => assertEquals(gpu.addN, ref.addN));
  await t.step("log-probs within 1e-4", () => assertArrayAlmostEquals(gpu.logp, ref.logp, 1e-4));
  await t.step("losses, gradient norms and parameters after 3 steps", () => {
    assertArrayAlmostEquals(gpu.losses, ref.losses, 1e-4);
    for (let i = 0; i < 3; i++) {
      assertAlmostEquals(gpu.gradNorms[i]!, ref.gradNorms[i]!, 1e-3 * ref.gradNorms[i]!);
    }
    assertArrayAlmostEquals(gpu.paramSums, ref.paramSums, 1e-2);
  });
  await t.step("no tensor leaked on webgpu", () => assertEquals(gpu.leaked, 0));
});
