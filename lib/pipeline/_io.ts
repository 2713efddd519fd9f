/** Small JSONL helpers for artifact files (whole files, written inside a cache build dir). */
import { readJsonl } from "../run/results.ts";

/** Writes records as JSON Lines (the cache makes the entry atomic). */
export async function writeJsonlFile(path: string, records: readonly unknown[]): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const enc = new TextEncoder();
    const chunk = 500;
    for (let i = 0; i < records.length; i += chunk) {
      const text = records.slice(i, i + chunk).map((r) => JSON.stringify(r) + "\n").join("");
      const bytes = enc.encode(text);
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
    }
  } finally {
    f.close();
  }
}

/** Reads a JSON Lines artifact file (a truncated line is an error here: entries are whole). */
export async function readJsonlFile<T>(path: string): Promise<T[]> {
  const { records, truncated } = await readJsonl<T>(path);
  if (truncated) throw new Error(`${path}: truncated line ${truncated.line} in a cached artifact`);
  return records;
}
