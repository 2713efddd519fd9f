/**
 * File-system helpers shared by the cache and the results writers (internal).
 * @module
 */
import { dirname } from "node:path";

/** True when `path` exists (any kind); false on NotFound, other errors rethrown. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Remove a path recursively; a missing path is fine. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** A short random hex suffix for temporary names. */
export function randomSuffix(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Write all of `data` to an open file (a single write may be partial). */
export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await file.write(data.subarray(off));
}

/**
 * Write `text` to `path` atomically: a sibling temporary file, fsync, then rename, so a
 * reader sees the old file or the new one, never half of one. Removes the temporary
 * file on failure.
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, async (tmp) => {
    using f = await Deno.open(tmp, { write: true, createNew: true });
    await writeAll(f, new TextEncoder().encode(text));
    await f.sync();
  });
}

/** Run `write(tmpPath)` then rename the temporary file onto `path`; cleans up on failure. */
export async function writeFileAtomic(
  path: string,
  write: (tmpPath: string) => Promise<void>,
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomSuffix()}.tmp`;
  try {
    await write(tmp);
    await Deno.rename(tmp, path);
  } catch (e) {
    await removeIfExists(tmp);
    throw e;
  }
}
