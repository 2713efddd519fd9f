/**
 * `figures/index.html`: every figure (embedded, drawn by an inlined plotly.js) and every
 * table with its reading, grouped per notebook / experiment. One self-contained file that
 * opens offline.
 *
 * On disk each notebook writes `figures/NN_name/`:
 * - `<fig>.json` (+ .html/.svg/.png) from `exportFigure`, `<fig>.reading.md` optional;
 * - `<table>.table.json` (+ .parquet) from `writeTable`, `<table>.reading.md` optional;
 * - `reading.md`: the notebook's short honest reading (see {@linkcode writeReading}).
 *
 * {@linkcode collectSections} reads that layout back; {@linkcode writeIndexPage} writes the page.
 *
 * @module
 */
import { assertPlotSpec, type PlotSpec } from "./figures.ts";
import { jsonForScript, PLOTLY_CONFIG, plotlyBundle, titleOf } from "./export.ts";
import { escapeHtml, readTableJson, toHtml } from "./tables.ts";

/** One embedded figure. */
export interface IndexFigure {
  name: string;
  spec: PlotSpec;
  reading?: string;
  /** Sibling files to link (relative to the index page), e.g. {svg: "02_x/f1.svg"}. */
  links?: Record<string, string>;
}

/** One table (already rendered to HTML). */
export interface IndexTable {
  name: string;
  html: string;
  reading?: string;
  links?: Record<string, string>;
}

/** One notebook / experiment. */
export interface IndexSection {
  /** Stable id, e.g. the directory name "02_rm_quality". */
  id: string;
  title: string;
  reading?: string;
  figures: IndexFigure[];
  tables: IndexTable[];
}

/**
 * Write a notebook's reading to `<dir>/reading.md` (shown under its heading in the index).
 */
