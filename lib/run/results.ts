/**
 * Results files that never lose finished work (STYLE item 9): a JSON Lines appender
 * that writes each finished unit as one line the moment it is done, a reader that
 * tolerates the truncated last line a killed process leaves (and reports it), resume
 * (which units are already done), an atomic Parquet export through nodejs-polars, and
 * the resolved config saved beside the results.
 * @module
 */
import pl from "nodejs-polars";
import { join } from "node:path";
import { canonicalJson, hashValue } from "./hash.ts";
import { diffConfig, formatConfigDiff, isPlainObject } from "./config.ts";
import { exists, writeAll, writeFileAtomic, writeTextAtomic } from "./_fs.ts";

/** A results record: one finished unit (a JSON object). */
export type ResultRecord = Record<string, unknown>;

/** Options of {@linkcode openJsonl}. */
export interface JsonlWriterOptions {
  /** `"close"` (default): fsync once at close; `"each"`: fsync after every record. */
  sync?: "close" | "each";
  /**
   * NaN/±Infinity in a record: `"error"` (default) throws before anything is written,
   * naming the field; `"null"` writes `null` as `JSON.stringify` does.
   */
  nonFinite?: "error" | "null";
  /** Sink for repairs made on open; default `console.error`. */
  log?: (line: string) => void;
}

function findNonFinite(v: unknown, path: string): string | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? undefined : `${v} at ${path}`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = findNonFinite(v[i], `${path}[${i}]`);
      if (r) return r;
    }
  } else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      const r = findNonFinite(x, `${path}.${k}`);
      if (r) return r;
    }
  }
  return undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Make `path` end at a line boundary before appending: a process killed mid-write
 * leaves a partial last line, and appending after it would glue the next record onto
 * it. A tail that parses as a whole JSON object only lost its newline and is kept.
 */
