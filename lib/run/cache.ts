/**
 * A content-keyed artifact cache for pipeline stages (base model, SFT, RM data, RMs,
 * ...). An entry is a directory `<root>/<stage>/<key>/` holding the files a stage
 * built plus a `manifest.json` with the stage, key, resolved config, input keys,
 * creation time and, for every file, its size and SHA-256. The key is the SHA-256 of
 * the canonical JSON of `{ stage, version, config, inputs }`, so a changed config
 * value, a bumped stage version or a changed upstream artifact all give a new entry,
 * and downstream stages chain by passing `artifact.key` as one of their `inputs`.
 *
 * Guarantees:
 * - **Atomic**: `build` writes into a temporary directory next to the entry, which is
 *   renamed into place only after the manifest is written, so an entry is whole or absent.
 * - **Verified**: every read checks the manifest against the files (sizes, and hashes
 *   unless `verify: "size"`). A corrupt or partial entry is reported on stderr with the
 *   reason, removed and rebuilt; it is never used.
 * - **Concurrent builds are safe**: two processes building the same key each build in
 *   their own temporary directory; the first rename wins, the other discards its copy
 *   and uses the winner's (after verifying it).
 * - **Crashes leave no entry**: a build that throws (or a killed process) leaves only a
 *   temporary directory, which is ignored, and removed once its process is gone.
 *
 * Root: the `root` option, else the `PVL_CACHE_DIR` environment variable, else
 * `.cache/artifacts` in the repository.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { canonicalJson, type FileDigest, hashValue, sha256File } from "./hash.ts";
import { validateSegment } from "./run_id.ts";
import { exists, randomSuffix, removeIfExists, writeTextAtomic } from "./_fs.ts";

/** Manifest format version; bump when the layout changes (old entries then rebuild). */
const MANIFEST_FORMAT = 1;
const MANIFEST = "manifest.json";
const TMP_PREFIX = ".tmp-";
const TRASH_PREFIX = ".trash-";
/** A temporary directory this old is stale even when its owner cannot be checked. */
const DEFAULT_STALE_TMP_HOURS = 24;

/** What identifies an artifact: the key is derived from all of it. */
export interface StageSpec {
  /** Stage name (directory name): lowercase letters, digits, `_`, `-`. */
  stage: string;
  /** Code version of the stage; bump it when the stage's output changes for the same config. */
  version: number | string;
  /** The stage's resolved config (JSON data only: see `canonicalJson`). */
  config: unknown;
  /** Keys of the inputs: upstream `artifact.key`s or data-file hashes, by input name. */
  inputs?: Record<string, string>;
}

/** Size and SHA-256 of one artifact file; `path` is relative to the entry, `/`-separated. */
export interface ManifestFile extends FileDigest {
  /** Path relative to the entry directory. */
  path: string;
}

/** Contents of `manifest.json`. */
export interface Manifest {
  /** Manifest layout version. */
  format: number;
  /** Stage name. */
  stage: string;
  /** Stage code version. */
  version: number | string;
  /** The cache key (64 hex characters). */
  key: string;
  /** The resolved config, as hashed. */
  config: unknown;
  /** Input keys, as hashed. */
  inputs: Record<string, string>;
  /** ISO time the build finished. */
  createdAt: string;
  /** Build wall time in seconds. */
  buildSeconds: number;
  /** Random id of the build that made this entry. */
  buildId: string;
  /** What `build` returned, if anything (summary numbers, notes). */
  meta?: Record<string, unknown>;
  /** Every artifact file, sorted by path. */
  files: ManifestFile[];
}

/** A verified cache entry. */
export interface Artifact {
  /** Stage name. */
  stage: string;
  /** Cache key: pass it as an input key of downstream stages. */
  key: string;
  /** Entry directory. */
  dir: string;
  /** The verified manifest. */
  manifest: Manifest;
  /** True when the entry came from the cache (this call did not produce it). */
  hit: boolean;
  /** Absolute-or-root-relative path of one artifact file (`/`-separated `name`). */
  file(name: string): string;
}

/** Context passed to a build function. */
export interface BuildContext {
  /** Stage name. */
  stage: string;
  /** The key being built. */
  key: string;
}

/**
 * Writes the artifact's files into `dir` (an empty directory that becomes the entry).
 * May return JSON metadata, stored in the manifest as `meta`.
 */
