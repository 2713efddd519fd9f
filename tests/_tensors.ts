/**
 * Tensor helpers shared by the tests of every area: the leak test of STYLE.md item 2.
 * (The area helpers tests/rm/_ref.ts, tests/rm/_rm_fixtures.ts and tests/model/_setup.ts
 * re-export it, so each test keeps importing from its own area.)
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { assertEquals } from "@std/assert";

/** Collects every tensor inside a (nested) result and disposes it. */
export function disposeAll(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeAll);
  else if (x && typeof x === "object") Object.values(x).forEach(disposeAll);
}

/**
 * Leak test (STYLE.md item 2): a burn-in call, then `tf.memory().numTensors` unchanged after
 * another. Tensors the call returns are the caller's and are disposed after each call.
 */
export async function assertNoLeak(fn: () => Promise<unknown> | unknown): Promise<void> {
  disposeAll(await fn());
  const before = tf.memory().numTensors;
  disposeAll(await fn());
  assertEquals(tf.memory().numTensors, before, "tensors leaked");
}
