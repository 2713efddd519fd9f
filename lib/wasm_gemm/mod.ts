/**
 * The project's own f32 matrix products on the wasm backend: the kernels of ./kernels.ts,
 * instantiated on tfjs-backend-wasm's own memory (so tensors are read and written in place)
 * and run on the main thread plus, with 2 or more threads, one worker thread of ours,
 * registered as the tfjs kernel `PvlGemm` of backend "wasm".
 *
 * Why (docs/performance.md): 2-D `matMul` was 60% of a training step, at the 15-28 GFLOP/s per
 * thread of tfjs-wasm's XNNPACK build (SIMD128 without fused multiply-add); these kernels use
 * `f32x4.relaxed_madd` and measured 24-38 GFLOP/s on the same shapes, and their strides take
 * `A^T B` from A as stored and the attention products from the `[T, C, E]` projections, which
 * removes the transposes of every weight gradient and the depthwise convolutions.
 *
 * {@linkcode startGemm} is called by `initBackend("wasm")`; `PVL_GEMM=xnnpack` keeps tfjs's
 * own matMul. When the runtime is not started (other backends, or a failed start, which
 * prints its reason) {@linkcode matMulNN} / {@linkcode matMulTN} fall back to tfjs ops with
 * the same results within rounding.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Worker } from "node:worker_threads";
import { type GemmFn, gemmModuleBytes, KC, MR } from "./kernels.ts";
import { ADAM_PARAMS } from "./update.ts";

type AdamFn = (...args: number[]) => void;
type SumsqFn = (p: number, n: number, out: number) => void;

/** The parts of tfjs-wasm's BackendWasm and Emscripten module used here. */
interface WasmBackendLike {
  wasm: {
    wasmMemory?: WebAssembly.Memory;
    asm?: { memory?: WebAssembly.Memory };
    HEAPF32: Float32Array;
    _malloc(n: number): number;
    _free(p: number): void;
  };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

interface Runtime {
  backend: WasmBackendLike;
  gemm: GemmFn;
  threads: number;
  control: Int32Array;
  workers: Worker[];
  scratch: number[]; // one per thread, main first
  adam: AdamFn;
  sumsq: SumsqFn;
  /** f32 block: the adam hyper-parameters, then a constant 1 (scale without clipping). */
  params: number;
  allocations: number[];
  jobs: number;
  /** Why the worker stopped, once it has (its products then fail instead of waiting). */
  failed: string | null;
}

let runtime: Runtime | null = null;

/** Threads of the runtime at most: the main thread and one worker (see `run`). */
const MAX_THREADS = 2;

/** Longest wait for the worker's share of one product. */
const WORKER_DEADLINE_MS = 60_000;

/** Below this many multiply-adds a product runs on the main thread alone. */
const PARALLEL_MIN_MACS = 1 << 20;

/** Whether products on the current backend go to the own kernels. */
export function gemmActive(): boolean {
  return runtime !== null && tf.getBackend() === "wasm" &&
    tf.backend() === (runtime.backend as unknown as tf.KernelBackend);
}

/** Threads the runtime uses (0 when not started). */
export function gemmThreads(): number {
  return runtime?.threads ?? 0;
}

function align16(p: number): number {
  return (p + 15) & ~15;
}

/**
 * Starts the runtime on the current tfjs backend, which must be "wasm": one worker when
 * `threads >= 2` and the memory is shared. Returns `null` when started as asked, else a note
 * saying why not, or with fewer threads (the caller prints it).
 */
export async function startGemm(threads: number): Promise<string | null> {
  if (runtime) stopGemm();
  if (tf.getBackend() !== "wasm") return `own GEMM: backend is ${tf.getBackend()}, not wasm`;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    return "own GEMM: the wasm backend's memory is not reachable; using tfjs's matMul";
  }
  const shared = typeof SharedArrayBuffer !== "undefined" &&
    memory.buffer instanceof SharedArrayBuffer;
  // `run` splits a product in two: the main thread and one worker (more would share its half)
  const want = shared ? Math.min(MAX_THREADS, Math.max(1, Math.floor(threads))) : 1;
  const allocations: number[] = [];
  const workers: Worker[] = [];
  try {
    const module = await WebAssembly.compile(gemmModuleBytes({ shared }));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const gemm = instance.exports.gemm as GemmFn;
    const scratch: number[] = [];
    for (let t = 0; t < want; t++) {
      const p = backend.wasm._malloc(KC * 32 + 16);
      allocations.push(p);
      scratch.push(align16(p));
    }
    const rawParams = backend.wasm._malloc(4 * (ADAM_PARAMS.length + 1) + 16);
    allocations.push(rawParams); // freed as allocated, used aligned
    const params = align16(rawParams);
    const control = new Int32Array(new SharedArrayBuffer(32 * 4));
    if (want === MAX_THREADS) {
      const w = new Worker(new URL("./worker.ts", import.meta.url), {
        workerData: { module, memory, control: control.buffer, scratch: scratch[1] },
      });
      workers.push(w);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("worker did not start in 30 s")), 30_000);
        w.once("message", () => {
          clearTimeout(timer);
          resolve();
        });
        w.once("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      w.unref(); // never keeps the process alive
    }
    runtime = {
      backend,
      gemm,
      threads: want,
      control,
      workers,
      scratch,
      adam: instance.exports.adam as AdamFn,
      sumsq: instance.exports.sumsq as SumsqFn,
      params,
      allocations,
      jobs: 0,
      failed: null,
    };
    for (const w of workers) {
      const r = runtime;
      w.on("error", (e: Error) => (r.failed = `worker error: ${e.message}`));
      w.on("exit", (code: number) => (r.failed ??= `worker exited with code ${code}`));
    }
    registerKernels();
    if (want >= threads) return null;
    return shared
      ? `own GEMM: ${want} threads (the main thread and one worker), asked ${threads}`
      : `own GEMM: ${want} thread (the wasm memory is not shared), asked ${threads}`;
  } catch (e) {
    for (const w of workers) void w.terminate();
    for (const p of allocations) backend.wasm._free(p);
    return `own GEMM could not start (${(e as Error).message}); using tfjs's matMul`;
  }
}

