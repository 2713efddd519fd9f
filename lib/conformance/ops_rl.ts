/**
 * Conformance ops of lib/rl (../shared/spec/conformance.md).
 * @module
 */
import type { Op } from "./ops.ts";

/** Ops of this area, by name. */
export const RL_OPS: Record<string, Op> = {};