async function repairTail(path: string, log: (l: string) => void): Promise<void> {
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (size === 0) return;
  using f = await Deno.open(path, { read: true, write: true });
  const CHUNK = 64 * 1024;
  let end = size;
  let tail: Uint8Array = new Uint8Array(0);
  let cut = -1; // offset just after the last "\n"
  while (end > 0 && cut < 0) {
    const start = Math.max(0, end - CHUNK);
    const buf = new Uint8Array(end - start);
    await f.seek(start, Deno.SeekMode.Start);
    let off = 0;
    while (off < buf.length) {
      const n = await f.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    if (end === size && buf[buf.length - 1] === 0x0a) return;
    const i = buf.lastIndexOf(0x0a);
    if (i >= 0) cut = start + i + 1;
    const merged = new Uint8Array(buf.length - (i >= 0 ? i + 1 : 0) + tail.length);
    merged.set(buf.subarray(i >= 0 ? i + 1 : 0));
    merged.set(tail, merged.length - tail.length);
    tail = merged;
    end = start;
  }
  if (cut < 0) cut = 0;
  const text = decoder.decode(tail);
  try {
    if (isPlainObject(JSON.parse(text))) {
      await f.seek(0, Deno.SeekMode.End);
      await writeAll(f, encoder.encode("\n"));
      log(`[results] ${path}: last record lacked its newline; added it`);
      return;
    }
  } catch {
    // Not a whole record: drop it below.
  }
  await f.truncate(cut);
  log(
    `[results] ${path}: dropped a truncated last line (${tail.length} bytes, ` +
      `${JSON.stringify(text.slice(0, 60))}...) left by an interrupted write`,
  );
}

/**
 * Appends records as JSON Lines, one `write` per record (so a finished record is in
 * the file even if the process dies right after), fsync'd at close. Appends are
 * serialised, so concurrent `append` calls from one process never interleave. One
 * writer per file: two processes appending to the same file are not supported.
 */
export class JsonlWriter {
  /** The file written. */
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #queue: Promise<void> = Promise.resolve();
  #count = 0;
  readonly #sync: "close" | "each";
  readonly #nonFinite: "error" | "null";

  private constructor(path: string, file: Deno.FsFile, options: JsonlWriterOptions) {
    this.path = path;
    this.#file = file;
    this.#sync = options.sync ?? "close";
    this.#nonFinite = options.nonFinite ?? "error";
  }

  /** Open `path` for appending (see {@linkcode openJsonl}). */
  static async open(path: string, options: JsonlWriterOptions = {}): Promise<JsonlWriter> {
    if (options.sync !== undefined && options.sync !== "close" && options.sync !== "each") {
      throw new TypeError(`Invalid sync: expected "close" or "each", got ${String(options.sync)}`);
    }
    if (
      options.nonFinite !== undefined && options.nonFinite !== "error" &&
      options.nonFinite !== "null"
    ) {
      throw new TypeError(
        `Invalid nonFinite: expected "error" or "null", got ${String(options.nonFinite)}`,
      );
    }
    await repairTail(path, options.log ?? ((l) => console.error(l)));
    const file = await Deno.open(path, { append: true, create: true });
    return new JsonlWriter(path, file, options);
  }

  /** Records appended by this writer. */
  get count(): number {
    return this.#count;
  }

  /** Append one record (a plain object); resolves once it is written to the file. */
  append(record: ResultRecord): Promise<void> {
    if (!this.#file) throw new Error(`Cannot append to ${this.path}: the writer is closed`);
    if (!isPlainObject(record)) {
      throw new TypeError(
        `Invalid record: expected a plain object, got ${
          Array.isArray(record) ? "an array" : record === null ? "null" : typeof record
        }`,
      );
    }
    if (this.#nonFinite === "error") {
      const bad = findNonFinite(record, "record");
      if (bad) {
        throw new RangeError(
          `Invalid record for ${this.path}: expected finite numbers, got ${bad} ` +
            `(pass nonFinite: "null" to write null)`,
        );
      }
    }
    const line = encoder.encode(JSON.stringify(record) + "\n");
    const file = this.#file;
    const run = this.#queue.then(async () => {
      await writeAll(file, line);
      if (this.#sync === "each") await file.sync();
      this.#count++;
    });
    // Keep the chain alive after a failed write; the caller still sees the error.
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Wait for pending appends, fsync and close. Idempotent. */
  async close(): Promise<void> {
    const file = this.#file;
    if (!file) return;
    this.#file = undefined;
    try {
      await this.#queue;
      await file.sync();
    } finally {
      file.close();
    }
  }

  /** `await using w = await openJsonl(...)` closes at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Open a JSON Lines file for appending (created if absent). A truncated last line left
 * by a killed process is dropped first (and reported), so new records start on a
 * fresh line.
 *
 * @example
 * ```ts
 * import { openJsonl, readJsonl } from "./results.ts";
 * import { assertEquals } from "@std/assert";
 * const path = `${await Deno.makeTempDir()}/results.jsonl`;
 * const w = await openJsonl(path);
 * await w.append({ unit: "a", f1: 0.5 });
 * await w.close();
 * assertEquals((await readJsonl(path)).records, [{ unit: "a", f1: 0.5 }]);
 * ```
 */
export function openJsonl(path: string, options: JsonlWriterOptions = {}): Promise<JsonlWriter> {
  return JsonlWriter.open(path, options);
}

/** A truncated last line found by {@linkcode readJsonl}. */
export interface TruncatedLine {
  /** 1-based line number. */
  line: number;
  /** Its text. */
  text: string;
}

/** Result of {@linkcode readJsonl}. */
export interface ReadJsonlResult<T> {
  /** The complete records, in file order. */
  records: T[];
  /** The truncated last line, if the file has one (it is not in `records`). */
  truncated: TruncatedLine | null;
}

/** Options of {@linkcode readJsonl}. */
export interface ReadJsonlOptions {
  /** Return no records (instead of throwing) when the file does not exist. */
  missingOk?: boolean;
  /** Sink for the truncated-line report; default `console.error`. */
  log?: (line: string) => void;
}

/**
 * Read a JSON Lines file of objects. A last line without its newline that does not
 * parse (a killed writer) is left out, returned as `truncated` and reported; a bad
 * line anywhere else throws with the file and line number. Blank lines are skipped.
 *
 * @example
 * ```ts
 * import { readJsonl } from "./results.ts";
 * import { assert } from "@std/assert";
 * const path = `${await Deno.makeTempDir()}/r.jsonl`;
 * await Deno.writeTextFile(path, '{"unit":"a"}\n{"unit":"b","f1":0.');
 * const { records, truncated } = await readJsonl(path, { log: () => {} });
 * assert(records.length === 1 && truncated?.line === 2);
 * ```
 */
export async function readJsonl<T = ResultRecord>(
  path: string,
  options: ReadJsonlOptions = {},
): Promise<ReadJsonlResult<T>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      if (options.missingOk) return { records: [], truncated: null };
      throw new Deno.errors.NotFound(`Cannot read results: ${path} does not exist`);
    }
    throw e;
  }
  const lines = text.split("\n");
  const records: T[] = [];
  let truncated: TruncatedLine | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const isLast = i === lines.length - 1; // non-empty and no newline after it
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      if (isLast) {
        truncated = { line: i + 1, text: line };
        (options.log ?? ((l) => console.error(l)))(
          `[results] ${path}: ignoring truncated last line ${i + 1} ` +
            `(${line.length} characters, left by an interrupted write)`,
        );
        break;
      }
      throw new SyntaxError(
        `Invalid JSON in ${path} at line ${i + 1}: ${(e as Error).message}`,
      );
    }
    if (!isPlainObject(value)) {
      throw new TypeError(
        `Invalid record in ${path} at line ${i + 1}: expected a JSON object, got ${
          Array.isArray(value) ? "an array" : value === null ? "null" : typeof value
        }`,
      );
    }
    records.push(value as T);
  }
  return { records, truncated };
}

