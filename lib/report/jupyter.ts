/**
 * Notebook helpers for Deno's Jupyter kernel. Inside Jupyter they send raw MIME bundles
 * through `Deno.jupyter.display(bundle, { raw: true })`; anywhere else they print a
 * plain-text fallback, so the same cell runs under `deno run` and in tests.
 *
 * Figures go out as `application/vnd.plotly.v1+json` (drawn natively by JupyterLab and
 * VS Code) plus a `text/html` fallback (classic notebook, nbconvert HTML), which
 * draws with `window.Plotly` if present and otherwise loads the pinned plotly.js-dist-min
 * from jsDelivr; pass `inlinePlotly: true` for an offline notebook (inlines ~4.8 MB once).
 * Where Chromium is installed, the bundle also carries a static image of the figure
 * (`image/svg+xml` by default, rendered once by headless Chromium, lib/report/export.ts), and
 * the HTML fallback shows the same image until plotly draws: a viewer that runs no scripts
 * (GitHub's notebook preview, nbconvert to PDF) shows the plot as committed. Without Chromium
 * the bundle has no image and everything else is the same.
 *
 * @module
 */
import { assertPlotSpec, type PlotSpec } from "./figures.ts";
import {
  createRenderer,
  findChromium,
  jsonForScript,
  PLOTLY_CONFIG,
  plotlyBundle,
  type Renderer,
  titleOf,
} from "./export.ts";
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

/** The static image formats a figure bundle can carry. */
export type FigureImage = "svg" | "png";

/** The MIME type of each static image format. */
export const IMAGE_MIME = {
  svg: "image/svg+xml",
  png: "image/png",
} as const satisfies Record<FigureImage, string>;

/** Options for {@linkcode display} and {@linkcode figureBundle}. */
export interface DisplayOptions {
  /** Inline plotly.js into the HTML fallback (once per kernel session). Default false. */
  inlinePlotly?: boolean;
  /** The static image to add, or false for none. {@linkcode display}'s default:
   * {@linkcode imageFromEnv} (`svg`); {@linkcode figureBundle} adds one only with a renderer. */
  image?: FigureImage | false;
  /** Renders the image. {@linkcode figureBundle}: none by default (no image);
   * {@linkcode display}: the kernel's shared one ({@linkcode notebookRenderer}). */
  renderer?: Renderer | null;
}

/**
 * The static image format from `$PVL_NB_IMAGE` (`svg`, `png`, or `none`/`0` for no image);
 * default `svg` (about a fifth of the PNG's bytes). An unknown value throws, naming the
 * variable and the choices.
 *
 * @example
 * ```ts
 * import { imageFromEnv } from "./jupyter.ts";
 * import { assert } from "@std/assert";
 * assert([false, "svg", "png"].includes(imageFromEnv()));
 * ```
 */
export function imageFromEnv(): FigureImage | false {
  let v: string | undefined;
  try {
    v = Deno.env.get("PVL_NB_IMAGE");
  } catch {
    return "svg"; // no --allow-env
  }
  if (v === undefined || v === "") return "svg";
  if (v === "none" || v === "0") return false;
  check(v, is.oneOf(["svg", "png", "none", "0"] as const), "$PVL_NB_IMAGE");
  return v as FigureImage;
}

/** Idle time after which the shared renderer's browser is closed (a new one starts on need). */
export const RENDERER_IDLE_MS = 30_000;

let shared: Promise<Renderer | null> | null = null;
let sharedFailed = false;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * The kernel's shared headless-Chromium renderer for figure images, started on first use and
 * closed after {@linkcode RENDERER_IDLE_MS} without a render (the timer does not keep the
 * process alive; Chromium also exits with the process that started it). Null, with one line
 * printed once, when Chromium is missing or does not start: figures then go out without an
 * image.
 */
export function notebookRenderer(): Promise<Renderer | null> {
  if (sharedFailed) return Promise.resolve(null);
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  shared ??= (async () => {
    if (!findChromium()) {
      sharedFailed = true;
      console.log("[figures] Chromium not found: figures carry no static image");
      return null;
    }
    try {
      return await createRenderer({ scale: 1 });
    } catch (e) {
      sharedFailed = true;
      const first = (e as Error).message.split("\n").find((l) => l.trim()) ?? String(e);
      console.log(`[figures] Chromium did not start (${first.trim()}): no static images`);
      return null;
    }
  })();
  const timer = setTimeout(closeNotebookRenderer, RENDERER_IDLE_MS);
  Deno.unrefTimer(timer);
  idleTimer = timer;
  return shared;
}

