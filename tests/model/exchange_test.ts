import { assertEquals, assertThrows } from "@std/assert";
import { ModelError } from "../../lib/model/lm.ts";
import { exchangeShapes, exportWeights, importWeights } from "../../lib/model/exchange.ts";
import { setup, TINY, tinyModel } from "./_setup.ts";

await setup();

Deno.test("exchange layout round trip is exact and names/shapes follow conformance.md", async () => {
  const m = tinyModel(3);
  const w = await exportWeights(m);
  assertEquals(
    Object.fromEntries(Object.entries(w).map(([k, t]) => [k, t.shape])),
    exchangeShapes(TINY),
  );
  assertEquals(w["blocks.1.qkv.weight"]!.shape, [24, 8]);
  const m2 = tinyModel(9);
  importWeights(m2, w);
  const w2 = await exportWeights(m2);
  for (const k of Object.keys(w)) assertEquals(w2[k]!.data, w[k]!.data, k);
  m.dispose();
  m2.dispose();
});

Deno.test("importWeights() errors name the tensor and the mismatch", async () => {
  const m = tinyModel();
  const w = await exportWeights(m);
  const bad = { ...w, "blocks.0.o.weight": { shape: [8, 7], data: new Float32Array(56) } };
  assertThrows(
    () => importWeights(m, bad),
    ModelError,
    'weights["blocks.0.o.weight"]: expected shape [8,8], got [8,7]',
  );
  const missing = { ...w };
  delete missing["gf"];
  assertThrows(() => importWeights(m, missing), ModelError, 'missing tensor "gf"');
  assertThrows(
    () => importWeights(m, { ...w, extra: w["gf"]! }),
    ModelError,
    'unknown tensor "extra"',
  );
  m.dispose();
});
