/**
 * Resumable training checkpoints of a pipeline stage: weights and optimizer moments
 * (safetensors, float32, exact), and the loop state (step, data-order Rng state,
 * token count, loss history). A checkpoint is a directory `ckpt-<step>/`; the
 * pointer `latest.json` is replaced atomically only after the directory is whole,
 * so a process killed at any moment leaves the previous checkpoint usable.
 * @module
 */
import { join } from "node:path";
import type { ExchangeWeights } from "../model/exchange.ts";
import type { OptimizerState } from "../model/train.ts";
import { readSafetensorsFile, type STensor, writeSafetensorsFile } from "../model/safetensors.ts";
import type { RngState } from "../prng.ts";
import { writeTextAtomic } from "../run/_fs.ts";

/** The loop state saved with a checkpoint. */
export interface LoopState {
  /** Updates done. */
  step: number;
  /** Data-order generator state after `step` updates. */
  rng: RngState;
  /** Real tokens trained on so far. */
  tokens: number;
  /** Loss of every update so far. */
  losses: number[];
  /** Training wall time so far (all sessions), seconds. */
  seconds: number;
}

/** Exchange weights as safetensors tensors. */
export function toSTensors(w: ExchangeWeights): Record<string, STensor> {
  const out: Record<string, STensor> = {};
  for (const [k, t] of Object.entries(w)) out[k] = { dtype: "F32", shape: t.shape, data: t.data };
  return out;
}

/** Safetensors tensors (F32) as exchange weights; throws naming the tensor otherwise. */
export function fromSTensors(t: Record<string, STensor>, source: string): ExchangeWeights {
  const out: ExchangeWeights = {};
  for (const [k, v] of Object.entries(t)) {
    if (v.dtype !== "F32" || !(v.data instanceof Float32Array)) {
      throw new TypeError(`${source}: tensor "${k}" must be F32, got ${v.dtype}`);
    }
    out[k] = { shape: v.shape, data: v.data };
  }
  return out;
}

/** Writes a checkpoint into `runDir` and points `latest.json` at it; older ones are removed. */
export async function saveCheckpoint(
  runDir: string,
  ckpt: { weights: ExchangeWeights; optimizer: OptimizerState; state: LoopState },
): Promise<void> {
  const name = `ckpt-${String(ckpt.state.step).padStart(7, "0")}`;
  const dir = join(runDir, name);
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensorsFile(join(dir, "weights.safetensors"), toSTensors(ckpt.weights));
  await writeSafetensorsFile(
    join(dir, "optimizer.safetensors"),
    toSTensors(ckpt.optimizer.tensors),
    {
      options: JSON.stringify(ckpt.optimizer.options),
      step: String(ckpt.optimizer.step),
    },
  );
  await writeTextAtomic(join(dir, "state.json"), JSON.stringify(ckpt.state));
  await writeTextAtomic(join(runDir, "latest.json"), JSON.stringify({ dir: name }) + "\n");
  for await (const e of Deno.readDir(runDir)) {
    if (e.isDirectory && e.name.startsWith("ckpt-") && e.name !== name) {
      await Deno.remove(join(runDir, e.name), { recursive: true }).catch(() => {});
    }
  }
}

/** The latest checkpoint of `runDir`, or null when there is none. */
export async function loadCheckpoint(
  runDir: string,
): Promise<{ weights: ExchangeWeights; optimizer: OptimizerState; state: LoopState } | null> {
  let pointer: { dir: string };
  try {
    pointer = JSON.parse(await Deno.readTextFile(join(runDir, "latest.json")));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(
      `Invalid checkpoint pointer ${join(runDir, "latest.json")}: ${(e as Error).message}`,
    );
  }
  const dir = join(runDir, pointer.dir);
  const w = await readSafetensorsFile(join(dir, "weights.safetensors"));
  const o = await readSafetensorsFile(join(dir, "optimizer.safetensors"));
  const state = JSON.parse(await Deno.readTextFile(join(dir, "state.json"))) as LoopState;
  const optimizer: OptimizerState = {
    options: JSON.parse(o.metadata.options ?? "null"),
    step: Number(o.metadata.step),
    tensors: fromSTensors(o.tensors, join(dir, "optimizer.safetensors")),
  };
  return { weights: fromSTensors(w.tensors, join(dir, "weights.safetensors")), optimizer, state };
}
