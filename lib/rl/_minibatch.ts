/**
 * The one mini-batch loop of the RL step, shared by the online RM update (B14) and the policy
 * update (B15 step 10): one pass over the batch in mini-batches of whole groups, in order;
 * each mini-batch's constants are sliced, one step runs on them, its host figures are summed,
 * and every tensor of the mini-batch is freed before the next.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { tidyRecord } from "./_tidy.ts";

/** Rows `[from, from + n)` of a tensor of any rank (all other axes whole). */
export function rowSlice<T extends tf.Tensor>(x: T, from: number, n: number): T {
  const rest = x.rank - 1;
  return x.slice([from, ...new Array<number>(rest).fill(0)], [
    n,
    ...new Array<number>(rest).fill(-1),
  ]) as T;
}

/** Sums of the figures the steps returned, and how many steps returned figures. */
export interface MiniBatchSums<K extends string> {
  sums: Record<K, number>;
  steps: number;
}

/** Every tensor reachable in a (nested) record. */
export function tensorsOf(x: unknown): tf.Tensor[] {
  if (x instanceof tf.Tensor) return [x];
  if (x && typeof x === "object") return Object.values(x).flatMap(tensorsOf);
  return [];
}

/**
 * Runs `step` on mini-batches of `miniBatchRows` consecutive rows of a `rows`-row batch (the
 * last one may be shorter). `slice(from, n)` builds the mini-batch's constants (run inside a
 * tidy: intermediates are freed); `step` returns host figures to sum, or null when it took no
 * optimiser step (then nothing is summed). Sums run in mini-batch order from 0.
 */
export async function overMiniBatches<M, K extends string>(
  rows: number,
  options: {
    miniBatchRows: number;
    slice: (from: number, n: number) => M;
    step: (mb: M, from: number, n: number) => Promise<Record<K, number> | null>;
  },
): Promise<MiniBatchSums<K>> {
  const sums = {} as Record<K, number>;
  let steps = 0;
  for (let from = 0; from < rows; from += options.miniBatchRows) {
    const n = Math.min(options.miniBatchRows, rows - from);
    const mb = tidyRecord(() => options.slice(from, n));
    try {
      const r = await options.step(mb, from, n);
      if (r) {
        for (const k of Object.keys(r) as K[]) sums[k] = (sums[k] ?? 0) + r[k];
        steps++;
      }
    } finally {
      tf.dispose(tensorsOf(mb));
    }
  }
  return { sums, steps };
}