/** Closes the shared renderer now, if one is running. */
export async function closeNotebookRenderer(): Promise<void> {
  if (idleTimer !== undefined) clearTimeout(idleTimer);
  idleTimer = undefined;
  const r = shared;
  shared = null;
  await (await r)?.close();
}

function base64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** The static image of a spec as a MIME value (SVG text, or base64 PNG as Jupyter stores it). */
async function staticImage(
  spec: PlotSpec,
  format: FigureImage,
  renderer: Renderer,
): Promise<{ mime: string; value: string; dataUrl: string } | null> {
  try {
    const img = await renderer.render(spec);
    const value = format === "svg" ? img.svg : base64(img.png);
    const b64 = format === "svg" ? base64(new TextEncoder().encode(img.svg)) : value;
    return { mime: IMAGE_MIME[format], value, dataUrl: `data:${IMAGE_MIME[format]};base64,${b64}` };
  } catch (e) {
    console.log(`[figures] no static image: ${(e as Error).message.split("\n")[0]}`);
    return null;
  }
}

/**
 * The MIME bundle for a figure: plotly JSON, HTML fallback, with a renderer a static image
 * (`image/svg+xml` unless `image: "png"`, also shown inside the HTML fallback until plotly
 * draws), and a text/plain line.
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
  const format = options.image ?? "svg";
  const image = format && options.renderer
    ? await staticImage(spec, format, options.renderer)
    : null;
  const id = `pvl-fig-${Date.now().toString(36)}-${figureCounter++}`;
  let loader = "";
  if (options.inlinePlotly && !plotlyInlined) {
    loader = `<script>${await plotlyBundle()}</script>`;
    plotlyInlined = true;
  }
  // The static image sits in the plot's div until plotly draws (draw() empties the div), so a
  // viewer that strips scripts still shows the figure.
  const fallback = image
    ? `<img src="${image.dataUrl}" alt="${escapeAttr(titleOf(spec) ?? "figure")}">`
    : "";
  const html = `${loader}<div id="${id}" class="plot">${fallback}</div>
<script>(function(){
var spec = ${jsonForScript(spec)};
function draw(){ var el = document.getElementById("${id}"); el.innerHTML = ""; window.Plotly.newPlot(el, spec.data, spec.layout, ${
    JSON.stringify(PLOTLY_CONFIG)
  }); }
if (window.Plotly) { draw(); return; }
var s = document.createElement("script"); s.src = "${PLOTLY_CDN}"; s.onload = draw;
s.onerror = function(){ var el = document.getElementById("${id}"); if (!el.querySelector("img")) el.textContent = "plotly.js could not be loaded (offline?): see figures/ for the exported .svg/.html"; };
document.head.appendChild(s);
})();</script>`;
  return {
    [PLOTLY_MIME]: spec,
    "text/html": html,
    ...(image ? { [image.mime]: image.value } : {}),
    "text/plain": `[figure] ${titleOf(spec) ?? "untitled"} (${spec.data.length} traces)`,
  };
}

const escapeAttr = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");

/**
 * Show a plotly figure in the notebook (raw MIME bundle, with a static image where Chromium
 * is installed: {@linkcode notebookRenderer}, `$PVL_NB_IMAGE`); outside Jupyter print one line
 * (and start no browser).
 *
 * @example
 * ```ts ignore
 * import { display } from "./jupyter.ts";
 * import { barWithErrors } from "./figures.ts";
 * await display(barWithErrors([{ name: "A", mean: 1, ciLow: 0.5, ciHigh: 1.5 }]));
 * ```
 */
export async function display(spec: PlotSpec, options: DisplayOptions = {}): Promise<void> {
  const j = jupyterApi();
  if (!j) {
    assertPlotSpec(spec);
    console.log(`[figure] ${titleOf(spec) ?? "untitled"} (${spec.data.length} traces)`);
    return;
  }
  const image = options.image ?? imageFromEnv();
  const renderer = options.renderer !== undefined
    ? options.renderer
    : image
    ? await notebookRenderer()
    : null;
  await j.display(await figureBundle(spec, { ...options, image, renderer }), { raw: true });
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
