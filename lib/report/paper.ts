/**
 * The paper's numbers (arXiv 2604.13197v2, Tables 1-14), transcribed once into
 * `data/paper/tableNN.json`, loaded and validated here. They are shown beside ours and
 * never used to tune anything.
 *
 * Row and column labels join hierarchy levels with `" | "`, e.g. row
 * `"Qwen3-0.6B | IPVRM"`, column `"MATH-500 | @4"`; see `data/paper/README.md`.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** One cell of a paper table. */
export interface PaperValue {
  row: string;
  column: string;
  value: number;
  /** Set only where the cell's unit differs from the table's `unit`. */
  unit?: string;
}

/** One transcribed paper table. */
export interface PaperTable {
  table: number;
  title: string;
  caption: string;
  source: string;
  unit: string;
  notes?: string;
  values: PaperValue[];
}

/** Where a paper number lives: table number, row label and column label. */
export interface PaperRef {
  table: number;
  row: string;
  column: string;
}

/** Options for {@linkcode loadPaperTable} and {@linkcode loadPaperTables}. */
export interface LoadOptions {
  /** Directory holding `tableNN.json`; default the repo's `data/paper/`. */
  dir?: string | URL;
}

/** The repo's `data/paper/` directory. */
export const PAPER_DIR: URL = new URL("../../data/paper/", import.meta.url);

/** The arXiv identifier every table must carry in `source`. */
export const PAPER_SOURCE = "arXiv 2604.13197v2";

function dirUrl(dir: string | URL | undefined): URL {
  if (dir === undefined) return PAPER_DIR;
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(dir.href + "/");
  const url = pathToFileURL(resolve(dir));
  return new URL(url.href.endsWith("/") ? url.href : url.href + "/");
}

/**
 * Check a parsed table object and return it typed. Throws naming the file, the field and
 * what was expected (e.g. `table05.json: values[3].value: expected a finite number, got "1.2"`).
 *
 * @example
 * ```ts
 * import { validatePaperTable } from "./paper.ts";
 * import { assertEquals } from "@std/assert";
 * const t = validatePaperTable({
 *   table: 10, title: "m", caption: "c", source: "arXiv 2604.13197v2", unit: "%",
 *   values: [{ row: "m=5", column: "BoN-AVG", value: 28.1 }],
 * }, "inline");
 * assertEquals(t.values.length, 1);
 * ```
 */
export function validatePaperTable(raw: unknown, origin: string): PaperTable {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new TypeError(`${origin}: ${field}: expected ${expected}, got ${JSON.stringify(got)}`);
  };
  if (typeof raw !== "object" || raw === null) fail("root", "an object", raw);
  const o = raw as Record<string, unknown>;
  if (!Number.isInteger(o.table) || (o.table as number) < 1) {
    fail("table", "a positive integer", o.table);
  }
  for (const k of ["title", "caption", "unit"] as const) {
    if (typeof o[k] !== "string" || (o[k] as string).length === 0) {
      fail(k, "a non-empty string", o[k]);
    }
  }
  if (o.source !== PAPER_SOURCE) fail("source", JSON.stringify(PAPER_SOURCE), o.source);
  if (o.notes !== undefined && typeof o.notes !== "string") fail("notes", "a string", o.notes);
  if (!Array.isArray(o.values) || o.values.length === 0) {
    fail("values", "a non-empty array", o.values);
  }
  const seen = new Set<string>();
  (o.values as unknown[]).forEach((v, i) => {
    const at = `values[${i}]`;
    if (typeof v !== "object" || v === null) fail(at, "an object", v);
    const c = v as Record<string, unknown>;
    if (typeof c.row !== "string" || c.row.length === 0) fail(`${at}.row`, "a string", c.row);
    if (typeof c.column !== "string" || c.column.length === 0) {
      fail(`${at}.column`, "a string", c.column);
    }
    if (typeof c.value !== "number" || !Number.isFinite(c.value)) {
      fail(`${at}.value`, "a finite number", c.value);
    }
    if (c.unit !== undefined && typeof c.unit !== "string") fail(`${at}.unit`, "a string", c.unit);
    const key = `${c.row}\u0000${c.column}`;
    if (seen.has(key)) fail(at, "a unique (row, column)", [c.row, c.column]);
    seen.add(key);
  });
  return o as unknown as PaperTable;
}

/**
 * Load and validate `tableNN.json` for one table number.
 *
 * @example
 * ```ts
 * import { loadPaperTable } from "./paper.ts";
 * import { assertEquals } from "@std/assert";
 * const t2 = await loadPaperTable(2);
 * assertEquals(t2.unit, "F1 (%)");
 * ```
 */
