/**
 * Starts tfjs-backend-wasm's threaded SIMD binary under Deno, falling back to
 * tfjs's own single-threaded SIMD binary with a printed reason when it cannot.
 *
 * Why this module exists (see ../shared/notes/environment.md): Deno exposes
 * `process.versions.node`, so tfjs takes its Node path, where the flag
 * `WASM_HAS_MULTITHREAD_SUPPORT` is hard-wired to false
 * (https://github.com/tensorflow/tfjs/issues/3830). Forcing the flag is not enough:
 * tfjs hands Emscripten its pthread worker as a `blob:` URL, which Deno's
 * `node:worker_threads` rejects (`ERR_WORKER_PATH`).
 *
 * So instead of tfjs's `init()`, {@linkcode prepareWasm} starts the same
 * Emscripten factory that tfjs bundles (`wasm-out/tfjs-backend-wasm-threaded-simd.js`)
 * itself, with only public package files and APIs:
 *
 * 1. The pthread worker script is generated from the package's own
 *    `wasmWorkerContents` into a real file under `.cache/tfjs-wasm/` (gitignored),
 *    with one prelude line: Deno's worker global `location` is an accessor whose
 *    setter throws, and Emscripten's worker assigns `location` in strict mode.
 * 2. The worker's main script is the factory file itself (Emscripten's Node
 *    default, `__filename`), and the `.wasm` binary sits beside it.
 * 3. The thread count goes through tfjs's public `setThreadsCount`, so the C++
 *    side does not fall back to `os.cpus().length / 2`.
 * 4. The resulting module is wrapped in tfjs's exported `BackendWasm` and
 *    registered as backend `"wasm"` (same kernels, same priority), replacing the
 *    factory the package registered. `tf.setBackend("wasm")` then picks it up.
 * 5. The workers are `unref()`ed once started, so they never keep the process
 *    alive: programs exit on their own; {@linkcode shutdownWasm} terminates them
 *    explicitly where wanted (tests, long-lived hosts switching backends).
 *
 * Anything failing on the way (worker start, load timeout, wrong thread count)
 * leaves tfjs untouched, terminates the workers started so far, and returns one
 * thread with the reason; tfjs's default single-threaded SIMD path then loads.
 * @module
 */
import * as tfc from "@tensorflow/tfjs-core";
import { stopGemm } from "./wasm_gemm/mod.ts";

/** Result of {@linkcode prepareWasm}. */
export interface WasmPrep {
  /** Threads the wasm backend will use. */
  threads: number;
  /** Why fewer threads than asked, when so. */
  note?: string;
}

/** Options of {@linkcode prepareWasm}. */
export interface PrepareWasmOptions {
  /**
   * Folder for the generated worker script (default: `.cache/tfjs-wasm/` in the
   * repository holding this file; a temporary folder when that is not a local file).
   */
  cacheDir?: string;
  /** How long the threaded module may take to start before falling back (default 30 000 ms). */
  timeoutMs?: number;
  /**
   * Worker script to start instead of the generated one. A testing hook: tests
   * force the fallback with a path Deno rejects (`blob:...`) or a script that never loads.
   */
  workerPath?: string;
}

/** Emscripten's pthread pool in the 4.22.0 build: 8 workers started with the module. */
export const WASM_PTHREAD_POOL_SIZE = 8;
/**
 * Most threads {@linkcode prepareWasm} starts. The pool holds 8 pre-started workers
 * and XNNPACK's pool uses N-1 of them plus the caller; a thread beyond the pool would
 * need the main event loop to load while `pthreadpool_create` blocks it waiting.
 */
export const MAX_WASM_THREADS = WASM_PTHREAD_POOL_SIZE;
/** Default of {@linkcode PrepareWasmOptions.timeoutMs}. */
export const DEFAULT_WASM_START_TIMEOUT_MS = 30_000;

const TFJS_WASM_VERSION = "4.22.0";
const WORKER_FILE = "tfjs-backend-wasm-threaded-simd.worker.js";

