/**
 * The preset names every part of the lab speaks, declared once: the pipeline presets
 * (`smoke | default | gpu`, testbed.md "Presets"), the experiment presets (the pipeline
 * presets plus `full`) and the switch presets (`paper | repo`, methods.md (e)).
 *
 * Why a ground-level module (beside lib/prng.ts, importing nothing): the model budget
 * tables, the RM and RL configs, the pipeline, the experiments and the notebook helpers
 * all name these presets, and architecture.md lets none of the lower parts import the
 * upper ones; a name declared in any one of them would force an import running back up.
 * Each list is the key list of its record below, so a name and its meaning are written
 * in one place and the lists in error messages cannot drift from the types.
 * (The RM kinds are not here: they belong to lib/rm/losses.ts, which RL imports.)
 * @module
 */

/** The pipeline presets and what each is for (testbed.md "Presets"). */
export const PIPELINE_PRESET_DOCS = {
  smoke: "every stage in seconds: numbers meaningless but finite",
  default: "the CPU reproduction (D=64, 3 layers, about 155k parameters)",
  gpu: "a bigger model and budgets for a GPU backend",
} as const satisfies Record<string, string>;

/** A pipeline preset: which models and budgets the stages use. */
export type PipelinePreset = keyof typeof PIPELINE_PRESET_DOCS;

/** Every {@linkcode PipelinePreset}, in order of cost. */
export const PIPELINE_PRESET_NAMES = Object.keys(PIPELINE_PRESET_DOCS) as readonly PipelinePreset[];

/** The experiment presets and the pipeline preset each runs on. */
export const EXPERIMENT_PRESET_PIPELINE = {
  smoke: "smoke",
  default: "default",
  // `full`: the `default` pipeline's models, more seeds.
  full: "default",
  gpu: "gpu",
} as const satisfies Record<string, PipelinePreset>;

/** An experiment preset: a pipeline preset plus the number of seeds (`full` = `default`, 5 seeds). */
export type ExperimentPreset = keyof typeof EXPERIMENT_PRESET_PIPELINE;

/** Every {@linkcode ExperimentPreset}, in order of cost. */
export const EXPERIMENT_PRESET_NAMES = Object.keys(
  EXPERIMENT_PRESET_PIPELINE,
) as readonly ExperimentPreset[];

/** The switch presets (methods.md (e)): the paper's text, or the authors' released code. */
export const SWITCH_PRESET_DOCS = {
  paper: "the paper's text (arXiv 2604.13197v2)",
  repo: "the authors' released code ([IPVRM] repository, verl core algorithms)",
} as const satisfies Record<string, string>;

/** A switch preset: which reading of each methods.md (e) item applies. */
export type SwitchPreset = keyof typeof SWITCH_PRESET_DOCS;

/** Every {@linkcode SwitchPreset}. */
export const SWITCH_PRESET_NAMES = Object.keys(SWITCH_PRESET_DOCS) as readonly SwitchPreset[];

/** Whether `v` is an {@linkcode ExperimentPreset}. */
export function isExperimentPreset(v: unknown): v is ExperimentPreset {
  return typeof v === "string" && Object.hasOwn(EXPERIMENT_PRESET_PIPELINE, v);
}
