/**
 * `deno task bench [--backend B] [--threads N] [--compare] [--profile] [--workloads a,b] [--reps N]`: the
 * two workloads of ../shared/bench/README.md on the project's tiny LM, plus `sample_pipeline`
 * (the pipeline's sampling: small model, 512 rows, EOS, top-p; tokens/s counts generated tokens). One JSON line per workload on
 * stdout ({impl, workload, threads, ms, tokens_per_s, peak_bytes, tensors_stable});
 * with `--compare`, PyTorch's reference (`/usr/bin/python3 ../shared/bench/torch_ref.py N`)
 * runs in the same invocation and a final line gives the ratios
 * (train_step: ours/torch ms; sample_kv: ours/torch tokens/s). `--profile` prints the
 * top kernels of one run of each workload (tf.profile). Progress on stderr.
 * `PVL_PROFILE_TOP=N` lists N kernels per profile instead of 10.
 * `PVL_GEMM=xnnpack` measures the training workloads on tfjs's matMul instead of the project's
 * own kernels (lib/wasm_gemm), i.e. the code before them: the before/after of docs/performance.md.
 *
 * `rl_step` (bench/rl_bench.ts): one RL update of GRPO + IPVRM and of DistRL (paper and repo
 * candidate sets) on the same fixed batch of the default preset's shape, lines
 * `{workload: "rl_step_grpo_ipvrm" | "rl_step_distrl" | "rl_step_distrl_repo", ms, peak_bytes}`,
 * then `{workload: "rl_step_ratio", ratio, time, peak_bytes}` (targets <= 1.15x time, 1.05x peak).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { rlStepBench } from "./rl_bench.ts";
import { initBackendFromArgs } from "../lib/backend.ts";
import { gemmActive, gemmThreads } from "../lib/wasm_gemm/mod.ts";
import { DEFAULT_LM_CONFIG } from "../lib/model/config.ts";
import { createLM } from "../lib/model/lm.ts";
import { createOptimizer, trainStep } from "../lib/model/train.ts";
import { sample } from "../lib/model/sample.ts";
import { CounterRng, Rng } from "../lib/prng.ts";

const B = 32, T = 64, SAMPLE_BATCH = 256, PROMPT_LEN = 16, NEW_TOKENS = 48;
/**
 * `sample_pipeline`: the pipeline's sampling (lib/pipeline/presets.ts "default": vocab
 * 26, D=64, 3 layers, 4 heads, context 96; batches of 512 prompts, EOS per row, top-p
 * 0.95 as its avg@k sets use). Random weights, so rows stop after about V steps.
 */
const PIPE = {
  model: { vocab: 26, width: 64, layers: 3, heads: 4, context: 96 },
  batch: 512,
  prompt: 20,
  newTokens: 76,
  eosId: 1,
  topP: 0.95,
};
const WORKLOADS = ["train_step", "sample_kv", "sample_pipeline", "rl_step"] as const;

function argValue(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  if (i >= 0) return Deno.args[i + 1];
  const eq = Deno.args.find((a) => a.startsWith(name + "="));
  return eq?.slice(name.length + 1);
}

const log = (s: string) => console.error(`[bench] ${s}`);

/** `--profile`: the top kernels of one profiled run, by total kernel time, on stderr. */
function printTopKernels(name: string, prof: Awaited<ReturnType<typeof tf.profile>>): void {
  const agg = new Map<string, { ms: number; n: number }>();
  let total = 0;
  for (const k of prof.kernels) {
    // Wrapper scopes (customGrad, fused-op wrappers) contain the kernels listed anyway.
    if (k.name === "unnamed scope" || k.name.endsWith("__op")) continue;
    const e = agg.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += k.kernelTimeMs as number;
    e.n++;
    total += k.kernelTimeMs as number;
    agg.set(k.name, e);
  }
  log(`${name}: kernel time ${total.toFixed(1)} ms in ${prof.kernels.length} kernels`);
  for (
    const [k, e] of [...agg].sort((a, b) => b[1].ms - a[1].ms).slice(
      0,
      Number(Deno.env.get("PVL_PROFILE_TOP") ?? 10),
    )
  ) {
    log(
      `  ${k.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ms ${
        (100 * e.ms / total).toFixed(0).padStart(3)
      }%  x${e.n}`,
    );
  }
}

