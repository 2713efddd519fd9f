import { assertEquals, assertThrows } from "@std/assert";
import { check, fail, is, show, validate } from "../lib/schema.ts";

class MyError extends Error {
  override name = "MyError";
}

Deno.test("is.number() describes its bounds in the message", async (t) => {
  const cases: [Parameters<typeof is.number>[0], unknown, string][] = [
    [{}, NaN, "Invalid x: expected a finite number, got NaN"],
    [{ min: 0 }, -1, "Invalid x: expected a finite number >= 0, got -1"],
    [{ gt: 0 }, 0, "Invalid x: expected a finite number > 0, got 0"],
    [{ int: true, min: 1 }, 1.5, "Invalid x: expected an integer >= 1, got 1.5"],
    [{ min: 0, max: 0.5 }, 0.6, "Invalid x: expected a finite number in [0, 0.5], got 0.6"],
    [
      { gt: 0, lt: 1, what: "a probability" },
      1,
      "Invalid x: expected a probability in (0, 1), got 1",
    ],
    [{ gt: 0, max: 1 }, "1", 'Invalid x: expected a finite number in (0, 1], got "1"'],
  ];
  for (const [bounds, v, msg] of cases) {
    await t.step(msg, () => {
      assertThrows(() => check(v, is.number(bounds), "x"), RangeError, msg);
    });
  }
  check(0.5, is.number({ gt: 0, lt: 1 }), "x"); // in range: no throw
});

Deno.test("is.oneOf() lists a table's keys (or a list) in order", () => {
  const table = { uniform: 1, early: 1, late: 1 } as const;
  check("late", is.oneOf(table), "w");
  assertThrows(
    () => check("middle", is.oneOf(table), "w"),
    RangeError,
    'Invalid w: expected one of "uniform", "early", "late", got "middle"',
  );
  assertThrows(() => check(3, is.oneOf(["a"]), "w"), RangeError, 'expected one of "a", got 3');
});

Deno.test("is.boolean(), is.nullable() and is.check()", () => {
  assertThrows(() => check(1, is.boolean(), "b"), RangeError, "expected true or false, got 1");
  check(null, is.nullable(is.number({ gt: 0 })), "n");
  assertThrows(() => check(0, is.nullable(is.number({ gt: 0 })), "n"), RangeError, "> 0");
  assertThrows(
    () => check(3, is.check((v) => v === 2, "two"), "c"),
    RangeError,
    "Invalid c: expected two, got 3",
  );
});

Deno.test("validate() walks nested schemas, names the dotted path, uses the caller's error class and prefix", () => {
  const schema = { train: { epochs: is.integer({ min: 1 }) }, seed: is.integer({ min: 0 }) };
  validate({ train: { epochs: 2 }, seed: 0 }, schema);
  assertThrows(
    () => validate({ train: { epochs: 0 }, seed: 0 }, schema, { error: MyError }),
    MyError,
    "Invalid train.epochs: expected an integer >= 1, got 0",
  );
  assertThrows(
    () => validate({ train: 3, seed: 0 }, schema, { prefix: "" }),
    RangeError,
    "train: expected an object, got 3",
  );
  assertThrows(
    () => validate({ train: { epochs: 1, epoch: 2 }, seed: 0 }, schema, { strict: true }),
    RangeError,
    "Invalid train.epoch: unknown field (known: epochs)",
  );
  assertThrows(
    () => validate({ epochs: 0 }, schema.train, { path: "rm.train" }),
    RangeError,
    "Invalid rm.train.epochs",
  );
});

Deno.test("fail() and show() give the one message form", () => {
  assertThrows(() => fail("a.b", "must divide c"), RangeError, "Invalid a.b: must divide c");
  assertThrows(() => fail("a", "x", { prefix: "", error: MyError }), MyError, "a: x");
  assertEquals(show("x".repeat(80)).length, 60);
  assertEquals(show(-Infinity), "-Infinity");
});
