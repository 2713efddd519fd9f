/**
 * Command-line flag parsing shared by the CLIs: `--name value` or `--name=value`,
 * with errors that name the flag, what was expected and what came.
 * @module
 */
import { check, is } from "../schema.ts";

/** The value of flag `name` (`--name v` or `--name=v`), or undefined. */
export function argValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === name) return args[i + 1];
    if (a.startsWith(name + "=")) return a.slice(name.length + 1);
  }
  return undefined;
}

/** Flag `name` checked against `allowed`; `dflt` when absent. */
export function oneOf<T extends string>(
  args: readonly string[],
  name: string,
  allowed: readonly T[],
  dflt?: T,
): T | undefined {
  const v = argValue(args, name);
  if (v === undefined) return dflt;
  check(v, is.oneOf(allowed), name);
  return v as T;
}

/** Flag `name` as a number accepted by `accept` (described by `what`), or undefined. */
export function numberArg(
  args: readonly string[],
  name: string,
  accept: (n: number) => boolean,
  what: string,
): number | undefined {
  const v = argValue(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  // The message shows the flag's text as typed ("two"), not the number it parsed to (NaN).
  check(v, is.check(() => accept(n), what), name);
  return n;
}

/** Flag `name` as an integer >= 1 (seeds, counts), or undefined. */
export function positiveIntArg(args: readonly string[], name: string): number | undefined {
  return numberArg(args, name, (n) => Number.isInteger(n) && n >= 1, "an integer >= 1");
}
