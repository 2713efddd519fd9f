import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { initBackend } from "../lib/backend.ts";
import { sleb, uleb } from "../lib/wasm_gemm/encode.ts";
import { type GemmFn, gemmModuleBytes, KC } from "../lib/wasm_gemm/kernels.ts";
import {
  adamUpdate,
  gemmActive,
  gemmThreads,
  matMulNN,
  matMulTN,
  startGemm,
  stopGemm,
  sumOfSquares,
} from "../lib/wasm_gemm/mod.ts";
import { Rng } from "../lib/prng.ts";

await initBackend("wasm", { threads: 1, log: () => {} });

Deno.test("LEB128: hand-checked encodings", () => {
  assertEquals(uleb(0), [0]);
  assertEquals(uleb(127), [0x7f]);
  assertEquals(uleb(128), [0x80, 0x01]);
  assertEquals(uleb(624485), [0xe5, 0x8e, 0x26]);
  assertEquals(sleb(-1), [0x7f]);
  assertEquals(sleb(63), [0x3f]);
  assertEquals(sleb(64), [0xc0, 0x00]);
  assertEquals(sleb(-64), [0x40]);
  assertEquals(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assertThrows(() => uleb(-1), RangeError);
  assertThrows(() => sleb(2 ** 31), RangeError);
});

type Layout = "nn" | "tn" | "nt";

/** Naive batched `C_t = op(A_t) op(B_t)` (+ ReLU) in float64, from the layouts' strides. */
function naive(
  f: Float32Array,
  a0: number,
  b0: number,
  s: ReturnType<typeof strides>,
  m: number,
  k: number,
  n: number,
  batch: number,
  relu: boolean,
): Float64Array {
  const c = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let x = 0;
        for (let q = 0; q < k; q++) {
          x += f[(a0 + t * s.sA + i * s.rsA + q * s.csA) / 4]! *
            f[(b0 + t * s.sB + q * s.rsB + j * s.csB) / 4]!;
        }
        c[(t * m + i) * n + j] = relu ? Math.max(x, 0) : x;
      }
    }
  }
  return c;
}

/** Byte strides of a batch of `[m, k] x [k, n]` products stored one after the other. */
function strides(layout: Layout, m: number, k: number, n: number) {
  return {
    rsA: layout === "tn" ? 4 : 4 * k,
    csA: layout === "tn" ? 4 * m : 4,
    rsB: layout === "nt" ? 4 : 4 * n,
    csB: layout === "nt" ? 4 * k : 4,
    rsC: 4 * n,
    sA: 4 * m * k,
    sB: 4 * k * n,
    sC: 4 * m * n,
  };
}

Deno.test("generated kernel: every tile shape, K blocks, ReLU, layouts, batches and thread splits against the naive product", async () => {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
  const { instance } = await WebAssembly.instantiate(gemmModuleBytes({ shared: true }), {
    env: { memory },
  });
  const gemm = instance.exports.gemm as GemmFn;
  const f = new Float32Array(memory.buffer);
  const rng = new Rng(3);
  const scratch = 64;
  // M covers every row tail (1-5 after tiles of 6), N every column path (8, 4, 1), K one and
  // several blocks of KC with a remainder
  const shapes = [
    [1, 1, 1, 1],
    [5, 3, 13, 2],
    [6, 8, 8, 1],
    [7, 16, 4, 3],
    [13, 17, 29, 1],
    [11, KC, 9, 2],
    [17, KC + 1, 21, 1],
    [8, 2 * KC + 37, 12, 1],
  ] as [number, number, number, number][];
  for (const [m, k, n, batch] of shapes) {
    for (const layout of ["nn", "tn", "nt"] as const) {
      for (const relu of [false, true]) {
        const s = strides(layout, m, k, n);
        const a0 = scratch + KC * 32, b0 = a0 + batch * s.sA, c0 = b0 + batch * s.sB;
        for (let i = a0 / 4; i < c0 / 4; i++) f[i] = rng.next() - 0.5;
        f.fill(NaN, c0 / 4, c0 / 4 + batch * m * n + 8);
        const args = [a0, b0, c0, m, k, n, s.rsA, s.csA, s.rsB, s.csB, s.rsC, s.sA, s.sB, s.sC];
        const call = gemm as unknown as (...x: number[]) => void;
        // two shares, as two threads take them: by batch when there are several, else by row
        const h = Math.floor((batch > 1 ? batch : m) / 2);
        const shares = batch > 1 ? [[0, h, 0, m], [h, batch, 0, m]] : [[0, 1, 0, h], [0, 1, h, m]];
        for (const sh of shares) call(...args, ...sh, relu ? 1 : 0, scratch);
        const want = naive(f, a0, b0, s, m, k, n, batch, relu);
        const got = f.subarray(c0 / 4, c0 / 4 + batch * m * n);
        const what = `${layout} relu=${relu} [${m},${k},${n}] x${batch}`;
        for (let i = 0; i < want.length; i++) {
          assert(
            Math.abs(got[i]! - want[i]!) <= 1e-5 * Math.sqrt(k),
            `${what} at ${i}: ${got[i]} vs ${want[i]}`,
          );
        }
        assert(Number.isNaN(f[c0 / 4 + batch * m * n]!), `${what}: wrote past C`);
      }
    }
  }
});

