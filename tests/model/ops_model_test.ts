import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "@std/assert";
import { runCase } from "../../lib/conformance/run.ts";
import { exportWeights } from "../../lib/model/exchange.ts";
import { nextTokenLogprobs } from "../../lib/model/logprobs.ts";
import { setup, TINY, tinyModel } from "./_setup.ts";

await setup();

const m = tinyModel(6);
const ex = await exportWeights(m);
const nestW = (d: Float32Array, shape: number[]) =>
  shape.length === 1
    ? Array.from(d)
    : Array.from({ length: shape[0]! }, (_, i) =>
      Array.from(d.subarray(i * shape[1]!, (i + 1) * shape[1]!)));
const weights = Object.fromEntries(Object.entries(ex).map(([k, t]) => [k, nestW(t.data, t.shape)]));
const tokens = [[1, 2, 3], [4, 5, 6]];
const call = (op: string, args: Record<string, unknown>) =>
  runCase(JSON.stringify({ id: "c", op, args }));

Deno.test("lm_logprobs returns the next-aligned [B][L][V] log-softmax of the lib forward", async () => {
  const r = await call("lm_logprobs", { config: TINY, weights, tokens });
  const logp = (r.out as { logp: number[][][] }).logp;
  const ref = await nextTokenLogprobs(m, tokens);
  assertEquals([logp.length, logp[0]!.length, logp[0]![0]!.length], [2, 3, TINY.vocab]);
  assertAlmostEquals(logp[1]![2]![4]!, ref.data[(1 * 3 + 2) * TINY.vocab + 4]!, 1e-7);
});

Deno.test("lm_loss_grad returns the masked mean CE and grads in the exchange layout", async () => {
  const r = await call("lm_loss_grad", {
    config: TINY,
    weights,
    tokens,
    targets: [[2, 3, 0], [5, 6, 0]],
    mask: [[1, 1, 0], [1, 0, 0]],
  });
  const out = r.out as { loss: number; grads: Record<string, number[][]> };
  assert(out.loss > 0 && Number.isFinite(out.loss));
  assertEquals(Object.keys(out.grads).sort(), Object.keys(weights).sort());
  assertEquals(out.grads["blocks.1.qkv.weight"]!.length, 3 * TINY.width);
  // Masked-out targets do not matter.
  const r2 = await call("lm_loss_grad", {
    config: TINY,
    weights,
    tokens,
    targets: [[2, 3, 5], [5, 1, 1]],
    mask: [[1, 1, 0], [1, 0, 0]],
  });
  assertEquals((r2.out as { loss: number }).loss, out.loss);
});

Deno.test("model ops answer bad input with an error line naming the argument", async () => {
  const err = async (args: Record<string, unknown>, op = "lm_logprobs") =>
    String((await call(op, args)).error);
  assertStringIncludes(
    await err({ config: TINY, weights, tokens: [[1, 2.5]] }),
    "tokens: expected integer ids",
  );
  assertStringIncludes(await err({ config: TINY, weights, tokens: [[1, 7]] }), "got 7 at [0][1]");
  assertStringIncludes(
    await err({ config: TINY, weights, tokens: [[1, 1, 1, 1, 1, 1, 1]] }),
    "L <= context=6",
  );
  assertStringIncludes(
    await err({ config: TINY, weights, tokens: [[1, 2], [3]] }),
    "tokens: expected",
  );
  const badW = { ...weights, gf: [1, 2] };
  assertStringIncludes(await err({ config: TINY, weights: badW, tokens }), "weights.gf");
  assertStringIncludes(await err({ config: { ...TINY, heads: 3 }, weights, tokens }), "divisible");
  assertStringIncludes(
    await err({ config: TINY, weights, tokens }, "lm_loss_grad"),
    "targets: required",
  );
  assertStringIncludes(
    await err(
      { config: TINY, weights, tokens, targets: tokens, mask: [[0, 1, 0], [1, 0, 0]] },
      "lm_loss_grad",
    ),
    "mask: expected the valid tokens first",
  );
  assertStringIncludes(
    await err(
      { config: TINY, weights, tokens, targets: tokens, mask: [[0, 0, 0], [0, 0, 0]] },
      "lm_loss_grad",
    ),
    "mask: no valid position",
  );
});
