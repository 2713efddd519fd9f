/**
 * Loader errors: every malformed row is reported with its file and line (JSONL
 * line, JSON array index or parquet row), never skipped silently.
 * @module
 */

/** One problem in a data file. */
export interface DataIssue {
  /** The file. */
  file: string;
  /** Where: `line 12` (JSONL, 1-based), `index 3` (JSON array, 0-based), `row 5` (parquet, 0-based) or `file`. */
  at: string;
  /** What was expected and what came. */
  message: string;
}

/** A data file with malformed rows; `issues` lists them all, the message the first few. */
export class DataError extends Error {
  override name = "DataError";
  /** Every issue found. */
  readonly issues: DataIssue[];
  constructor(issues: DataIssue[]) {
    const shown = issues.slice(0, 5).map((i) => `${i.file} ${i.at}: ${i.message}`);
    const more = issues.length > 5 ? `\n... and ${issues.length - 5} more` : "";
    super(`${issues.length} malformed row(s):\n${shown.join("\n")}${more}`);
    this.issues = issues;
  }
}

/** Collects issues for one file; `throwIfAny` raises them together. */
export class IssueLog {
  readonly issues: DataIssue[] = [];
  constructor(readonly file: string) {}
  /** Records an issue at a place. */
  add(at: string, message: string): void {
    this.issues.push({ file: this.file, at, message });
  }
  /** Throws a {@linkcode DataError} when any issue was recorded. */
  throwIfAny(): void {
    if (this.issues.length > 0) throw new DataError(this.issues);
  }
}

/** A short rendering of a value for messages. */
export function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 50 ? s.slice(0, 47) + "..." : s;
}

/** Parses JSON Lines (blank lines allowed), reporting bad lines by 1-based line number. */
export function parseJsonLines(text: string, log: IssueLog): { value: unknown; at: string }[] {
  const out: { value: unknown; at: string }[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const at = `line ${i + 1}`;
    try {
      out.push({ value: JSON.parse(line), at });
    } catch (e) {
      log.add(at, `not valid JSON (${(e as Error).message})`);
    }
  });
  return out;
}

/** Reads a JSON array or JSON Lines file into located values (array: `index i`; lines: `line n`). */
export function parseJsonOrLines(text: string, log: IssueLog): { value: unknown; at: string }[] {
  if (text.trimStart().startsWith("[")) {
    let arr: unknown;
    try {
      arr = JSON.parse(text);
    } catch (e) {
      log.add("file", `not a valid JSON array (${(e as Error).message})`);
      return [];
    }
    if (!Array.isArray(arr)) {
      log.add("file", "expected a JSON array of rows");
      return [];
    }
    return arr.map((value, i) => ({ value, at: `index ${i}` }));
  }
  return parseJsonLines(text, log);
}
