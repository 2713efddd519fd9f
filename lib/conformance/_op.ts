/**
 * The shape of one conformance op, in its own module so that the registry (ops.ts) and the op
 * files (ops_model.ts, ops_rm.ts, ops_rl.ts, ops_eval.ts) import it without importing each other.
 * @module
 */
import type { Args } from "./_args.ts";

/** One op: checked args in, a JSON-able object out. */
export type Op = (args: Args) => unknown | Promise<unknown>;
