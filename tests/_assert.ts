/**
 * A small stand-in for `jsr:@std/assert` (JSR is not reachable from our machines),
 * with the same names and argument order for the subset we use, on top of
 * `node:assert/strict`. Switch to `jsr:@std/assert` by one line in deno.json.
 * @module
 */
import assert from "node:assert/strict";

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert_(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg || "Expected expression to be truthy");
}
export { assert_ as assert };

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    assert.deepStrictEqual(actual, expected);
  } catch (e) {
    throw new AssertionError(`${msg ? msg + ": " : ""}${(e as Error).message}`);
  }
}

export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    assert.notDeepStrictEqual(actual, expected);
  } catch (e) {
    throw new AssertionError(`${msg ? msg + ": " : ""}${(e as Error).message}`);
  }
}

export function assertStrictEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}Values are not strictly equal: ${String(actual)} !== ${
        String(expected)
      }`,
    );
  }
}

/** |actual - expected| <= tolerance (default 1e-7), as in @std/assert. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  if (!(delta <= tolerance)) {
    throw new AssertionError(
      `${
        msg ? msg + ": " : ""
      }Expected actual: "${actual}" to be close to "${expected}": delta "${delta.toExponential()}" is greater than "${tolerance.toExponential()}"`,
    );
  }
}

/** Element-wise assertAlmostEquals over (nested) arrays of numbers. */
export function assertArrayAlmostEquals(
  actual: ArrayLike<unknown>,
  expected: ArrayLike<unknown>,
  tolerance = 1e-6,
  msg?: string,
  path = "",
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}length mismatch at ${
        path || "root"
      }: ${actual.length} vs ${expected.length}`,
    );
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const p = `${path}[${i}]`;
    if (typeof e === "number") {
      if (typeof a !== "number") throw new AssertionError(`${msg ?? ""} ${p}: expected number`);
      assertAlmostEquals(a, e, tolerance, `${msg ? msg + " " : ""}at ${p}`);
    } else {
      assertArrayAlmostEquals(a as ArrayLike<unknown>, e as ArrayLike<unknown>, tolerance, msg, p);
    }
  }
}

export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
  msg?: string,
): Error {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  return checkError(err, ErrorClass, msgIncludes, msg);
}

export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
  msg?: string,
): Promise<Error> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  return checkError(err, ErrorClass, msgIncludes, msg);
}

function checkError(
  err: unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
  msg?: string,
): Error {
  const pre = msg ? msg + ": " : "";
  if (err === undefined) throw new AssertionError(`${pre}Expected function to throw.`);
  if (!(err instanceof Error)) throw new AssertionError(`${pre}A non-Error object was thrown.`);
  if (ErrorClass && !(err instanceof ErrorClass)) {
    throw new AssertionError(
      `${pre}Expected error to be instance of "${ErrorClass.name}", but was "${
        (err as Error).constructor.name
      }".`,
    );
  }
  if (msgIncludes !== undefined && !err.message.includes(msgIncludes)) {
    throw new AssertionError(
      `${pre}Expected error message to include "${msgIncludes}", but got "${err.message}".`,
    );
  }
  return err;
}

export function assertGreater(actual: number, expected: number, msg?: string): void {
  if (!(actual > expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}Expected ${actual} > ${expected}`);
  }
}

export function assertLess(actual: number, expected: number, msg?: string): void {
  if (!(actual < expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}Expected ${actual} < ${expected}`);
  }
}

export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (!expected.test(actual)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}Expected actual: "${actual}" to match: "${expected}".`,
    );
  }
}

export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}Expected actual: "${actual}" to contain: "${expected}".`,
    );
  }
}

export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${msg ? `: ${msg}` : "."}`);
}
