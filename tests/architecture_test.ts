/**
 * The import graph of lib/ follows ../shared/spec/architecture.md: no import loop (type-only
 * imports included) and the "Never" list holds. The graph is read from the sources: every
 * static `import`/`export ... from` and dynamic `import("...")` of a relative path, comments
 * stripped.
 */
import { assertEquals } from "@std/assert";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(import.meta.dirname!, ".."));

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* tsFiles(p);
    else if (e.isFile && p.endsWith(".ts")) yield p;
  }
}

/** Relative imports of one source text (comments stripped), as given. */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const out: string[] = [];
  const re =
    /(?:^|;|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']|\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;
  for (const m of code.matchAll(re)) out.push((m[1] ?? m[2])!);
  return out;
}

/** `lib/...` file -> the `lib/...` files it imports. */
async function libGraph(): Promise<Map<string, string[]>> {
  const g = new Map<string, string[]>();
  for await (const abs of tsFiles(join(ROOT, "lib"))) {
    const file = relative(ROOT, abs).replaceAll("\\", "/");
    const deps = importsOf(await Deno.readTextFile(abs)).map((p) =>
      normalize(join(dirname(file), p)).replaceAll("\\", "/")
    );
    g.set(file, deps.filter((d) => d.startsWith("lib/")));
  }
  return g;
}

/** Import loops: strongly connected components of more than one file, or a file importing itself. */
function loops(g: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next), low.set(v, next), next++;
    stack.push(v), on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do (w = stack.pop()!), on.delete(w), c.push(w); while (w !== v);
      if (c.length > 1 || (g.get(v) ?? []).includes(v)) out.push(c.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

type Part =
  | "model"
  | "rm"
  | "rl"
  | "eval"
  | "cache"
  | "report"
  | "experiments"
  | "face"
  | "other";

/** The part of architecture.md a lib/ file belongs to (only those the "Never" list names). */
function partOf(file: string): Part {
  if (
    file.startsWith("lib/model/") || file.startsWith("lib/wasm_gemm/") ||
    ["lib/wasm_threads.ts", "lib/webgpu_kernels.ts", "lib/backend.ts"].includes(file)
  ) return "model";
  if (file === "lib/run/cache.ts" || file === "lib/run/hash.ts") return "cache";
  if (file.startsWith("lib/cli/") || file.startsWith("lib/conformance/")) return "face";
  for (const p of ["rm", "rl", "eval", "report", "experiments"] as const) {
    if (file.startsWith(`lib/${p}/`)) return p;
  }
  return "other";
}

/** architecture.md "Never": importer part -> the parts it must not import. */
const NEVER: Partial<Record<Part, { parts: Part[]; why: string }>> = {
  model: {
    parts: ["rm", "rl", "report", "experiments"],
    why: "the LM knows nothing of rewards; no plotting or experiment configs in the model",
  },
  rm: {
    parts: ["rl", "cache", "report", "experiments"],
    why: "trainers take data and return weights; caching belongs to lib/pipeline/",
  },
  rl: {
    parts: ["cache", "report", "experiments"],
    why: "trainers take data and return weights; caching belongs to lib/pipeline/",
  },
  eval: { parts: ["rl"], why: "Eval never imports RL" },
};

function violations(g: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [file, deps] of g) {
    const from = partOf(file);
    for (const dep of deps) {
      const to = partOf(dep);
      const rule = NEVER[from];
      if (rule?.parts.includes(to)) out.push(`${file} -> ${dep}`);
      // Nothing in lib/ imports a Face (the faces themselves may share code).
      if (to === "face" && from !== "face") out.push(`${file} -> ${dep}`);
    }
  }
  return out.sort();
}

/**
 * Known exceptions, each with its reason; the list is meant to be emptied. A new violation
 * fails the test, and so does an exception that no longer occurs (remove it from here).
 */
const KNOWN_EXCEPTIONS: Readonly<Record<string, string>> = {};

Deno.test("importsOf() reads static, type-only, re-export and dynamic imports, not comments", () => {
  const src = [
    'import * as tf from "@tensorflow/tfjs";',
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    "import {",
    "  c,",
    '} from "./c.ts";',
    'export { d } from "./d.ts";',
    'export type { E } from "./e.ts";',
    '/** @example import { x } from "./doc.ts"; */',
    '// import { y } from "./line.ts";',
    'const m = await import("./dyn.ts");',
  ].join("\n");
  assertEquals(importsOf(src), [
    "./a.ts",
    "../b.ts",
    "./c.ts",
    "./d.ts",
    "./e.ts",
    "./dyn.ts",
  ]);
});

Deno.test("lib/ has no import loop, type-only imports included", async () => {
  assertEquals(loops(await libGraph()), []);
});

Deno.test('lib/ follows architecture.md\'s "Never" list (known exceptions listed by name)', async () => {
  const found = violations(await libGraph());
  assertEquals(
    found.filter((v) => !(v in KNOWN_EXCEPTIONS)),
    [],
    "new violations of architecture.md's Never list",
  );
  assertEquals(
    Object.keys(KNOWN_EXCEPTIONS).filter((v) => !found.includes(v)),
    [],
    "known exceptions that no longer occur: remove them from KNOWN_EXCEPTIONS",
  );
});

/**
 * The ground-level modules (imported by every part, Model included) import nothing of lib/
 * but each other: architecture.md lets Model import only prng, so what Model shares must
 * stand beside it.
 */
const GROUND = ["lib/prng.ts", "lib/checks.ts", "lib/schema.ts", "lib/vocabulary.ts"];

Deno.test("the ground-level modules import nothing of lib/ but each other", async () => {
  const g = await libGraph();
  for (const f of GROUND) {
    assertEquals(g.has(f), true, `${f} exists`);
    assertEquals((g.get(f) ?? []).filter((d) => !GROUND.includes(d)), [], f);
  }
});

Deno.test("the stage graph (lib/pipeline/stages.ts) is the only caller of the cache's get-or-build and key", async () => {
  const callers: string[] = [];
  for await (const abs of tsFiles(join(ROOT, "lib"))) {
    const file = relative(ROOT, abs).replaceAll("\\", "/");
    if (file.startsWith("lib/run/")) continue;
    const code = (await Deno.readTextFile(abs)).replace(/\/\*[\s\S]*?\*\//g, "");
    if (/\.(getOrBuild|key)\(/.test(code)) callers.push(file);
  }
  assertEquals(callers, ["lib/pipeline/stages.ts"]);
});
