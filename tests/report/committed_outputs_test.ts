/**
 * What a reader sees without running anything holds nothing of the machine that wrote it: the
 * outputs of notebooks/*.ipynb, docs/**\/*.md and docs/figures/**\/*.svg hold no absolute path
 * and no machine name (issue 15, item 8).
 */
import { assert, assertEquals } from "@std/assert";
import { ABSOLUTE_PATH_PATTERNS } from "../../tools/notebook_outputs.ts";

const ROOT = new URL("../../", import.meta.url);

/** Names this machine goes by: Deno.hostname() and /etc/hostname, where readable. */
export function machineNames(): string[] {
  const names = new Set<string>();
  try {
    names.add(Deno.hostname().trim());
  } catch {
    // no --allow-sys
  }
  try {
    for (const l of Deno.readTextFileSync("/etc/hostname").split("\n")) names.add(l.trim());
  } catch {
    // not readable here
  }
  // The short name too ("vm" of "vm.example.org"); localhost names no machine.
  for (const n of [...names]) if (n.includes(".")) names.add(n.split(".")[0]!);
  return [...names].filter((n) => n.length >= 2 && !/^localhost/i.test(n));
}

/** Each offending string of `text`: absolute-path patterns, and machine names as whole words. */
export function offenders(text: string, names: readonly string[]): string[] {
  const found: string[] = ABSOLUTE_PATH_PATTERNS.filter((p) => text.includes(p));
  // Embedded binary images (data: URIs) are no words: drop them before looking for names.
  const words = text.replace(/data:[a-z]+\/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]+/gi, "");
  for (const n of names) {
    const esc = n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const m = new RegExp(`(?<![A-Za-z0-9_.-])${esc}(?![A-Za-z0-9_-])`).exec(words);
    if (m) found.push(`machine name ${JSON.stringify(n)}`);
  }
  return found;
}

/** A line of context around the first occurrence of `pattern` (for the failure message). */
function context(text: string, pattern: string): string {
  const i = text.indexOf(pattern);
  if (i < 0) return "";
  return JSON.stringify(text.slice(Math.max(0, i - 40), i + pattern.length + 40));
}

async function* walk(dir: URL, keep: (name: string) => boolean): AsyncGenerator<URL> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const u = new URL(e.isDirectory ? `${e.name}/` : e.name, dir);
    if (e.isDirectory) yield* walk(u, keep);
    else if (e.isFile && keep(e.name)) yield u;
  }
}

/** The text of a notebook's outputs; binary image values (base64) left out. */
export function notebookOutputText(nb: { cells?: { outputs?: unknown[] }[] }): string {
  const outputs = (nb.cells ?? []).flatMap((c) => c.outputs ?? []);
  return JSON.stringify(outputs, (k, v) => /^image\/(png|jpeg|gif)$/.test(k) ? undefined : v);
}

/** Every committed text a reader sees, as [path relative to the repo, text]. */
async function committedTexts(): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const rel = (u: URL) => u.pathname.slice(ROOT.pathname.length);
  for await (const u of walk(new URL("notebooks/", ROOT), (n) => n.endsWith(".ipynb"))) {
    out.push([`${rel(u)} (outputs)`, notebookOutputText(JSON.parse(await Deno.readTextFile(u)))]);
  }
  for await (const u of walk(new URL("docs/", ROOT), (n) => n.endsWith(".md"))) {
    out.push([rel(u), await Deno.readTextFile(u)]);
  }
  for await (const u of walk(new URL("docs/figures/", ROOT), (n) => n.endsWith(".svg"))) {
    out.push([rel(u), await Deno.readTextFile(u)]);
  }
  return out;
}

Deno.test("offenders() finds absolute paths and whole-word machine names, not substrings", () => {
  assertEquals(offenders("see ./lib/a.ts and ~/x", ["vm"]), []);
  assertEquals(offenders("at /work/main/lib/a.ts", []), ["/work/"]);
  assertEquals(offenders("file:///x and /tmp/y", []), ["/tmp/", "file:///"]);
  assertEquals(offenders("ran on vm today", ["vm"]), ['machine name "vm"']);
  assertEquals(offenders("nvme, vm_stat, svm and data:image/png;base64,AA+vm/B=", ["vm"]), []);
  assertEquals(offenders("C:\\Users\\x", []), ["C:\\"]);
});

Deno.test("notebookOutputText() reads every output and leaves binary images out", () => {
  const t = notebookOutputText({
    cells: [{ outputs: [{ data: { "image/png": "/work/", "text/plain": "ok" } }] }, {}],
  });
  assert(t.includes("ok") && !t.includes("/work/"), t);
});

Deno.test("committed notebook outputs, docs and doc figures hold no absolute path or machine name", async () => {
  const names = machineNames();
  const bad: string[] = [];
  const texts = await committedTexts();
  assert(texts.some(([p]) => p.startsWith("docs/")), "found the docs");
  for (const [path, text] of texts) {
    for (const o of offenders(text, names)) {
      const needle = o.startsWith("machine name ") ? JSON.parse(o.slice(13)) : o;
      bad.push(`${path}: ${o} in ${context(text, needle)}`);
    }
  }
  assertEquals(
    bad,
    [],
    `committed files hold what only this machine knows (replace the repo root by ".", $HOME by "~"; ` +
      `tools/run_notebooks.sh --commit-outputs does it for notebooks):\n${bad.join("\n")}`,
  );
});
