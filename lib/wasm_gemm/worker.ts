/**
 * Worker thread of the GEMM runtime (./mod.ts): instantiates the kernels on the tfjs wasm
 * backend's shared memory and computes the row ranges the main thread hands it through a
 * shared control block (layout in ./mod.ts), blocking in `Atomics.wait` between jobs.
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import type { GemmFn } from "./kernels.ts";

interface Init {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  scratch: number;
}

const init = workerData as Init;
const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
const gemm = instance.exports.gemm as GemmFn as unknown as (...x: number[]) => void;
const ctl = new Int32Array(init.control);
// control block: [0] job sequence, [1] done sequence, [2..20] gemm's arguments before
// `scratch`, [22] set when the product threw
// Polls before sleeping: products come in bursts (forward, backward), and waking from
// Atomics.wait costs tens of microseconds.
const SPIN = 20_000;
let seen = Atomics.load(ctl, 0);
parentPort!.postMessage("ready");
for (;;) {
  let spins = 0;
  while (Atomics.load(ctl, 0) === seen) {
    if (++spins > SPIN) Atomics.wait(ctl, 0, seen);
  }
  seen = Atomics.load(ctl, 0);
  if (seen < 0) break; // shutdown
  const args = Array.from(ctl.subarray(2, 21));
  try {
    gemm(...args, init.scratch);
  } catch {
    Atomics.store(ctl, 22, 1); // the main thread throws
  }
  Atomics.store(ctl, 1, seen);
  Atomics.notify(ctl, 1);
}