/** Options of {@linkcode partitionUnits}. */
export interface PartitionUnitsOptions {
  /** Field holding the unit id in each record. Default `"unit"`. */
  idField?: string;
  /** Sink for the truncated-line report; default `console.error`. */
  log?: (line: string) => void;
}

/**
 * Resume: split `unitIds` into those with a record in the results file (done) and the
 * rest (pending), keeping the order of `unitIds`. A missing file means nothing is done.
 * A record without a string `idField` throws, naming the line's record index.
 *
 * @example
 * ```ts
 * import { openJsonl, partitionUnits } from "./results.ts";
 * import { assertEquals } from "@std/assert";
 * const path = `${await Deno.makeTempDir()}/r.jsonl`;
 * const w = await openJsonl(path);
 * await w.append({ unit: "seed0", f1: 0.7 });
 * await w.close();
 * assertEquals(await partitionUnits(path, ["seed0", "seed1"]), { done: ["seed0"], pending: ["seed1"] });
 * ```
 */
export async function partitionUnits(
  path: string,
  unitIds: readonly string[],
  options: PartitionUnitsOptions = {},
): Promise<{ done: string[]; pending: string[] }> {
  if (!Array.isArray(unitIds)) {
    throw new TypeError(`Invalid unitIds: expected an array of strings, got ${typeof unitIds}`);
  }
  const idField = options.idField ?? "unit";
  const { records } = await readJsonl(path, { missingOk: true, log: options.log });
  const seen = new Set<string>();
  records.forEach((r, i) => {
    const id = r[idField];
    if (typeof id !== "string") {
      throw new TypeError(
        `Invalid record ${i + 1} in ${path}: expected a string field "${idField}", got ${
          id === undefined ? "none" : typeof id
        }`,
      );
    }
    seen.add(id);
  });
  const done: string[] = [], pending: string[] = [];
  for (const id of unitIds) (seen.has(id) ? done : pending).push(id);
  return { done, pending };
}

type Kind = "number" | "string" | "boolean" | "list" | "struct";

function kindOf(v: unknown): Kind | "null" | "other" {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  if (Array.isArray(v)) return "list";
  if (isPlainObject(v)) return "struct";
  return "other";
}

function flattenInto(out: Record<string, unknown>, v: Record<string, unknown>, prefix: string) {
  for (const [k, x] of Object.entries(v)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(x) && Object.keys(x).length > 0) flattenInto(out, x, name);
    else out[name] = x;
  }
}

/** Options of {@linkcode writeParquet}. */
export interface WriteParquetOptions {
  /** Flatten nested objects into dotted columns (`metrics.f1`). Default true; false keeps structs. */
  flatten?: boolean;
}

/**
 * Write records to a Parquet file atomically (temporary file, then rename), through
 * nodejs-polars. Columns are the union of the records' keys in order of first
 * appearance; a record without a key gets null. Numbers become Float64 (JavaScript
 * numbers are doubles). A column mixing kinds (number and string, ...) throws, naming
 * the column and the first record that differs.
 *
 * @example
 * ```ts
 * import { readParquet, writeParquet } from "./results.ts";
 * import { assertEquals } from "@std/assert";
 * const path = `${await Deno.makeTempDir()}/r.parquet`;
 * await writeParquet([{ unit: "a", metrics: { f1: 0.5 } }, { unit: "b" }], path);
 * assertEquals(readParquet(path), [{ unit: "a", "metrics.f1": 0.5 }, { unit: "b", "metrics.f1": null }]);
 * ```
 */
export async function writeParquet(
  records: readonly ResultRecord[],
  path: string,
  options: WriteParquetOptions = {},
): Promise<void> {
  if (!Array.isArray(records)) {
    throw new TypeError(`Invalid records: expected an array of objects, got ${typeof records}`);
  }
  const flatten = options.flatten ?? true;
  const rows = records.map((r, i) => {
    if (!isPlainObject(r)) {
      throw new TypeError(`Invalid records[${i}]: expected a plain object, got ${kindOf(r)}`);
    }
    if (!flatten) return r;
    const out: Record<string, unknown> = {};
    flattenInto(out, r, "");
    return out;
  });
  const columns = new Map<string, { kind: Kind | undefined; values: unknown[] }>();
  rows.forEach((row, i) => {
    for (const name of Object.keys(row)) {
      if (!columns.has(name)) columns.set(name, { kind: undefined, values: Array(i).fill(null) });
    }
    for (const [name, col] of columns) {
      const v = row[name];
      const k = kindOf(v);
      if (k === "other") {
        throw new TypeError(
          `Cannot export column "${name}" to parquet: records[${i}] holds ${typeof v}`,
        );
      }
      if (k !== "null") {
        if (col.kind === undefined) col.kind = k;
        else if (col.kind !== k) {
          throw new TypeError(
            `Cannot export column "${name}" to parquet: expected ${col.kind} values, ` +
              `got ${k} at records[${i}]`,
          );
        }
      }
      col.values.push(v ?? null);
    }
  });
  const data: Record<string, unknown[]> = {};
  for (const [name, col] of columns) data[name] = col.values;
  const df = pl.DataFrame(data);
  await writeFileAtomic(path, (tmp) => {
    df.writeParquet(tmp);
    return Promise.resolve();
  });
}