/** Stops the workers and frees the scratch buffers; later products use tfjs's matMul. */
export function stopGemm(): void {
  if (!runtime) return;
  const r = runtime;
  runtime = null;
  Atomics.store(r.control, 0, -1);
  Atomics.notify(r.control, 0);
  for (const w of r.workers) void w.terminate();
  try {
    for (const p of r.allocations) r.backend.wasm._free(p);
  } catch {
    // the backend was disposed with its heap
  }
}

/** Split point for 2 threads: multiples of `unit`, about equal shares. */
function split(total: number, unit: number): number {
  return Math.min(total, Math.round(total / 2 / unit) * unit);
}

/**
 * Runs `gemm` with `args` = its first 14 arguments (pointers, sizes, strides in bytes) over
 * `batch` batches and `m` rows, on the main thread and, for large enough products, the worker.
 */
function run(r: Runtime, args: number[], batch: number, m: number, relu: number): void {
  const macs = batch * m * args[4]! * args[5]!;
  const gemm = r.gemm as unknown as (...x: number[]) => void;
  if (r.threads === 1 || macs < PARALLEL_MIN_MACS || (batch === 1 && m < 2 * MR)) {
    gemm(...args, 0, batch, 0, m, relu, r.scratch[0]!);
    return;
  }
  // the one worker (MAX_THREADS) takes the first share
  const byBatch = batch > 1;
  const s = byBatch ? split(batch, 1) : split(m, MR);
  const mine = byBatch ? [s, batch, 0, m] : [0, batch, s, m];
  const theirs = byBatch ? [0, s, 0, m] : [0, batch, 0, s];
  const ctl = r.control;
  ctl.set([...args, ...theirs, relu], 2);
  const job = ++r.jobs;
  Atomics.store(ctl, 0, job);
  Atomics.notify(ctl, 0);
  gemm(...args, ...mine, relu, r.scratch[0]!);
  // The worker reports an exception through ctl[22]; a worker gone without a word (never
  // seen) is caught by the deadline instead of blocking the main thread for ever.
  const deadline = performance.now() + WORKER_DEADLINE_MS;
  while (Atomics.load(ctl, 1) !== job) {
    Atomics.wait(ctl, 1, Atomics.load(ctl, 1), 50);
    if (Atomics.load(ctl, 1) !== job && performance.now() > deadline) {
      throw new Error(
        `own GEMM: the worker did not finish a product in ${WORKER_DEADLINE_MS / 1000} s${
          r.failed ? ` (${r.failed})` : ""
        }; set PVL_GEMM=xnnpack to use tfjs's matMul`,
      );
    }
  }
  if (Atomics.exchange(ctl, 22, 0) !== 0) {
    throw new Error(
      "own GEMM: the worker's product threw; set PVL_GEMM=xnnpack to use tfjs's matMul",
    );
  }
}

let registered = false;

function offsetOf(r: Runtime, t: tf.TensorInfo): number {
  return r.backend.dataIdMap.get(t.dataId)!.memoryOffset;
}

