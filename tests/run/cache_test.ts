import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "node:path";
import { ArtifactCache, type BuildFn, getOrBuild, type StageSpec } from "../../lib/run/cache.ts";

const SPEC: StageSpec = { stage: "toy", version: 1, config: { n: 3, lr: 1e-3 } };

async function withCache(
  fn: (cache: ArtifactCache, logs: string[]) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "pvl_cache_test_" });
  const logs: string[] = [];
  try {
    await fn(new ArtifactCache({ root, log: (l) => logs.push(l) }), logs);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** A build that counts its calls and writes two files (one in a subdirectory). */
function counter(): { build: BuildFn; calls: () => number } {
  let n = 0;
  return {
    calls: () => n,
    build: async (dir) => {
      n++;
      await Deno.writeTextFile(join(dir, "a.txt"), "hello");
      await Deno.mkdir(join(dir, "sub"));
      await Deno.writeFile(join(dir, "sub", "b.bin"), new Uint8Array([1, 2, 3, 4]));
      return { calls: n };
    },
  };
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("cache builds once, then hits with the same key and a verified manifest", () =>
  withCache(async (cache) => {
    const c = counter();
    const a = await cache.getOrBuild(SPEC, c.build);
    assertEquals([a.hit, c.calls()], [false, 1]);
    // Same config, other key order: same entry.
    const b = await cache.getOrBuild({ ...SPEC, config: { lr: 0.001, n: 3 } }, c.build);
    assertEquals([b.hit, c.calls(), b.key, b.dir], [true, 1, a.key, a.dir]);
    assertEquals(await Deno.readTextFile(b.file("a.txt")), "hello");
    assertEquals(await Deno.readFile(b.file("sub/b.bin")), new Uint8Array([1, 2, 3, 4]));
    const m = b.manifest;
    assertEquals([m.stage, m.version, m.key, m.config, m.inputs], [
      "toy",
      1,
      a.key,
      SPEC.config,
      {},
    ]);
    assertEquals(m.meta, { calls: 1 });
    assertEquals(m.files.map((f) => [f.path, f.size]), [["a.txt", 5], ["sub/b.bin", 4]]);
    assertMatch(m.files[0]!.sha256, /^[0-9a-f]{64}$/);
    assertEquals(a.dir, join(cache.root, "toy", a.key));
    assert(await cache.has(SPEC));
    assertEquals(await cache.path(SPEC), a.dir);
    // Only the entry remains: no temporary directory.
    assertEquals(await names(join(cache.root, "toy")), [a.key]);
  }));

Deno.test("cache key changes with config, version, stage and input keys", () =>
  withCache(async (cache) => {
    const base = await cache.key(SPEC);
    const variants: StageSpec[] = [
      { ...SPEC, config: { n: 4, lr: 1e-3 } },
      { ...SPEC, version: 2 },
      { ...SPEC, stage: "toy2" },
      { ...SPEC, inputs: { sft: "k1" } },
    ];
    const keys = await Promise.all(variants.map((s) => cache.key(s)));
    for (const k of keys) assertNotEquals(k, base);
    assertNotEquals(
      await cache.key({ ...SPEC, inputs: { sft: "k1" } }),
      await cache.key({ ...SPEC, inputs: { sft: "k2" } }),
    );
  }));

Deno.test("cache detects a corrupted file (same size), reports it, and rebuilds", () =>
  withCache(async (cache, logs) => {
    const c = counter();
    const a = await cache.getOrBuild(SPEC, c.build);
    await Deno.writeTextFile(a.file("a.txt"), "HELLO"); // same size: only the hash tells
    const b = await cache.getOrBuild(SPEC, c.build);
    assertEquals([b.hit, c.calls()], [false, 2]);
    assertEquals(await Deno.readTextFile(b.file("a.txt")), "hello");
    assertEquals(logs.length, 1);
    assertStringIncludes(logs[0]!, 'corrupt entry (file "a.txt" sha256');
    assertStringIncludes(logs[0]!, "removing and rebuilding");
  }));

Deno.test("cache verify 'size' skips hashing but still catches a size change", () =>
  withCache(async (cache, logs) => {
    const c = counter();
    const a = await cache.getOrBuild(SPEC, c.build);
    await Deno.writeTextFile(a.file("a.txt"), "HELLO");
    assertEquals((await cache.getOrBuild(SPEC, c.build, { verify: "size" })).hit, true);
    await Deno.writeTextFile(a.file("a.txt"), "hello!");
    const b = await cache.getOrBuild(SPEC, c.build, { verify: "size" });
    assertEquals([b.hit, c.calls()], [false, 2]);
    assertStringIncludes(logs[0]!, 'file "a.txt" has 6 bytes, manifest says 5');
  }));

Deno.test("cache rebuilds an entry whose manifest is missing, or that lost or gained a file", async (t) => {
  const damage: [string, (dir: string) => Promise<void>, string][] = [
    ["manifest deleted", (d) => Deno.remove(join(d, "manifest.json")), "manifest.json is missing"],
    [
      "manifest garbled",
      (d) => Deno.writeTextFile(join(d, "manifest.json"), "{"),
      "not valid JSON",
    ],
    ["file deleted", (d) => Deno.remove(join(d, "sub", "b.bin")), 'file "sub/b.bin" is missing'],
    ["file added", (d) => Deno.writeTextFile(join(d, "x.txt"), "x"), 'unlisted file "x.txt"'],
  ];
  for (const [name, hurt, reason] of damage) {
    await t.step(name, () =>
      withCache(async (cache, logs) => {
        const c = counter();
        const a = await cache.getOrBuild(SPEC, c.build);
        await hurt(a.dir);
        assertEquals(await cache.has(SPEC), false); // reported and removed
        assertStringIncludes(logs.join("\n"), reason);
        const b = await cache.getOrBuild(SPEC, c.build);
        assertEquals([b.hit, c.calls()], [false, 2]);
        assertEquals((await cache.getOrBuild(SPEC, c.build)).hit, true);
      }));
  }
});

Deno.test("cache ignores a live temporary directory and removes an abandoned one", () =>
  withCache(async (cache, logs) => {
    const key = await cache.key(SPEC);
    const stageDir = join(cache.root, "toy");
    // A dead owner: Linux pids never exceed 2^22, so pid 2^22 + 1 cannot be running.
    const dead = join(stageDir, `.tmp-${key}-4194305-abcdef`);
    // A live owner (this process) building the same key right now.
    const live = join(stageDir, `.tmp-${key}-${Deno.pid}-012345`);
    for (const d of [dead, live]) {
      await Deno.mkdir(d, { recursive: true });
      await Deno.writeTextFile(join(d, "a.txt"), "partial");
    }
    const c = counter();
    const a = await cache.getOrBuild(SPEC, c.build);
    assertEquals([a.hit, c.calls()], [false, 1]);
    assertEquals(await Deno.readTextFile(a.file("a.txt")), "hello");
    const left = await names(stageDir);
    assertEquals(left.sort(), [key, `.tmp-${key}-${Deno.pid}-012345`].sort());
    assertStringIncludes(logs.join("\n"), "abandoned temporary directory");
    const listing = await cache.list();
    assertEquals(listing.map((e) => [e.status, e.reason ?? null]), [
      ["tmp", "in progress"],
      ["ok", null],
    ]);
  }));

Deno.test("cache: a build that throws leaves no entry and no temporary directory", () =>
  withCache(async (cache) => {
    await assertRejects(
      () =>
        cache.getOrBuild(SPEC, async (dir) => {
          await Deno.writeTextFile(join(dir, "a.txt"), "half");
          throw new Error("boom");
        }),
      Error,
      "boom",
    );
    assertEquals(await cache.has(SPEC), false);
    assertEquals(await names(join(cache.root, "toy")), []);
  }));

Deno.test("cache: concurrent builds of one key both succeed; one entry wins intact", () =>
  withCache(async (cache, logs) => {
    let calls = 0;
    const slowBuild: BuildFn = async (dir) => {
      calls++;
      await new Promise((r) => setTimeout(r, 20)); // both are inside build at once
      await Deno.writeTextFile(join(dir, "a.txt"), "same content");
    };
    const [a, b] = await Promise.all([
      cache.getOrBuild(SPEC, slowBuild),
      cache.getOrBuild(SPEC, slowBuild),
    ]);
    assertEquals(calls, 2);
    assertEquals(a.dir, b.dir);
    // The winner's manifest is what both see on the next read.
    const again = await cache.get(SPEC);
    assert(again);
    assertEquals([a.hit, b.hit].sort(), [false, true]);
    assertEquals(await names(join(cache.root, "toy")), [a.key]);
    assertStringIncludes(logs.join("\n"), "another process finished this build first");
  }));

Deno.test("cache invalidate() removes the entry; rebuild option forces a build", () =>
  withCache(async (cache) => {
    const c = counter();
    await cache.getOrBuild(SPEC, c.build);
    assertEquals(await cache.invalidate(SPEC), true);
    assertEquals(await cache.invalidate(SPEC), false);
    await cache.getOrBuild(SPEC, c.build);
    const r = await cache.getOrBuild(SPEC, c.build, { rebuild: true });
    assertEquals([r.hit, c.calls()], [false, 3]);
  }));

Deno.test("cache list() reports ok and corrupt entries per stage", () =>
  withCache(async (cache) => {
    const c = counter();
    const a = await cache.getOrBuild(SPEC, c.build);
    await cache.getOrBuild({ ...SPEC, stage: "other" }, c.build);
    await Deno.remove(join(a.dir, "manifest.json"));
    const rows = await cache.list();
    assertEquals(rows.map((r) => [r.stage, r.status, r.files ?? null, r.bytes ?? null]), [
      ["other", "ok", 2, 9],
      ["toy", "corrupt", null, null],
    ]);
    assertEquals((await cache.list({ stage: "other" })).length, 1);
  }));

Deno.test("cache rejects bad specs and builds, naming the argument", () =>
  withCache(async (cache) => {
    await assertRejects(
      () => cache.key({ ...SPEC, stage: "Bad Stage" }),
      RangeError,
      "Invalid spec.stage",
    );
    await assertRejects(
      () => cache.key({ ...SPEC, version: "" }),
      TypeError,
      "Invalid spec.version",
    );
    await assertRejects(
      () => cache.key({ ...SPEC, config: undefined }),
      TypeError,
      "Invalid spec.config",
    );
    await assertRejects(
      () => cache.key({ ...SPEC, inputs: { sft: 3 as unknown as string } }),
      TypeError,
      "Invalid spec.inputs.sft: expected a non-empty string key, got 3",
    );
    await assertRejects(
      () => cache.key({ ...SPEC, config: { lr: NaN } }),
      TypeError,
      "$.config.lr",
    );
    await assertRejects(
      () => cache.getOrBuild(SPEC, "nope" as unknown as BuildFn),
      TypeError,
      "Invalid build: expected a function",
    );
    await assertRejects(
      () =>
        cache.getOrBuild(SPEC, async (dir) => {
          await Deno.writeTextFile(join(dir, "t"), "t");
          await Deno.symlink(join(dir, "t"), join(dir, "link"));
        }),
      Error,
      'Invalid artifact file "link": expected a regular file, got a symlink',
    );
  }));

Deno.test("getOrBuild() honours the root option and PVL_CACHE_DIR", async () => {
  const root = await Deno.makeTempDir({ prefix: "pvl_cache_env_" });
  const prev = Deno.env.get("PVL_CACHE_DIR");
  try {
    Deno.env.set("PVL_CACHE_DIR", root);
    assertEquals(new ArtifactCache().root, root);
    const a = await getOrBuild(SPEC, async (dir) => {
      await Deno.writeTextFile(join(dir, "x"), "1");
    });
    assert(a.dir.startsWith(root));
    assertEquals(new ArtifactCache({ root: "/elsewhere" }).root, "/elsewhere");
  } finally {
    if (prev === undefined) Deno.env.delete("PVL_CACHE_DIR");
    else Deno.env.set("PVL_CACHE_DIR", prev);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the default cache root is .cache/artifacts in the repository", () => {
  const prev = Deno.env.get("PVL_CACHE_DIR");
  try {
    Deno.env.delete("PVL_CACHE_DIR");
    const expected = new URL("../../.cache/artifacts", import.meta.url).pathname;
    assertEquals(new ArtifactCache().root, expected);
  } finally {
    if (prev !== undefined) Deno.env.set("PVL_CACHE_DIR", prev);
  }
});

Deno.test("cache: two processes building one key agree on a single intact entry", async () => {
  const root = await Deno.makeTempDir({ prefix: "pvl_cache_race_" });
  const sync = await Deno.makeTempDir({ prefix: "pvl_cache_race_sync_" });
  try {
    const worker = new URL("./_cache_race_worker.ts", import.meta.url).pathname;
    const run = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", worker, root, join(sync, "go")],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([run(), run()]);
    const got = outs.map((o) => {
      assert(o.success, new TextDecoder().decode(o.stderr));
      return JSON.parse(new TextDecoder().decode(o.stdout)) as { hit: boolean; who: string };
    });
    assertEquals(got[0]!.who, got[1]!.who); // both use the winner's files
    assertEquals(got.map((g) => g.hit).sort(), [false, true]);
    const cache = new ArtifactCache({ root, log: () => {} });
    const entry = await cache.get({ stage: "race", version: 1, config: {} });
    assert(entry);
    assertEquals(await names(join(root, "race")), [entry.key]); // loser's tmp dir is gone
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(sync, { recursive: true });
  }
});
