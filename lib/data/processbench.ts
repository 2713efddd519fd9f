/**
 * ProcessBench rows ([PB]; methods.md d1): `{id, generator, problem, steps,
 * label, final_answer_correct}`, as a JSON array file (the released
 * `<split>.json`) or JSON Lines. Every row is checked; malformed rows are
 * reported together with file and position.
 * @module
 */
import { IssueLog, parseJsonOrLines, show } from "./_errors.ts";

/** The four ProcessBench splits. */
export type ProcessBenchSplit = "gsm8k" | "math" | "olympiadbench" | "omnimath";

/** Every split, in the paper's column order. */
export const PROCESSBENCH_SPLITS: readonly ProcessBenchSplit[] = [
  "gsm8k",
  "math",
  "olympiadbench",
  "omnimath",
];

/** One ProcessBench row (the file's field names). */
export interface ProcessBenchRow {
  /** Row id, e.g. `gsm8k-0`. */
  id: string;
  /** The model that wrote the solution. */
  generator: string;
  /** The problem text. */
  problem: string;
  /** The solution's steps. */
  steps: string[];
  /** 0-based index of the earliest wrong step, -1 if none; `< steps.length`. */
  label: number;
  /** Whether the final answer is right (can be true with `label != -1`). */
  final_answer_correct: boolean;
}

/** Checks one parsed row; records issues and returns null when malformed. */
export function checkProcessBenchRow(
  v: unknown,
  at: string,
  log: IssueLog,
): ProcessBenchRow | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    log.add(at, `expected an object, got ${show(v)}`);
    return null;
  }
  const r = v as Record<string, unknown>;
  const before = log.issues.length;
  for (const f of ["id", "generator", "problem"] as const) {
    if (typeof r[f] !== "string") log.add(at, `${f}: expected a string, got ${show(r[f])}`);
  }
  const steps = r.steps;
  if (!Array.isArray(steps) || steps.length === 0 || !steps.every((s) => typeof s === "string")) {
    log.add(at, `steps: expected a non-empty array of strings, got ${show(steps)}`);
  }
  const n = Array.isArray(steps) ? steps.length : 0;
  if (typeof r.label !== "number" || !Number.isInteger(r.label) || r.label < -1 || r.label >= n) {
    log.add(
      at,
      `label: expected an integer in [-1, ${n}) (the row has ${n} steps), got ${show(r.label)}`,
    );
  }
  if (typeof r.final_answer_correct !== "boolean") {
    log.add(
      at,
      `final_answer_correct: expected true or false, got ${show(r.final_answer_correct)}`,
    );
  }
  if (log.issues.length > before) return null;
  return {
    id: r.id as string,
    generator: r.generator as string,
    problem: r.problem as string,
    steps: [...(steps as string[])],
    label: r.label as number,
    final_answer_correct: r.final_answer_correct as boolean,
  };
}

/**
 * Parses ProcessBench rows from text (JSON array or JSON Lines); throws a
 * DataError listing every malformed row with `file` and position.
 *
 * @example
 * ```ts
 * import { parseProcessBench } from "./processbench.ts";
 * import { assertEquals } from "@std/assert";
 * const text = '[{"id":"x-0","generator":"me","problem":"1+1?","steps":["2"],"label":-1,' +
 *   '"final_answer_correct":true}]';
 * assertEquals(parseProcessBench(text, { file: "x.json" })[0]!.label, -1);
 * ```
 */
export function parseProcessBench(text: string, options: { file: string }): ProcessBenchRow[] {
  const log = new IssueLog(options.file);
  const rows: ProcessBenchRow[] = [];
  for (const { value, at } of parseJsonOrLines(text, log)) {
    const row = checkProcessBenchRow(value, at, log);
    if (row) rows.push(row);
  }
  log.throwIfAny();
  return rows;
}

/**
 * Loads a ProcessBench file (`.json` array or `.jsonl`).
 *
 * @example
 * ```ts ignore
 * import { loadProcessBench } from "./processbench.ts";
 * const rows = await loadProcessBench("data/fixtures/processbench_gsm8k.json");
 * ```
 */
export async function loadProcessBench(path: string): Promise<ProcessBenchRow[]> {
  return parseProcessBench(await Deno.readTextFile(path), { file: path });
}