export type BuildFn = (
  dir: string,
  ctx: BuildContext,
) => Promise<void | Record<string, unknown>> | void | Record<string, unknown>;

/** How much of an entry to check on read. */
export type VerifyMode = "full" | "size";

/** Options of {@linkcode ArtifactCache}. */
export interface CacheOptions {
  /** Cache root; default `PVL_CACHE_DIR`, else `.cache/artifacts` in the repository. */
  root?: string;
  /** `"full"` (default) re-hashes every file on read; `"size"` checks presence and sizes only. */
  verify?: VerifyMode;
  /** Sink for problems found (corrupt entries, lost races); default `console.error`. */
  log?: (line: string) => void;
  /** Age after which a temporary directory counts as abandoned. Default 24. */
  staleTmpHours?: number;
}

/** Options of {@linkcode ArtifactCache.getOrBuild}. */
export interface GetOrBuildOptions {
  /** Override the cache's verify mode for this call. */
  verify?: VerifyMode;
  /** Discard any existing entry and build again. */
  rebuild?: boolean;
}

/** One row of {@linkcode ArtifactCache.list}. */
export interface CacheEntryInfo {
  /** Stage name. */
  stage: string;
  /** Key, or the temporary directory's name for `tmp` rows. */
  key: string;
  /** Directory. */
  dir: string;
  /** `ok`: verified; `corrupt`: would be rebuilt; `tmp`: a build in progress or abandoned. */
  status: "ok" | "corrupt" | "tmp";
  /** Why the entry is corrupt, or whether a tmp directory is stale. */
  reason?: string;
  /** From the manifest, for `ok` rows. */
  createdAt?: string;
  /** Total bytes of the artifact files, for `ok` rows. */
  bytes?: number;
  /** Number of artifact files, for `ok` rows. */
  files?: number;
}

type Check =
  | { ok: true; manifest: Manifest }
  | { ok: false; reason: string; buildId: string | null; missing: boolean };

