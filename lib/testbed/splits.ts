/**
 * Problem splits and difficulty buckets. A problem's role (train, ProcessBench
 * analogue, best-of-N, policy evaluation) is a function of a hash of its key, so
 * the roles are disjoint by construction: a test problem can never be a training
 * problem, whatever the sampling seed. Within a role, buckets select the chain
 * length k (the stand-ins for the paper's benchmark columns).
 * @module
 */
import { hashString, type Rng } from "../prng.ts";
import {
  generateProblem,
  type Problem,
  problemKey,
  resolveTaskConfig,
  type TaskConfig,
} from "./task.ts";

/** What a problem may be used for. */
export type Role = "train" | "processbench" | "bon" | "policy_eval";

/** Every role, in the order of the hash partition. */
export const ROLES: readonly Role[] = ["train", "processbench", "bon", "policy_eval"];

/** A difficulty bucket: a named range of chain lengths. */
export interface Bucket {
  /** The benchmark it stands in for. */
  name: string;
  /** Shortest k. */
  minSteps: number;
  /** Longest k. */
  maxSteps: number;
}

/** How problems are split. */
export interface SplitConfig {
  /** Salt of the role hash (change it to draw another partition). */
  salt: string;
  /** Fraction of the problem space per role (sum 1). */
  fractions: Record<Role, number>;
  /** ProcessBench analogue columns (GSM8K / MATH / OlympiadBench / Omni-MATH), easy to hard. */
  processbench: Bucket[];
  /** Best-of-N columns (MATH-500 / Minerva). */
  bon: Bucket[];
  /** avg@k columns (AIME / MATH-500 / Minerva / OlympiadBench / AMC); they may overlap each other, never train. */
  policyEval: Bucket[];
}

/** Defaults for k in 2..8. */
export const DEFAULT_SPLIT_CONFIG: Readonly<SplitConfig> = {
  salt: "pvl-splits-v1",
  fractions: { train: 0.7, processbench: 0.1, bon: 0.1, policy_eval: 0.1 },
  processbench: [
    { name: "gsm8k", minSteps: 2, maxSteps: 3 },
    { name: "math", minSteps: 4, maxSteps: 5 },
    { name: "olympiadbench", minSteps: 6, maxSteps: 7 },
    { name: "omnimath", minSteps: 8, maxSteps: 8 },
  ],
  bon: [
    { name: "math500", minSteps: 3, maxSteps: 5 },
    { name: "minerva", minSteps: 6, maxSteps: 8 },
  ],
  policyEval: [
    { name: "aime", minSteps: 8, maxSteps: 8 },
    { name: "math500", minSteps: 3, maxSteps: 5 },
    { name: "minerva", minSteps: 5, maxSteps: 7 },
    { name: "olympiadbench", minSteps: 6, maxSteps: 8 },
    { name: "amc", minSteps: 4, maxSteps: 6 },
  ],
};

/**
 * Fills defaults and checks fractions and buckets against the task's k range.
 *
 * @example
 * ```ts
 * import { resolveSplitConfig } from "./splits.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(resolveSplitConfig({}, { task: { maxSteps: 8 } }).processbench.length, 4);
 * ```
 */
export function resolveSplitConfig(
  overrides: Partial<SplitConfig>,
  options: { task?: Partial<TaskConfig> } = {},
): SplitConfig {
  const c: SplitConfig = { ...DEFAULT_SPLIT_CONFIG, ...overrides };
  const t = resolveTaskConfig(options.task);
  let sum = 0;
  for (const r of ROLES) {
    const f = c.fractions[r];
    if (typeof f !== "number" || !(f >= 0 && f <= 1)) {
      throw new RangeError(`fractions.${r}: expected a number in [0, 1], got ${f}`);
    }
    sum += f;
  }
  if (Math.abs(sum - 1) > 1e-9) throw new RangeError(`fractions: must sum to 1, got ${sum}`);
  for (const key of ["processbench", "bon", "policyEval"] as const) {
    c[key].forEach((b, i) => {
      if (
        !Number.isInteger(b.minSteps) || !Number.isInteger(b.maxSteps) || b.minSteps < t.minSteps ||
        b.maxSteps > t.maxSteps || b.minSteps > b.maxSteps
      ) {
        throw new RangeError(
          `${key}[${i}] (${b.name}): expected ${t.minSteps} <= minSteps <= maxSteps <= ${t.maxSteps}, got ${b.minSteps}..${b.maxSteps}`,
        );
      }
    });
  }
  return structuredClone(c);
}

/**
 * The role of a problem: a hash of its key and the salt, partitioned by the fractions.
 *
 * @example
 * ```ts
 * import { roleOf } from "./splits.ts";
 * import { assertEquals } from "@std/assert";
 * const ops = [{ op: "+" as const, operand: 2 }, { op: "*" as const, operand: 3 }];
 * const p = { start: 1, ops, modulus: 7 };
 * assertEquals(roleOf(p), roleOf(structuredClone(p)));
 * ```
 */
export function roleOf(problem: Problem, options: { config?: Partial<SplitConfig> } = {}): Role {
  const c = { ...DEFAULT_SPLIT_CONFIG, ...options.config };
  const u = hashString(`${c.salt}#${problemKey(problem)}`) / 4294967296;
  let acc = 0;
  for (const r of ROLES) {
    acc += c.fractions[r];
    if (u < acc) return r;
  }
  return ROLES.at(-1)!;
}

/**
 * Draws `n` problems of a role with k in a bucket (rejection sampling on the role
 * hash). `unique` (default true) forbids repeats; throws when the pool is too small.
 *
 * @example
 * ```ts
 * import { sampleProblems } from "./splits.ts";
 * import { Rng } from "../prng.ts";
 * import { assertEquals } from "@std/assert";
 * const bucket = { name: "b", minSteps: 3, maxSteps: 4 };
 * const ps = sampleProblems(new Rng(1), { role: "bon", bucket, n: 5 });
 * assertEquals(ps.length, 5);
 * ```
 */
export function sampleProblems(
  rng: Rng,
  options: {
    role: Role;
    bucket: Bucket;
    n: number;
    unique?: boolean;
    task?: Partial<TaskConfig>;
    split?: Partial<SplitConfig>;
    maxTries?: number;
  },
): Problem[] {
  const { role, bucket, n } = options;
  const task = resolveTaskConfig(options.task);
  const split = resolveSplitConfig(options.split ?? {}, { task });
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n: expected an integer >= 0, got ${n}`);
  const unique = options.unique ?? true;
  const maxTries = options.maxTries ?? 1000 * n + 10000;
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (let tries = 0; out.length < n; tries++) {
    if (tries >= maxTries) {
      throw new RangeError(
        `n: could not draw ${n} ${
          unique ? "distinct " : ""
        }${role} problems in bucket ${bucket.name} (got ${out.length} in ${maxTries} tries)`,
      );
    }
    const k = rng.range(bucket.minSteps, bucket.maxSteps);
    const p = generateProblem(rng, { config: task, steps: k });
    if (roleOf(p, { config: split }) !== role) continue;
    const key = problemKey(p);
    if (unique && seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}
