import { assertEquals } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import {
  FORMATS,
  maxSequenceLength,
  parsePrompt,
  parseResponse,
  renderPrompt,
  renderResponse,
  stepTexts,
  traceOf,
} from "../../lib/testbed/format.ts";
import { writeSftSolution } from "../../lib/testbed/misconceptions.ts";
import { generateProblem, problemKey, solve, type Trace } from "../../lib/testbed/task.ts";
import { CharTokenizer } from "../../lib/testbed/tokenizer.ts";

const P = {
  start: 3,
  ops: [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }, {
    op: "-" as const,
    operand: 1,
  }],
  modulus: 7,
};

Deno.test("each format renders the documented text", () => {
  const t = solve(P);
  t.steps[1]!.verify = 0;
  assertEquals(renderPrompt(P), "3+4*2-1=");
  assertEquals(renderResponse(t, "sft").text, ">3+4=0\n>0*2=0\n?0\n>0-1=6\n#6\n");
  assertEquals(renderResponse(t, "shifted").text, "3+4=0\n0*2=0\n0-1=6\n$6\n");
  assertEquals(renderResponse(t, "numbered").text, "1:3+4=0\n2:0*2=0\n3:0-1=6\n#6\n");
  assertEquals(renderResponse(t, "inline").text, "3+4=0;0*2=0;0-1=6;|6\n");
  assertEquals(stepTexts("3+4=0\n0*2=0\n0-1=6\n$6\n", "shifted"), [
    "3+4=0\n",
    "0*2=0\n",
    "0-1=6\n$6\n",
  ]);
});

function stripVerify(t: Trace): Trace {
  return { steps: t.steps.map((s) => ({ ...s, verify: null })), answer: t.answer };
}

Deno.test("format -> parse -> format is the identity for every format, segments included", () => {
  const rng = new Rng(9);
  for (let i = 0; i < 2000; i++) {
    const modulus = rng.pick([7, 11, 97]);
    const p = generateProblem(rng, {
      config: { modulus, ops: ["+", "-", "*", "/"], minSteps: 1, maxSteps: 10 },
    });
    const { trace } = writeSftSolution(p, rng, {
      config: { misconceptions: [], corruptionRate: 0.2, verifyRate: 0.5, maxVerify: 3 },
    });
    if (rng.next() < 0.1) trace.answer = null;
    for (const f of FORMATS) {
      const r = renderResponse(trace, f);
      const parsed = parseResponse(r.text, f);
      assertEquals(parsed.starts, r.starts, `${f} starts`);
      assertEquals(parsed.ends, r.ends, `${f} ends`);
      assertEquals(parsed.wellFormed, trace.answer !== null, `${f} wellFormed`);
      const back = traceOf(parsed)!;
      assertEquals(back, f === "sft" ? trace : stripVerify(trace));
      assertEquals(renderResponse(back, f).text, r.text);
    }
    const prompt = parsePrompt(renderPrompt(p), { modulus });
    assertEquals(problemKey(prompt!), problemKey(p));
  }
});

Deno.test("parseResponse() marks foreign text as unparseable steps and never throws", () => {
  const r = parseResponse(">3+4=0\nhello\n>0*2=0\n#0\ntrailing", "sft");
  assertEquals(r.steps.length, 3);
  assertEquals(r.steps[1], null);
  assertEquals(r.answer, 0);
  assertEquals(r.wellFormed, false);
  assertEquals(parseResponse("", "shifted"), {
    steps: [],
    answer: null,
    starts: [],
    ends: [],
    wellFormed: false,
  });
  assertEquals(parseResponse("1:3+4=0\n3:0*2=0\n#0\n", "numbered").steps[1], null); // wrong step number
});

Deno.test("maxSequenceLength() bounds the real token count (BOS + prompt + response + EOS)", () => {
  const tok = new CharTokenizer();
  const rng = new Rng(4);
  for (let i = 0; i < 1000; i++) {
    const modulus = rng.pick([7, 11, 97]);
    const p = generateProblem(rng, { config: { modulus, minSteps: 1, maxSteps: 12 } });
    const { trace } = writeSftSolution(p, rng, {
      config: { misconceptions: [], verifyRate: 1, maxVerify: 2 },
    });
    for (const f of FORMATS) {
      const n =
        tok.encode(renderPrompt(p) + renderResponse(trace, f).text, { bos: true, eos: true }).ids
          .length;
      const bound = maxSequenceLength(p.ops.length, { format: f, modulus, maxVerify: 2 });
      if (n > bound) throw new Error(`${f} k=${p.ops.length} p=${modulus}: ${n} > ${bound}`);
      // tight for single-digit values and k <= 9
      if (modulus === 7 && p.ops.length <= 9) assertEquals(n, bound, `${f} k=${p.ops.length}`);
    }
  }
  assertEquals(maxSequenceLength(8, { format: "sft", modulus: 7, maxVerify: 2 }), 85);
  assertEquals(maxSequenceLength(8, { format: "shifted", modulus: 7 }), 71);
});
