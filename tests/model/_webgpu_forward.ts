/** Subprocess of lm_test.ts: reads {config, weights, rows} on stdin, prints webgpu log-probs or "SKIP reason". */
import { initBackend } from "../../lib/backend.ts";
import { createLM } from "../../lib/model/lm.ts";
import { exchangeShapes, importWeights } from "../../lib/model/exchange.ts";
import { nextTokenLogprobs } from "../../lib/model/logprobs.ts";
import { Rng } from "../../lib/prng.ts";

const input = JSON.parse(await new Response(Deno.stdin.readable).text());
try {
  await initBackend("webgpu", { log: () => {} });
} catch (e) {
  console.log(`SKIP ${(e as Error).message.split("\n")[0]}`);
  Deno.exit(0);
}
const shapes = exchangeShapes(input.config);
const m = createLM(input.config, { rng: new Rng(1) });
importWeights(
  m,
  Object.fromEntries(
    Object.entries(input.weights as Record<string, number[]>).map((
      [k, v],
    ) => [k, { shape: shapes[k]!, data: Float32Array.from(v) }]),
  ),
);
const r = await nextTokenLogprobs(m, input.rows);
console.log(JSON.stringify(Array.from(r.data)));
Deno.exit(0);
