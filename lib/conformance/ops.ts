/**
 * The registry of conformance ops: each area of lib/ owns one record.
 * @module
 */
import type { Op } from "./_op.ts";
import { MODEL_OPS } from "./ops_model.ts";
import { RM_OPS } from "./ops_rm.ts";
import { RL_OPS } from "./ops_rl.ts";
import { EVAL_OPS } from "./ops_eval.ts";

export type { Op } from "./_op.ts";

/** Every op `deno task conformance` answers. */
export const OPS: Readonly<Record<string, Op>> = {
  ...MODEL_OPS,
  ...RM_OPS,
  ...RL_OPS,
  ...EVAL_OPS,
};
