import { assert, assertEquals, assertThrows } from "@std/assert";
import { barWithErrors } from "../../lib/report/figures.ts";
import {
  display,
  figureBundle,
  inJupyter,
  PLOTLY_MIME,
  presetFromEnv,
  showTable,
} from "../../lib/report/jupyter.ts";

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