/** The subset of Emscripten's pthread bookkeeping we touch. */
interface NodeWorkerLike {
  unref?(): void;
  terminate(): unknown;
}
interface PThreadLike {
  unusedWorkers: NodeWorkerLike[];
  runningWorkers: NodeWorkerLike[];
  terminateAllThreads(): void;
}
/** The Emscripten module as tfjs's `init()` completes it (`module.tfjs`). */
interface ThreadedModule {
  PThread?: PThreadLike;
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  tfjs?: Record<string, unknown>;
}
type EmscriptenFactory = (config: Record<string, unknown>) => Promise<ThreadedModule>;

let active: { module: ThreadedModule; threads: number } | undefined;

/**
 * Builds the pthread worker script from the package's `wasmWorkerContents`.
 *
 * Pure; exported for tests. Does what tfjs's `locateFile` does to the text before
 * making a blob (a raw newline stands for `\n` inside a string literal there), and
 * prepends a redefinition of `location`: the script assigns it with
 * `Object.assign(global, {location: ...})` in strict mode, and in a Deno worker
 * `location` is an accessor whose setter throws.
 *
 * @example
 * ```ts
 * import { wasmWorkerSource } from "./wasm_threads.ts";
 * import { assertStringIncludes } from "@std/assert";
 * const src = wasmWorkerSource('"use strict";var Module={};');
 * assertStringIncludes(src, '"location"'); // the redefinition of `location` comes first
 * ```
 */
export function wasmWorkerSource(workerContents: string): string {
  if (typeof workerContents !== "string" || !workerContents.includes("Module")) {
    throw new TypeError(
      "Invalid workerContents: expected the Emscripten pthread worker script of tfjs-backend-wasm",
    );
  }
  return [
    '"use strict";',
    `// Generated by lib/wasm_threads.ts from @tensorflow/tfjs-backend-wasm@${TFJS_WASM_VERSION}`,
    `// (wasm-out/${WORKER_FILE}, export wasmWorkerContents). Do not edit: rewritten when it differs.`,
    "// Deno's worker `location` is an accessor whose setter throws; the script below assigns it.",
    'Object.defineProperty(globalThis, "location", { value: { href: __filename }, writable: true, configurable: true, enumerable: true });',
    workerContents.replace(/\n/g, "\\n"),
    "",
  ].join("\n");
}

/**
 * Prepares tfjs-backend-wasm to run on `threads` threads. Must run before the wasm
 * backend is first set (`tf.setBackend("wasm")`); `lib/backend.ts` calls it.
 *
 * - `threads === 1`: changes nothing (tfjs loads its single-threaded SIMD binary).
 * - `threads >= 2`: starts the threaded SIMD binary with `min(threads, 8)` threads
 *   and registers it as backend `"wasm"`. On any failure returns `{threads: 1, note}`
 *   naming the obstacle, and tfjs's default path loads instead.
 *
 * Never rejects for a start failure; throws `RangeError` for an invalid `threads`.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs";
 * import { prepareWasm } from "./wasm_threads.ts";
 * const prep = await prepareWasm(2);
 * if (prep.note) console.error(prep.note);
 * await import("@tensorflow/tfjs-backend-wasm");
 * await tf.setBackend("wasm");
 * ```
 */
