import { assertEquals, assertThrows } from "@std/assert";
import { ConfigError, deepMerge, diffConfig, formatConfigDiff } from "../../lib/run/config.ts";

const DEFAULT = {
  seed: 0,
  rm: { lr: 1e-4, epochs: 5, weighting: "uniform", margin: 0 },
  buckets: [2, 4, 6, 8],
  extra: {} as Record<string, number>,
  note: null as string | null,
};

Deno.test("deepMerge() overrides nested leaves and keeps the rest, without mutating inputs", () => {
  const over = { rm: { lr: 2e-4 }, buckets: [3] };
  const cfg = deepMerge(DEFAULT, over);
  assertEquals(cfg, { ...DEFAULT, rm: { ...DEFAULT.rm, lr: 2e-4 }, buckets: [3] });
  assertEquals(DEFAULT.rm.lr, 1e-4);
  cfg.buckets.push(9);
  assertEquals(over.buckets, [3]);
  assertEquals(DEFAULT.buckets, [2, 4, 6, 8]);
});

Deno.test("deepMerge() treats undefined overrides as absent, null defaults as any type, {} as open", () => {
  const cfg = deepMerge(DEFAULT, { seed: undefined, note: "x", extra: { a: 1 } });
  assertEquals(cfg.seed, 0);
  assertEquals(cfg.note, "x");
  assertEquals(cfg.extra, { a: 1 });
});

Deno.test("deepMerge() rejects an unknown key with its path and a suggestion", () => {
  const e = assertThrows(
    () => deepMerge(DEFAULT, { rm: { lrr: 1 } } as never),
    ConfigError,
    'Unknown config key "rm.lrr" (did you mean "rm.lr"?)',
  );
  assertEquals((e as ConfigError).path, "rm.lrr");
});

Deno.test("deepMerge() lists the known keys when no key is close", () => {
  assertThrows(
    () => deepMerge(DEFAULT, { rm: { zzzzzz: 1 } } as never),
    ConfigError,
    'Unknown config key "rm.zzzzzz" (known keys of "rm": lr, epochs, weighting, margin)',
  );
});

Deno.test("deepMerge() rejects type mismatches, naming path, expected and got", async (t) => {
  await t.step("string for number", () => {
    assertThrows(
      () => deepMerge(DEFAULT, { rm: { lr: "1e-4" } } as never),
      ConfigError,
      'Invalid config value at "rm.lr": expected number (as the default 0.0001), got string ("1e-4")',
    );
  });
  await t.step("object for array", () => {
    assertThrows(
      () => deepMerge(DEFAULT, { buckets: { a: 1 } } as never),
      ConfigError,
      "expected array",
    );
  });
  await t.step("scalar for object", () => {
    assertThrows(
      () => deepMerge(DEFAULT, { rm: 3 } as never),
      ConfigError,
      '"rm": expected object',
    );
  });
  await t.step("NaN", () => {
    assertThrows(() => deepMerge(DEFAULT, { seed: NaN }), ConfigError, "expected a finite number");
  });
  await t.step("path prefix option", () => {
    assertThrows(
      () => deepMerge(DEFAULT.rm, { lrr: 1 } as never, { path: "rm" }),
      ConfigError,
      '"rm.lrr"',
    );
  });
  await t.step("non-object arguments", () => {
    assertThrows(() => deepMerge([] as never, {}), TypeError, "Invalid defaults");
    assertThrows(() => deepMerge(DEFAULT, 3 as never), TypeError, "Invalid overrides");
  });
});

Deno.test("diffConfig() lists changed, added and removed leaf paths, sorted", () => {
  const a = { rm: { lr: 1e-4, epochs: 5 }, buckets: [2, 4], old: true };
  const b = { rm: { lr: 2e-4, epochs: 5 }, buckets: [2, 4, 6], added: "x" };
  const d = diffConfig(a, b);
  assertEquals(d, [
    { path: "added", kind: "added", after: "x" },
    { path: "buckets", kind: "changed", before: [2, 4], after: [2, 4, 6] },
    { path: "old", kind: "removed", before: true },
    { path: "rm.lr", kind: "changed", before: 1e-4, after: 2e-4 },
  ]);
  assertEquals(
    formatConfigDiff(d),
    'added: (absent) -> "x"\nbuckets: [2,4] -> [2,4,6]\nold: true -> (absent)\nrm.lr: 0.0001 -> 0.0002',
  );
  assertEquals(diffConfig(a, structuredClone(a)), []);
});
