/**
 * The registry of conformance ops: each area of lib/ owns one record.
 * @module
 */
import type { Args } from "./_args.ts";
import { MODEL_OPS } from "./ops_model.ts";
import { RM_OPS } from "./ops_rm.ts";
import { RL_OPS } from "./ops_rl.ts";
import { EVAL_OPS } from "./ops_eval.ts";

/** One op: checked args in, a JSON-able object out. */
export type Op = (args: Args) => unknown | Promise<unknown>;

/** Every op `deno task conformance` answers. */
export const OPS: Readonly<Record<string, Op>> = {
  ...MODEL_OPS,
  ...RM_OPS,
  ...RL_OPS,
  ...EVAL_OPS,
};
