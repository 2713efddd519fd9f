import { assert, assertEquals, assertThrows } from "@std/assert";
import { barWithErrors } from "../../lib/report/figures.ts";
import {
  closeNotebookRenderer,
  display,
  figureBundle,
  imageFromEnv,
  inJupyter,
  notebookRenderer,
  PLOTLY_MIME,
  presetFromEnv,
  showTable,
} from "../../lib/report/jupyter.ts";
import type { Renderer } from "../../lib/report/export.ts";
import { chromiumMissing } from "./_chromium.ts";

const spec = barWithErrors([{ name: "A", mean: 1, ciLow: 0.5, ciHigh: 1.5 }], { title: "t" });

Deno.test("figureBundle() carries the plotly MIME type, an HTML fallback and text", async () => {
  const b = await figureBundle(spec);
  assertEquals(b[PLOTLY_MIME], spec);
  assert(String(b["text/html"]).includes("Plotly.newPlot"));
  assert(!String(b["text/html"]).includes("plotly.js v4.1.2"), "not inlined by default");
  assertEquals(b["text/plain"], "[figure] t (1 traces)");
  const inl = await figureBundle(spec, { inlinePlotly: true });
  assert(String(inl["text/html"]).includes("plotly.js v4.1.2"), "inlined on request");
});

Deno.test("display() / showTable() print a fallback outside Jupyter", async () => {
  assertEquals(inJupyter(), false);
  const logged: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => logged.push(a.join(" "));
  try {
    await display(spec);
    await showTable({ columns: ["a"], rows: [{ a: 1 }] });
  } finally {
    console.log = orig;
  }
  assertEquals(logged, ["[figure] t (1 traces)", "| a |\n|---|\n| 1 |\n"]);
});

Deno.test("presetFromEnv() reads $PVL_PRESET as an experiment preset, defaulting to default", () => {
  const old = Deno.env.get("PVL_PRESET");
  try {
    Deno.env.delete("PVL_PRESET");
    assertEquals(presetFromEnv(), "default");
    assertEquals(presetFromEnv("full"), "full");
    Deno.env.set("PVL_PRESET", "smoke");
    assertEquals(presetFromEnv(), "smoke");
    Deno.env.set("PVL_PRESET", "paper");
    assertThrows(
      () => presetFromEnv(),
      RangeError,
      'Invalid $PVL_PRESET: expected one of "smoke", "default", "full", "gpu", got "paper"',
    );
  } finally {
    if (old === undefined) Deno.env.delete("PVL_PRESET");
    else Deno.env.set("PVL_PRESET", old);
  }
});

/** A renderer that needs no browser: fixed SVG and PNG bytes, counting its calls. */
function fakeRenderer(fail = false): Renderer & { calls: number } {
  const r = {
    calls: 0,
    render: () => {
      r.calls++;
      if (fail) return Promise.reject(new Error("page crashed"));
      return Promise.resolve({ svg: "<svg>t</svg>", png: new Uint8Array([137, 80, 78, 71]) });
    },
    close: () => Promise.resolve(),
  };
  return r;
}

Deno.test("figureBundle() adds a static SVG, also inside the HTML fallback, when given a renderer", async () => {
  const b = await figureBundle(spec, { renderer: fakeRenderer() });
  assertEquals(Object.keys(b), [PLOTLY_MIME, "text/html", "image/svg+xml", "text/plain"]);
  assertEquals(b["image/svg+xml"], "<svg>t</svg>");
  const html = String(b["text/html"]);
  // base64 of "<svg>t</svg>", in the plot's div; draw() empties the div before plotly draws.
  assert(html.includes(`<img src="data:image/svg+xml;base64,PHN2Zz50PC9zdmc+" alt="t">`), html);
  assert(html.includes('el.innerHTML = ""'), html);
});

Deno.test("figureBundle() adds a base64 PNG on request and no image without renderer or on failure", async () => {
  const png = await figureBundle(spec, { renderer: fakeRenderer(), image: "png" });
  assertEquals(png["image/png"], "iVBORw==");
  assert(String(png["text/html"]).includes("data:image/png;base64,iVBORw=="));
  const none = await figureBundle(spec, { renderer: fakeRenderer(), image: false });
  assertEquals(Object.keys(none), [PLOTLY_MIME, "text/html", "text/plain"]);
  const logged: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => logged.push(a.join(" "));
  try {
    const failed = await figureBundle(spec, { renderer: fakeRenderer(true) });
    assertEquals(Object.keys(failed), [PLOTLY_MIME, "text/html", "text/plain"]);
    assert(!String(failed["text/html"]).includes("<img"), "no image in the fallback");
  } finally {
    console.log = orig;
  }
  assertEquals(logged, ["[figures] no static image: page crashed"]);
});

Deno.test("display() starts no browser outside Jupyter", async () => {
  const r = fakeRenderer();
  const orig = console.log;
  console.log = () => {};
  try {
    await display(spec, { renderer: r });
  } finally {
    console.log = orig;
  }
  assertEquals(r.calls, 0);
});

Deno.test("imageFromEnv() reads $PVL_NB_IMAGE: svg by default, png, or none", () => {
  const old = Deno.env.get("PVL_NB_IMAGE");
  try {
    Deno.env.delete("PVL_NB_IMAGE");
    assertEquals(imageFromEnv(), "svg");
    Deno.env.set("PVL_NB_IMAGE", "png");
    assertEquals(imageFromEnv(), "png");
    Deno.env.set("PVL_NB_IMAGE", "none");
    assertEquals(imageFromEnv(), false);
    Deno.env.set("PVL_NB_IMAGE", "gif");
    assertThrows(() => imageFromEnv(), RangeError, "$PVL_NB_IMAGE");
  } finally {
    if (old === undefined) Deno.env.delete("PVL_NB_IMAGE");
    else Deno.env.set("PVL_NB_IMAGE", old);
  }
});

Deno.test("notebookRenderer() renders a real SVG with headless Chromium and is shared", async () => {
  const missing = await chromiumMissing();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  try {
    const r = await notebookRenderer();
    assert(r !== null, "a renderer where Chromium starts");
    assert((await notebookRenderer()) === r, "one browser per kernel");
    const b = await figureBundle(spec, { renderer: r });
    assert(String(b["image/svg+xml"]).startsWith("<svg"), String(b["image/svg+xml"]).slice(0, 80));
  } finally {
    await closeNotebookRenderer();
  }
});
