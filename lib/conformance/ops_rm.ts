/**
 * Conformance ops of lib/rm (../shared/spec/conformance.md).
 * @module
 */
import type { Op } from "./ops.ts";

/** Ops of this area, by name. */
export const RM_OPS: Record<string, Op> = {};
