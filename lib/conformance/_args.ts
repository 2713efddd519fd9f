/**
 * Argument checks for the conformance ops (../shared/spec/conformance.md): each
 * returns plain JS values or throws {@linkcode ArgError} naming the argument, what
 * was expected and what came.
 * @module
 */
import { check, is, type Rule, show } from "../schema.ts";

/** Bad input to an op; the message starts with the argument's name. */
export class ArgError extends Error {
  override name = "ArgError";
}

/** An op's `args` object. */
export type Args = Record<string, unknown>;

function where(path: number[]): string {
  return path.map((i) => `[${i}]`).join("");
}

/** Checks `v` against `rule` as argument `name` (conformance.md: messages start with the name). */
function checked<T>(v: unknown, rule: Rule, name: string): T {
  check(v, rule, name, { error: ArgError, prefix: "" });
  return v as T;
}

/** The value of `name`, or `def` when absent (`undefined`); throws when required and absent. */
function raw(args: Args, name: string, def?: unknown): unknown {
  const v = args[name];
  if (v === undefined) {
    if (def !== undefined) return def;
    throw new ArgError(`${name}: required argument is missing`);
  }
  return v;
}

/** A finite number. */
export function num(args: Args, name: string, def?: number): number {
  return checked(raw(args, name, def), is.number(), name);
}

/** A finite number or null (null = off). */
export function numOrNull(args: Args, name: string): number | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  return num(args, name);
}

/** An integer >= min. */
export function int(args: Args, name: string, def?: number, min = 1): number {
  return checked(raw(args, name, def), is.integer({ min }), name);
}

/** A boolean. */
export function bool(args: Args, name: string, def?: boolean): boolean {
  return checked(raw(args, name, def), is.boolean(), name);
}

/** One of `choices`. */
export function choice<T extends string>(
  args: Args,
  name: string,
  choices: readonly T[],
  def?: T,
): T {
  return checked(raw(args, name, def), is.oneOf(choices), name);
}

/**
 * A rectangular nested array of finite numbers of the given rank; `dims` fixes
 * sizes (`undefined` entries are free). Returns the nested array and its shape.
 */
export function tensorArg(
  args: Args,
  name: string,
  rank: number,
  dims: ReadonlyArray<number | undefined> = [],
  label?: string,
): { value: unknown[]; shape: number[] } {
  const v = raw(args, name);
  return checkTensor(v, name, rank, dims, label);
}

/** {@linkcode tensorArg} on a value already in hand. */
export function checkTensor(
  v: unknown,
  name: string,
  rank: number,
  dims: ReadonlyArray<number | undefined> = [],
  label?: string,
): { value: unknown[]; shape: number[] } {
  const want = label ?? defaultLabel(rank);
  const fail = (why: string): never => {
    throw new ArgError(`${name}: expected a ${want} array of finite numbers, ${why}`);
  };
  const shape: number[] = [];
  const walk = (x: unknown, depth: number, path: number[]): void => {
    if (depth === rank) {
      if (typeof x !== "number" || !Number.isFinite(x)) {
        fail(`got ${show(x)} at ${where(path) || "top level"}`);
      }
      return;
    }
    if (!Array.isArray(x)) fail(`got ${show(x)} at ${where(path) || "top level"}`);
    const arr = x as unknown[];
    if (shape[depth] === undefined) {
      shape[depth] = arr.length;
      const d = dims[depth];
      if (d !== undefined && arr.length !== d) {
        fail(`got length ${arr.length} at depth ${depth}, expected ${d}`);
      }
    } else if (shape[depth] !== arr.length) {
      fail(`got ragged lengths (${arr.length} vs ${shape[depth]}) at ${where(path)}`);
    }
    for (let i = 0; i < arr.length; i++) walk(arr[i], depth + 1, [...path, i]);
  };
  walk(v, 0, []);
  // Empty outer arrays leave inner sizes unknown: fill with 0 (or the fixed size).
  for (let d = 0; d < rank; d++) if (shape[d] === undefined) shape[d] = dims[d] ?? 0;
  return { value: v as unknown[], shape };
}

function defaultLabel(rank: number): string {
  return ["scalar", "[N]", "[B][L]", "[B][L][K]", "[N][M][K][J]"][rank] ?? `rank-${rank}`;
}

/** A `[N]` array of finite numbers. */
export function vec(args: Args, name: string, len?: number, def?: number[]): number[] {
  if (args[name] === undefined && def !== undefined) return def;
  return tensorArg(args, name, 1, [len], "[N]").value as number[];
}

/** A `[B][L]` array of finite numbers. */
export function mat(args: Args, name: string, rows?: number, cols?: number): number[][] {
  return tensorArg(args, name, 2, [rows, cols], "[B][L]").value as number[][];
}

/** A `[B][L][K]` array of finite numbers. */
export function cube(
  args: Args,
  name: string,
  d0?: number,
  d1?: number,
  d2?: number,
): number[][][] {
  return tensorArg(args, name, 3, [d0, d1, d2], "[B][L][K]").value as number[][][];
}

/**
 * A `[B][L]` mask of 0/1 with the valid tokens first (right padding).
 * `requireRowValid` makes a row with no valid token an error.
 */
export function mask(
  args: Args,
  name: string,
  rows: number,
  cols: number,
  requireRowValid = false,
): number[][] {
  const m = mat(args, name, rows, cols);
  for (let b = 0; b < m.length; b++) {
    const row = m[b]!;
    let seenZero = false;
    for (let t = 0; t < row.length; t++) {
      const x = row[t]!;
      if (x !== 0 && x !== 1) {
        throw new ArgError(`${name}: expected 0/1 values, got ${x} at [${b}][${t}]`);
      }
      if (x === 0) seenZero = true;
      else if (seenZero) {
        throw new ArgError(
          `${name}: expected the valid tokens first (right padding), got a 1 after a 0 at [${b}][${t}]`,
        );
      }
    }
    if (requireRowValid && (row.length === 0 || row[0] === 0)) {
      throw new ArgError(`${name}: row ${b} has no valid token (a per-sequence mean needs one)`);
    }
  }
  return m;
}

/** A `[B]` array of 0/1 labels. */
export function labels01(args: Args, name: string, len?: number): number[] {
  const v = vec(args, name, len);
  v.forEach((x, i) => {
    if (x !== 0 && x !== 1) throw new ArgError(`${name}: expected 0/1 values, got ${x} at [${i}]`);
  });
  return v;
}

/** Checks that `groupSize` divides `b` (groups are consecutive blocks). */
export function checkGroups(b: number, groupSize: number, name = "group_size"): void {
  if (b % groupSize !== 0) {
    throw new ArgError(`${name}: must divide the batch: B=${b}, group_size=${groupSize}`);
  }
}
