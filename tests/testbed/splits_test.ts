import { assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../lib/prng.ts";
import {
  DEFAULT_SPLIT_CONFIG,
  resolveSplitConfig,
  roleOf,
  ROLES,
  sampleProblems,
} from "../../lib/testbed/splits.ts";
import { generateProblem, problemKey } from "../../lib/testbed/task.ts";

Deno.test("sampled train and test problems never overlap, whatever the seeds", () => {
  const train = sampleProblems(new Rng(1), {
    role: "train",
    bucket: { name: "all", minSteps: 2, maxSteps: 3 },
    n: 1500,
  });
  const trainKeys = new Set(train.map(problemKey));
  for (const role of ["processbench", "bon", "policy_eval"] as const) {
    const test = sampleProblems(new Rng(2), {
      role,
      bucket: { name: "b", minSteps: 2, maxSteps: 3 },
      n: 200,
    });
    for (const p of test) {
      if (trainKeys.has(problemKey(p))) {
        throw new Error(`${role} problem in train: ${problemKey(p)}`);
      }
    }
    assertEquals(new Set(test.map(problemKey)).size, 200);
    for (const p of test) assertEquals(roleOf(p), role);
  }
});

Deno.test("roles follow the configured fractions (within 4 sigma) and buckets fix k", () => {
  const rng = new Rng(5);
  const counts = Object.fromEntries(ROLES.map((r) => [r, 0])) as Record<string, number>;
  const n = 20000;
  for (let i = 0; i < n; i++) counts[roleOf(generateProblem(rng, { steps: 6 }))]!++;
  for (const r of ROLES) {
    const f = DEFAULT_SPLIT_CONFIG.fractions[r];
    if (Math.abs(counts[r]! - n * f) > 4 * Math.sqrt(n * f * (1 - f))) {
      throw new Error(`${r}: ${counts[r]}`);
    }
  }
  for (const b of DEFAULT_SPLIT_CONFIG.processbench) {
    const ps = sampleProblems(rng, { role: "processbench", bucket: b, n: 50 });
    for (const p of ps) {
      if (p.ops.length < b.minSteps || p.ops.length > b.maxSteps) throw new Error(b.name);
    }
  }
});

Deno.test("sampleProblems() fails loudly when the pool is too small; configs are checked", () => {
  // k = 1 mod 7 with + - *: 7 * 18 = 126 problems, about 13 in the bon role
  assertThrows(
    () =>
      sampleProblems(new Rng(1), {
        role: "bon",
        bucket: { name: "tiny", minSteps: 1, maxSteps: 1 },
        n: 100,
        task: { minSteps: 1 },
        maxTries: 20000,
      }),
    RangeError,
    "could not draw",
  );
  assertThrows(
    () =>
      resolveSplitConfig({
        fractions: { train: 0.5, processbench: 0.1, bon: 0.1, policy_eval: 0.1 },
      }),
    RangeError,
    "fractions",
  );
  assertThrows(
    () => resolveSplitConfig({}, { task: { maxSteps: 6 } }),
    RangeError,
    "processbench[2]",
  );
});