Deno.test("matMulNN / matMulTN equal tfjs's matMul within rounding; bad operands named", async () => {
  assert(gemmActive(), "the wasm backend starts the own kernels");
  assertEquals(gemmThreads(), 1);
  const rng = new Rng(5);
  const rand = (s: [number, number]) =>
    tf.tensor2d(Float32Array.from({ length: s[0] * s[1] }, () => rng.next() - 0.5), s);
  for (const [m, k, n] of [[3, 5, 7], [70, 33, 26], [130, 300, 64]] as [number, number, number][]) {
    const a = rand([m, k]), at = rand([k, m]), b = rand([k, n]);
    const pairs: [tf.Tensor, tf.Tensor][] = [
      [matMulNN(a, b), tf.matMul(a, b)],
      [matMulNN(a, b, true), tf.relu(tf.matMul(a, b))],
      [matMulTN(at, b), tf.matMul(at, b, true, false)],
    ];
    for (const [got, want] of pairs) {
      assertEquals(got.shape, want.shape);
      const g = await got.data(), w = await want.data();
      for (let i = 0; i < w.length; i++) {
        assert(Math.abs(g[i]! - w[i]!) < 1e-5, `[${m},${k},${n}] ${i}`);
      }
    }
    tf.dispose([a, at, b, ...pairs.flat()]);
  }
  const empty = matMulNN(tf.zeros([4, 0]), tf.zeros([0, 3]));
  assertEquals(Array.from(await empty.data()), new Array(12).fill(0));
  empty.dispose();
  assertThrows(
    () => matMulNN(tf.zeros([2, 3]), tf.zeros([4, 2])),
    RangeError,
    "inner sizes differ",
  );
  assertThrows(
    () => matMulTN(tf.zeros([2, 3]), tf.zeros([4, 2])),
    RangeError,
    "inner sizes differ",
  );
  assertThrows(() => matMulNN(tf.zeros([2, 3], "int32"), tf.zeros([3, 2])), RangeError, "float32");
});