function registerKernels(): void {
  if (registered) return;
  tf.registerKernel({
    kernelName: "PvlAdam",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs }) => {
      const r = runtime;
      if (!r) throw new Error("PvlAdam: the kernel runtime is not started");
      const { w, g, m, v, scale } = inputs as Record<string, tf.TensorInfo | undefined>;
      const hyper = attrs as unknown as Record<string, number>;
      const heap = r.backend.wasm.HEAPF32;
      ADAM_PARAMS.forEach((k, i) => (heap[r.params / 4 + i] = hyper[k]!));
      heap[r.params / 4 + ADAM_PARAMS.length] = 1;
      const outs = [w!, m!, v!].map((t) => r.backend.makeOutput(t.shape, "float32"));
      r.adam(
        offsetOf(r, w!),
        offsetOf(r, g!),
        offsetOf(r, m!),
        offsetOf(r, v!),
        ...outs.map((o) => offsetOf(r, o)),
        tf.util.sizeFromShape(w!.shape),
        r.params,
        scale ? offsetOf(r, scale) : r.params + 4 * ADAM_PARAMS.length,
      );
      return outs;
    },
  });
  tf.registerKernel({
    kernelName: "PvlSumSq",
    backendName: "wasm",
    kernelFunc: ({ inputs }) => {
      const r = runtime;
      if (!r) throw new Error("PvlSumSq: the kernel runtime is not started");
      const out = r.backend.makeOutput([], "float32");
      const po = offsetOf(r, out);
      r.backend.wasm.HEAPF32[po / 4] = 0;
      for (const t of Object.values(inputs) as tf.TensorInfo[]) {
        r.sumsq(offsetOf(r, t), tf.util.sizeFromShape(t.shape), po);
      }
      return out;
    },
  });
  tf.registerKernel({
    kernelName: "PvlGemm",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs }) => {
      const r = runtime;
      if (!r) throw new Error("PvlGemm: the GEMM runtime is not started");
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const g = attrs as unknown as GemmSpec;
      const out = r.backend.makeOutput(g.outShape, "float32");
      const pc = offsetOf(r, out);
      if (g.m * g.n * g.batch === 0) return out;
      if (g.k === 0) {
        r.backend.wasm.HEAPF32.fill(0, pc / 4, pc / 4 + tf.util.sizeFromShape(g.outShape));
        return out;
      }
      const e = (x: number) => 4 * x; // element strides -> bytes
      const args = [
        offsetOf(r, a),
        offsetOf(r, b),
        pc,
        g.m,
        g.k,
        g.n,
        e(g.rsA),
        e(g.csA),
        e(g.rsB),
        e(g.csB),
        e(g.rsC),
        e(g.sA),
        e(g.sB),
        e(g.sC),
      ];
      run(r, args, g.batch, g.m, g.relu ? 1 : 0);
      return out;
    },
  });
  registered = true;
}

/** Hyper-parameters of {@linkcode adamUpdate} (f32 values of the step, as train.ts uses them). */
export interface AdamHyper {
  /** Adam's L2 coefficient added to the gradient (0 for AdamW). */
  l2: number;
  /** Factor on the weights before the step (`1 - lr wd` for AdamW, else 1). */
  decay: number;
  b1: number;
  b2: number;
  /** `sqrt(1 - b2^t)`. */
  sqrtBc2: number;
  eps: number;
  /** `lr / (1 - b1^t)`. */
  lrBc1: number;
}

/**
 * One Adam(W) update of one parameter in a single pass (the `adam` kernel of ./update.ts):
 * returns `[w', m', v']`, new tensors. `scale`: the clip factor as a scalar tensor, or null.
 * Only while {@linkcode gemmActive}.
 */
