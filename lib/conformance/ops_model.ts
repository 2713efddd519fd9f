/**
 * Conformance ops of lib/model (../shared/spec/conformance.md).
 * @module
 */
import type { Op } from "./ops.ts";

/** Ops of this area, by name. */
export const MODEL_OPS: Record<string, Op> = {};
