/**
 * Notebook helpers for Deno's Jupyter kernel. Inside Jupyter they send raw MIME bundles
 * through `Deno.jupyter.display(bundle, { raw: true })`; anywhere else they print a
 * plain-text fallback, so the same cell runs under `deno run` and in tests.
 *
 * Figures go out as `application/vnd.plotly.v1+json` (drawn natively by JupyterLab and
 * VS Code) plus a `text/html` fallback (classic notebook, nbconvert HTML, GitHub), which
 * draws with `window.Plotly` if present and otherwise loads the pinned plotly.js-dist-min
 * from jsDelivr; pass `inlinePlotly: true` for an offline notebook (inlines ~4.8 MB once).
 *
 * @module
 */
import { assertPlotSpec, type PlotSpec } from "./figures.ts";
import { jsonForScript, PLOTLY_CONFIG, plotlyBundle, titleOf } from "./export.ts";
import { type RenderOptions, type TableRecords, toHtml, toMarkdown } from "./tables.ts";
import type pl from "nodejs-polars";
import { EXPERIMENT_PRESET_NAMES, type ExperimentPreset } from "../vocabulary.ts";
import { check, is } from "../schema.ts";

/** The plotly MIME type. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** CDN copy of the same plotly.js-dist-min version as deno.json (4.1.2). */
export const PLOTLY_CDN = "https://cdn.jsdelivr.net/npm/plotly.js-dist-min@4.1.2/plotly.min.js";

type Bundle = Record<string, unknown>;
type JupyterApi = { display(obj: Bundle, options: { raw: boolean }): Promise<void> | void };

/** `Deno.jupyter` when running on the Deno kernel, else null. */
export function jupyterApi(): JupyterApi | null {
  // Outside `deno jupyter` the Deno.jupyter getter throws rather than returning undefined.
  try {
    const j = (Deno as unknown as { jupyter?: Partial<JupyterApi> }).jupyter;
    return j && typeof j.display === "function" ? (j as JupyterApi) : null;
  } catch {
    return null;
  }
}

/** True on Deno's Jupyter kernel. */
export function inJupyter(): boolean {
  return jupyterApi() !== null;
}

let figureCounter = 0;
let plotlyInlined = false;

/** Options for {@linkcode display}. */
export interface DisplayOptions {
  /** Inline plotly.js into the HTML fallback (once per kernel session). Default false. */
  inlinePlotly?: boolean;
}

/**
 * The MIME bundle for a figure: plotly JSON, HTML fallback and a text/plain line.
 *
 * @example
 * ```ts
 * import { figureBundle } from "./jupyter.ts";
 * import { assertEquals } from "@std/assert";
 * const b = await figureBundle({ data: [{ type: "bar", x: ["a"], y: [1] }], layout: {} });
 * assertEquals(Object.keys(b), ["application/vnd.plotly.v1+json", "text/html", "text/plain"]);
 * ```
 */
export async function figureBundle(spec: PlotSpec, options: DisplayOptions = {}): Promise<Bundle> {
  assertPlotSpec(spec);
  const id = `pvl-fig-${Date.now().toString(36)}-${figureCounter++}`;
  let loader = "";
  if (options.inlinePlotly && !plotlyInlined) {
    loader = `<script>${await plotlyBundle()}</script>`;
    plotlyInlined = true;
  }
  const html = `${loader}<div id="${id}" class="plot"></div>
<script>(function(){
var spec = ${jsonForScript(spec)};
function draw(){ window.Plotly.newPlot("${id}", spec.data, spec.layout, ${
    JSON.stringify(PLOTLY_CONFIG)
  }); }
if (window.Plotly) { draw(); return; }
var s = document.createElement("script"); s.src = "${PLOTLY_CDN}"; s.onload = draw;
s.onerror = function(){ document.getElementById("${id}").textContent = "plotly.js could not be loaded (offline?): see figures/ for the exported .svg/.html"; };
document.head.appendChild(s);
})();</script>`;
  return {
    [PLOTLY_MIME]: spec,
    "text/html": html,
    "text/plain": `[figure] ${titleOf(spec) ?? "untitled"} (${spec.data.length} traces)`,
  };
}

/**
 * Show a plotly figure in the notebook (raw MIME bundle); outside Jupyter print one line.
 *
 * @example
 * ```ts ignore
 * import { display } from "./jupyter.ts";
 * import { barWithErrors } from "./figures.ts";
 * await display(barWithErrors([{ name: "A", mean: 1, ciLow: 0.5, ciHigh: 1.5 }]));
 * ```
 */
export async function display(spec: PlotSpec, options: DisplayOptions = {}): Promise<void> {
  const bundle = await figureBundle(spec, options);
  const j = jupyterApi();
  if (j) await j.display(bundle, { raw: true });
  else console.log(bundle["text/plain"]);
}

/**
 * Show a table (polars DataFrame or `{columns, rows}`) as HTML with a markdown text/plain
 * fallback; outside Jupyter print the markdown.
 *
 * @example
 * ```ts ignore
 * import { showTable } from "./jupyter.ts";
 * await showTable({ columns: ["a"], rows: [{ a: 1 }] });
 * ```
 */
export async function showTable(
  table: pl.DataFrame | TableRecords,
  options: RenderOptions = {},
): Promise<void> {
  const md = toMarkdown(table, options);
  const j = jupyterApi();
  if (j) {
    await j.display(
      { "text/html": toHtml(table, options), "text/markdown": md, "text/plain": md },
      {
        raw: true,
      },
    );
  } else console.log(md);
}

/**
 * Show markdown text (a reading, a verdict line); outside Jupyter print it.
 */
export async function showMarkdown(text: string): Promise<void> {
  if (typeof text !== "string") throw new TypeError("Invalid text: expected a markdown string");
  const j = jupyterApi();
  if (j) await j.display({ "text/markdown": text, "text/plain": text }, { raw: true });
  else console.log(text);
}

/**
 * The experiment preset from `$PVL_PRESET` ("smoke" in CI), else `fallback` (default
 * `"default"`); an unknown name throws, naming the variable and the choices.
 *
 * @example
 * ```ts
 * import { presetFromEnv } from "./jupyter.ts";
 * import { assertEquals } from "@std/assert";
 * const preset = presetFromEnv(); // "default" unless $PVL_PRESET names another
 * assertEquals(preset, Deno.env.get("PVL_PRESET") || "default");
 * ```
 */
export function presetFromEnv(fallback: ExperimentPreset = "default"): ExperimentPreset {
  let v: string | undefined;
  try {
    v = Deno.env.get("PVL_PRESET");
  } catch {
    return fallback; // no --allow-env: the notebook's own choice
  }
  if (v === undefined || v === "") return fallback;
  check(v, is.oneOf(EXPERIMENT_PRESET_NAMES), "$PVL_PRESET");
  return v as ExperimentPreset;
}
