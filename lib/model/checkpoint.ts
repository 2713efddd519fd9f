/**
 * Checkpoints of the tiny LM: `<dir>/model.safetensors` (exchange layout, opens in
 * PyTorch as is; metadata `config` = JSON of the LMConfig, `format` =
 * `pvl-tinylm-v1`) and `<dir>/optimizer.safetensors` (Adam moments as `m.<name>` /
 * `v.<name>` in the same layout; metadata `step`, `options`, `format`).
 * @module
 */
import { type LMConfig, plainConfig, resolveLMConfig } from "./config.ts";
import { createLM, type TinyLM } from "./lm.ts";
import { exportWeights, importWeights } from "./exchange.ts";
import {
  exportOptimizerState,
  importOptimizerState,
  type Optimizer,
  type ResolvedOptimizerOptions,
} from "./train.ts";
import { readSafetensorsFile, type STensor, writeSafetensorsFile } from "./safetensors.ts";
import { Rng } from "../prng.ts";

/** The `format` metadata value of this layout. */
export const CHECKPOINT_FORMAT = "pvl-tinylm-v1";

/** A checkpoint that is missing, malformed or does not match; the message names the file. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** What {@linkcode loadCheckpoint} returns. */
export interface LoadedCheckpoint {
  /** The model, weights restored. */
  model: TinyLM;
  /** The optimizer, when the checkpoint has one. */
  optimizer: Optimizer | null;
  /** Extra string metadata saved with the model (minus `config` and `format`). */
  metadata: Record<string, string>;
}

/**
 * Writes `<dir>/model.safetensors` and, with `optimizer`, `<dir>/optimizer.safetensors`
 * (each atomically: temp file + rename). Creates `dir`.
 */
export async function saveCheckpoint(
  dir: string,
  model: TinyLM,
  options: { optimizer?: Optimizer; metadata?: Record<string, string> } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const w = await exportWeights(model);
  const tensors: Record<string, STensor> = {};
  for (const [k, t] of Object.entries(w)) {
    tensors[k] = { dtype: "F32", shape: t.shape, data: t.data };
  }
  await writeSafetensorsFile(`${dir}/model.safetensors`, tensors, {
    ...(options.metadata ?? {}),
    config: JSON.stringify(plainConfig(model.config)),
    format: CHECKPOINT_FORMAT,
  });
  if (options.optimizer) {
    const st = await exportOptimizerState(options.optimizer, model);
    const ot: Record<string, STensor> = {};
    for (const [k, t] of Object.entries(st.tensors)) {
      ot[k] = { dtype: "F32", shape: t.shape, data: t.data };
    }
    await writeSafetensorsFile(`${dir}/optimizer.safetensors`, ot, {
      format: CHECKPOINT_FORMAT,
      step: String(st.step),
      options: JSON.stringify(st.options),
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function f32(
  tensors: Record<string, STensor>,
  file: string,
): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (t.dtype !== "F32" || !(t.data instanceof Float32Array)) {
      throw new CheckpointError(`${file}: tensor "${k}" has dtype ${t.dtype}, expected F32`);
    }
    out[k] = { shape: t.shape, data: t.data };
  }
  return out;
}

/**
 * Loads a checkpoint written by {@linkcode saveCheckpoint}. With `expectConfig`, the
 * saved config must equal it. Throws {@linkcode CheckpointError} naming the file and
 * the mismatch (missing directory or file, wrong format, config, names, shapes, dtypes).
 */
export async function loadCheckpoint(
  dir: string,
  options: { expectConfig?: Partial<LMConfig> } = {},
): Promise<LoadedCheckpoint> {
  const mfile = `${dir}/model.safetensors`;
  if (!(await exists(mfile))) {
    throw new CheckpointError(`No checkpoint at ${dir}: ${mfile} does not exist`);
  }
  let decoded;
  try {
    decoded = await readSafetensorsFile(mfile);
  } catch (e) {
    throw new CheckpointError(`${mfile}: ${(e as Error).message}`);
  }
  const { tensors, metadata } = decoded;
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `${mfile}: metadata "format" is ${
        JSON.stringify(metadata.format)
      }, expected "${CHECKPOINT_FORMAT}"`,
    );
  }
  let config;
  try {
    config = resolveLMConfig(JSON.parse(metadata.config ?? "null"));
  } catch (e) {
    throw new CheckpointError(`${mfile}: metadata "config" is invalid: ${(e as Error).message}`);
  }
  if (options.expectConfig) {
    const want = plainConfig(resolveLMConfig(options.expectConfig));
    if (JSON.stringify(want) !== JSON.stringify(plainConfig(config))) {
      throw new CheckpointError(
        `${mfile}: config ${JSON.stringify(plainConfig(config))} differs from the expected ${
          JSON.stringify(want)
        }`,
      );
    }
  }
  const model = createLM(config, { rng: new Rng(1) });
  try {
    importWeights(model, f32(tensors, mfile), { source: mfile });
  } catch (e) {
    model.dispose();
    throw e instanceof CheckpointError ? e : new CheckpointError((e as Error).message);
  }
  const rest = { ...metadata };
  delete rest.config;
  delete rest.format;
  const ofile = `${dir}/optimizer.safetensors`;
  let optimizer: Optimizer | null = null;
  if (await exists(ofile)) {
    try {
      const o = await readSafetensorsFile(ofile);
      const step = Number(o.metadata.step);
      const opts = JSON.parse(o.metadata.options ?? "null") as ResolvedOptimizerOptions;
      if (!opts || typeof opts !== "object") throw new Error(`metadata "options" is missing`);
      optimizer = importOptimizerState(
        { options: opts, step, tensors: f32(o.tensors, ofile) },
        model,
        {
          source: ofile,
        },
      );
    } catch (e) {
      model.dispose();
      const msg = (e as Error).message;
      throw new CheckpointError(msg.includes(ofile) ? msg : `${ofile}: ${msg}`);
    }
  }
  return { model, optimizer, metadata: rest };
}
