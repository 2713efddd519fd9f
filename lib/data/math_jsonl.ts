/**
 * MATH-style JSON Lines (MATH, MATH-500, Minerva exports): `problem`, `answer`,
 * optionally `solution`, `level`, `type`. Extra fields (e.g. `unique_id`) are
 * kept in `extra`. Malformed lines are reported with file and line number.
 * @module
 */
import { IssueLog, parseJsonLines, show } from "./_errors.ts";

/** One MATH-style problem. */
export interface MathRow {
  /** Problem text. */
  problem: string;
  /** Reference answer (a number in the file is kept as its decimal string). */
  answer: string;
  /** Worked solution, when present. */
  solution?: string;
  /** Difficulty, `"Level 5"` (MATH) or `5` (MATH-500). */
  level?: string | number;
  /** Subject, e.g. `"Algebra"`. */
  type?: string;
  /** Any other fields of the line. */
  extra: Record<string, unknown>;
}

/**
 * Parses MATH-style JSON Lines; throws a DataError naming file and line of every malformed line.
 *
 * @example
 * ```ts
 * import { parseMathJsonl } from "./math_jsonl.ts";
 * import { assertEquals } from "@std/assert";
 * const rows = parseMathJsonl('{"problem":"1+1?","answer":"2","level":1}\n', { file: "m.jsonl" });
 * assertEquals(rows[0]!.answer, "2");
 * ```
 */
export function parseMathJsonl(text: string, options: { file: string }): MathRow[] {
  const log = new IssueLog(options.file);
  const rows: MathRow[] = [];
  for (const { value, at } of parseJsonLines(text, log)) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      log.add(at, `expected an object, got ${show(value)}`);
      continue;
    }
    const { problem, answer, solution, level, type, ...extra } = value as Record<string, unknown>;
    const before = log.issues.length;
    if (typeof problem !== "string") {
      log.add(at, `problem: expected a string, got ${show(problem)}`);
    }
    if (typeof answer !== "string" && !(typeof answer === "number" && Number.isFinite(answer))) {
      log.add(at, `answer: expected a string (or a number), got ${show(answer)}`);
    }
    if (solution !== undefined && typeof solution !== "string") {
      log.add(at, `solution: expected a string when present, got ${show(solution)}`);
    }
    if (level !== undefined && typeof level !== "string" && typeof level !== "number") {
      log.add(at, `level: expected a string or number when present, got ${show(level)}`);
    }
    if (type !== undefined && typeof type !== "string") {
      log.add(at, `type: expected a string when present, got ${show(type)}`);
    }
    if (log.issues.length > before) continue;
    const row: MathRow = { problem: problem as string, answer: String(answer), extra };
    if (solution !== undefined) row.solution = solution as string;
    if (level !== undefined) row.level = level as string | number;
    if (type !== undefined) row.type = type as string;
    rows.push(row);
  }
  log.throwIfAny();
  return rows;
}

/**
 * Loads a MATH-style `.jsonl` file.
 *
 * @example
 * ```ts ignore
 * import { loadMathJsonl } from "./math_jsonl.ts";
 * const rows = await loadMathJsonl("data/fixtures/math.jsonl");
 * ```
 */
export async function loadMathJsonl(path: string): Promise<MathRow[]> {
  return parseMathJsonl(await Deno.readTextFile(path), { file: path });
}