function defaultRoot(): string {
  try {
    const env = Deno.env.get("PVL_CACHE_DIR");
    if (env) return env;
  } catch {
    // No --allow-env: fall through to the repository default.
  }
  const url = new URL("../../.cache/artifacts", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : join(Deno.cwd(), ".cache", "artifacts");
}

function validateSpec(spec: StageSpec): void {
  if (typeof spec !== "object" || spec === null) {
    throw new TypeError(`Invalid spec: expected { stage, version, config, inputs? }, got ${spec}`);
  }
  validateSegment("spec.stage", spec.stage);
  const v = spec.version;
  if (!((typeof v === "number" && Number.isFinite(v)) || (typeof v === "string" && v !== ""))) {
    throw new TypeError(
      `Invalid spec.version: expected a finite number or non-empty string, got ${String(v)}`,
    );
  }
  if (spec.config === undefined) {
    throw new TypeError(
      `Invalid spec.config: expected the resolved config (JSON data), got undefined`,
    );
  }
  for (const [name, key] of Object.entries(spec.inputs ?? {})) {
    if (typeof key !== "string" || key === "") {
      throw new TypeError(
        `Invalid spec.inputs.${name}: expected a non-empty string key, got ${String(key)}`,
      );
    }
  }
}

function processAlive(pid: number): boolean | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The artifact cache. One instance per root; cheap to create.
 *
 * @example
 * ```ts
 * import { ArtifactCache } from "./cache.ts";
 * import { assert, assertEquals } from "@std/assert";
 * const cache = new ArtifactCache({ root: await Deno.makeTempDir() });
 * const spec = { stage: "toy", version: 1, config: { n: 3 } };
 * const a = await cache.getOrBuild(spec, async (dir) => {
 *   await Deno.writeTextFile(`${dir}/numbers.json`, JSON.stringify([1, 2, 3]));
 * });
 * const b = await cache.getOrBuild(spec, () => {
 *   throw new Error("not called: the entry is cached");
 * });
 * assert(a.hit === false && b.hit === true && a.key === b.key);
 * assertEquals(JSON.parse(await Deno.readTextFile(b.file("numbers.json"))), [1, 2, 3]);
 * await Deno.remove(cache.root, { recursive: true });
 * ```
 */
export class ArtifactCache {
  /** The cache root directory. */
  readonly root: string;
  readonly #verify: VerifyMode;
  readonly #log: (line: string) => void;
  readonly #staleMs: number;

  /** A cache rooted at `options.root`, `PVL_CACHE_DIR` or `.cache/artifacts`. */
  constructor(options: CacheOptions = {}) {
    this.root = options.root ?? defaultRoot();
    this.#verify = options.verify ?? "full";
    if (this.#verify !== "full" && this.#verify !== "size") {
      throw new TypeError(
        `Invalid verify: expected "full" or "size", got ${String(options.verify)}`,
      );
    }
    this.#log = options.log ?? ((l) => console.error(l));
    const hours = options.staleTmpHours ?? DEFAULT_STALE_TMP_HOURS;
    if (!(hours > 0)) {
      throw new RangeError(`Invalid staleTmpHours: expected a positive number, got ${hours}`);
    }
    this.#staleMs = hours * 3600_000;
  }

  /**
   * The key of `spec`: SHA-256 of the canonical JSON of `{ stage, version, config, inputs }`.
   *
   * @example
   * ```ts
   * import { ArtifactCache } from "./cache.ts";
   * import { assert } from "@std/assert";
   * const cache = new ArtifactCache({ root: "/tmp/unused" });
   * const k1 = await cache.key({ stage: "sft", version: 1, config: { lr: 1e-3, steps: 10 } });
   * const k2 = await cache.key({ stage: "sft", version: 1, config: { steps: 10, lr: 0.001 } });
   * assert(k1 === k2);
   * ```
   */
  async key(spec: StageSpec): Promise<string> {
    validateSpec(spec);
    return await hashValue({
      format: MANIFEST_FORMAT,
      stage: spec.stage,
      version: spec.version,
      config: spec.config,
      inputs: spec.inputs ?? {},
    });
  }

  /**
   * The directory the entry of `spec` has (or would have); it may not exist or be valid.
   *
   * @example
   * ```ts
   * import { ArtifactCache } from "./cache.ts";
   * import { assert } from "@std/assert";
   * const cache = new ArtifactCache({ root: "/tmp/c" });
   * assert((await cache.path({ stage: "sft", version: 1, config: {} })).startsWith("/tmp/c/sft/"));
   * ```
   */
  async path(spec: StageSpec): Promise<string> {
    return join(this.root, spec.stage, await this.key(spec));
  }

  /**
   * Whether a valid entry exists for `spec`. A corrupt entry found here is reported and
   * removed, as on any read.
   *
   * @example
   * ```ts
   * import { ArtifactCache } from "./cache.ts";
   * import { assertEquals } from "@std/assert";
   * const cache = new ArtifactCache({ root: await Deno.makeTempDir() });
   * assertEquals(await cache.has({ stage: "toy", version: 1, config: {} }), false);
   * await Deno.remove(cache.root, { recursive: true });
   * ```
   */
  async has(spec: StageSpec, options: { verify?: VerifyMode } = {}): Promise<boolean> {
    return (await this.get(spec, options)) !== undefined;
  }

  /**
   * The verified entry of `spec`, or `undefined` when there is none. A corrupt entry is
   * reported, removed and `undefined` returned.
   *
   * @example
   * ```ts
   * import { ArtifactCache } from "./cache.ts";
   * import { assert } from "@std/assert";
   * const cache = new ArtifactCache({ root: await Deno.makeTempDir() });
   * assert((await cache.get({ stage: "toy", version: 1, config: {} })) === undefined);
   * await Deno.remove(cache.root, { recursive: true });
   * ```
   */
  async get(spec: StageSpec, options: { verify?: VerifyMode } = {}): Promise<Artifact | undefined> {
    const key = await this.key(spec);
    return await this.#load(spec.stage, key, options.verify ?? this.#verify);
  }

  /**
   * The entry of `spec`, building it with `build(tmpDir)` when it is absent or corrupt.
   * `build` writes regular files (subdirectories allowed) into the empty directory it is
   * given; if it throws, nothing is cached and the error propagates.
   *
   * @example
   * ```ts
   * import { ArtifactCache } from "./cache.ts";
   * import { assertEquals } from "@std/assert";
   * const cache = new ArtifactCache({ root: await Deno.makeTempDir() });
   * const data = await cache.getOrBuild(
   *   { stage: "rm_data", version: 1, config: { prompts: 10 }, inputs: { sft: "abc123" } },
   *   async (dir) => {
   *     await Deno.writeTextFile(`${dir}/pairs.jsonl`, "{}\n");
   *     return { pairs: 1 };
   *   },
   * );
   * assertEquals(data.manifest.meta, { pairs: 1 });
   * await Deno.remove(cache.root, { recursive: true });
   * ```
   */
  async getOrBuild(
    spec: StageSpec,
    build: BuildFn,
    options: GetOrBuildOptions = {},
  ): Promise<Artifact> {
    if (typeof build !== "function") {
      throw new TypeError(
        `Invalid build: expected a function (dir) => Promise<void>, got ${typeof build}`,
      );
    }
    const key = await this.key(spec);
    const verify = options.verify ?? this.#verify;
    const stageDir = join(this.root, spec.stage);
    const final = join(stageDir, key);
    if (options.rebuild) await this.#discard(stageDir, key);

    // Two rounds suffice: a lost race is followed by a read of the winner's entry; only
    // if that entry is corrupt as well do we build again.
    for (let round = 0;; round++) {
      const found = await this.#load(spec.stage, key, verify);
      if (found) return found;
      await Deno.mkdir(stageDir, { recursive: true });
      await this.#cleanStaleTmp(stageDir, key);

      const buildId = randomSuffix();
      const tmp = join(stageDir, `${TMP_PREFIX}${key}-${Deno.pid}-${buildId}`);
      await Deno.mkdir(tmp);
      let manifest: Manifest;
      try {
        const started = performance.now();
        const meta = await build(tmp, { stage: spec.stage, key });
        const buildSeconds = (performance.now() - started) / 1000;
        manifest = {
          format: MANIFEST_FORMAT,
          stage: spec.stage,
          version: spec.version,
          key,
          // Store exactly what was hashed (undefined dropped, -0 as 0).
          config: JSON.parse(canonicalJson(spec.config)),
          inputs: { ...(spec.inputs ?? {}) },
          createdAt: new Date().toISOString(),
          buildSeconds: Math.round(buildSeconds * 1000) / 1000,
          buildId,
          ...(meta ? { meta: JSON.parse(canonicalJson(meta)) } : {}),
          files: await digestTree(tmp),
        };
        await writeTextAtomic(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
      } catch (e) {
        await removeIfExists(tmp);
        throw e;
      }

      try {
        await Deno.rename(tmp, final);
        return this.#artifact(final, manifest, false);
      } catch (e) {
        await removeIfExists(tmp);
        // rename(2) of a directory onto a non-empty one fails: another process won.
        if (!(await exists(final))) throw e;
        this.#log(
          `[cache] ${spec.stage}/${key.slice(0, 12)}: another process finished this build ` +
            `first; discarding ours and using theirs`,
        );
        if (round >= 1) {
          throw new Error(
            `Cache entry ${final} keeps appearing corrupt after concurrent builds; giving up`,
          );
        }
      }
    }
  }

  /**
   * Remove the entry of `spec`; returns whether there was one.
   *
   * @example
   * ```ts
   * import { ArtifactCache } from "./cache.ts";
   * import { assertEquals } from "@std/assert";
   * const cache = new ArtifactCache({ root: await Deno.makeTempDir() });
   * assertEquals(await cache.invalidate({ stage: "toy", version: 1, config: {} }), false);
   * await Deno.remove(cache.root, { recursive: true });
   * ```
   */
  async invalidate(spec: StageSpec): Promise<boolean> {
    const key = await this.key(spec);
    return await this.#discard(join(this.root, spec.stage), key);
  }

  /**
   * Every entry and temporary directory under the root (or one stage), for debugging.
   * Checks sizes only (fast); nothing is removed.
   *
   * @example
   * ```ts
   * import { ArtifactCache } from "./cache.ts";
   * import { assertEquals } from "@std/assert";
   * const cache = new ArtifactCache({ root: await Deno.makeTempDir() });
   * await cache.getOrBuild({ stage: "toy", version: 1, config: {} }, async (dir) => {
   *   await Deno.writeTextFile(`${dir}/a.txt`, "a");
   * });
   * assertEquals((await cache.list()).map((e) => [e.stage, e.status, e.files]), [["toy", "ok", 1]]);
   * await Deno.remove(cache.root, { recursive: true });
   * ```
   */
  async list(options: { stage?: string } = {}): Promise<CacheEntryInfo[]> {
    const out: CacheEntryInfo[] = [];
    const stages = options.stage !== undefined ? [options.stage] : await dirNames(this.root);
    for (const stage of stages.sort()) {
      const stageDir = join(this.root, stage);
      for (const name of (await dirNames(stageDir)).sort()) {
        const dir = join(stageDir, name);
        if (name.startsWith(TMP_PREFIX) || name.startsWith(TRASH_PREFIX)) {
          const stale = await this.#isStaleTmp(dir, name);
          out.push({
            stage,
            key: name,
            dir,
            status: "tmp",
            reason: stale ? "stale" : "in progress",
          });
          continue;
        }
        const c = await checkEntry(dir, stage, name, "size");
        out.push(
          c.ok
            ? {
              stage,
              key: name,
              dir,
              status: "ok",
              createdAt: c.manifest.createdAt,
              bytes: c.manifest.files.reduce((s, f) => s + f.size, 0),
              files: c.manifest.files.length,
            }
            : { stage, key: name, dir, status: "corrupt", reason: c.reason },
        );
      }
    }
    return out;
  }

  #artifact(dir: string, manifest: Manifest, hit: boolean): Artifact {
    return {
      stage: manifest.stage,
      key: manifest.key,
      dir,
      manifest,
      hit,
      file: (name: string) => join(dir, ...name.split("/")),
    };
  }

  async #load(stage: string, key: string, verify: VerifyMode): Promise<Artifact | undefined> {
    const dir = join(this.root, stage, key);
    const c = await checkEntry(dir, stage, key, verify);
    if (c.ok) return this.#artifact(dir, c.manifest, true);
    if (c.missing) return undefined;
    this.#log(
      `[cache] ${stage}/${key.slice(0, 12)}: corrupt entry (${c.reason}); removing and rebuilding`,
    );
    await this.#discard(join(this.root, stage), key, c.buildId);
    return undefined;
  }

  /**
   * Move the entry aside, then delete it. When `expectBuildId` is given (the corrupt
   * entry's build id, or null for none), an entry that another process put in place
   * meanwhile (a different build id) is moved back instead of deleted.
   */
  async #discard(
    stageDir: string,
    key: string,
    expectBuildId?: string | null,
  ): Promise<boolean> {
    const final = join(stageDir, key);
    const trash = join(stageDir, `${TRASH_PREFIX}${key}-${Deno.pid}-${randomSuffix()}`);
    try {
      await Deno.rename(final, trash);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
    if (expectBuildId !== undefined) {
      const now = await readBuildId(trash);
      if (now !== null && now !== expectBuildId) {
        try {
          await Deno.rename(trash, final);
          return false;
        } catch {
          // Someone put yet another entry in place; ours is surplus.
        }
      }
    }
    await removeIfExists(trash);
    return true;
  }

  async #isStaleTmp(dir: string, name: string): Promise<boolean> {
    const pid = Number(/-(\d+)-[0-9a-f]+$/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid) === false) return true;
    try {
      const st = await Deno.stat(dir);
      return st.mtime !== null && Date.now() - st.mtime.getTime() > this.#staleMs;
    } catch {
      return false;
    }
  }

  async #cleanStaleTmp(stageDir: string, key: string): Promise<void> {
    for (const name of await dirNames(stageDir)) {
      const mine = name.startsWith(`${TMP_PREFIX}${key}-`) ||
        name.startsWith(`${TRASH_PREFIX}${key}-`);
      if (!mine) continue;
      const dir = join(stageDir, name);
      if (!(await this.#isStaleTmp(dir, name))) continue;
      this.#log(`[cache] removing abandoned temporary directory ${dir}`);
      await removeIfExists(dir);
    }
  }
}

