/**
 * Prefix-Value Lab: the one public entry of `lib/`.
 *
 * Areas: `model/` (tiny causal LM on tfjs: forward, training, KV-cache sampling,
 * safetensors checkpoints), `rm/` (implicit reward models: log-ratios, prefix values,
 * DPO-RM / Implicit PRM / IPVRM losses, trainer, evaluation), `rl/` (advantages,
 * candidate sets, policy losses, ADB/DLW, the RL step and runs), `eval/` (ProcessBench F1,
 * best-of-N, avg@k), `testbed/` (the synthetic task), `data/` (real-format loaders),
 * `pipeline/` (SFT policy, rollouts, RM data, eval sets), `run/` (cache, progress,
 * results), `report/` (statistics, tables, figures). The RM and RL configs share switch
 * names, so they are exported as the namespaces `rmConfig` and `rlConfig`.
 *
 * @example
 * ```ts ignore
 * import { initBackend, createLM, Rng } from "./mod.ts";
 * await initBackend("wasm");
 * const lm = createLM({ vocab: 26, width: 32, layers: 2, heads: 2, context: 32 }, { rng: new Rng(1) });
 * lm.dispose();
 * ```
 * @module
 */
export * from "./backend.ts";
export * from "./checks.ts";
export * from "./data/math_jsonl.ts";
export * from "./data/parquet.ts";
export * from "./data/processbench.ts";
export * from "./eval/avg_at_k.ts";
export * from "./eval/best_of_n.ts";
export * from "./eval/candidate_set.ts";
export * from "./eval/processbench.ts";
export * from "./eval/step_scores.ts";
export * from "./model/checkpoint.ts";
export * from "./model/config.ts";
export * from "./model/exchange.ts";
export * from "./model/lm.ts";
export * from "./model/logprobs.ts";
export * from "./model/safetensors.ts";
export * from "./model/sample.ts";
export * from "./model/train.ts";
export * from "./pipeline/batching.ts";
export * from "./pipeline/corpus.ts";
export * from "./pipeline/eval_sets.ts";
export * from "./pipeline/policy.ts";
export * from "./pipeline/presets.ts";
export * from "./pipeline/rm_data.ts";
export * from "./pipeline/rollouts.ts";
export * from "./pipeline/stages.ts";
export * from "./pipeline/types.ts";
export * from "./prng.ts";
export * from "./report/export.ts";
export * from "./report/figures.ts";
export * from "./report/index_page.ts";
export * from "./report/jupyter.ts";
export * from "./report/paper.ts";
export * from "./report/stats.ts";
export * from "./report/tables.ts";
export * from "./rl/adb_dlw.ts";
export * from "./rl/advantages.ts";
export * from "./rl/candidates.ts";
export * as rlConfig from "./rl/config.ts";
export * as onlineRm from "./rl/online_rm.ts";
export * from "./rl/policy_loss.ts";
export * from "./rl/policy_update.ts";
export * from "./rl/prime.ts";
export * from "./rl/run.ts";
export * from "./rl/step.ts";
export * as rmConfig from "./rm/config.ts";
export * from "./rm/evaluate.ts";
export * from "./rm/kinds.ts";
export * from "./rm/losses.ts";
export * from "./rm/pair_accuracy.ts";
export * from "./rm/prefix_values.ts";
export * from "./rm/score.ts";
export * from "./rm/train.ts";
export * from "./run/cache.ts";
export * from "./run/config.ts";
export * from "./run/hash.ts";
export * from "./run/progress.ts";
export * from "./run/results.ts";
export * from "./run/run_id.ts";
export * as schema from "./schema.ts";
// namespaced: its BRANCH_P is eval/candidate_set.ts's, re-declared to keep tfjs out of the testbed
export * as writerCalculator from "./testbed/calculator.ts";
export * from "./testbed/format.ts";
export * from "./testbed/labeller.ts";
export * from "./testbed/misconceptions.ts";
export * from "./testbed/processbench_rows.ts";
export * from "./testbed/splits.ts";
export * from "./testbed/task.ts";
export * from "./testbed/tokenizer.ts";
export * from "./testbed/verifier.ts";
export * from "./vocabulary.ts";
export * from "./wasm_threads.ts";