export async function loadPaperTable(
  table: number,
  options: LoadOptions = {},
): Promise<PaperTable> {
  if (!Number.isInteger(table) || table < 1) {
    throw new RangeError(`Invalid table: expected a positive integer, got ${table}`);
  }
  const name = `table${String(table).padStart(2, "0")}.json`;
  const url = new URL(name, dirUrl(options.dir));
  let text: string;
  try {
    text = await Deno.readTextFile(url);
  } catch (e) {
    throw new Error(`Invalid table: no ${name} in ${dirUrl(options.dir).pathname} (${e})`);
  }
  const t = validatePaperTable(JSON.parse(text), name);
  if (t.table !== table) {
    throw new TypeError(`${name}: table: expected ${table}, got ${t.table}`);
  }
  return t;
}

/**
 * Load every `tableNN.json` in the directory, sorted by table number.
 *
 * @example
 * ```ts
 * import { loadPaperTables } from "./paper.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals((await loadPaperTables()).length, 14);
 * ```
 */
export async function loadPaperTables(options: LoadOptions = {}): Promise<PaperTable[]> {
  const dir = dirUrl(options.dir);
  const nums: number[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = /^table(\d\d)\.json$/.exec(e.name);
    if (e.isFile && m) nums.push(Number(m[1]));
  }
  nums.sort((a, b) => a - b);
  return await Promise.all(nums.map((n) => loadPaperTable(n, options)));
}

/** An in-memory index over loaded tables for fast lookups. */
export class PaperIndex {
  #tables = new Map<number, PaperTable>();
  #cells = new Map<string, PaperValue>();

  /** Index the given tables (from {@linkcode loadPaperTables}). */
  constructor(tables: readonly PaperTable[]) {
    for (const t of tables) {
      this.#tables.set(t.table, t);
      for (const v of t.values) this.#cells.set(cellKey(t.table, v.row, v.column), v);
    }
  }

  /** Load every table from `data/paper/` (or `options.dir`) and index it. */
  static async load(options: LoadOptions = {}): Promise<PaperIndex> {
    return new PaperIndex(await loadPaperTables(options));
  }

  /** The table with this number; throws listing the available numbers. */
  table(table: number): PaperTable {
    const t = this.#tables.get(table);
    if (!t) {
      throw new RangeError(
        `Invalid table: expected one of ${[...this.#tables.keys()].join(", ")}, got ${table}`,
      );
    }
    return t;
  }

  /** Row labels of a table in paper order. */
  rows(table: number): string[] {
    return [...new Set(this.table(table).values.map((v) => v.row))];
  }

  /** Column labels of a table in paper order. */
  columns(table: number): string[] {
    return [...new Set(this.table(table).values.map((v) => v.column))];
  }

  /**
   * The number at `ref`; throws naming the closest labels when the row or column is
   * unknown (labels are exact, case-sensitive).
   *
   * @example
   * ```ts
   * import { PaperIndex } from "./paper.ts";
   * import { assertEquals } from "@std/assert";
   * const paper = await PaperIndex.load();
   * assertEquals(paper.value({ table: 2, row: "Qwen3-0.6B | IPVRM", column: "Avg." }), 39.1);
   * ```
   */
  value(ref: PaperRef): number {
    return this.cell(ref).value;
  }

  /** The cell at `ref` (value plus its unit when it differs from the table's). */
  cell(ref: PaperRef): PaperValue {
    const t = this.table(ref.table);
    const v = this.#cells.get(cellKey(ref.table, ref.row, ref.column));
    if (v) return v;
    const rows = this.rows(ref.table);
    if (!rows.includes(ref.row)) {
      throw new RangeError(
        `Invalid ref.row: expected a row of Table ${t.table} (${rows.join("; ")}), got ${
          JSON.stringify(ref.row)
        }`,
      );
    }
    const cols = this.columns(ref.table);
    if (!cols.includes(ref.column)) {
      throw new RangeError(
        `Invalid ref.column: expected a column of Table ${t.table} (${cols.join("; ")}), got ${
          JSON.stringify(ref.column)
        }`,
      );
    }
    throw new RangeError(
      `Invalid ref: Table ${t.table} has no value at row ${JSON.stringify(ref.row)}, column ${
        JSON.stringify(ref.column)
      } (not printed in the paper; see data/paper/README.md)`,
    );
  }

  /** The unit of the cell at `ref`. */
  unit(ref: PaperRef): string {
    return this.cell(ref).unit ?? this.table(ref.table).unit;
  }
}

/**
 * A short human label for a reference, e.g. `"Table 2 · Qwen3-0.6B | IPVRM · Avg."`.
 *
 * @example
 * ```ts
 * import { formatRef } from "./paper.ts";
 * import { assertEquals } from "@std/assert";
 * const label = formatRef({ table: 2, row: "Qwen3-0.6B | IPVRM", column: "Avg." });
 * assertEquals(label, "Table 2 · Qwen3-0.6B | IPVRM · Avg.");
 * ```
 */
export function formatRef(ref: PaperRef): string {
  return `Table ${ref.table} · ${ref.row} · ${ref.column}`;
}

function cellKey(table: number, row: string, column: string): string {
  return `${table}\u0000${row}\u0000${column}`;
}
