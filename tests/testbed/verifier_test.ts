import { assertEquals } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import { extractAnswer, verify } from "../../lib/testbed/verifier.ts";
import { labelResponse } from "../../lib/testbed/labeller.ts";
import { FORMATS, parseResponse, renderResponse } from "../../lib/testbed/format.ts";
import { solve } from "../../lib/testbed/task.ts";

const P = {
  start: 3,
  ops: [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }],
  modulus: 7,
};

Deno.test("verify() accepts the right final answer in every format and rejects others", () => {
  for (const f of FORMATS) {
    const text = renderResponse(solve(P), f).text;
    assertEquals(verify(P, text, { format: f }), 1, f);
    assertEquals(verify(P, text.replace(/\d\n$/, "5\n"), { format: f }), 0, f);
  }
  assertEquals(verify(P, "#0\n", { format: "sft" }), 1); // outcome only: steps are not checked
  assertEquals(verify(P, "#x\n", { format: "sft" }), 0);
  assertEquals(verify(P, "$0\n", { format: "sft" }), 0); // another format's marker
  assertEquals(extractAnswer(">3+4=0\n#0\n#5\n", { format: "sft" }), 0); // first final line counts
});

Deno.test("verify(), extractAnswer(), parseResponse() and labelResponse() never throw on 10,000 garbage strings", () => {
  const rng = new Rng(77);
  const alphabet = [
    ..."0123456789+-*/=\n>?#$:;| ab\t\r\u0000",
    "\u{1F600}",
    "\uD800",
    "99999999999999999999",
  ];
  for (let i = 0; i < 10000; i++) {
    const n = rng.int(60);
    let s = "";
    for (let j = 0; j < n; j++) s += rng.pick(alphabet);
    const f = rng.pick(FORMATS);
    const v = verify(P, s, { format: f });
    if (v !== 0 && v !== 1) throw new Error(`verify gave ${v}`);
    extractAnswer(s, { format: f });
    parseResponse(s, f);
    labelResponse(P, s, { format: f });
  }
  for (const junk of [null, undefined, 42, {}, []]) {
    assertEquals(verify(P, junk, { format: "sft" }), 0);
  }
  // a malformed problem does not throw either
  assertEquals(
    verify({ start: 0, ops: [{ op: "+", operand: 1 }], modulus: Number.NaN }, "#1\n", {
      format: "sft",
    }),
    0,
  );
});
