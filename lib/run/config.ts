/**
 * Generic helpers for typed configs (STYLE item 6): {@linkcode deepMerge} applies
 * user overrides to a `DEFAULT_*` object and rejects unknown keys and wrong types,
 * naming the path, so each `resolve*Config()` only derives fields and checks its
 * own invariants; {@linkcode diffConfig} lists what an ablation changed.
 * @module
 */

/** A recursive partial of a config: what an override may contain. */
export type DeepPartial<T> = T extends readonly unknown[] ? T
  : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> }
  : T;

/** A config error; `path` is the dotted path of the offending key (`rm.lr`). */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** Dotted path of the offending key. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** Options of {@linkcode deepMerge}. */
export interface DeepMergeOptions {
  /** Prefix for paths in error messages (e.g. `"rl"` when merging a sub-config). */
  path?: string;
}

/**
 * Whether `v` is a plain object (`{...}` or `Object.create(null)`), not an array, null or a
 * class instance (Date, Map, typed array): the one test of "JSON object" that config
 * merging, results files and canonical hashing share.
 *
 * @example
 * ```ts
 * import { isPlainObject } from "./config.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals([isPlainObject({ a: 1 }), isPlainObject([1]), isPlainObject(new Date())], [true, false, false]);
 * ```
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (isPlainObject(v)) return "object";
  return typeof v;
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return kindOf(v);
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function suggest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  // Allow about one typo per three characters; beyond that the guess is noise.
  return best !== undefined && bestD <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as T;
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = clone(x);
    return out as T;
  }
  return v;
}

function merge(def: unknown, over: unknown, path: string): unknown {
  if (over === undefined) return clone(def);
  // A null/undefined default marks an optional field of unknown type: take the value.
  if (def === null || def === undefined) return clone(over);
  const dk = kindOf(def), ok = kindOf(over);
  if (dk !== ok) {
    throw new ConfigError(
      path,
      `Invalid config value at "${path}": expected ${dk} (as the default ${show(def)}), ` +
        `got ${ok} (${show(over)})`,
    );
  }
  if (typeof over === "number" && !Number.isFinite(over)) {
    throw new ConfigError(
      path,
      `Invalid config value at "${path}": expected a finite number, got ${over}`,
    );
  }
  if (dk !== "object") return clone(over);
  const d = def as Record<string, unknown>, o = over as Record<string, unknown>;
  const known = Object.keys(d);
  // An empty default object is an open record (e.g. per-bucket overrides): any keys.
  if (known.length === 0) return clone(o);
  const out: Record<string, unknown> = {};
  for (const k of known) out[k] = merge(d[k], o[k], join(path, k));
  for (const k of Object.keys(o)) {
    if (Object.hasOwn(d, k)) continue;
    const p = join(path, k);
    const guess = suggest(k, known);
    throw new ConfigError(
      p,
      `Unknown config key "${p}"` +
        (guess !== undefined
          ? ` (did you mean "${join(path, guess)}"?)`
          : ` (known keys${path ? ` of "${path}"` : ""}: ${known.join(", ")})`),
    );
  }
  return out;
}

/**
 * Merge `overrides` into `defaults`, returning a new object (inputs are not mutated).
 * Plain objects merge key by key; arrays and scalars are replaced whole. Throws a
 * {@linkcode ConfigError} naming the path for an unknown key (with a "did you mean"
 * suggestion), for a value whose type differs from the default's (number, string,
 * boolean, array, object), and for NaN/Infinity. A `null` default accepts any value;
 * an empty-object default accepts any keys. An `undefined` override keeps the default.
 *
 * @example
 * ```ts
 * import { deepMerge } from "./config.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 * const DEFAULT = { rm: { lr: 1e-4, epochs: 5 }, seed: 0 };
 * const cfg = deepMerge(DEFAULT, { rm: { lr: 2e-4 } });
 * assertEquals(cfg, { rm: { lr: 2e-4, epochs: 5 }, seed: 0 });
 * assertThrows(
 *   () => deepMerge(DEFAULT, { rm: { lrr: 1 } } as never),
 *   Error,
 *   'Unknown config key "rm.lrr" (did you mean "rm.lr"?)',
 * );
 * ```
 */
export function deepMerge<T extends object>(
  defaults: T,
  overrides?: DeepPartial<T>,
  options: DeepMergeOptions = {},
): T {
  if (!isPlainObject(defaults)) {
    throw new TypeError(`Invalid defaults: expected a plain object, got ${kindOf(defaults)}`);
  }
  if (overrides !== undefined && !isPlainObject(overrides)) {
    throw new TypeError(
      `Invalid overrides: expected a plain object or undefined, got ${kindOf(overrides)}`,
    );
  }
  return merge(defaults, overrides, options.path ?? "") as T;
}

/** One difference reported by {@linkcode diffConfig}. */
export interface ConfigChange {
  /** Dotted path of the value (`rm.lr`). */
  path: string;
  /** `changed`: in both with different values; `added`: only in `b`; `removed`: only in `a`. */
  kind: "changed" | "added" | "removed";
  /** Value in `a` (absent for `added`). */
  before?: unknown;
  /** Value in `b` (absent for `removed`). */
  after?: unknown;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b) || (a === 0 && b === 0)) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameValue(a[k], b[k]));
  }
  return false;
}

function diffInto(a: unknown, b: unknown, path: string, out: ConfigChange[]): void {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) {
      const p = join(path, k);
      const inA = a[k] !== undefined, inB = b[k] !== undefined;
      if (inA && inB) diffInto(a[k], b[k], p, out);
      else if (inA) out.push({ path: p, kind: "removed", before: a[k] });
      else if (inB) out.push({ path: p, kind: "added", after: b[k] });
    }
    return;
  }
  if (!sameValue(a, b)) out.push({ path: path || "(root)", kind: "changed", before: a, after: b });
}

/**
 * The leaf paths whose values differ between two configs, sorted by path. Objects are
 * compared key by key; arrays and scalars as whole values. `undefined` counts as absent.
 *
 * @example
 * ```ts
 * import { diffConfig } from "./config.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(diffConfig({ rm: { lr: 1e-4, m: 0 } }, { rm: { lr: 2e-4, m: 0 } }), [
 *   { path: "rm.lr", kind: "changed", before: 0.0001, after: 0.0002 },
 * ]);
 * ```
 */
export function diffConfig(a: object, b: object): ConfigChange[] {
  const out: ConfigChange[] = [];
  diffInto(a, b, "", out);
  return out;
}

/**
 * One line per change, for notebooks and error messages: `rm.lr: 0.0001 -> 0.0002`,
 * `rl.extra: (absent) -> true`.
 *
 * @example
 * ```ts
 * import { diffConfig, formatConfigDiff } from "./config.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(formatConfigDiff(diffConfig({ lr: 1 }, { lr: 2 })), "lr: 1 -> 2");
 * ```
 */
export function formatConfigDiff(changes: readonly ConfigChange[]): string {
  const v = (x: unknown) => (x === undefined ? "(absent)" : JSON.stringify(x));
  return changes.map((c) => `${c.path}: ${v(c.before)} -> ${v(c.after)}`).join("\n");
}
