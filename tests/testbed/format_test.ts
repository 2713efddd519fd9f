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
import { type SftDataConfig, writeSftSolution } from "../../lib/testbed/misconceptions.ts";
import {
  generateProblem,
  problemKey,
  solve,
  type Step,
  type Trace,
} from "../../lib/testbed/task.ts";
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

// ---- testbed v2 variants ----

const V2_WRITER: Partial<SftDataConfig> = {
  writer: "v2",
  misconceptions: [],
  corruptionRate: 0.2,
  verifyRate: 0.5,
  maxVerify: 3,
  variants: { swapRate: 0.5, altTagRate: 0.3, altTag2Rate: 0.3, fillerRate: 0.15 },
};

Deno.test("v2 variants render as documented: alternative tag, filler at each slot, swapped numbers", () => {
  const step = { value: 3, op: "+" as const, operand: 4, result: 0, verify: null };
  const one = (s: Step) => renderResponse({ steps: [s], answer: 0 }, "sft").text;
  assertEquals(one({ ...step, tag: ":" }), ":3+4=0\n#0\n");
  assertEquals(one({ ...step, tag: "|" }), "|3+4=0\n#0\n");
  assertEquals(
    [0, 1, 2, 3, 4, 5].map((filler) => one({ ...step, filler })),
    [
      ">;3+4=0\n#0\n",
      ">3;+4=0\n#0\n",
      ">3+;4=0\n#0\n",
      ">3+4;=0\n#0\n",
      ">3+4=;0\n#0\n",
      ">3+4=0;\n#0\n",
    ],
  );
  // decorations are `sft` only; the order of the numbers is the step's own
  const swapped = { ...step, value: 4, operand: 3, tag: ":" as const, filler: 2 };
  assertEquals(renderResponse({ steps: [swapped], answer: 0 }, "shifted").text, "4+3=0\n$0\n");
  assertEquals(parseResponse(">1;0+2=1\n#1\n", "sft").steps[0], null); // not a field boundary
  // a filler inside a two-digit number is no boundary; two fillers are no variant
  const p11 = parseResponse(">1;0+2=1\n>1+;2=3\n>1;+2=3;\n;>1+2=3\n#3\n", "sft");
  assertEquals(p11.steps[1], { value: 1, op: "+", operand: 2, result: 3, verify: null, filler: 2 });
  assertEquals([p11.steps[0], p11.steps[2], p11.steps[3]], [null, null, null]);
  assertEquals(p11.wellFormed, false);
});

function sftOnly(t: Trace): Trace {
  return {
    steps: t.steps.map(({ tag: _a, filler: _f, ...s }) => ({ ...s, verify: null })),
    answer: t.answer,
  };
}

Deno.test("format -> parse -> format is the identity on v2 traces in every format", () => {
  const rng = new Rng(19);
  let fillers = 0, alts = 0;
  for (let i = 0; i < 2000; i++) {
    const modulus = rng.pick([7, 11, 97]);
    const p = generateProblem(rng, {
      config: { modulus, ops: ["+", "-", "*", "/"], minSteps: 1, maxSteps: 10 },
    });
    const { trace } = writeSftSolution(p, rng, { config: V2_WRITER });
    if (rng.next() < 0.1) trace.answer = null;
    fillers += trace.steps.filter((s) => s.filler !== undefined).length;
    alts += trace.steps.filter((s) => s.tag).length;
    for (const f of FORMATS) {
      const r = renderResponse(trace, f);
      const parsed = parseResponse(r.text, f);
      assertEquals(parsed.starts, r.starts, `${f} starts`);
      assertEquals(parsed.ends, r.ends, `${f} ends`);
      assertEquals(parsed.wellFormed, trace.answer !== null, `${f} wellFormed`);
      const back = traceOf(parsed)!;
      assertEquals(back, f === "sft" ? trace : sftOnly(trace));
      assertEquals(renderResponse(back, f).text, r.text);
    }
  }
  if (fillers < 1000 || alts < 1000) throw new Error(`few variants: ${fillers} ${alts}`);
});

Deno.test("maxSequenceLength() with maxFiller bounds v2 sequences (one filler per step at most)", () => {
  const tok = new CharTokenizer();
  const rng = new Rng(6);
  const config = {
    ...V2_WRITER,
    verifyRate: 1,
    variants: { swapRate: 0.5, altTagRate: 0.5, altTag2Rate: 0, fillerRate: 1 },
  };
  for (let i = 0; i < 500; i++) {
    const modulus = rng.pick([7, 11, 97]);
    const p = generateProblem(rng, { config: { modulus, minSteps: 1, maxSteps: 12 } });
    const { trace } = writeSftSolution(p, rng, { config });
    const k = p.ops.length;
    const n =
      tok.encode(renderPrompt(p) + renderResponse(trace, "sft").text, { bos: true, eos: true })
        .ids.length;
    const bound = maxSequenceLength(k, { format: "sft", modulus, maxVerify: 3, maxFiller: k });
    if (n > bound) throw new Error(`k=${k} p=${modulus}: ${n} > ${bound}`);
    if (modulus === 7 && k <= 9) assertEquals(n, bound, `k=${k}`);
  }
  // the v2 default's worst case fits the default context: k = 8, 3 verify lines, 8 fillers
  assertEquals(maxSequenceLength(8, { format: "sft", modulus: 7, maxVerify: 3, maxFiller: 8 }), 96);
});