Deno.test("adamUpdate equals the tfjs formula bit for bit (Adam with L2, AdamW, clip scale); sumOfSquares", async () => {
  const rng = new Rng(9);
  const rand = (n: number, lo = -1) =>
    tf.tensor1d(Float32Array.from({ length: n }, () => lo + 2 * rng.next()));
  for (const n of [1, 7, 64, 1027]) {
    const w = rand(n), g = rand(n), m = rand(n), v = tf.abs(rand(n));
    for (
      const [kind, wd, clip] of [["adam", 0.1, null], ["adamw", 0.01, 0.37], [
        "adam",
        0,
        1,
      ]] as const
    ) {
      const lr = 3e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, t = 3;
      const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
      const scale = clip === null ? null : tf.scalar(clip);
      const [w2, m2, v2] = adamUpdate(w, g, m, v, scale, {
        l2: kind === "adam" ? wd : 0,
        decay: kind === "adamw" ? 1 - lr * wd : 1,
        b1,
        b2,
        sqrtBc2: Math.sqrt(bc2),
        eps,
        lrBc1: lr / bc1,
      });
      // lib/model/train.ts's tfjs path
      const want = tf.tidy(() => {
        let gg: tf.Tensor = scale ? tf.mul(g, scale) : g;
        if (kind === "adam" && wd > 0) gg = tf.add(gg, tf.mul(w, wd));
        const mm = tf.add(tf.mul(m, b1), tf.mul(gg, 1 - b1));
        const vv = tf.add(tf.mul(v, b2), tf.mul(tf.square(gg), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(vv), Math.sqrt(bc2)), eps);
        const base = kind === "adamw" && wd > 0 ? tf.mul(w, 1 - lr * wd) : w;
        return [tf.sub(base, tf.mul(tf.div(mm, denom), lr / bc1)), mm, vv];
      });
      for (let i = 0; i < 3; i++) {
        assertEquals(
          Array.from(await [w2, m2, v2][i]!.data()),
          Array.from(await want[i]!.data()),
          `${kind} wd=${wd} clip=${clip} n=${n} output ${i}`,
        );
      }
      tf.dispose([w2, m2, v2, ...want, ...(scale ? [scale] : [])]);
    }
    const ss = sumOfSquares([w, g]);
    const ref = tf.add(tf.sum(tf.square(w)), tf.sum(tf.square(g)));
    const [a, b] = [(await ss.data())[0]!, (await ref.data())[0]!];
    assert(Math.abs(a - b) <= 1e-5 * b, `sumOfSquares n=${n}: ${a} vs ${b}`);
    tf.dispose([w, g, m, v, ss, ref]);
  }
});

Deno.test("stopGemm falls back to tfjs's matMul; startGemm restarts; no tensor leaked", async () => {
  const before = tf.memory().numTensors;
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]), b = tf.tensor2d([5, 6, 7, 8], [2, 2]);
  stopGemm();
  assert(!gemmActive());
  const y1 = matMulNN(a, b), y2 = matMulTN(a, b);
  assertEquals(Array.from(await y1.data()), [19, 22, 43, 50]);
  assertEquals(Array.from(await y2.data()), [26, 30, 38, 44]);
  assertThrows(() => sumOfSquares([a]), Error, "not active");
  assertEquals(await startGemm(1), null);
  assert(gemmActive());
  const y3 = matMulTN(a, b);
  assertEquals(Array.from(await y3.data()), [26, 30, 38, 44]);
  tf.dispose([a, b, y1, y2, y3]);
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("causalAttention on the own kernels equals the depthwise-convolution path: values and gradients", async () => {
  const { causalAttention } = await import("../lib/model/_ops.ts");
  const rng = new Rng(21);
  const [t, ch, e] = [20, 6, 8];
  const rn = () =>
    tf.tensor3d(Float32Array.from({ length: t * ch * e }, () => rng.next() * 2 - 1), [t, ch, e]);
  const q = rn(), k = rn(), v = rn(), r = rn();
  const run = async () => {
    const out = tf.tidy(() => {
      const y = causalAttention(q, k, v);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(causalAttention(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D), r))
      )([q, k, v]);
      return [y, ...g];
    });
    const d = await Promise.all(out.map((x) => x.data()));
    tf.dispose(out);
    return d;
  };
  assert(gemmActive());
  const own = await run();
  stopGemm();
  try {
    const ref = await run();
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < ref[i]!.length; j++) {
        assert(
          Math.abs(own[i]![j]! - ref[i]![j]!) < 1e-5,
          `output ${i} at ${j}: ${own[i]![j]} vs ${ref[i]![j]}`,
        );
      }
    }
  } finally {
    await startGemm(1);
    tf.dispose([q, k, v, r]);
  }
});
