/**
 * The one place where the tfjs backend is chosen and started.
 *
 * Resolution order: an explicit `--backend NAME` (or `--backend=NAME`) argument,
 * then the `PVL_BACKEND` environment variable, then `"wasm"`.
 *
 * - `wasm`: `@tensorflow/tfjs-backend-wasm` (CPU, SIMD; threaded where
 *   `lib/wasm_threads.ts` can start it).
 * - `cpu`: tfjs's pure-JS backend (slow; a reference).
 * - `webgpu`: `@tensorflow/tfjs-backend-webgpu` on Deno's WebGPU; needs
 *   `--unstable-webgpu` and an adapter (software Vulkan via Debian's
 *   `mesa-vulkan-drivers` where there is no GPU).
 * - `tensorflow`: `@tensorflow/tfjs-node-gpu`, else `@tensorflow/tfjs-node`, where a
 *   user has installed them (their install step downloads libtensorflow).
 *
 * Library code never reads tensors synchronously: `dataSync` crashes on webgpu
 * under Deno, so every read is `await t.data()`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The backends this project knows. */
export const BACKEND_NAMES = ["wasm", "cpu", "webgpu", "tensorflow"] as const;
/** A backend name. */
export type BackendName = typeof BACKEND_NAMES[number];
/** The environment variable read when no `--backend` argument is given. */
export const BACKEND_ENV = "PVL_BACKEND";
/** The backend used when nothing is said. */
export const DEFAULT_BACKEND: BackendName = "wasm";

/** What started. */
export interface BackendInfo {
  /** The backend name asked for. */
  name: BackendName;
  /** What tfjs reports (`tf.getBackend()`). */
  tfName: string;
  /** Threads the backend computes on (wasm: 1 or more; others: 1 as reported). */
  threads: number;
  /** Free-text notes: why a fallback happened, which adapter was found. */
  notes: string[];
}

/** Thrown for an unknown backend name or a backend that cannot start. */
export class BackendError extends Error {
  override name = "BackendError";
}

/** Checks a backend name and narrows its type. */
export function parseBackendName(value: string, source = "backend"): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new BackendError(
    `Invalid ${source}: expected one of ${BACKEND_NAMES.join(", ")}, got "${value}"`,
  );
}

/**
 * The backend asked for by `args` (`--backend X` / `--backend=X`) or `env`
 * (`PVL_BACKEND`), else `"wasm"`.
 *
 * @example
 * ```ts
 * import { resolveBackendName } from "./backend.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(resolveBackendName(["--backend", "cpu"], {}), "cpu");
 * ```
 */
export function resolveBackendName(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): BackendName {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--backend") {
      const v = args[i + 1];
      if (v === undefined) throw new BackendError("Invalid --backend: expected a name after it");
      return parseBackendName(v, "--backend");
    }
    if (a.startsWith("--backend=")) return parseBackendName(a.slice(10), "--backend");
  }
  const e = env[BACKEND_ENV];
  if (e !== undefined && e !== "") return parseBackendName(e, BACKEND_ENV);
  return DEFAULT_BACKEND;
}

/** Reads the process's environment where permitted; `{}` otherwise. */
export function processEnv(): Record<string, string | undefined> {
  try {
    return {
      [BACKEND_ENV]: Deno.env.get(BACKEND_ENV),
      WASM_THREADS: Deno.env.get("WASM_THREADS"),
      PVL_GEMM: Deno.env.get("PVL_GEMM"),
    };
  } catch {
    return {};
  }
}

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /** wasm only: threads to ask for (default: `WASM_THREADS` env or 2; 1 = single-threaded). */
  threads?: number;
  /** Where progress notes go (default: stderr). Pass `() => {}` to silence. */
  log?: (line: string) => void;
  /** tensorflow only: module loaders tried in order (tests inject failures here). */
  nodeLoaders?: ReadonlyArray<{ name: string; load: () => Promise<unknown> }>;
}

const TF_NODE_LOADERS = [
  // Loaded by name at run time so that users who installed one get it; our
  // machines cannot install either (the install step downloads libtensorflow).
  // The specifier is built at run time so that Deno does not fetch these packages
  // ahead of time for every program that imports this module.
  { name: "@tensorflow/tfjs-node-gpu", load: () => importByName("@tensorflow/tfjs-node-gpu") },
  { name: "@tensorflow/tfjs-node", load: () => importByName("@tensorflow/tfjs-node") },
];

function importByName(pkg: string): Promise<unknown> {
  const spec = ["npm:", pkg, "@4.22.0"].join("");
  return import(spec);
}

