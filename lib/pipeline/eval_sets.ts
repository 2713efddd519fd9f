/**
 * Evaluation sets of the testbed (testbed.md pipeline steps 1, 4, 5), each a cached
 * artifact:
 * - `sft_eval`: the SFT policy's accuracy per ProcessBench-analogue bucket at
 *   temperature 1 and greedy, beside the data writer's ceiling on the same problems.
 * - `eval_processbench`: the ProcessBench analogue in the **shifted** format, from
 *   the policy's own samples on processbench-role problems, re-rendered and
 *   relabelled exactly, balanced erroneous / correct per bucket, with step token ends.
 * - `eval_bon`: `bonN` samples per held-out bon-role problem per split, with correctness.
 * - `eval_avg`: avg@k problem lists per policy-eval split.
 * @module
 */
import { join } from "node:path";
import type { TinyLM } from "../model/lm.ts";
import { CounterRng, type Rng } from "../prng.ts";
import type { Artifact, ArtifactCache } from "../run/cache.ts";
import {
  parseResponse,
  renderPrompt,
  renderResponse,
  stepTexts,
  traceOf,
} from "../testbed/format.ts";
import { labelResponse } from "../testbed/labeller.ts";
import { writeSftSolution } from "../testbed/misconceptions.ts";
import { stepTokenEnds } from "../testbed/processbench_rows.ts";
import { type Bucket, sampleProblems } from "../testbed/splits.ts";
import { answerOf, type Problem, problemKey } from "../testbed/task.ts";
import { verify } from "../testbed/verifier.ts";
import { readJsonlFile, writeJsonlFile } from "./_io.ts";
import { loadPolicy } from "./policy.ts";
import { type PipelineConfig, streamRng } from "./presets.ts";
import { accuracyByBucket, sampleRollouts } from "./rollouts.ts";
import type { EvalProblem, PbRow, Rollout } from "./types.ts";

/** Options shared by the builders that sample from the policy. */
export interface PolicySetOptions {
  /** The SFT policy artifact. */
  sft: Artifact;
  /** The loaded policy (default: loaded from `sft`, disposed after). */
  model?: TinyLM;
  /** Cache (default `new ArtifactCache()`). */
  cache?: ArtifactCache;
  /** Progress sink. */
  log?: (line: string) => void;
}

async function withModel<T>(
  config: PipelineConfig,
  options: PolicySetOptions,
  fn: (m: TinyLM) => Promise<T>,
): Promise<T> {
  const model = options.model ?? await loadPolicy(options.sft, { config });
  try {
    return await fn(model);
  } finally {
    if (!options.model) model.dispose();
  }
}

function drawBucket(
  rng: Rng,
  config: PipelineConfig,
  role: "processbench" | "bon" | "policy_eval",
  bucket: Bucket,
  n: number,
): Problem[] {
  return sampleProblems(rng, { role, bucket, n, task: config.task, split: config.split });
}

/** Summary of `sft_eval`. */
export interface SftEvalSummary {
  /** Accuracy per bucket at `sftEval.temperature`. */
  accuracy: Record<string, number>;
  /** Greedy accuracy per bucket. */
  greedy: Record<string, number>;
  /** The data writer's accuracy on the same problems (20 writes each): the policy's ceiling. */
  writer: Record<string, number>;
  /** Problems per bucket. */
  problemsPerBucket: number;
}

/**
 * SFT accuracy per ProcessBench-analogue bucket (temperature 1 and greedy), with the
 * data writer's ceiling. Files: `rollouts.jsonl` (T=1), `greedy.jsonl`, `summary.json`.
 */
