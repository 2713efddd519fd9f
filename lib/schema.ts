/**
 * One small schema validator for every config resolver and argument checker of the lab
 * (RM, RL, pipeline, optimiser, conformance arguments, command-line flags, tensor-op
 * options): a schema is a {@linkcode Rule} or an object of schemas, {@linkcode validate}
 * walks it, and every failure is one message of one form,
 * `<prefix><path>: expected <what>, got <value>` (prefix `"Invalid "` by default), thrown as
 * the caller's error class. Choice rules take the `satisfies Record<Kind, ...>` tables
 * themselves ({@linkcode is}`.oneOf`), so the listed choices are the table's keys.
 *
 * Why ground level (beside lib/prng.ts, importing nothing): lib/model's optimiser checks
 * use it, and architecture.md lets Model import nothing above it. Cross-field invariants
 * ("batch must hold whole groups") stay in each resolver, beside the reason they exist.
 * @module
 */

/** A rule: `undefined` when the value is valid, else what was expected (`"an integer >= 1"`). */
export type Rule = (value: unknown) => string | undefined;

/** A schema: a rule, or an object whose keys are checked by their own schemas. */
export type Schema = Rule | { readonly [key: string]: Schema };

/**
 * A schema for every field of `T` (a nested object may get a nested schema or one rule);
 * a forgotten field is a type error.
 */
export type SchemaFor<T> = {
  readonly [K in keyof T]-?: NonNullable<T[K]> extends readonly unknown[] ? Rule
    : NonNullable<T[K]> extends object ? SchemaFor<NonNullable<T[K]>> | Rule
    : Rule;
};

/** Bounds of {@linkcode is}`.number`. */
export interface NumberBounds {
  /** Integers only. */
  int?: boolean;
  /** `>= min`. */
  min?: number;
  /** `> gt`. */
  gt?: number;
  /** `<= max`. */
  max?: number;
  /** `< lt`. */
  lt?: number;
  /** The noun of the message (default "a finite number" / "an integer"), e.g. "a probability". */
  what?: string;
}

function describeNumber(b: NumberBounds): string {
  const noun = b.what ?? (b.int ? "an integer" : "a finite number");
  const lo = b.min !== undefined ? `[${b.min}` : b.gt !== undefined ? `(${b.gt}` : undefined;
  const hi = b.max !== undefined ? `${b.max}]` : b.lt !== undefined ? `${b.lt})` : undefined;
  if (lo !== undefined && hi !== undefined) return `${noun} in ${lo}, ${hi}`;
  if (b.min !== undefined) return `${noun} >= ${b.min}`;
  if (b.gt !== undefined) return `${noun} > ${b.gt}`;
  if (b.max !== undefined) return `${noun} <= ${b.max}`;
  if (b.lt !== undefined) return `${noun} < ${b.lt}`;
  return noun;
}

/** The rules. */
export const is = {
  /** A finite number within `bounds`. */
  number(bounds: NumberBounds = {}): Rule {
    const what = describeNumber(bounds);
    return (v) =>
      typeof v === "number" && Number.isFinite(v) &&
        (!bounds.int || Number.isInteger(v)) &&
        (bounds.min === undefined || v >= bounds.min) &&
        (bounds.gt === undefined || v > bounds.gt) &&
        (bounds.max === undefined || v <= bounds.max) &&
        (bounds.lt === undefined || v < bounds.lt)
        ? undefined
        : what;
  },
  /** An integer within `bounds`. */
  integer(bounds: Omit<NumberBounds, "int"> = {}): Rule {
    return is.number({ ...bounds, int: true });
  },
  /** A key of `table` (a `satisfies Record<Kind, ...>` dispatch table) or an element of a list. */
  oneOf(table: Readonly<Record<string, unknown>> | readonly string[]): Rule {
    const keys: readonly string[] = Array.isArray(table) ? table : Object.keys(table);
    const what = `one of ${keys.map((k) => JSON.stringify(k)).join(", ")}`;
    return (v) => (typeof v === "string" && keys.includes(v) ? undefined : what);
  },
  /** `true` or `false`. */
  boolean(): Rule {
    return (v) => (typeof v === "boolean" ? undefined : "true or false");
  },
  /** `null` (meaning off / derived), or a value `rule` accepts. */
  nullable(rule: Rule): Rule {
    return (v) => (v === null ? undefined : rule(v));
  },
  /** Any value `test` accepts, described by `what`. */
  check(test: (v: unknown) => boolean, what: string): Rule {
    return (v) => (test(v) ? undefined : what);
  },
} as const;