/** The message shown when neither tfjs-node package can load. */
export function tensorflowUnavailableMessage(failures: readonly string[]): string {
  return [
    'Backend "tensorflow" is not available: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node could be loaded.',
    ...failures.map((f) => `  - ${f}`),
    "To use it, install one of them where its install step can download libtensorflow:",
    "  npm install @tensorflow/tfjs-node-gpu@4.22.0   (GPU: needs CUDA 11.2 and cuDNN 8.1, libtensorflow 2.9.1)",
    "  npm install @tensorflow/tfjs-node@4.22.0       (CPU)",
    "For a GPU without those, use --backend webgpu (run Deno with --unstable-webgpu).",
  ].join("\n");
}

let started: BackendInfo | undefined;

/** The backend started by {@linkcode initBackend}, if any. */
export function currentBackend(): BackendInfo | undefined {
  return started;
}

/**
 * Starts `name` and makes it tfjs's backend. Idempotent for the same name.
 * Throws {@linkcode BackendError} with what to do when it cannot start.
 */
export async function initBackend(
  name: BackendName,
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  parseBackendName(name);
  if (started && started.name === name && tf.getBackend() === started.tfName) return started;
  const log = options.log ?? ((l: string) => console.error(l));
  const notes: string[] = [];
  let threads = 1;
  switch (name) {
    case "cpu": {
      await tf.setBackend("cpu");
      break;
    }
    case "wasm": {
      const want = options.threads ?? defaultWasmThreads();
      const { prepareWasm } = await import("./wasm_threads.ts");
      const prep = await prepareWasm(want);
      threads = prep.threads;
      if (prep.note) {
        notes.push(prep.note);
        log(`[backend] ${prep.note}`);
      }
      await import("@tensorflow/tfjs-backend-wasm");
      if (!(await tf.setBackend("wasm"))) throw new BackendError("Backend wasm failed to start");
      // the project's own matrix products (lib/wasm_gemm/mod.ts) unless PVL_GEMM=xnnpack
      const gemm = processEnv()["PVL_GEMM"] ?? "own";
      if (gemm !== "own" && gemm !== "xnnpack") {
        throw new BackendError(`Invalid PVL_GEMM: expected "own" or "xnnpack", got "${gemm}"`);
      }
      const { startGemm, stopGemm } = await import("./wasm_gemm/mod.ts");
      if (gemm === "own") {
        const why = await startGemm(threads);
        if (why) {
          notes.push(why);
          log(`[backend] ${why}`);
        }
      } else {
        stopGemm();
        notes.push("PVL_GEMM=xnnpack: tfjs's own matMul");
      }
      break;
    }
    case "webgpu": {
      const nav = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } })
        .navigator;
      if (!nav?.gpu) {
        throw new BackendError(
          'Backend "webgpu" needs Deno\'s WebGPU: run deno with --unstable-webgpu (deno task test/bench/reproduce already do).',
        );
      }
      const adapter = await nav.gpu.requestAdapter();
      if (!adapter) {
        throw new BackendError(
          'Backend "webgpu": no WebGPU adapter found. On a machine without a GPU install a software Vulkan driver (Debian: apt-get install mesa-vulkan-drivers libvulkan1), or use --backend wasm.',
        );
      }
      await import("@tensorflow/tfjs-backend-webgpu");
      // tfjs-webgpu 4.22: int32 transposes and AddN of 8+ inputs fail silently (lib/webgpu_kernels.ts)
      (await import("./webgpu_kernels.ts")).installWebgpuKernelFixes();
      if (!(await tf.setBackend("webgpu"))) {
        throw new BackendError("Backend webgpu failed to start");
      }
      break;
    }
    case "tensorflow": {
      const failures: string[] = [];
      let loaded = false;
      for (const l of options.nodeLoaders ?? TF_NODE_LOADERS) {
        try {
          await l.load();
          loaded = true;
          notes.push(`loaded ${l.name}`);
          break;
        } catch (e) {
          failures.push(`${l.name}: ${firstLine(e)}`);
        }
      }
      if (!loaded || !(await tf.setBackend("tensorflow"))) {
        throw new BackendError(tensorflowUnavailableMessage(failures));
      }
      break;
    }
  }
  await tf.ready();
  started = { name, tfName: tf.getBackend(), threads, notes };
  return started;
}

function defaultWasmThreads(): number {
  const v = processEnv()["WASM_THREADS"];
  if (v === undefined || v === "") return 2;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new BackendError(`Invalid WASM_THREADS: expected a whole number >= 1, got "${v}"`);
  }
  return n;
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0] ?? m;
}

/** Resolves the backend from the process's arguments and environment, then starts it. */
export async function initBackendFromArgs(
  args: readonly string[] = Deno.args,
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  return await initBackend(resolveBackendName(args, processEnv()), options);
}