export async function prepareWasm(
  threads: number,
  options: PrepareWasmOptions = {},
): Promise<WasmPrep> {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`Invalid threads: expected a whole number >= 1, got ${threads}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_WASM_START_TIMEOUT_MS;
  if (!(timeoutMs > 0)) {
    throw new RangeError(`Invalid options.timeoutMs: expected a number > 0, got ${timeoutMs}`);
  }
  if (threads === 1) return { threads: 1 };

  const wasmPkg = await import("@tensorflow/tfjs-backend-wasm");
  const registryEntry = (tfc.engine().registry as Record<string, unknown>)["wasm"];
  if (registryEntry !== undefined) {
    // The backend is already running; its binary cannot be swapped under live tensors.
    let running = 1;
    try {
      running = wasmPkg.getThreadsCount();
    } catch { /* not a tfjs BackendWasm */ }
    return {
      threads: running,
      note: running >= threads ? undefined : `wasm: backend already started before prepareWasm; ` +
        `running on ${running} thread(s) (asked ${threads})`,
    };
  }

  const want = Math.min(threads, MAX_WASM_THREADS);
  const clampNote = want < threads
    ? `wasm: ${threads} threads asked, using ${want} (Emscripten's pre-started pthread pool)`
    : undefined;
  if (active) {
    // Prepared earlier but not started yet: reuse it, or release it before a new one.
    if (active.threads === want) {
      return clampNote ? { threads: want, note: clampNote } : { threads: want };
    }
    shutdownWasm();
  }

  let config: Record<string, unknown> = {};
  try {
    const workerPath = options.workerPath ?? await writeWorkerScript(options.cacheDir);
    const factoryModule = await import(
      "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js"
    );
    const factory = (factoryModule.default ?? factoryModule) as unknown as EmscriptenFactory;
    if (typeof factory !== "function") {
      throw new Error("wasm-out/tfjs-backend-wasm-threaded-simd.js exports no factory");
    }
    let wasmPath: string | undefined;
    let failInstantiate: (e: unknown) => void = () => {};
    const instantiateFailed = new Promise<never>((_, reject) => (failInstantiate = reject));
    config = {
      // Same routing as tfjs's init(), minus the blob: URL for the worker.
      locateFile: (path: string, prefix: string) => {
        if (path.endsWith(".worker.js")) return workerPath;
        if (path.endsWith(".wasm")) wasmPath = prefix + path;
        return prefix + path;
      },
      // Emscripten's documented hook for instantiating the binary ourselves, used
      // for one import: the C++ side caps XNNPACK's pool at
      // emscripten_num_logical_cores() / 2 (os.cpus().length / 2 under Node),
      // read once by a static initialiser. Reporting 2 x want makes the cap
      // `want`, without touching the process-wide `os.cpus`.
      instantiateWasm: (
        info: Record<string, Record<string, unknown>>,
        receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
      ) => {
        const env = { ...info["env"], emscripten_num_logical_cores: () => 2 * want };
        const imports = { ...info, env, wasi_snapshot_preview1: env } as WebAssembly.Imports;
        (async () => {
          if (wasmPath === undefined) throw new Error("Emscripten did not locate its .wasm file");
          const bytes = await Deno.readFile(wasmPath);
          const { instance, module } = await WebAssembly.instantiate(bytes, imports);
          receive(instance, module);
        })().catch((e) => failInstantiate(e));
        return {}; // Emscripten: exports arrive later through `receive`.
      },
    };
    const module = await withTimeout(
      Promise.race([factory(config), instantiateFailed]),
      timeoutMs,
      `the threaded module did not start within ${timeoutMs} ms (workers never reported loaded)`,
    );
    completeModule(module);
    wasmPkg.setThreadsCount(want);
    const backend = new wasmPkg.BackendWasm(module as never);
    const got = wasmPkg.getThreadsCount();
    if (got !== want) {
      backend.dispose();
      throw new Error(`XNNPACK started ${got} threads, expected ${want}`);
    }
    unrefWorkers(module);
    let fresh: unknown = backend;
    tfc.removeBackend("wasm");
    tfc.registerBackend("wasm", () => {
      // The first setBackend gets the instance checked above; a later one (after
      // removeBackend + re-register) is not expected, so it is refused loudly.
      if (fresh === undefined) {
        throw new Error("wasm_threads: backend instance already used; call prepareWasm again");
      }
      const b = fresh;
      fresh = undefined;
      return b as tfc.KernelBackend;
    }, WASM_PRIORITY);
    active = { module, threads: want };
    return clampNote ? { threads: want, note: clampNote } : { threads: want };
  } catch (e) {
    terminateQuietly(config["PThread"] as PThreadLike | undefined);
    return {
      threads: 1,
      note: `wasm: threaded SIMD binary could not start (${describe(e)}); ` +
        `running on 1 thread (asked ${threads})`,
    };
  }
}

/**
 * Releases the threaded backend started by {@linkcode prepareWasm}: removes backend
 * `"wasm"` from tfjs (which disposes it) and terminates its worker threads. The
 * workers are unref'd, so programs exit without this; call it where a host must
 * release them earlier (long-lived kernels, tests). Afterwards `"wasm"` is no longer
 * registered: call it when done with wasm, not between ops. Removing the backend
 * rather than only stopping its threads matters: a parallel kernel on a pool whose
 * workers are gone would block the main thread forever.
 *
 * @returns the number of threads that were running (0 when none).
 */
export function shutdownWasm(): number {
  stopGemm(); // the own GEMM's workers compute on this backend's memory
  if (!active) return 0;
  const { module, threads } = active;
  active = undefined;
  const registry = tfc.engine().registry as Record<string, { wasm?: unknown } | undefined>;
  const live = registry["wasm"];
  const ours = live === undefined || live.wasm === module;
  if (ours) {
    try {
      tfc.removeBackend("wasm"); // disposes the instance: terminateAllThreads()
    } catch { /* not registered any more */ }
  }
  terminateQuietly(module.PThread);
  return threads;
}

/** Threads of the running threaded backend, 0 when none was started here. */
export function activeWasmThreads(): number {
  return active?.threads ?? 0;
}

// tfjs-backend-wasm registers "wasm" with priority 2 (WASM_PRIORITY in its source).
const WASM_PRIORITY = 2;

/** Adds the `module.tfjs` bridge tfjs's `init()` adds before constructing `BackendWasm`. */
function completeModule(module: ThreadedModule): void {
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  };
}

