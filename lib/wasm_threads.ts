/**
 * Prepares the environment so that tfjs-backend-wasm loads its threaded SIMD
 * binary under Deno (see ../shared/notes/environment.md), falling back to one
 * thread with a printed reason when it cannot.
 *
 * Placeholder until the performance issue lands: always one thread.
 * @module
 */

/** Result of {@linkcode prepareWasm}. */
export interface WasmPrep {
  /** Threads the wasm backend will use. */
  threads: number;
  /** Why fewer threads than asked, when so. */
  note?: string;
}

/** Must run before the wasm backend is first set. */
export function prepareWasm(threads: number): Promise<WasmPrep> {
  if (threads <= 1) return Promise.resolve({ threads: 1 });
  return Promise.resolve({
    threads: 1,
    note: `wasm: threaded binary not enabled yet; running on 1 thread (asked ${threads})`,
  });
}