/**
 * Records from a Parquet file (as nodejs-polars reads them), for checks and notebooks.
 *
 * @example
 * ```ts
 * import { readParquet, writeParquet } from "./results.ts";
 * import { assertEquals } from "@std/assert";
 * const path = `${await Deno.makeTempDir()}/r.parquet`;
 * await writeParquet([{ x: 1 }], path);
 * assertEquals(readParquet(path), [{ x: 1 }]);
 * ```
 */
export function readParquet(path: string): ResultRecord[] {
  return pl.readParquet(path).toRecords() as ResultRecord[];
}

/** Options of {@linkcode saveResolvedConfig}. */
export interface SaveConfigOptions {
  /** File name inside `dir`. Default `"config.json"`. */
  name?: string;
  /**
   * When the file exists with a different config: `"error"` (default) throws with the
   * diff, since resuming a run under another config would mix results; `"overwrite"`
   * replaces it.
   */
  onMismatch?: "error" | "overwrite";
}

/**
 * Save the resolved config beside the results as pretty, key-sorted JSON (atomically),
 * creating `dir`. Saving an equal config again is a no-op; a different one throws
 * (listing the changed paths) unless `onMismatch: "overwrite"`. Returns the path and
 * the config's hash (see `hashValue`).
 *
 * @example
 * ```ts
 * import { saveResolvedConfig } from "./results.ts";
 * import { assertEquals } from "@std/assert";
 * const dir = await Deno.makeTempDir();
 * const { path } = await saveResolvedConfig(dir, { rm: { lr: 1e-4 }, seed: 0 });
 * assertEquals(JSON.parse(await Deno.readTextFile(path)).rm.lr, 0.0001);
 * ```
 */
export async function saveResolvedConfig(
  dir: string,
  config: unknown,
  options: SaveConfigOptions = {},
): Promise<{ path: string; hash: string }> {
  if (!isPlainObject(config)) {
    throw new TypeError(`Invalid config: expected a plain object, got ${kindOf(config)}`);
  }
  const path = join(dir, options.name ?? "config.json");
  const canonical = canonicalJson(config); // throws on NaN, functions, ... naming the path
  const hash = await hashValue(config);
  if (await exists(path)) {
    let old: unknown;
    try {
      old = JSON.parse(await Deno.readTextFile(path));
    } catch {
      old = undefined;
    }
    const same = old !== undefined && canonicalJson(old) === canonical;
    if (same) return { path, hash };
    if ((options.onMismatch ?? "error") === "error") {
      const diff = isPlainObject(old)
        ? formatConfigDiff(diffConfig(old, JSON.parse(canonical)))
        : "(existing file is not a JSON object)";
      throw new Error(
        `Config mismatch: ${path} holds another config for this run; resuming would mix ` +
          `results. Use a new run id, or pass onMismatch: "overwrite". Changes:\n${diff}`,
      );
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeTextAtomic(path, JSON.stringify(JSON.parse(canonical), null, 2) + "\n");
  return { path, hash };
}

/**
 * Writes `value` as gzip-compressed JSON (the per-item records under `results/<preset>/`:
 * numbers as JSON writes them, so a float32 score reads back bit-exact), creating the parent
 * directory.
 *
 * @example
 * ```ts
 * import { readJsonGz, writeJsonGz } from "./results.ts";
 * import { assertEquals } from "@std/assert";
 * const path = `${await Deno.makeTempDir()}/a/x.json.gz`;
 * await writeJsonGz(path, { scores: [[0.5, -1.25]], ids: ["r0"] });
 * assertEquals(await readJsonGz(path), { scores: [[0.5, -1.25]], ids: ["r0"] });
 * ```
 */
export async function writeJsonGz(path: string, value: unknown): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const gz = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  await Deno.writeFile(path, gz);
}

/** Reads a file written by {@linkcode writeJsonGz}. */
export async function readJsonGz<T = unknown>(path: string): Promise<T> {
  const file = await Deno.open(path, { read: true });
  const text = await new Response(file.readable.pipeThrough(new DecompressionStream("gzip")))
    .text();
  return JSON.parse(text) as T;
}
