/**
 * Run ids name a run as `ablation__variant__seed` (STYLE item 9): the ablation (one
 * file in `lib/experiments/`), the variant inside it and the seed, e.g.
 * `ipvrm_weighting__late__3`. Ids are used as directory names and table keys, so
 * they are restricted to a safe alphabet and always parse back.
 * @module
 */

/** The parts of a run id. */
export interface RunIdParts {
  /** Ablation name: lowercase letters, digits, `_` and `-`; no `__`, no edge `_`. */
  ablation: string;
  /** Variant name, same alphabet as `ablation`. */
  variant: string;
  /** Seed: a non-negative safe integer. */
  seed: number;
}

const SEPARATOR = "__";
const SEGMENT = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Check one run-id segment (`ablation` or `variant`); throws a `RangeError` that
 * names the argument and says what was expected. Exported for other names that
 * share the alphabet (cache stage names).
 *
 * @example
 * ```ts
 * import { validateSegment } from "./run_id.ts";
 * import { assertThrows } from "@std/assert";
 * validateSegment("ablation", "rm_weighting"); // passes: returns nothing
 * assertThrows(() => validateSegment("ablation", "RM"), RangeError, "Invalid ablation");
 * ```
 */
export function validateSegment(name: string, value: unknown): void {
  if (typeof value !== "string") {
    throw new RangeError(`Invalid ${name}: expected a string, got ${typeof value}`);
  }
  if (!SEGMENT.test(value) || value.endsWith("_")) {
    throw new RangeError(
      `Invalid ${name}: expected lowercase letters, digits, "_" or "-", starting with a ` +
        `letter or digit and not ending with "_", got ${JSON.stringify(value)}`,
    );
  }
  if (value.includes(SEPARATOR)) {
    throw new RangeError(
      `Invalid ${name}: "${SEPARATOR}" is the run-id separator and cannot appear inside ` +
        `a segment, got ${JSON.stringify(value)}`,
    );
  }
}

function validateSeed(seed: unknown): void {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(
      `Invalid seed: expected a non-negative integer, got ${JSON.stringify(seed) ?? String(seed)}`,
    );
  }
}

/**
 * Format a run id `ablation__variant__seed` from its parts, validating each.
 *
 * @example
 * ```ts
 * import { formatRunId } from "./run_id.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(
 *   formatRunId({ ablation: "ipvrm_weighting", variant: "late", seed: 3 }),
 *   "ipvrm_weighting__late__3",
 * );
 * ```
 */
export function formatRunId(parts: RunIdParts): string {
  validateSegment("ablation", parts.ablation);
  validateSegment("variant", parts.variant);
  validateSeed(parts.seed);
  return [parts.ablation, parts.variant, String(parts.seed)].join(SEPARATOR);
}

/**
 * Parse a run id back into its parts; throws a `RangeError` naming what is wrong.
 * `parseRunId(formatRunId(p))` equals `p` for every valid `p`.
 *
 * @example
 * ```ts
 * import { parseRunId } from "./run_id.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(parseRunId("ipvrm_weighting__late__3"), { ablation: "ipvrm_weighting", variant: "late", seed: 3 });
 * ```
 */
export function parseRunId(id: string): RunIdParts {
  if (typeof id !== "string") {
    throw new RangeError(`Invalid run id: expected a string, got ${typeof id}`);
  }
  const parts = id.split(SEPARATOR);
  if (parts.length !== 3) {
    throw new RangeError(
      `Invalid run id: expected "ablation__variant__seed" (3 parts separated by "__"), ` +
        `got ${JSON.stringify(id)} (${parts.length} part${parts.length === 1 ? "" : "s"})`,
    );
  }
  const [ablation, variant, seedText] = parts as [string, string, string];
  validateSegment("ablation", ablation);
  validateSegment("variant", variant);
  if (!/^(0|[1-9][0-9]*)$/.test(seedText)) {
    throw new RangeError(
      `Invalid seed in run id ${JSON.stringify(id)}: expected a non-negative integer without ` +
        `leading zeros, got ${JSON.stringify(seedText)}`,
    );
  }
  const seed = Number(seedText);
  validateSeed(seed);
  return { ablation, variant, seed };
}