/** `--reps N`: N timed repetitions after one warm-up run (slow backends); default per workload. */
const REPS = argValue("--reps");

async function timed(fn: () => Promise<void>, warmup: number, reps: number, name: string) {
  if (REPS !== undefined) {
    reps = Number(REPS);
    warmup = 1;
    if (!Number.isInteger(reps) || reps < 1) {
      throw new Error(`Invalid --reps: expected an integer >= 1, got "${REPS}"`);
    }
  }
  for (let i = 0; i < warmup; i++) await fn();
  const before = tf.memory().numTensors;
  const prof = await tf.profile(async () => {
    await fn();
  });
  if (Deno.args.includes("--profile")) printTopKernels(name, prof);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  const ms = (performance.now() - t0) / reps;
  return { ms, peakBytes: prof.peakBytes, tensorsStable: tf.memory().numTensors === before };
}

async function main(): Promise<void> {
  const threadsArg = argValue("--threads");
  const threadsAsked = threadsArg === undefined ? undefined : Number(threadsArg);
  if (threadsAsked !== undefined && (!Number.isInteger(threadsAsked) || threadsAsked < 1)) {
    throw new Error(`Invalid --threads: expected an integer >= 1, got "${threadsArg}"`);
  }
  const only = argValue("--workloads")?.split(",") ?? [...WORKLOADS];
  for (const w of only) {
    if (!(WORKLOADS as readonly string[]).includes(w)) {
      throw new Error(
        `Invalid --workloads: expected names from ${WORKLOADS.join(",")}, got "${w}"`,
      );
    }
  }
  const info = await initBackendFromArgs(Deno.args, { threads: threadsAsked });
  const impl = info.name;
  const threads = info.threads;
  // which matrix products the training workloads use (lib/wasm_gemm; PVL_GEMM=xnnpack: tfjs's)
  const matmul = gemmActive() ? `own, ${gemmThreads()} threads` : "tfjs";
  log(`backend ${info.tfName}, threads ${threads}, matMul ${matmul}`);
  const rng = new Rng(0);
  const model = createLM(DEFAULT_LM_CONFIG, { rng: rng.fork("init") });
  const opt = createOptimizer({ kind: "adam", lr: 1e-3 });
  const data = rng.fork("data");
  const ids = tf.tensor2d(Int32Array.from({ length: B * T }, () => data.int(64)), [B, T], "int32");
  const tgt = tf.tensor2d(Int32Array.from({ length: B * T }, () => data.int(64)), [B, T], "int32");
  const mask = tf.ones([B, T]) as tf.Tensor2D;
  const rows: Record<string, unknown>[] = [];
  const emit = (r: Record<string, unknown>) => {
    rows.push(r);
    console.log(JSON.stringify(r));
  };
  if (only.includes("train_step")) {
    log("train_step ...");
    const tr = await timed(
      async () => {
        await trainStep(model, { tokens: ids, targets: tgt, mask }, { optimizer: opt });
      },
      2,
      5,
      "train_step",
    );
    emit({
      impl,
      workload: "train_step",
      threads,
      ms: +tr.ms.toFixed(2),
      tokens_per_s: Math.round((B * T) / (tr.ms / 1000)),
      peak_bytes: tr.peakBytes,
      tensors_stable: tr.tensorsStable,
    });
  }
  tf.dispose([ids, tgt, mask]);
  const prompts = Array.from(
    { length: SAMPLE_BATCH },
    () => Array.from({ length: PROMPT_LEN }, () => data.int(64)),
  );
  const srng = new CounterRng(rng.seed(), "bench/sample");
  let skCall = 0;
  if (only.includes("sample_kv")) {
    log("sample_kv ...");
    const sk = await timed(
      async () => {
        const call = skCall++;
        await sample(model, prompts, {
          rng: srng,
          keys: prompts.map((_, i) => ({ problem: i, sample: call })),
          maxNewTokens: NEW_TOKENS,
          temperature: 1,
        });
      },
      1,
      3,
      "sample_kv",
    );
    emit({
      impl,
      workload: "sample_kv",
      threads,
      ms: +sk.ms.toFixed(2),
      tokens_per_s: Math.round((SAMPLE_BATCH * NEW_TOKENS) / (sk.ms / 1000)),
      peak_bytes: sk.peakBytes,
      tensors_stable: sk.tensorsStable,
    });
  }
  opt.dispose();
  model.dispose();
  if (only.includes("sample_pipeline")) {
    log("sample_pipeline ...");
    const pm = createLM(PIPE.model, { rng: rng.fork("pipeline-init") });
    const pd = rng.fork("pipeline-data");
    const pp = Array.from(
      { length: PIPE.batch },
      () => Array.from({ length: PIPE.prompt }, () => 2 + pd.int(PIPE.model.vocab - 2)),
    );
    const prng = new CounterRng(rng.seed(), "bench/pipeline-sample");
    let generated = 0, calls = 0;
    const sp = await timed(
      async () => {
        const r = await sample(pm, pp, {
          rng: prng,
          keys: pp.map((_, i) => ({ problem: i, sample: calls })),
          maxNewTokens: PIPE.newTokens,
          temperature: 1,
          topP: PIPE.topP,
          eosId: PIPE.eosId,
          padId: 0,
        });
        generated += r.lengths.reduce((a, x) => a + x, 0);
        calls++;
      },
      1,
      3,
      "sample_pipeline",
    );
    const perCall = generated / calls;
    emit({
      impl,
      workload: "sample_pipeline",
      threads,
      ms: +sp.ms.toFixed(2),
      tokens_per_s: Math.round(perCall / (sp.ms / 1000)),
      tokens_per_call: Math.round(perCall),
      peak_bytes: sp.peakBytes,
      tensors_stable: sp.tensorsStable,
    });
    pm.dispose();
  }
  if (only.includes("rl_step")) {
    log("rl_step (GRPO + IPVRM vs DistRL, one update on the same batch) ...");
    await rlStepBench({ reps: REPS === undefined ? 3 : Number(REPS) });
  }
  if (!Deno.args.includes("--compare")) return;
  const torchThreads = String(threadsAsked ?? 2);
  const probe = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import torch"],
    stderr: "null",
    stdout: "null",
  })
    .output().catch(() => null);
  if (!probe || !probe.success) {
    log(
      "--compare: /usr/bin/python3 cannot import torch (apt-get install -y python3-torch libopenblas0-pthread); no ratios",
    );
    return;
  }
  log(`torch_ref.py ${torchThreads} ...`);
  const ref = new URL("../../shared/bench/torch_ref.py", import.meta.url).pathname;
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [ref, torchThreads],
    stderr: "inherit",
  }).output();
  const torch: Record<string, { ms: number; tokens_per_s: number }> = {};
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    console.log(line);
    torch[r.workload] = r;
  }
  const ours = Object.fromEntries(rows.map((r) => [r.workload, r])) as Record<
    string,
    { ms: number; tokens_per_s: number }
  >;
  console.log(JSON.stringify({
    workload: "ratio",
    impl,
    threads,
    torch_threads: Number(torchThreads),
    train_step_ms_ratio: torch.train_step && ours.train_step
      ? +(ours.train_step.ms / torch.train_step.ms).toFixed(3)
      : null,
    sample_kv_tokens_per_s_ratio: torch.sample_kv && ours.sample_kv
      ? +(ours.sample_kv.tokens_per_s / torch.sample_kv.tokens_per_s).toFixed(3)
      : null,
  }));
}

if (import.meta.main) {
  await main();
  // The threaded wasm backend's workers keep the process alive (environment.md).
  Deno.exit(0);
}
