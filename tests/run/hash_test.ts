import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { canonicalJson, hashValue, sha256File, sha256Hex } from "../../lib/run/hash.ts";

Deno.test("canonicalJson() sorts keys at every depth and drops undefined properties", () => {
  assertEquals(
    canonicalJson({ b: { y: 1, x: [2, { d: 1, c: 2 }] }, a: "s", u: undefined }),
    '{"a":"s","b":{"x":[2,{"c":2,"d":1}],"y":1}}',
  );
});

Deno.test("canonicalJson() normalises numbers: -0 is 0, 1.0 is 1, floats round-trip", () => {
  assertEquals(canonicalJson([-0, 1.0, 0.1, 1e-7, 1e21]), "[0,1,0.1,1e-7,1e+21]");
});

Deno.test("canonicalJson() rejects non-JSON values, naming the path", async (t) => {
  const cases: [string, unknown, string][] = [
    ["NaN", { a: { b: NaN } }, "$.a.b: expected JSON data"],
    ["Infinity", { a: [1, Infinity] }, "$.a[1]"],
    ["function", { f: () => 1 }, "got a function"],
    ["bigint", { n: 1n }, "got bigint"],
    ["symbol", { s: Symbol("x") }, "got symbol"],
    ["undefined in array", [1, undefined], "$[1]"],
    ["Date", { d: new Date(0) }, "an instance of Date"],
    ["Map", { m: new Map() }, "an instance of Map"],
    ["typed array", { t: new Float32Array(2) }, "an instance of Float32Array"],
  ];
  for (const [name, value, msg] of cases) {
    await t.step(name, () => {
      assertThrows(() => canonicalJson(value), TypeError, msg);
    });
  }
  await t.step("cycle", () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    assertThrows(() => canonicalJson(o), TypeError, "got a cycle");
  });
});

Deno.test("canonicalJson() allows a shared (non-cyclic) sub-object twice", () => {
  const shared = { x: 1 };
  assertEquals(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}');
});

Deno.test("hashValue() is independent of key order and differs for different values", async () => {
  const a = await hashValue({ rm: { lr: 1e-4, m: 0.5 }, seed: 1, tags: ["x", "y"] });
  const b = await hashValue({ tags: ["x", "y"], seed: 1, rm: { m: 0.5, lr: 0.0001 } });
  assertEquals(a, b);
  assert(/^[0-9a-f]{64}$/.test(a));
  assertNotEquals(a, await hashValue({ rm: { lr: 2e-4, m: 0.5 }, seed: 1, tags: ["x", "y"] }));
  // Array order is meaningful; key order is not.
  assertNotEquals(a, await hashValue({ rm: { lr: 1e-4, m: 0.5 }, seed: 1, tags: ["y", "x"] }));
  // A string "1" and a number 1 are different configs.
  assertNotEquals(await hashValue({ a: 1 }), await hashValue({ a: "1" }));
});

Deno.test("sha256Hex() matches the FIPS 180-2 test vector for 'abc'", async () => {
  assertEquals(
    await sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("sha256File() streams a multi-chunk file to the same digest as hashing it whole", async () => {
  const path = await Deno.makeTempFile();
  try {
    // 2.5 MiB: crosses the 1 MiB chunk boundary twice.
    const data = new Uint8Array(2.5 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    await Deno.writeFile(path, data);
    const d = await sha256File(path);
    assertEquals(d.size, data.length);
    assertEquals(d.sha256, await sha256Hex(data));
  } finally {
    await Deno.remove(path);
  }
});
