/**
 * Static export of plotly figures: `<name>.json` (the spec), `<name>.html` (self-contained,
 * opens offline: plotly.js-dist-min is inlined) and, where Chromium is installed,
 * `<name>.svg` and `<name>.png` rendered by headless Chromium through playwright-core.
 *
 * One browser serves many figures: create a {@linkcode Renderer} with
 * {@linkcode createRenderer}, pass it to every {@linkcode exportFigure}, `close()` it at the
 * end. Without Chromium the JSON and HTML are still written and one line says how to get
 * the images.
 *
 * @module
 */
import { assertPlotSpec, type PlotSpec } from "./figures.ts";
import { escapeHtml } from "./tables.ts";

/** Chromium flags that work headless on our machines (see shared/notes/environment.md). */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const CHROMIUM_CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];

/** The one line printed when Chromium is missing. */
export const NO_CHROMIUM_HINT =
  "[report] Chromium not found: wrote .json/.html only; `apt-get install chromium` (Debian) gets the .svg/.png images";

/**
 * Path of a Chromium executable: `$PVL_CHROMIUM` if set, else the first of
 * /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome that exists; null
 * when none does.
 */
export function findChromium(): string | null {
  const env = safeEnv("PVL_CHROMIUM");
  const candidates = env ? [env] : CHROMIUM_CANDIDATES;
  for (const p of candidates) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there
    }
  }
  return null;
}

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

let plotlySource: string | undefined;

/**
 * The plotly.js-dist-min bundle (plotly.min.js) as text, found through the import map
 * (`import.meta.resolve`) or `node_modules/`. Cached after the first read.
 */