/**
 * {@linkcode ArtifactCache.getOrBuild} on a cache made from `options` (root, verify, log).
 *
 * @example
 * ```ts
 * import { getOrBuild } from "./cache.ts";
 * import { assertEquals } from "@std/assert";
 * const root = await Deno.makeTempDir();
 * const a = await getOrBuild({ stage: "toy", version: 1, config: { n: 1 } }, async (dir) => {
 *   await Deno.writeTextFile(`${dir}/x.txt`, "1");
 * }, { root });
 * assertEquals(a.manifest.files.map((f) => f.path), ["x.txt"]);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function getOrBuild(
  spec: StageSpec,
  build: BuildFn,
  options: GetOrBuildOptions & CacheOptions = {},
): Promise<Artifact> {
  return new ArtifactCache(options).getOrBuild(spec, build, options);
}

async function dirNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isDirectory) out.push(e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out;
}

async function walk(dir: string, rel: string, out: string[]): Promise<void> {
  for await (const e of Deno.readDir(join(dir, rel))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isSymlink) {
      throw new Error(`Invalid artifact file "${p}": expected a regular file, got a symlink`);
    }
    if (e.isDirectory) await walk(dir, p, out);
    else out.push(p);
  }
}

async function digestTree(dir: string): Promise<ManifestFile[]> {
  const paths: string[] = [];
  await walk(dir, "", paths);
  const files: ManifestFile[] = [];
  for (const p of paths.filter((p) => p !== MANIFEST).sort()) {
    files.push({ path: p, ...(await sha256File(join(dir, ...p.split("/")))) });
  }
  return files;
}

async function readBuildId(dir: string): Promise<string | null> {
  try {
    const m = JSON.parse(await Deno.readTextFile(join(dir, MANIFEST)));
    return typeof m?.buildId === "string" ? m.buildId : null;
  } catch {
    return null;
  }
}

function isManifest(m: unknown): m is Manifest {
  if (typeof m !== "object" || m === null) return false;
  const r = m as Record<string, unknown>;
  return typeof r.key === "string" && typeof r.stage === "string" && Array.isArray(r.files) &&
    r.files.every((f) =>
      typeof f === "object" && f !== null && typeof f.path === "string" &&
      typeof f.size === "number" && typeof f.sha256 === "string"
    );
}

async function checkEntry(
  dir: string,
  stage: string,
  key: string,
  verify: VerifyMode,
): Promise<Check> {
  const bad = (reason: string, buildId: string | null = null): Check => ({
    ok: false,
    reason,
    buildId,
    missing: false,
  });
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, MANIFEST));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return bad(`cannot read ${MANIFEST}: ${e}`);
    return (await exists(dir))
      ? bad(`${MANIFEST} is missing`)
      : { ok: false, reason: "absent", buildId: null, missing: true };
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return bad(`${MANIFEST} is not valid JSON`);
  }
  if (!isManifest(m)) return bad(`${MANIFEST} lacks key, stage or a valid file list`);
  const buildId = typeof m.buildId === "string" ? m.buildId : null;
  if (m.format !== MANIFEST_FORMAT) {
    return bad(`manifest format ${m.format}, expected ${MANIFEST_FORMAT}`, buildId);
  }
  if (m.key !== key || m.stage !== stage) {
    return bad(`manifest names ${m.stage}/${m.key}, not ${stage}/${key}`, buildId);
  }
  let present: string[];
  try {
    present = [];
    await walk(dir, "", present);
  } catch (e) {
    return bad(String(e instanceof Error ? e.message : e), buildId);
  }
  const listed = new Set(m.files.map((f) => f.path));
  const extra = present.filter((p) => p !== MANIFEST && !listed.has(p));
  if (extra.length > 0) return bad(`unlisted file "${extra[0]}"`, buildId);
  for (const f of m.files) {
    const p = join(dir, ...f.path.split("/"));
    let size: number;
    try {
      size = (await Deno.stat(p)).size;
    } catch {
      return bad(`file "${f.path}" is missing`, buildId);
    }
    if (size !== f.size) {
      return bad(`file "${f.path}" has ${size} bytes, manifest says ${f.size}`, buildId);
    }
  }
  if (verify === "full") {
    for (const f of m.files) {
      const d = await sha256File(join(dir, ...f.path.split("/")));
      if (d.sha256 !== f.sha256) {
        return bad(
          `file "${f.path}" sha256 ${d.sha256.slice(0, 12)}..., manifest says ${
            f.sha256.slice(0, 12)
          }...`,
          buildId,
        );
      }
    }
  }
  return { ok: true, manifest: m };
}