export function adamUpdate(
  w: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  scale: tf.Tensor | null,
  h: AdamHyper,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (!gemmActive()) throw new Error("adamUpdate: the wasm kernel runtime is not active");
  for (const [n, t] of [["g", g], ["m", m], ["v", v]] as const) {
    if (t.shape.join() !== w.shape.join() || t.dtype !== "float32") {
      throw new RangeError(
        `Invalid ${n}: expected float32 [${w.shape}], got ${t.dtype} [${t.shape}]`,
      );
    }
  }
  const attrs = { ...h, ob1: 1 - h.b1, ob2: 1 - h.b2 };
  const inputs: Record<string, tf.Tensor> = { w, g, m, v };
  if (scale) inputs["scale"] = scale;
  return tf.engine().runKernel("PvlAdam", inputs, attrs as never) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

/** `sum_i sum(ts[i]^2)` as a scalar, one pass per tensor. Only while {@linkcode gemmActive}. */
export function sumOfSquares(ts: tf.Tensor[]): tf.Scalar {
  if (!gemmActive()) throw new Error("sumOfSquares: the wasm kernel runtime is not active");
  const inputs = Object.fromEntries(ts.map((t, i) => [`t${i}`, t]));
  return tf.engine().runKernel("PvlSumSq", inputs, {}) as tf.Scalar;
}

/**
 * A strided, batched product for {@linkcode stridedMatMul} (strides in elements):
 * `C_t[i, j] = sum_k A_t[i, k] B_t[k, j]` for `t < batch`, `i < m`, `j < n`, `k < k`, with
 * `A_t[i, k] = a[t sA + i rsA + k csA]`, `B_t[k, j] = b[t sB + k rsB + j csB]`,
 * `C_t[i, j] = out[t sC + i rsC + j]`, `out` of shape `outShape`.
 */
export interface GemmSpec {
  m: number;
  k: number;
  n: number;
  batch: number;
  rsA: number;
  csA: number;
  sA: number;
  rsB: number;
  csB: number;
  sB: number;
  rsC: number;
  sC: number;
  outShape: number[];
  relu: boolean;
}

/** Largest element index + 1 that a strided operand reaches (0 when empty). */
function extent(dims: [number, number][]): number {
  if (dims.some(([n]) => n === 0)) return 0;
  return dims.reduce((x, [n, s]) => x + (n - 1) * s, 0) + 1;
}

/**
 * The product described by `spec` on the own kernels (only while {@linkcode gemmActive}).
 * Every element it reads and writes is checked to lie inside `a`, `b` and the output, and C's
 * rows must not overlap. Not differentiable by itself.
 */
export function stridedMatMul(a: tf.Tensor, b: tf.Tensor, spec: GemmSpec): tf.Tensor {
  if (!gemmActive()) throw new Error("stridedMatMul: the wasm kernel runtime is not active");
  const g = spec;
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new RangeError(`Invalid operands: expected float32, got ${a.dtype} and ${b.dtype}`);
  }
  const ints = [g.m, g.k, g.n, g.batch, g.rsA, g.csA, g.sA, g.rsB, g.csB, g.sB, g.rsC, g.sC];
  if (ints.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new RangeError(`Invalid spec: sizes and strides must be integers >= 0, got ${ints}`);
  }
  const ea = g.k === 0 ? 0 : extent([[g.batch, g.sA], [g.m, g.rsA], [g.k, g.csA]]);
  const eb = g.k === 0 ? 0 : extent([[g.batch, g.sB], [g.k, g.rsB], [g.n, g.csB]]);
  const ec = extent([[g.batch, g.sC], [g.m, g.rsC], [g.n, 1]]);
  const sc = tf.util.sizeFromShape(g.outShape);
  if (ea > a.size || eb > b.size || ec > sc || (g.m > 1 && g.rsC < g.n)) {
    throw new RangeError(
      `Invalid spec: reaches A ${ea}/${a.size}, B ${eb}/${b.size}, C ${ec}/${sc} elements (rsC ${g.rsC}, n ${g.n})`,
    );
  }
  return tf.engine().runKernel("PvlGemm", { a, b }, g as never) as tf.Tensor;
}

function check2d(a: tf.Tensor, b: tf.Tensor, ka: number, what: string): void {
  if (a.rank !== 2 || b.rank !== 2 || a.dtype !== "float32" || b.dtype !== "float32") {
    throw new RangeError(
      `Invalid ${what} operands: expected two 2-D float32 tensors, got [${a.shape}] ${a.dtype} and [${b.shape}] ${b.dtype}`,
    );
  }
  if (a.shape[ka] !== b.shape[0]) {
    throw new RangeError(
      `Invalid ${what} operands: inner sizes differ, [${a.shape}] and [${b.shape}]`,
    );
  }
}

/** One 2-D product `[m, k] x [k, n]` with A's row / column strides `rsA` / `csA`. */
function plain2d(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  m: number,
  k: number,
  rsA: number,
  csA: number,
  relu: boolean,
): tf.Tensor2D {
  const n = b.shape[1];
  const g = { m, k, n, batch: 1, rsA, csA, sA: 0, rsB: n, csB: 1, sB: 0, rsC: n, sC: 0 };
  return stridedMatMul(a, b, { ...g, outShape: [m, n], relu }) as tf.Tensor2D;
}

/**
 * `a @ b` (`relu`: `max(a @ b, 0)`) for `a [M, K]`, `b [K, N]` float32. Not differentiable by
 * itself: used inside the custom gradients of ../model/_ops.ts.
 */
export function matMulNN(a: tf.Tensor2D, b: tf.Tensor2D, relu = false): tf.Tensor2D {
  check2d(a, b, 1, "matMulNN");
  if (!gemmActive()) {
    return relu ? tf.fused.matMul({ a, b, activation: "relu" }) as tf.Tensor2D : tf.matMul(a, b);
  }
  const [m, k] = a.shape;
  return plain2d(a, b, m, k, k, 1, relu);
}

/** `a^T @ b` for `a [K, M]`, `b [K, N]` float32, without materialising `a^T` on wasm. */
export function matMulTN(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  check2d(a, b, 0, "matMulTN");
  if (!gemmActive()) return tf.tidy(() => tf.matMul(tf.transpose(a), b));
  const [k, m] = a.shape;
  return plain2d(a, b, m, k, 1, m, false);
}