export async function writeReading(dir: string, text: string): Promise<string> {
  if (typeof text !== "string" || text.trim().length === 0) {
    throw new TypeError("Invalid text: expected a non-empty reading");
  }
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir.replace(/\/+$/, "")}/reading.md`;
  await Deno.writeTextFile(path, text.trim() + "\n");
  return path;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Read every `NN_name/` directory under `figuresDir` (sorted by name) into sections.
 * Figure specs are the `*.json` files that are not `*.table.json`; files that are not
 * plotly specs are reported in the error.
 */
export async function collectSections(figuresDir: string): Promise<IndexSection[]> {
  const root = figuresDir.replace(/\/+$/, "");
  const dirs: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (e.isDirectory && /^\d+_[A-Za-z0-9_-]+$/.test(e.name)) dirs.push(e.name);
  }
  dirs.sort();
  const sections: IndexSection[] = [];
  for (const id of dirs) {
    const files: string[] = [];
    for await (const e of Deno.readDir(`${root}/${id}`)) if (e.isFile) files.push(e.name);
    files.sort();
    const section: IndexSection = {
      id,
      title: id.replace(/^(\d+)_/, "$1 · ").replaceAll("_", " "),
      figures: [],
      tables: [],
    };
    const reading = await readOptional(`${root}/${id}/reading.md`);
    if (reading) section.reading = reading;
    for (const f of files) {
      const path = `${root}/${id}/${f}`;
      if (f.endsWith(".table.json")) {
        const name = f.slice(0, -".table.json".length);
        const rec = await readTableJson(path);
        const t: IndexTable = { name, html: toHtml(rec), links: { json: `${id}/${f}` } };
        if (await exists(`${root}/${id}/${name}.parquet`)) {
          t.links!.parquet = `${id}/${name}.parquet`;
        }
        const r = await readOptional(`${root}/${id}/${name}.reading.md`);
        if (r) t.reading = r;
        section.tables.push(t);
      } else if (f.endsWith(".json")) {
        const name = f.slice(0, -".json".length);
        const spec = JSON.parse(await Deno.readTextFile(path));
        assertPlotSpec(spec, path);
        const links: Record<string, string> = { json: `${id}/${f}` };
        for (const ext of ["html", "svg", "png"]) {
          if (files.includes(`${name}.${ext}`)) links[ext] = `${id}/${name}.${ext}`;
        }
        const fig: IndexFigure = { name, spec, links };
        const r = await readOptional(`${root}/${id}/${name}.reading.md`);
        if (r) fig.reading = r;
        section.figures.push(fig);
      }
    }
    sections.push(section);
  }
  return sections;
}

function paragraphs(text: string | undefined, cls: string): string {
  if (!text) return "";
  return text.split(/\n\s*\n/).map((p) => `<p class="${cls}">${escapeHtml(p.trim())}</p>`).join(
    "\n",
  );
}

function linkList(links: Record<string, string> | undefined): string {
  if (!links) return "";
  const items = Object.entries(links).map(([k, v]) =>
    `<a href="${escapeHtml(encodeURI(v))}">${escapeHtml(k)}</a>`
  );
  return `<div class="links">${items.join(" · ")}</div>`;
}

const CSS = `
body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:2em}
nav ul{columns:2}figure{margin:16px 0;border:1px solid #eee;padding:8px}
figcaption{font-weight:bold;margin-bottom:4px}.reading{max-width:80ch;white-space:pre-wrap}
.links{font-size:.85em;color:#666}.links a{color:#0072B2}
table.pvl-table{border-collapse:collapse;margin:8px 0;font-size:.9em}
.pvl-table th,.pvl-table td{border:1px solid #ddd;padding:3px 8px}.pvl-table td.num{text-align:right;font-variant-numeric:tabular-nums}
.pvl-table caption{text-align:left;font-weight:bold;padding:4px 0}
td.verdict.reproduced{background:#e3f4e8}td.verdict.not-reproduced,td.verdict.opposite{background:#fbe3e0}td.verdict.absent{background:#fdf3d8}td.verdict.inconclusive{background:#f3f3f3}
`;

/** Options for {@linkcode indexHtml}. */
export interface IndexOptions {
  /** Page title; default "Prefix-Value Lab: figures". */
  title?: string;
}

/**
 * The complete self-contained index page for `sections` (plotly inlined once; each figure a
 * `<div class="plot">` drawn on load; a draw failure is logged with `console.error`).
 *
 * @example
 * ```ts ignore
 * import { indexHtml } from "./index_page.ts";
 * const html = await indexHtml([{ id: "01_demo", title: "demo", figures: [], tables: [] }]);
 * ```
 */
export async function indexHtml(
  sections: readonly IndexSection[],
  options: IndexOptions = {},
): Promise<string> {
  if (!Array.isArray(sections)) {
    throw new TypeError("Invalid sections: expected an array of IndexSection");
  }
  const title = escapeHtml(options.title ?? "Prefix-Value Lab: figures");
  const plots: { id: string; spec: PlotSpec }[] = [];
  const body: string[] = [];
  const nav: string[] = [];
  for (const s of sections) {
    const sid = `sec-${slug(s.id)}`;
    nav.push(`<li><a href="#${sid}">${escapeHtml(s.title)}</a></li>`);
    body.push(`<section id="${sid}"><h2>${escapeHtml(s.title)}</h2>`);
    body.push(paragraphs(s.reading, "reading"));
    for (const f of s.figures) {
      assertPlotSpec(f.spec, `sections[${s.id}].figures[${f.name}].spec`);
      const pid = `plot-${slug(s.id)}-${slug(f.name)}`;
      plots.push({ id: pid, spec: f.spec });
      body.push(
        `<figure><figcaption>${escapeHtml(titleOf(f.spec) ?? f.name)}</figcaption>` +
          `<div class="plot" id="${pid}"></div>${paragraphs(f.reading, "reading")}${
            linkList(f.links)
          }</figure>`,
      );
    }
    for (const t of s.tables) {
      body.push(
        `<div class="table-block" id="table-${slug(s.id)}-${slug(t.name)}">${t.html}${
          paragraphs(t.reading, "reading")
        }${linkList(t.links)}</div>`,
      );
    }
    body.push("</section>");
  }
  const plotly = await plotlyBundle();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>${CSS}</style>
<script>${plotly}</script>
</head><body>
<h1>${title}</h1>
<p>Our numbers are means over seeds with 95% Student-t intervals; the paper's numbers
(arXiv 2604.13197v2) are shown beside them, never used for tuning. A claim is
<em>reproduced</em> when the interval of our difference excludes 0 on the paper's side,
<em>opposite</em> when it excludes 0 on the other side, <em>absent</em> when it contains 0 and lies
within half the paper's effect (the SESOI), else <em>inconclusive</em> (docs/results.md).</p>
<nav><ul>${nav.join("")}</ul></nav>
${body.join("\n")}
<script>
const PVL_PLOTS = ${jsonForScript(plots)};
for (const p of PVL_PLOTS) {
  Plotly.newPlot(p.id, p.spec.data, p.spec.layout, ${JSON.stringify(PLOTLY_CONFIG)})
    .catch((e) => console.error("figure " + p.id + " failed: " + e));
}
</script>
</body></html>
`;
}

/**
 * Collect every section under `figuresDir` and write `<figuresDir>/index.html`; returns its
 * path.
 *
 * @example
 * ```ts ignore
 * import { writeIndexPage } from "./index_page.ts";
 * await writeIndexPage("figures");
 * ```
 */
export async function writeIndexPage(
  figuresDir: string,
  options: IndexOptions = {},
): Promise<string> {
  const sections = await collectSections(figuresDir);
  const path = `${figuresDir.replace(/\/+$/, "")}/index.html`;
  await Deno.writeTextFile(path, await indexHtml(sections, options));
  return path;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, "-");
}
