/**
 * Builds (or loads from the artifact cache) the SFT policy, the RM data and the
 * evaluation sets of a preset, printing per stage its time, sizes and the SFT
 * accuracy per bucket (temperature 1 and greedy).
 *
 * ```
 * deno run -A lib/cli/policy.ts --preset smoke|default|gpu [--seed N] [--backend B]
 * ```
 * @module
 */
import { initBackendFromArgs } from "../backend.ts";
import { type Artifact, ArtifactCache } from "../run/cache.ts";
import { formatDuration } from "../run/progress.ts";
import {
  buildAvgSet,
  buildBonSet,
  buildPolicy,
  buildProcessBenchSet,
  buildRmData,
  buildSftEval,
} from "../pipeline/stages.ts";
import { loadPolicy } from "../pipeline/policy.ts";
import { resolvePipelineConfig } from "../pipeline/presets.ts";
import { PIPELINE_PRESET_NAMES, type PipelinePreset } from "../vocabulary.ts";
import { oneOf, positiveIntArg } from "./_args.ts";
import { checkBackendArg, exitUsage, startBackend } from "./_main.ts";

function pct(x: number | undefined): string {
  return x === undefined ? "-" : `${(100 * x).toFixed(1)}%`;
}

async function stage(name: string, fn: () => Promise<Artifact>): Promise<Artifact> {
  const t0 = performance.now();
  const a = await fn();
  const s = (performance.now() - t0) / 1000;
  const built = a.manifest.buildSeconds;
  console.log(
    `\n== ${name} (${a.hit ? `cache hit; built in ${formatDuration(built)}` : "built"}, ${
      formatDuration(s)
    } now) key ${a.key.slice(0, 12)}`,
  );
  return a;
}

if (import.meta.main) {
  const args = Deno.args;
  let config, preset: PipelinePreset;
  try {
    preset = oneOf(args, "--preset", PIPELINE_PRESET_NAMES, "smoke")!;
    const seed = positiveIntArg(args, "--seed");
    checkBackendArg(args);
    config = resolvePipelineConfig(preset, seed === undefined ? {} : { seed });
  } catch (e) {
    exitUsage(e);
  }
  const backend = await startBackend(() => initBackendFromArgs(args));
  const cache = new ArtifactCache();
  console.log(
    `preset ${preset}, seed ${config.seed}, backend ${backend.name} (${backend.threads} threads), cache ${cache.root}`,
  );
  const t0 = performance.now();

  const { base, sft } = await buildPolicy(config);
  for (const [n, a] of [["base model", base], ["SFT policy", sft]] as const) {
    const m = a.manifest.meta ?? {};
    console.log(
      `\n== ${n} (${a.hit ? "cache hit" : "built"}) key ${a.key.slice(0, 12)}: ${m.steps} steps, ` +
        `${m.tokens} tokens, loss ${Number(m.firstLoss).toFixed(3)} -> ${
          Number(m.finalLoss).toFixed(3)
        }, ` +
        `train time ${formatDuration(Number(m.seconds))}`,
    );
  }
  const model = await loadPolicy(sft, { config });
  try {
    const ev = await stage("SFT accuracy", () => buildSftEval(config, { sft, model, cache }));
    const s = ev.manifest.meta as {
      accuracy: Record<string, number>;
      greedy: Record<string, number>;
      writer: Record<string, number>;
      problemsPerBucket: number;
    };
    console.log(
      `bucket         T=${config.sftEval.temperature}     greedy   data writer (ceiling)   [${s.problemsPerBucket} problems each]`,
    );
    for (const b of config.split.processbench) {
      console.log(
        `${b.name.padEnd(14)} ${pct(s.accuracy[b.name]).padEnd(8)} ${
          pct(s.greedy[b.name]).padEnd(8)
        } ${pct(s.writer[b.name])}   (k ${b.minSteps}..${b.maxSteps})`,
      );
    }
    const rm = await stage("RM data", () => buildRmData(config, { sft, model, cache }));
    console.log(JSON.stringify(rm.manifest.meta));
    const pb = await stage(
      "ProcessBench analogue (shifted)",
      () => buildProcessBenchSet(config, { sft, model, cache }),
    );
    console.log(JSON.stringify(pb.manifest.meta));
    const bon = await stage("Best-of-N set", () => buildBonSet(config, { sft, model, cache }));
    console.log(JSON.stringify(bon.manifest.meta));
    const avg = await stage("avg@k problems", () => buildAvgSet(config, { cache }));
    console.log(JSON.stringify(avg.manifest.meta));
  } finally {
    model.dispose();
  }
  console.log(`\ntotal ${formatDuration((performance.now() - t0) / 1000)}`);
}