/**
 * A value for a message: strings quoted, NaN/Infinity as themselves (JSON would print
 * `null`), `undefined` as "nothing", long values cut at 60 characters.
 *
 * @example
 * ```ts
 * import { show } from "./schema.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals([show("x"), show(NaN), show(undefined), show([1, 2])], ['"x"', "NaN", "nothing", "[1,2]"]);
 * ```
 */
export function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

/** Options of {@linkcode validate} and {@linkcode check}. */
export interface ValidateOptions {
  /** The error class thrown (default `RangeError`). */
  error?: new (message: string) => Error;
  /** Text before the path (default `"Invalid "`; the conformance faces use `""`). */
  prefix?: string;
  /** Reject keys an object schema does not name, listing the known ones (default false). */
  strict?: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Throws the caller's error, `<prefix><path>: <text>`. For messages a rule cannot say
 * (cross-field invariants), so that they have the same form as the schema's.
 */
export function fail(path: string, text: string, options: ValidateOptions = {}): never {
  const E = options.error ?? RangeError;
  throw new E(`${options.prefix ?? "Invalid "}${path}: ${text}`);
}

/**
 * Checks one value against one rule, naming it `path` in the message.
 *
 * @example
 * ```ts
 * import { check, is } from "./schema.ts";
 * import { assertThrows } from "@std/assert";
 * check(3, is.integer({ min: 1 }), "steps");
 * assertThrows(() => check(0, is.integer({ min: 1 }), "steps"), RangeError, "Invalid steps: expected an integer >= 1, got 0");
 * ```
 */
export function check(
  value: unknown,
  rule: Rule,
  path: string,
  options: ValidateOptions = {},
): void {
  const what = rule(value);
  if (what !== undefined) fail(path, `expected ${what}, got ${show(value)}`, options);
}

/**
 * Checks `value` against `schema` key by key (depth first, in the schema's key order),
 * throwing at the first failure with the dotted path of the field.
 *
 * @example
 * ```ts
 * import { is, validate } from "./schema.ts";
 * import { assertThrows } from "@std/assert";
 * const schema = { kind: is.oneOf({ adam: 1, adamw: 1 }), train: { lr: is.number({ gt: 0 }) } };
 * validate({ kind: "adam", train: { lr: 1e-3 } }, schema);
 * assertThrows(
 *   () => validate({ kind: "sgd", train: { lr: 1 } }, schema),
 *   RangeError,
 *   'Invalid kind: expected one of "adam", "adamw", got "sgd"',
 * );
 * assertThrows(
 *   () => validate({ kind: "adam", train: { lr: 1, lrr: 2 } }, schema, { strict: true }),
 *   RangeError,
 *   "Invalid train.lrr: unknown field (known: lr)",
 * );
 * ```
 */
export function validate(
  value: unknown,
  schema: Schema,
  options: ValidateOptions & { path?: string } = {},
): void {
  walk(value, schema, options.path ?? "", options);
}

function walk(value: unknown, schema: Schema, path: string, options: ValidateOptions): void {
  if (typeof schema === "function") return check(value, schema, path || "value", options);
  if (!isRecord(value)) fail(path || "value", `expected an object, got ${show(value)}`, options);
  const known = Object.keys(schema);
  if (options.strict) {
    for (const k of Object.keys(value)) {
      if (!known.includes(k)) {
        fail(join(path, k), `unknown field (known: ${known.join(", ")})`, options);
      }
    }
  }
  for (const k of known) walk(value[k], schema[k]!, join(path, k), options);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