export async function writeSftEval(
  dir: string,
  config: PipelineConfig,
  options: PolicySetOptions,
) {
  const rng = streamRng(config.evalSets.seed, "sft_eval/problems");
  const items = config.split.processbench.flatMap((b) =>
    drawBucket(rng, config, "processbench", b, config.sftEval.problemsPerBucket).map((
      problem,
    ) => ({
      problem,
      bucket: b.name,
    }))
  );
  const [sampled, greedy] = await withModel(config, options, async (m) => [
    await sampleRollouts(m, items, {
      rng: new CounterRng(config.evalSets.seed, "sft_eval/sampling"),
      n: 1,
      temperature: config.sftEval.temperature,
      batchRows: config.samplingBatch,
      label: "sft_eval",
      ...(options.log ? { log: options.log } : {}),
    }),
    await sampleRollouts(m, items, {
      rng: new CounterRng(config.evalSets.seed, "sft_eval/greedy"),
      n: 1,
      temperature: 0,
      batchRows: config.samplingBatch,
      label: "sft_eval_greedy",
      ...(options.log ? { log: options.log } : {}),
    }),
  ]);
  const wrng = streamRng(config.evalSets.seed, "sft_eval/writer");
  const writerRows = items.flatMap((it) =>
    Array.from({ length: 20 }, () => {
      const { trace } = writeSftSolution(it.problem, wrng, { config: config.sftData });
      return { bucket: it.bucket, correct: trace.answer === answerOf(it.problem) ? 1 : 0 };
    })
  );
  const summary: SftEvalSummary = {
    accuracy: accuracyByBucket(sampled),
    greedy: accuracyByBucket(greedy),
    writer: accuracyByBucket(writerRows),
    problemsPerBucket: config.sftEval.problemsPerBucket,
  };
  await writeJsonlFile(join(dir, "rollouts.jsonl"), sampled);
  await writeJsonlFile(join(dir, "greedy.jsonl"), greedy);
  await Deno.writeTextFile(join(dir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  return { ...summary };
}

/**
 * Re-renders an SFT-format response in the shifted format and labels it there
 * (verify lines are dropped, so a wrong verify line is no error in the shifted
 * rendering). Null when a segment does not parse or there is no step.
 *
 * @example
 * ```ts
 * import { toShiftedRow } from "./eval_sets.ts";
 * import { assertEquals } from "@std/assert";
 * const ops = [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }];
 * const problem = { start: 3, ops, modulus: 7 };
 * const response = ">3+4=1\n?1\n>1*2=2\n#2\n";
 * const row = toShiftedRow(problem, { response, bucket: "gsm8k", id: "gsm8k-0" });
 * assertEquals(row?.response, "3+4=1\n1*2=2\n$2\n");
 * assertEquals(row?.label, 0);
 * assertEquals(row?.step_ends, [6, 15]);
 * ```
 */
export function toShiftedRow(
  problem: Problem,
  options: { response: string; bucket: string; id: string; generator?: string },
): PbRow | null {
  const parsed = parseResponse(options.response, "sft");
  const trace = traceOf(parsed);
  if (trace === null || trace.steps.length === 0) return null;
  const response = renderResponse(trace, "shifted").text;
  const lab = labelResponse(problem, response, { format: "shifted" });
  return {
    id: options.id,
    generator: options.generator ?? "sft_policy",
    problem: renderPrompt(problem),
    steps: stepTexts(response, "shifted"),
    label: lab.label,
    final_answer_correct: verify(problem, response, { format: "shifted" }) === 1,
    bucket: options.bucket,
    problem_data: problem,
    response,
    step_ends: stepTokenEnds(response, { format: "shifted" }),
    error_kind: lab.kind,
    source_response: options.response,
  };
}

/** Summary of the ProcessBench analogue. */
export interface ProcessBenchSummary {
  /** Rows per bucket. */
  rows: Record<string, number>;
  /** Erroneous rows (label >= 0) per bucket. */
  erroneous: Record<string, number>;
  /** Correct rows (label -1) per bucket. */
  correct: Record<string, number>;
  /** Erroneous rows whose final answer is nevertheless right, per bucket. */
  erroneousButAnswerRight: Record<string, number>;
  /** Policy samples drawn per bucket. */
  sampled: Record<string, number>;
  /** Samples skipped because a segment did not parse, per bucket. */
  unparseable: Record<string, number>;
  /** Rows filled from the data writer because the policy's samples ran out (should be 0 beyond smoke). */
  writerFallback: Record<string, number>;
  /** All rows. */
  total: number;
}

/**
 * The ProcessBench analogue: per bucket `rowsPerBucket / 2` erroneous and as many
 * correct rows from the policy's own samples (one per distinct processbench-role
 * problem, in rounds until both quotas are met). When rounds run out (a policy too
 * weak to write correct traces, e.g. the smoke preset) the rest is filled from the
 * data writer, recorded as `generator: "data_writer"` and counted in the summary.
 * Files: `processbench.jsonl` ({@linkcode PbRow}), `summary.json`.
 */
export async function writeProcessBenchSet(
  dir: string,
  config: PipelineConfig,
  options: PolicySetOptions & { maxRounds?: number },
) {
  const maxRounds = options.maxRounds ?? config.evalSets.processbenchMaxRounds;
  const e = config.evalSets;
  const quota = e.processbenchRowsPerBucket / 2;
  const probRng = streamRng(e.seed, "processbench/problems");
  const sampRng = new CounterRng(e.seed, "processbench/sampling");
  const s: ProcessBenchSummary = {
    rows: {},
    erroneous: {},
    correct: {},
    erroneousButAnswerRight: {},
    sampled: {},
    unparseable: {},
    writerFallback: {},
    total: 0,
  };
  const all: PbRow[] = [];
  await withModel(config, options, async (model) => {
    for (const b of config.split.processbench) {
      const err: PbRow[] = [], ok: PbRow[] = [];
      const seen = new Set<string>();
      s.sampled[b.name] = 0;
      s.unparseable[b.name] = 0;
      for (
        let round = 0;
        round < maxRounds && (err.length < quota || ok.length < quota);
        round++
      ) {
        const want = Math.max(8, 2 * quota - err.length - ok.length);
        const problems = drawBucket(probRng, config, "processbench", b, want).filter((p) => {
          const k = problemKey(p);
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        });
        const rs = await sampleRollouts(
          model,
          problems.map((problem) => ({ problem, bucket: b.name })),
          {
            rng: sampRng,
            n: 1,
            temperature: e.processbenchTemperature,
            batchRows: config.samplingBatch,
            label: `processbench/${b.name}`,
            ...(options.log ? { log: options.log } : {}),
          },
        );
        s.sampled[b.name]! += rs.length;
        for (const r of rs) {
          const row = toShiftedRow(r.problem, { response: r.response, bucket: b.name, id: "" });
          if (row === null) {
            s.unparseable[b.name]!++;
            continue;
          }
          if (row.label >= 0 && err.length < quota) err.push(row);
          else if (row.label === -1 && ok.length < quota) ok.push(row);
        }
      }
      let fallback = 0;
      const wrng = streamRng(e.seed, `processbench/writer/${b.name}`);
      for (let tries = 0; (err.length < quota || ok.length < quota) && tries < 100_000; tries++) {
        const [p] = drawBucket(wrng, config, "processbench", b, 1);
        const { trace } = writeSftSolution(p!, wrng, { config: config.sftData });
        const text = renderResponse(trace, "sft").text;
        const row = toShiftedRow(p!, {
          response: text,
          bucket: b.name,
          id: "",
          generator: "data_writer",
        });
        if (row === null) continue;
        if (row.label >= 0 && err.length < quota) err.push(row), fallback++;
        else if (row.label === -1 && ok.length < quota) ok.push(row), fallback++;
      }
      if (err.length < quota || ok.length < quota) {
        throw new Error(`processbench bucket ${b.name}: could not fill ${quota} + ${quota} rows`);
      }
      if (fallback > 0) {
        (options.log ?? ((l: string) => console.error(l)))(
          `[processbench] ${b.name}: ${fallback} rows from the data writer (policy samples ran out)`,
        );
      }
      const rows = streamRng(e.seed, `processbench/shuffle/${b.name}`).shuffle([...err, ...ok]);
      rows.forEach((r, i) => (r.id = `${b.name}-${i}`));
      all.push(...rows);
      s.rows[b.name] = rows.length;
      s.erroneous[b.name] = err.length;
      s.correct[b.name] = ok.length;
      s.erroneousButAnswerRight[b.name] = err.filter((r) => r.final_answer_correct).length;
      s.writerFallback[b.name] = fallback;
    }
  });
  s.total = all.length;
  await writeJsonlFile(join(dir, "processbench.jsonl"), all);
  await Deno.writeTextFile(join(dir, "summary.json"), JSON.stringify(s, null, 2) + "\n");
  return { ...s };
}

/** Reads the ProcessBench-analogue rows. */
export async function readProcessBenchSet(artifact: Artifact): Promise<PbRow[]> {
  return await readJsonlFile<PbRow>(artifact.file("processbench.jsonl"));
}

function evalProblem(problem: Problem, split: string): EvalProblem {
  return {
    key: problemKey(problem),
    split,
    prompt: renderPrompt(problem),
    problem,
    answer: answerOf(problem),
  };
}

/**
 * Best-of-N set: per bon split, `bonProblemsPerSplit` bon-role problems with `bonN`
 * samples each. Files: `problems.jsonl` ({@linkcode EvalProblem}), `rollouts.jsonl`
 * (problem-major, `bonN` per problem), `summary.json` (mean accuracy and pass@N per split).
 */
export async function writeBonSet(
  dir: string,
  config: PipelineConfig,
  options: PolicySetOptions,
) {
  const e = config.evalSets;
  const rng = streamRng(e.seed, "bon/problems");
  const problems = config.split.bon.flatMap((b) =>
    drawBucket(rng, config, "bon", b, e.bonProblemsPerSplit).map((p) => evalProblem(p, b.name))
  );
  const rollouts = await withModel(
    config,
    options,
    (m) =>
      sampleRollouts(m, problems.map((p) => ({ problem: p.problem, bucket: p.split })), {
        rng: new CounterRng(e.seed, "bon/sampling"),
        n: e.bonN,
        temperature: e.bonTemperature,
        batchRows: config.samplingBatch,
        label: "bon",
        ...(options.log ? { log: options.log } : {}),
      }),
  );
  const pass: Record<string, number> = {};
  problems.forEach((p, i) => {
    const any = rollouts.slice(i * e.bonN, (i + 1) * e.bonN).some((r) => r.correct === 1);
    pass[p.split] = (pass[p.split] ?? 0) + (any ? 1 : 0);
  });
  for (const k of Object.keys(pass)) pass[k] = pass[k]! / e.bonProblemsPerSplit;
  const summary = {
    problems: problems.length,
    rollouts: rollouts.length,
    accuracy: accuracyByBucket(rollouts),
    passAtN: pass,
  };
  await writeJsonlFile(join(dir, "problems.jsonl"), problems);
  await writeJsonlFile(join(dir, "rollouts.jsonl"), rollouts);
  await Deno.writeTextFile(join(dir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  return summary;
}

/** Reads a BoN set: problems and their samples (`rollouts[i]` holds problem i's `bonN` samples). */
export async function readBonSet(
  artifact: Artifact,
): Promise<{ problems: EvalProblem[]; rollouts: Rollout[][] }> {
  const problems = await readJsonlFile<EvalProblem>(artifact.file("problems.jsonl"));
  const flat = await readJsonlFile<Rollout>(artifact.file("rollouts.jsonl"));
  const n = problems.length > 0 ? flat.length / problems.length : 0;
  return { problems, rollouts: problems.map((_, i) => flat.slice(i * n, (i + 1) * n)) };
}

/**
 * avg@k problem lists: `avgProblemsPerSplit` policy-eval problems per policy-eval
 * split (splits may share problems; none is a train problem). No policy needed.
 * Files: `problems.jsonl` ({@linkcode EvalProblem}).
 */
export async function writeAvgSet(
  dir: string,
  config: PipelineConfig,
) {
  const e = config.evalSets;
  const rng = streamRng(e.seed, "avg/problems");
  const problems = config.split.policyEval.flatMap((b) =>
    drawBucket(rng, config, "policy_eval", b, e.avgProblemsPerSplit).map((p) =>
      evalProblem(p, b.name)
    )
  );
  await writeJsonlFile(join(dir, "problems.jsonl"), problems);
  return { problems: problems.length, splits: config.split.policyEval.map((b) => b.name) };
}

/** Reads an avg@k problem list. */
export async function readAvgSet(artifact: Artifact): Promise<EvalProblem[]> {
  return await readJsonlFile<EvalProblem>(artifact.file("problems.jsonl"));
}
