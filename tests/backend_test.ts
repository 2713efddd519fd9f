import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import {
  BackendError,
  initBackend,
  parseBackendName,
  resolveBackendName,
  tensorflowUnavailableMessage,
} from "../lib/backend.ts";

Deno.test("resolveBackendName() prefers --backend, then PVL_BACKEND, then wasm", () => {
  assertEquals(resolveBackendName([], {}), "wasm");
  assertEquals(resolveBackendName([], { PVL_BACKEND: "cpu" }), "cpu");
  assertEquals(resolveBackendName(["--backend", "webgpu"], { PVL_BACKEND: "cpu" }), "webgpu");
  assertEquals(resolveBackendName(["--backend=cpu"], {}), "cpu");
});

Deno.test("an unknown backend is an error naming the source and the choices", () => {
  assertThrows(
    () => resolveBackendName(["--backend", "cuda"], {}),
    BackendError,
    'Invalid --backend: expected one of wasm, cpu, webgpu, tensorflow, got "cuda"',
  );
  assertThrows(() => resolveBackendName([], { PVL_BACKEND: "x" }), BackendError, "PVL_BACKEND");
  assertThrows(() => resolveBackendName(["--backend"], {}), BackendError, "expected a name");
  assertThrows(() => parseBackendName("gpu"), BackendError, 'got "gpu"');
});

Deno.test("tensorflow backend fails with one clear message when tfjs-node cannot load", async () => {
  const err = await assertRejects(
    () =>
      initBackend("tensorflow", {
        log: () => {},
        nodeLoaders: [
          {
            name: "@tensorflow/tfjs-node-gpu",
            load: () => Promise.reject(new Error("no binding")),
          },
          {
            name: "@tensorflow/tfjs-node",
            load: () => Promise.reject(new Error("no libtensorflow")),
          },
        ],
      }),
    BackendError,
  );
  assertStringIncludes(err.message, "neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node");
  assertStringIncludes(err.message, "CUDA 11.2 and cuDNN 8.1");
  assertStringIncludes(err.message, "--backend webgpu");
  assertStringIncludes(err.message, "no libtensorflow");
  assertEquals(
    err.message,
    tensorflowUnavailableMessage([
      "@tensorflow/tfjs-node-gpu: no binding",
      "@tensorflow/tfjs-node: no libtensorflow",
    ]),
  );
});