export async function plotlyBundle(): Promise<string> {
  if (plotlySource !== undefined) return plotlySource;
  const candidates: string[] = [];
  try {
    const u = import.meta.resolve("plotly.js-dist-min");
    if (u.startsWith("file:")) candidates.push(u);
  } catch {
    // not mapped
  }
  candidates.push(
    new URL("../../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url).href,
  );
  for (const c of candidates) {
    try {
      const text = await Deno.readTextFile(new URL(c));
      if (text.includes("</script")) {
        throw new Error(`plotly bundle at ${c} contains "</script" and cannot be inlined`);
      }
      plotlySource = text;
      return text;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
  }
  throw new Error(
    `plotly.js-dist-min not found (tried ${
      candidates.join(", ")
    }); run \`deno install\` in the repo root`,
  );
}

/** JSON safe to embed inside an HTML `<script>` element. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c").replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

/** Plotly config used everywhere: no logo, no network (no MathJax, no topojson fetch). */
export const PLOTLY_CONFIG = { displaylogo: false, responsive: false } as const;

/**
 * A complete self-contained HTML page showing one figure (plotly inlined).
 *
 * @example
 * ```ts ignore
 * import { figureHtml } from "./export.ts";
 * const html = await figureHtml({ data: [], layout: {} }, { title: "empty" });
 * ```
 */
export async function figureHtml(
  spec: PlotSpec,
  options: { title?: string } = {},
): Promise<string> {
  assertPlotSpec(spec);
  const plotly = await plotlyBundle();
  const title = escapeHtml(options.title ?? "figure");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<script>${plotly}</script>
</head><body style="margin:0;background:#fff">
<div id="plot" class="plot"></div>
<script>
const spec = ${jsonForScript(spec)};
Plotly.newPlot("plot", spec.data, spec.layout, ${JSON.stringify(PLOTLY_CONFIG)});
</script>
</body></html>
`;
}

/** Images of one figure. */
export interface RenderedImages {
  svg: string;
  png: Uint8Array;
}

/** A headless Chromium page with plotly loaded, reused across figures. */
export interface Renderer {
  /** Render a spec to SVG text and PNG bytes at its layout size (default 640 x 420). */
  render(spec: PlotSpec): Promise<RenderedImages>;
  /** Close the browser. */
  close(): Promise<void>;
}

/** Options for {@linkcode createRenderer}. */
export interface RendererOptions {
  /** Chromium executable; default {@linkcode findChromium}. */
  executablePath?: string;
  /** PNG scale factor; default 2 (crisp on high-DPI screens). */
  scale?: number;
}

/**
 * Start headless Chromium (playwright-core) with plotly loaded in one page. Returns null
 * when no Chromium is found (callers then write JSON + HTML only).
 *
 * @example
 * ```ts ignore
 * import { createRenderer } from "./export.ts";
 * const r = await createRenderer();
 * try { if (r) await r.render({ data: [], layout: {} }); } finally { await r?.close(); }
 * ```
 */
export async function createRenderer(options: RendererOptions = {}): Promise<Renderer | null> {
  const executablePath = options.executablePath ?? findChromium();
  if (!executablePath) return null;
  const scale = options.scale ?? 2;
  const { chromium } = await import("playwright-core");
  // launch() gives the browser a fresh temporary profile (the fresh --user-data-dir the
  // environment notes ask for); playwright rejects an explicit --user-data-dir here.
  const browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.setContent(
      `<!doctype html><html><head><meta charset="utf-8"></head><body><div id="plot"></div></body></html>`,
    );
    await page.addScriptTag({ content: await plotlyBundle() });
    let queue: Promise<unknown> = Promise.resolve();
    const render = (spec: PlotSpec): Promise<RenderedImages> => {
      assertPlotSpec(spec);
      // One page, so renders run one at a time.
      const job = queue.then(async () => {
        const out = await page.evaluate(async ({ spec, scale }) => {
          // Runs in the page, not in Deno: reach the DOM through globalThis.
          // deno-lint-ignore no-explicit-any
          const g = globalThis as any;
          const P = g.Plotly;
          const div = g.document.getElementById("plot");
          const w = (spec.layout.width as number | undefined) ?? 640;
          const h = (spec.layout.height as number | undefined) ?? 420;
          await P.newPlot(div, spec.data, { ...spec.layout, width: w, height: h }, {
            displaylogo: false,
          });
          const svg = await P.toImage(div, { format: "svg", width: w, height: h });
          const png = await P.toImage(div, { format: "png", width: w, height: h, scale });
          P.purge(div);
          return { svg, png };
        }, { spec, scale });
        if (errors.length) throw new Error(`plotly page error: ${errors.splice(0).join("; ")}`);
        return {
          svg: decodeSvgDataUrl(out.svg),
          png: decodeBase64DataUrl(out.png),
        };
      });
      queue = job.catch(() => {});
      return job;
    };
    return {
      render,
      close: () => browser.close(),
    };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

function decodeSvgDataUrl(url: string): string {
  const comma = url.indexOf(",");
  const head = url.slice(0, comma);
  const body = url.slice(comma + 1);
  if (!head.startsWith("data:image/svg+xml")) {
    throw new Error(`expected an SVG data URL, got ${head}`);
  }
  return head.endsWith(";base64") ? new TextDecoder().decode(b64(body)) : decodeURIComponent(body);
}

function decodeBase64DataUrl(url: string): Uint8Array {
  const comma = url.indexOf(",");
  if (!url.slice(0, comma).endsWith(";base64")) throw new Error("expected a base64 data URL");
  return b64(url.slice(comma + 1));
}

function b64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Paths written by {@linkcode exportFigure} (svg/png null without Chromium). */
export interface ExportedFigure {
  json: string;
  html: string;
  svg: string | null;
  png: string | null;
}

/** What to export and how. */
export interface ExportOptions {
  /** File stem, `[A-Za-z0-9_-]+` (e.g. "f1_bar"). */
  name: string;
  /** The plotly spec. */
  spec: PlotSpec;
  /** Shared renderer; without one, a renderer is started and closed for this figure. */
  renderer?: Renderer | null;
  /** Skip the images even when Chromium exists (fast tests, smoke runs). */
  images?: boolean;
  /** A short honest reading, written to `<name>.reading.md` for the index page. */
  reading?: string;
}

let hintPrinted = false;

/**
 * Write `<dir>/<name>.json`, `<name>.html` (self-contained) and, with Chromium,
 * `<name>.svg` and `<name>.png`; creates `dir`. Without Chromium prints
 * {@linkcode NO_CHROMIUM_HINT} once per process.
 *
 * @example
 * ```ts ignore
 * import { createRenderer, exportFigure } from "./export.ts";
 * import { barWithErrors } from "./figures.ts";
 * const renderer = await createRenderer();
 * const spec = barWithErrors([{ name: "A", mean: 1, ciLow: 0.5, ciHigh: 1.5 }]);
 * await exportFigure("figures/00_demo", { name: "bar", spec, renderer });
 * await renderer?.close();
 * ```
 */
export async function exportFigure(dir: string, options: ExportOptions): Promise<ExportedFigure> {
  if (typeof dir !== "string" || dir.length === 0) {
    throw new TypeError(`Invalid dir: expected a directory path, got ${JSON.stringify(dir)}`);
  }
  const { name, spec } = options;
  if (typeof name !== "string" || !/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new TypeError(
      `Invalid options.name: expected a file stem of letters, digits, _ or -, got ${
        JSON.stringify(name)
      }`,
    );
  }
  assertPlotSpec(spec, "options.spec");
  await Deno.mkdir(dir, { recursive: true });
  const base = `${dir.replace(/\/+$/, "")}/${name}`;
  const out: ExportedFigure = { json: `${base}.json`, html: `${base}.html`, svg: null, png: null };
  await Deno.writeTextFile(out.json, JSON.stringify(spec, null, 1) + "\n");
  await Deno.writeTextFile(out.html, await figureHtml(spec, { title: titleOf(spec) ?? name }));
  if (options.reading !== undefined) {
    await Deno.writeTextFile(`${base}.reading.md`, options.reading.trim() + "\n");
  }
  if (options.images === false) return out;
  let renderer = options.renderer ?? null;
  const own = options.renderer === undefined;
  if (own) renderer = await createRenderer();
  if (!renderer) {
    if (!hintPrinted) console.log(NO_CHROMIUM_HINT);
    hintPrinted = true;
    return out;
  }
  try {
    const img = await renderer.render(spec);
    out.svg = `${base}.svg`;
    out.png = `${base}.png`;
    await Deno.writeTextFile(out.svg, img.svg);
    await Deno.writeFile(out.png, img.png);
  } finally {
    if (own) await renderer.close();
  }
  return out;
}

/** The layout title text of a spec, if any. */
export function titleOf(spec: PlotSpec): string | undefined {
  const t = spec.layout.title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") {
    return (t as { text: string }).text;
  }
  return undefined;
}
