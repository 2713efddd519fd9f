/**
 * Corrections to `@tensorflow/tfjs-backend-webgpu` 4.22 kernels, installed by
 * {@linkcode initBackend} when it starts the `webgpu` backend (no file under node_modules is
 * edited: the kernel is re-registered).
 *
 * **Transpose of int32 / bool tensors.** tfjs-webgpu's general transpose shader (every
 * permutation except the plain 2-D `[1, 0]`, on tensors the backend does not hand to the CPU,
 * i.e. about 1,000 elements and more) passes an `i32` element to `setOutputAtIndex`, whose
 * parameter is `f32`. The WGSL does not compile, the dispatch runs no shader, and the result is
 * whatever the output buffer held before: zeros or stale bytes, with no error. Every op that
 * transposes internally inherits it: `sum`, `max`, `min`, `argMax`, `cumsum`, `cumprod` over a
 * non-inner axis of int32 tensors, `unsortedSegmentSum`. Found through the RL step on an H200,
 * where token ids transposed this way gave all-NaN log-probabilities (`tokenLogprobs` on a
 * `[16, 81]` batch); it happens on software Vulkan (llvmpipe) alike. The replacement below is
 * the same shader with `setOutputAtIndexI32`, exact for every int32 value (tfjs's 2-D path goes
 * through an f32 tile, exact only below 2^24, so int32 takes this program there too); float32
 * tensors keep tfjs's own kernel. The reductions and scans above call tfjs's transpose function
 * directly, not through the kernel registry, so on int32 tensors over a non-inner axis they stay
 * wrong; lib/ runs none of them on int32.
 *
 * **AddN of more than 7 tensors.** tfjs-webgpu compiles one shader over all inputs, one storage
 * buffer each, and the device allows `maxStorageBuffersPerShaderStage` (8 by default, tfjs does
 * not ask for more) including the output. With 8 or more inputs the pipeline is invalid and the
 * result is again the output buffer's stale contents: `tf.addN` of 8 tensors holding 1..8 gave
 * 28 (the previous call's sum of 1..7). The gradient norm of `applyLossStep` (one `addN` over
 * every parameter's squared sum: 19 for the smoke RM, 35 for the bench model) was therefore
 * garbage on webgpu, and so were the clipped updates: zero, tiny or NaN. The replacement sums
 * in chunks that fit the limit (a tree of tfjs's own AddN), in input order within each chunk.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { webgpu_util } from "@tensorflow/tfjs-backend-webgpu";

/** The parts of tfjs-webgpu's backend used here (its class is not re-exported typed). */
interface WebGPUBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): boolean;
  shouldExecuteOnCPU(inputs: tf.TensorInfo[]): boolean;
  runWebGPUProgram(program: unknown, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo;
}

const COORDS = ["x", "y", "z", "w", "u", "v"];
const COORD_TYPES = ["i32", "vec2<i32>", "vec3<i32>", "vec4<i32>", "vec5", "vec6"];

/**
 * The general transpose program of tfjs-webgpu (`TransposeProgram`), writing through the i32
 * setter: `out[flat] = A[index(permuted coords)]`, one element per invocation.
 */
export class Int32TransposeProgram {
  readonly variableNames = ["A"];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly outputShape: number[];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;
  readonly perm: number[];

  constructor(aShape: number[], perm: number[]) {
    if (aShape.length > 6) {
      throw new RangeError(`Invalid x: transpose supports rank <= 6, got rank ${aShape.length}`);
    }
    this.perm = perm;
    this.outputShape = perm.map((p) => aShape[p]!);
    this.dispatchLayout = webgpu_util.flatDispatchLayout(this.outputShape);
    this.dispatch = webgpu_util.computeDispatch(
      this.dispatchLayout,
      this.outputShape,
      this.workgroupSize,
      [1, 1, 1],
    );
    this.shaderKey = `transposeI32_${perm}`;
  }

  getUserCode(): string {
    const rank = this.outputShape.length;
    const switched = new Array<string>(rank);
    this.perm.forEach((p, i) => (switched[p] = `coords.${COORDS[i]}`));
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getCoordsFromIndex(index);
          setOutputAtIndexI32(index, A[getIndexFromCoords${rank}D(
            ${COORD_TYPES[rank - 1]}(${switched.join()}), uniforms.aShape)]);
        }
      }
    `;
  }
}

let installed = false;

/** Replaces a registered webgpu kernel, handing the original's function to `make`. */
function override(
  kernelName: string,
  make: (original: tf.KernelFunc) => tf.KernelFunc,
): void {
  const original = tf.getKernel(kernelName, "webgpu");
  if (!original) throw new Error("installWebgpuKernelFixes: the webgpu backend is not loaded");
  tf.unregisterKernel(kernelName, "webgpu");
  tf.registerKernel({ kernelName, backendName: "webgpu", kernelFunc: make(original.kernelFunc) });
}

/**
 * Sums `inputs` with `addN`, which takes at most `maxInputs` at a time: chunks of `maxInputs`
 * are summed first, then their sums, until one call remains. Intermediate sums are released
 * through `release`. Exported for tests (any backend's AddN can be passed as `addN`).
 */
export function chunkedAddN(
  inputs: tf.TensorInfo[],
  maxInputs: number,
  addN: (chunk: tf.TensorInfo[]) => tf.TensorInfo,
  release: (t: tf.TensorInfo) => void,
): tf.TensorInfo {
  if (!Number.isInteger(maxInputs) || maxInputs < 2) {
    throw new RangeError(`Invalid maxInputs: expected an integer >= 2, got ${maxInputs}`);
  }
  const temps: tf.TensorInfo[] = [];
  try {
    let level = inputs;
    while (level.length > maxInputs) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += maxInputs) {
        const chunk = level.slice(i, i + maxInputs);
        if (chunk.length === 1) {
          next.push(chunk[0]!);
          continue;
        }
        const sum = addN(chunk);
        temps.push(sum);
        next.push(sum);
      }
      level = next;
    }
    return addN(level);
  } finally {
    for (const t of temps) release(t);
  }
}

/**
 * Re-registers two webgpu kernels: `Transpose`, so int32 / bool tensors (on the GPU) go
 * through {@linkcode Int32TransposeProgram}, and `AddN`, so more inputs than one shader may
 * bind are summed by {@linkcode chunkedAddN}; everything else calls tfjs's kernels unchanged.
 * Idempotent; call after `@tensorflow/tfjs-backend-webgpu` is imported.
 */
export function installWebgpuKernelFixes(): void {
  if (installed) return;
  override("AddN", (originalFunc) => (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const backend = args.backend as unknown as WebGPUBackendLike;
    const maxInputs = backend.device.limits.maxStorageBuffersPerShaderStage - 1;
    if (inputs.length <= maxInputs) return originalFunc(args);
    return chunkedAddN(
      inputs,
      maxInputs,
      (chunk) =>
        originalFunc({
          ...args,
          inputs: chunk as unknown as tf.NamedTensorInfoMap,
        }) as tf.TensorInfo,
      (t) => void backend.disposeData(t.dataId),
    );
  });
  override("Transpose", (originalFunc) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = (args.attrs as { perm: number[] }).perm;
    const backend = args.backend as unknown as WebGPUBackendLike;
    if ((x.dtype !== "int32" && x.dtype !== "bool") || backend.shouldExecuteOnCPU([x])) {
      return originalFunc(args);
    }
    return backend.runWebGPUProgram(new Int32TransposeProgram(x.shape, perm), [x], x.dtype);
  });
  installed = true;
}
