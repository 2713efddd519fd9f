import * as tf from "@tensorflow/tfjs";
import { assertEquals } from "@std/assert";
import { overMiniBatches, rowSlice, tensorsOf } from "../../lib/rl/_minibatch.ts";

Deno.test("rowSlice(): rows [from, from + n) of a tensor of rank 1, 2 or 3", async () => {
  const x1 = tf.tensor1d([0, 1, 2, 3]), x2 = tf.tensor2d([[0, 1], [2, 3], [4, 5]]);
  const x3 = tf.tensor3d([[[0]], [[1]], [[2]]]);
  assertEquals(await rowSlice(x1, 1, 2).array(), [1, 2]);
  assertEquals(await rowSlice(x2, 2, 1).array(), [[4, 5]]);
  assertEquals(await rowSlice(x3, 0, 2).array(), [[[0]], [[1]]]);
  tf.dispose([x1, x2, x3]);
});

Deno.test("overMiniBatches(): in order, last one short, null steps not summed, every slice freed", async () => {
  const x = tf.tensor1d([1, 2, 3, 4, 5]);
  const before = tf.memory().numTensors;
  const seen: Array<[number, number]> = [];
  const r = await overMiniBatches(5, {
    miniBatchRows: 2,
    slice: (from, n) => ({ x: rowSlice(x, from, n), rows: n }),
    step: async (mb, from, n) => {
      seen.push([from, n]);
      const t = mb.x.sum();
      const s = (await t.data())[0]!;
      t.dispose();
      return from === 2 ? null : { sum: s, rows: mb.rows };
    },
  });
  assertEquals(seen, [[0, 2], [2, 2], [4, 1]]);
  assertEquals(r, { sums: { sum: 3 + 5, rows: 3 }, steps: 2 });
  assertEquals(tf.memory().numTensors, before, "every mini-batch slice is freed");
  assertEquals(tensorsOf({ a: x, b: [x, { c: x }], d: 1 }).length, 3);
  x.dispose();
});
