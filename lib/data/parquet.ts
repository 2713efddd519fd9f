/**
 * Eurus-2-style RL data in parquet (PRIME-RL/Eurus-2-RL-Data, the paper's RL
 * prompts), read with nodejs-polars. Expected schema (verl's RL parquet layout):
 *
 * | column | type | used |
 * |---|---|---|
 * | `data_source` | string (e.g. `numina_olympiads`) | yes |
 * | `prompt` | list<struct{role: string, content: string}> (chat messages) | yes |
 * | `ability` | string (`math`, `code`) | yes |
 * | `reward_model` | struct{style: string, ground_truth: string} | yes |
 * | `extra_info` | struct (e.g. {split, index}) | optional, kept as an object |
 *
 * Other columns are ignored. Rows are checked one by one and reported as
 * `row i` (0-based) of the file; a missing column is a file-level issue.
 * @module
 */
import pl from "nodejs-polars";
import { Buffer } from "node:buffer";
import { IssueLog, show } from "./_errors.ts";

/** One chat message. */
export interface ChatMessage {
  /** `system`, `user` or `assistant`. */
  role: string;
  /** The text. */
  content: string;
}

/** One Eurus-2-style RL row (the file's column names). */
export interface EurusRow {
  /** Source dataset of the prompt. */
  data_source: string;
  /** Chat messages forming the prompt. */
  prompt: ChatMessage[];
  /** Task family. */
  ability: string;
  /** How to reward: `style` (e.g. `rule`) and the ground truth (an answer, or test cases as JSON). */
  reward_model: { style: string; ground_truth: string };
  /** Free-form metadata (null when the column is absent or the cell is null). */
  extra_info: Record<string, unknown> | null;
}

/** Columns a Eurus-2-style file must have. */
export const EURUS_REQUIRED_COLUMNS = ["data_source", "prompt", "ability", "reward_model"] as const;

/** Checks plain JS rows (as polars hands them out) against the schema. */
export function checkEurusRows(
  records: readonly Record<string, unknown>[],
  log: IssueLog,
): EurusRow[] {
  const out: EurusRow[] = [];
  records.forEach((r, i) => {
    const at = `row ${i}`;
    const before = log.issues.length;
    for (const f of ["data_source", "ability"] as const) {
      if (typeof r[f] !== "string") log.add(at, `${f}: expected a string, got ${show(r[f])}`);
    }
    const prompt = r.prompt;
    const okMsg = (m: unknown) =>
      typeof m === "object" && m !== null && typeof (m as ChatMessage).role === "string" &&
      typeof (m as ChatMessage).content === "string";
    if (!Array.isArray(prompt) || prompt.length === 0 || !prompt.every(okMsg)) {
      log.add(
        at,
        `prompt: expected a non-empty list of {role, content} strings, got ${show(prompt)}`,
      );
    }
    const rm = r.reward_model as Record<string, unknown> | null | undefined;
    if (
      typeof rm !== "object" || rm === null || typeof rm.style !== "string" ||
      typeof rm.ground_truth !== "string"
    ) {
      log.add(at, `reward_model: expected {style: string, ground_truth: string}, got ${show(rm)}`);
    }
    const extra = r.extra_info;
    if (
      extra !== undefined && extra !== null && (typeof extra !== "object" || Array.isArray(extra))
    ) {
      log.add(at, `extra_info: expected a struct (object) or null, got ${show(extra)}`);
    }
    if (log.issues.length > before) return;
    out.push({
      data_source: r.data_source as string,
      prompt: (prompt as ChatMessage[]).map((m) => ({ role: m.role, content: m.content })),
      ability: r.ability as string,
      reward_model: { style: rm!.style as string, ground_truth: rm!.ground_truth as string },
      extra_info: (extra ?? null) as Record<string, unknown> | null,
    });
  });
  return out;
}

/**
 * Loads a Eurus-2-style parquet file; throws a DataError for a missing column or
 * malformed rows (each with file and row).
 *
 * @example
 * ```ts ignore
 * import { loadEurusParquet } from "./parquet.ts";
 * const rows = loadEurusParquet("data/fixtures/eurus2_rl.parquet");
 * rows[0]!.reward_model.ground_truth;
 * ```
 */
export function loadEurusParquet(path: string): EurusRow[] {
  const log = new IssueLog(path);
  let df: pl.DataFrame;
  try {
    df = pl.readParquet(path);
  } catch (e) {
    log.add("file", `not a readable parquet file (${(e as Error).message})`);
    log.throwIfAny();
    throw new Error("unreachable");
  }
  const missing = EURUS_REQUIRED_COLUMNS.filter((c) => !df.columns.includes(c));
  if (missing.length > 0) {
    log.add("file", `missing column(s) ${missing.join(", ")}; found ${df.columns.join(", ")}`);
    log.throwIfAny();
  }
  // Column by column: toRecords() rejects struct cells in nodejs-polars 0.25.2
  // ("StructOwned is not supported"), Series.toArray() converts them.
  const cols = [
    ...EURUS_REQUIRED_COLUMNS,
    ...(df.columns.includes("extra_info") ? ["extra_info"] : []),
  ];
  const arrays = Object.fromEntries(cols.map((c) => [c, df.getColumn(c).toArray() as unknown[]]));
  const records = Array.from(
    { length: df.height },
    (_, i) => Object.fromEntries(cols.map((c) => [c, arrays[c]![i]])),
  );
  const rows = checkEurusRows(records, log);
  log.throwIfAny();
  return rows;
}

/**
 * Writes rows to a parquet file in the Eurus-2 schema (used by the fixture
 * script; polars infers list<struct> and struct columns from JSON).
 *
 * @example
 * ```ts ignore
 * import { writeEurusParquet } from "./parquet.ts";
 * writeEurusParquet([], "out.parquet");
 * ```
 */
export function writeEurusParquet(rows: readonly Record<string, unknown>[], path: string): void {
  // pl.DataFrame(records) flattens list<struct> to list<string>; the JSON reader keeps the nesting.
  const df = pl.readJSON(Buffer.from(JSON.stringify(rows)));
  df.writeParquet(path);
}
