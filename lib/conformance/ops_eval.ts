/**
 * Conformance ops of lib/eval (../shared/spec/conformance.md).
 * @module
 */
import type { Op } from "./ops.ts";

/** Ops of this area, by name. */
export const EVAL_OPS: Record<string, Op> = {};
