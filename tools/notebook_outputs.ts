/**
 * Puts the outputs of an executed notebook back into the committed one (`tools/run_notebooks.sh
 * --commit-outputs`): the committed notebook keeps its own cells, ids and metadata byte for
 * byte and takes only each code cell's `outputs` and `execution_count` from the executed copy,
 * so nbclient's volatile metadata (execution timestamps, kernel versions) never lands in git.
 * Every string of the outputs is scrubbed of the machine: the repository root becomes `.`
 * (`file://<root>` too) and `$HOME` becomes `~`, and the plot ids of lib/report/jupyter.ts lose
 * their timestamp. Absolute paths left after that are reported (and fail
 * tests/report/committed_outputs_test.ts).
 *
 *     deno run -A tools/notebook_outputs.ts --executed OUT.ipynb --into notebooks/NN.ipynb
 *                                           --root DIR [--root DIR2 ...] [--home DIR]
 * @module
 */

/** Absolute-path patterns no committed output may hold (tests/report/committed_outputs_test.ts). */
export const ABSOLUTE_PATH_PATTERNS: readonly string[] = [
  "/work/",
  "/home/",
  "/root/",
  "/tmp/",
  "C:\\",
  "file:///",
];

/** One cell as stored in an .ipynb (the fields this tool reads or writes). */
export interface NotebookCell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
  [key: string]: unknown;
}

/** An .ipynb document. */
export interface Notebook {
  cells: NotebookCell[];
  [key: string]: unknown;
}

/** What to scrub: repository roots (longest first wins) and the home directory. */
export interface ScrubOptions {
  roots: readonly string[];
  home?: string | null;
}

/**
 * A string with the machine's paths replaced: each root by `.`, `file://<root>` by `.`,
 * `$HOME` by `~`, and the timestamp of `pvl-fig-<time>-<n>` plot ids dropped.
 *
 * @example
 * ```ts
 * import { scrubText } from "./notebook_outputs.ts";
 * import { assertEquals } from "@std/assert";
 * const o = { roots: ["/work/main"], home: "/home/u" };
 * assertEquals(scrubText("at file:///work/main/lib/a.ts:3 and /home/u/.cache/x", o),
 *   "at ./lib/a.ts:3 and ~/.cache/x");
 * ```
 */
export function scrubText(text: string, options: ScrubOptions): string {
  let s = text;
  const roots = [...options.roots].map((r) => r.replace(/\/+$/, "")).filter((r) => r.length > 1)
    .sort((a, b) => b.length - a.length);
  for (const r of roots) {
    s = s.replaceAll(`file://${r}`, ".").replaceAll(r, ".");
  }
  const home = options.home?.replace(/\/+$/, "");
  if (home && home.length > 1) s = s.replaceAll(`file://${home}`, "~").replaceAll(home, "~");
  return s.replace(/pvl-fig-[0-9a-z]+-(\d+)/g, "pvl-fig-$1");
}

/** `value` with every string in it (object keys kept) passed through {@linkcode scrubText}. */
export function scrubValue<T>(value: T, options: ScrubOptions): T {
  if (typeof value === "string") return scrubText(value, options) as T;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, options)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, scrubValue(v, options)]),
    ) as T;
  }
  return value;
}

/** The absolute-path patterns (and which) found in a text, one entry each. */
export function absolutePaths(text: string): string[] {
  return ABSOLUTE_PATH_PATTERNS.filter((p) => text.includes(p));
}

/**
 * The committed notebook `into` with the outputs and execution counts of `executed` (the same
 * notebook run by nbconvert: same cells in the same order), scrubbed; every other field of
 * `into` unchanged. Throws when the cells do not line up.
 */
export function mergeOutputs(into: Notebook, executed: Notebook, options: ScrubOptions): Notebook {
  if (into.cells.length !== executed.cells.length) {
    throw new Error(
      `Invalid executed notebook: ${executed.cells.length} cells, the committed one has ${into.cells.length}`,
    );
  }
  const cells = into.cells.map((c, i) => {
    const e = executed.cells[i]!;
    if (e.cell_type !== c.cell_type || source(e) !== source(c)) {
      throw new Error(
        `Invalid executed notebook: cell ${i} differs from the committed one (was it edited meanwhile?)`,
      );
    }
    if (c.cell_type !== "code") return c;
    return {
      ...c,
      execution_count: e.execution_count ?? null,
      outputs: scrubValue(e.outputs ?? [], options),
    };
  });
  return { ...into, cells };
}

const source = (c: NotebookCell) => Array.isArray(c.source) ? c.source.join("") : c.source;

/** An .ipynb as nbformat writes it: one-space indent, trailing newline. */
export function formatNotebook(nb: Notebook): string {
  return JSON.stringify(nb, null, 1) + "\n";
}

function flags(args: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && args[i + 1] !== undefined) out.push(args[++i]!);
    else if (args[i]!.startsWith(name + "=")) out.push(args[i]!.slice(name.length + 1));
  }
  return out;
}

if (import.meta.main) {
  const [executed] = flags(Deno.args, "--executed");
  const [into] = flags(Deno.args, "--into");
  const roots = flags(Deno.args, "--root");
  if (!executed || !into || roots.length === 0) {
    console.error(
      "usage: notebook_outputs.ts --executed OUT.ipynb --into notebooks/NN.ipynb --root DIR [--root DIR2] [--home DIR]",
    );
    Deno.exit(2);
  }
  let home: string | null = flags(Deno.args, "--home")[0] ?? null;
  if (home === null) {
    try {
      home = Deno.env.get("HOME") ?? null;
    } catch {
      home = null;
    }
  }
  try {
    const merged = mergeOutputs(
      JSON.parse(await Deno.readTextFile(into)),
      JSON.parse(await Deno.readTextFile(executed)),
      { roots, home },
    );
    const text = formatNotebook(merged);
    await Deno.writeTextFile(into, text);
    const left = absolutePaths(JSON.stringify(merged.cells.map((c) => c.outputs ?? [])));
    if (left.length) {
      console.error(
        `notebook_outputs: ${into} still holds ${
          left.map((p) => JSON.stringify(p)).join(", ")
        } in its outputs (tests/report/committed_outputs_test.ts will name where)`,
      );
    }
  } catch (e) {
    console.error(`notebook_outputs: ${into}: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