function unrefWorkers(module: ThreadedModule): void {
  const p = module.PThread;
  if (!p) throw new Error("the threaded module has no PThread (not a pthreads build?)");
  for (const w of [...p.runningWorkers, ...p.unusedWorkers]) {
    if (typeof w.unref !== "function") throw new Error("worker_threads.Worker has no unref()");
    w.unref();
  }
}

function terminateQuietly(p: PThreadLike | undefined): void {
  if (!p) return;
  try {
    p.terminateAllThreads();
  } catch { /* best effort on a half-started module */ }
  // Running pthread workers go back to the pool above, then get terminated; make
  // sure nothing is left even if Emscripten's bookkeeping was mid-way.
  for (const w of [...(p.runningWorkers ?? []), ...(p.unusedWorkers ?? [])]) {
    try {
      w.terminate();
    } catch { /* already gone */ }
  }
}

/** Writes the worker script (content-addressed, atomic rename) and returns its absolute path. */
async function writeWorkerScript(cacheDir: string | undefined): Promise<string> {
  const mod = await import(
    "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js"
  );
  const contents = (mod as { wasmWorkerContents?: unknown }).wasmWorkerContents ??
    (mod.default as { wasmWorkerContents?: unknown } | undefined)?.wasmWorkerContents;
  if (typeof contents !== "string") {
    throw new Error(`wasm-out/${WORKER_FILE} has no wasmWorkerContents string`);
  }
  const source = wasmWorkerSource(contents);
  const dir = cacheDir ?? await defaultCacheDir();
  await Deno.mkdir(dir, { recursive: true });
  // .cjs: Deno runs it as CommonJS (it uses require and __filename).
  const path = `${dir.replace(/\/+$/, "")}/threaded-simd-worker-${TFJS_WASM_VERSION}-${
    fnv1a(source)
  }.cjs`;
  try {
    if ((await Deno.readTextFile(path)) === source) return path;
  } catch { /* absent: write it */ }
  // Several processes may start at once (parallel tests): write a private temp
  // file, then rename over the target, which is atomic on one file system.
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(tmp, source);
  await Deno.rename(tmp, path);
  return path;
}

async function defaultCacheDir(): Promise<string> {
  const here = new URL("../.cache/tfjs-wasm/", import.meta.url);
  if (here.protocol === "file:") {
    const dir = decodeURIComponent(here.pathname);
    try {
      await Deno.mkdir(dir, { recursive: true });
      return dir;
    } catch { /* read-only checkout: use a temp dir */ }
  }
  return await Deno.makeTempDir({ prefix: "pvl-tfjs-wasm-" });
}

function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const first = e.message.split("\n")[0] ?? e.message;
    return typeof code === "string" ? `${code}: ${first}` : first;
  }
  if (e && typeof e === "object" && "message" in e) {
    return String((e as { message: unknown }).message);
  }
  return String(e);
}
