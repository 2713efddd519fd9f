import { assertEquals, assertThrows } from "@std/assert";
import { BOS_ID, CharTokenizer, EOS_ID, tokenEnd } from "../../lib/testbed/tokenizer.ts";
import { FORMATS, renderPrompt, renderResponse } from "../../lib/testbed/format.ts";
import { writeSftSolution } from "../../lib/testbed/misconceptions.ts";
import { generateProblem } from "../../lib/testbed/task.ts";
import { Rng } from "../../lib/prng.ts";

Deno.test("the vocabulary is closed over every format (p = 7, 11, 97)", () => {
  const tok = new CharTokenizer();
  const rng = new Rng(2);
  for (const modulus of [7, 11, 97]) {
    for (let i = 0; i < 200; i++) {
      const p = generateProblem(rng, { config: { modulus, ops: ["+", "-", "*", "/"] } });
      const { trace } = writeSftSolution(p, rng, {
        config: { misconceptions: [], corruptionRate: 0.3, verifyRate: 0.5 },
      });
      for (const f of FORMATS) {
        const text = renderPrompt(p) + renderResponse(trace, f).text;
        if (!tok.covers(text)) throw new Error(`not covered: ${JSON.stringify(text)}`);
      }
    }
  }
});

Deno.test("encode/decode round trip, BOS/EOS/PAD specials, offsets are character spans", () => {
  const tok = new CharTokenizer();
  const enc = tok.encode("3+4=0\n", { bos: true, eos: true });
  assertEquals(enc.ids[0], BOS_ID);
  assertEquals(enc.ids.at(-1), EOS_ID);
  assertEquals(enc.starts, [0, 0, 1, 2, 3, 4, 5, 6]);
  assertEquals(enc.ends, [0, 1, 2, 3, 4, 5, 6, 6]);
  assertEquals(tok.decode([...enc.ids, 0, 0]), "3+4=0\n");
  assertEquals(
    tok.decode([BOS_ID, ...tok.encode("1+1=2").ids, EOS_ID, ...tok.encode("9").ids]),
    "1+1=2",
  );
  assertThrows(() => tok.encode("3 + 4"), RangeError, "at 1");
  assertThrows(() => tok.decode([999]), RangeError, "unknown id");
});

Deno.test("tokenEnd() maps step character ends to exclusive token ends (with and without BOS)", () => {
  const tok = new CharTokenizer();
  const r = renderResponse({
    steps: [{ value: 1, op: "+", operand: 1, result: 2, verify: 2 }, {
      value: 2,
      op: "*",
      operand: 3,
      result: 6,
      verify: null,
    }],
    answer: 6,
  }, "sft");
  // ">1+1=2\n?2\n" = 10 chars, then ">2*3=6\n#6\n" = 10 chars
  assertEquals(r.ends, [10, 20]);
  const plain = tok.encode(r.text, { eos: true });
  assertEquals(r.ends.map((e) => tokenEnd(plain, e)), [10, 20]);
  const withBos = tok.encode(r.text, { bos: true, eos: true });
  assertEquals(r.ends.map((e) => tokenEnd(withBos, e)), [11, 21]);
  assertEquals(tokenEnd(withBos, 0), 1);
});
