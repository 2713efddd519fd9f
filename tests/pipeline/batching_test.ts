import { assert, assertEquals, assertThrows } from "@std/assert";
import * as tf from "@tensorflow/tfjs";
import { encodePairs, lmBatchTensors, lossMask } from "../../lib/pipeline/batching.ts";
import { BOS_ID, CharTokenizer, EOS_ID, PAD_ID } from "../../lib/testbed/tokenizer.ts";

Deno.test("encodePairs() right-pads BOS + prompt + response + EOS rows and marks the response", () => {
  const tok = new CharTokenizer();
  // row 0: BOS + "1+1=" (4) + "1+1=2\n$2\n" (9) + EOS = 15 tokens; row 1: BOS + "2=" + "$2\n" + EOS = 7
  const b = encodePairs([
    { prompt: "1+1=", response: "1+1=2\n$2\n" },
    { prompt: "2=", response: "$2\n" },
  ], { context: 32 });
  assertEquals(b.shape, [2, 15]);
  assertEquals(Array.from(b.responseStart), [5, 3]);
  assertEquals(Array.from(b.responseLength), [10, 4]);
  assertEquals(Array.from(b.length), [15, 7]);
  const row1 = Array.from(b.tokens.subarray(15, 30));
  assertEquals(row1, [BOS_ID, ...tok.encode("2=$2\n").ids, EOS_ID, ...Array(8).fill(PAD_ID)]);
  assertEquals(Array.from(b.responseMask.subarray(15, 30)), [
    0,
    0,
    0,
    1,
    1,
    1,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  // response token r of row 0 is at column 5 + r; r = 9 is the EOS
  assertEquals(b.tokens[5 + 9], EOS_ID);
  assertEquals(b.tokens[5], tok.encode("1").ids[0]);
});

Deno.test("lossMask() is next-aligned: 'response' predicts response tokens and EOS, 'all' every real token", () => {
  // BOS 2 = $ 2 \n EOS PAD PAD: positions 0..5 real, target of p is token p+1
  const b = encodePairs([{ prompt: "2=", response: "$2\n" }], { context: 16, padTo: 8 });
  assertEquals(Array.from(lossMask(b, { kind: "response" })), [0, 0, 1, 1, 1, 1, 0, 0]);
  assertEquals(Array.from(lossMask(b, { kind: "all" })), [1, 1, 1, 1, 1, 1, 0, 0]);
});

Deno.test("lmBatchTensors() shifts targets left and allocates only what it returns", async () => {
  const b = encodePairs([{ prompt: "2=", response: "$2\n" }], { context: 16 });
  const before = tf.memory().numTensors;
  const t = lmBatchTensors(b, { loss: "response" });
  assertEquals(tf.memory().numTensors, before + 3);
  assertEquals(t.tokens.shape, [1, 7]);
  const tg = Array.from(await t.targets.data());
  assertEquals(tg.slice(0, 6), Array.from(b.tokens.subarray(1, 7)));
  assertEquals(tg[6], PAD_ID);
  tf.dispose([t.tokens, t.targets, t.mask]);
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("encodePairs() names the row and the lengths when a sequence exceeds the context", () => {
  assertThrows(
    () =>
      encodePairs(
        [{ prompt: "1=", response: "$1\n" }, { prompt: "1+1=", response: "1+1=2\n$2\n" }],
        { context: 10 },
      ),
    RangeError,
    "pairs[1]: sequence of 15 tokens (BOS + prompt 4 + response 9 + EOS) exceeds the model context 10",
  );
  assertThrows(
    () => encodePairs([], { context: 10 }),
    RangeError,
    "pairs: expected a non-empty array",
  );
  assertThrows(
    () => encodePairs([{ prompt: "x", response: "" }], { context: 10 }),
    RangeError,
    "not in the vocabulary",
  );
  assertThrows(
    () => encodePairs([{ prompt: "1=", response: "$1\n" }], { context: 10, padTo: 3 }),
    RangeError,
    "padTo",
  );
  assert(encodePairs([{ prompt: "1=", response: "$1\n" }], { context: 7 }).shape[1] === 7);
});
