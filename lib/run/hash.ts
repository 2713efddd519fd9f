/**
 * Canonical JSON and SHA-256 digests, used to key cached artifacts by their resolved
 * config and the keys of their inputs: two configs that mean the same thing (same
 * values, any key order) get the same key, and any changed value gets another.
 * @module
 */
import { createHash } from "node:crypto";
import { isPlainObject } from "./config.ts";

/** Chunk size for streaming file hashes: large enough to keep syscalls rare. */
const FILE_CHUNK_BYTES = 1 << 20;

/**
 * Serialise `value` as canonical JSON: object keys sorted (by UTF-16 code unit, as
 * `Array.prototype.sort` does), object properties whose value is `undefined` omitted,
 * `-0` written as `0`, and numbers in JavaScript's shortest round-trip form (so `1.0`
 * and `1` are the same). No whitespace.
 *
 * Only JSON data is accepted: plain objects, arrays, strings, finite numbers, booleans
 * and `null`. NaN, ±Infinity, functions, symbols, bigints, `undefined` inside arrays,
 * cycles and class instances (Date, Map, typed arrays, ...) throw a `TypeError` naming
 * the path of the offending value, because silently turning them into `null` (as
 * `JSON.stringify` does) would let two different configs share a key.
 *
 * @example
 * ```ts
 * import { canonicalJson } from "./hash.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(canonicalJson({ b: 1, a: [true, null], c: undefined }), '{"a":[true,null],"b":1}');
 * ```
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, "$", parts, new Set());
  return parts.join("");
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "number") return String(v);
  if (typeof v === "function") return "a function";
  if (typeof v === "object") {
    const name = (v as object).constructor?.name;
    return name ? `an instance of ${name}` : "an object without prototype";
  }
  return typeof v;
}

function fail(path: string, v: unknown): never {
  throw new TypeError(
    `Cannot hash value at ${path}: expected JSON data (plain object, array, string, ` +
      `finite number, boolean or null), got ${describe(v)}`,
  );
}

function write(v: unknown, path: string, out: string[], stack: Set<object>): void {
  switch (typeof v) {
    case "string":
      out.push(JSON.stringify(v));
      return;
    case "boolean":
      out.push(v ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(v)) fail(path, v);
      // Object.is(-0, 0) is false but they are the same config value.
      out.push(v === 0 ? "0" : String(v));
      return;
    case "object": {
      if (v === null) {
        out.push("null");
        return;
      }
      if (stack.has(v)) {
        throw new TypeError(`Cannot hash value at ${path}: expected a tree, got a cycle`);
      }
      stack.add(v);
      if (Array.isArray(v)) {
        out.push("[");
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out.push(",");
          const item: unknown = v[i];
          if (item === undefined) fail(`${path}[${i}]`, item);
          write(item, `${path}[${i}]`, out, stack);
        }
        out.push("]");
      } else {
        if (!isPlainObject(v)) fail(path, v);
        const rec = v as Record<string, unknown>;
        const keys = Object.keys(rec).filter((k) => rec[k] !== undefined).sort();
        out.push("{");
        keys.forEach((k, i) => {
          if (i > 0) out.push(",");
          out.push(JSON.stringify(k), ":");
          write(rec[k], `${path}.${k}`, out, stack);
        });
        out.push("}");
      }
      stack.delete(v);
      return;
    }
    default:
      fail(path, v);
  }
}

function toHex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * SHA-256 of a string (UTF-8) or bytes, as 64 lowercase hex characters (Web Crypto).
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./hash.ts";
 * import { assert } from "@std/assert";
 * const h = await sha256Hex("abc");
 * assert(h.startsWith("ba7816bf"));
 * ```
 */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return toHex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/**
 * SHA-256 hex digest of {@linkcode canonicalJson}(value): the key of a config or of any
 * JSON-data value. Throws like `canonicalJson` on values that are not JSON data.
 *
 * @example
 * ```ts
 * import { hashValue } from "./hash.ts";
 * import { assert } from "@std/assert";
 * assert((await hashValue({ a: 1, b: 2 })) === (await hashValue({ b: 2, a: 1 })));
 * ```
 */
export function hashValue(value: unknown): Promise<string> {
  return sha256Hex(canonicalJson(value));
}

/** Size and SHA-256 of a file, as stored in cache manifests. */
export interface FileDigest {
  /** Size in bytes. */
  size: number;
  /** SHA-256, 64 lowercase hex characters. */
  sha256: string;
}

/**
 * Size and SHA-256 of a file, read in 1 MiB chunks so that big files (checkpoints,
 * rollouts) never sit in memory whole. Web Crypto has no incremental digest, so this
 * uses `node:crypto`, which Deno implements natively.
 *
 * @example
 * ```ts
 * import { sha256File } from "./hash.ts";
 * import { assert } from "@std/assert";
 * const p = await Deno.makeTempFile();
 * await Deno.writeTextFile(p, "abc");
 * const { size, sha256 } = await sha256File(p);
 * assert(size === 3 && sha256.startsWith("ba7816bf"));
 * await Deno.remove(p);
 * ```
 */
export async function sha256File(path: string): Promise<FileDigest> {
  const h = createHash("sha256");
  const buf = new Uint8Array(FILE_CHUNK_BYTES);
  let size = 0;
  using file = await Deno.open(path, { read: true });
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    size += n;
    h.update(buf.subarray(0, n));
  }
  return { size, sha256: h.digest("hex") };
}
