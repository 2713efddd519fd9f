import { chromiumMissing } from "./_chromium.ts";
import { assert, assertEquals } from "@std/assert";
import { barWithErrors, lineWithBands } from "../../lib/report/figures.ts";
import { createRenderer, exportFigure } from "../../lib/report/export.ts";

const spec = barWithErrors([
  { name: "DPO-RM", mean: 27.0, ciLow: 25.1, ciHigh: 28.9, n: 3, paper: 27.8 },
  { name: "IPVRM", mean: 38.2, ciLow: 36.0, ciHigh: 40.4, n: 3, paper: 39.1 },
], { title: "ProcessBench F1 </script> test", yTitle: "F1" });

Deno.test("exportFigure() writes a spec .json and a self-contained offline .html", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl_export_" });
  try {
    const out = await exportFigure(`${dir}/01_demo`, {
      name: "bar",
      spec,
      images: false,
      reading: "IPVRM above DPO-RM.",
    });
    assertEquals(JSON.parse(await Deno.readTextFile(out.json)), spec);
    const html = await Deno.readTextFile(out.html);
    // plotly is inlined (no <script src=...>), and the title cannot close the script early.
    assert(html.includes("plotly.js v4.1.2"), "plotly bundle inlined");
    assert(!/<script[^>]+src=/.test(html), "no external scripts");
    assertEquals(html.split("</script>").length - 1, 2);
    assertEquals(await Deno.readTextFile(`${dir}/01_demo/bar.reading.md`), "IPVRM above DPO-RM.\n");
    assertEquals(out.svg, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportFigure() renders .svg and .png with one shared Chromium", async (t) => {
  const missing = await chromiumMissing();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "pvl_export_" });
  const renderer = await createRenderer();
  try {
    await t.step("bar with error bars", async () => {
      const out = await exportFigure(dir, { name: "bar", spec, renderer });
      const svg = await Deno.readTextFile(out.svg!);
      assert(svg.startsWith("<svg"), svg.slice(0, 40));
      assert(svg.includes("IPVRM"), "category label rendered as text");
      const png = await Deno.readFile(out.png!);
      assertEquals([...png.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    });
    await t.step("line with bands through the same browser", async () => {
      const line = lineWithBands([{
        name: "a",
        x: [0, 1, 2],
        mean: [1, 2, 3],
        low: [0, 1, 2],
        high: [2, 3, 4],
      }]);
      const out = await exportFigure(dir, { name: "line", spec: line, renderer });
      assert((await Deno.readTextFile(out.svg!)).includes("<path"));
    });
  } finally {
    await renderer?.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportFigure() names bad arguments", async () => {
  let msg = "";
  try {
    await exportFigure("/tmp", { name: "a b", spec, images: false });
  } catch (e) {
    msg = String(e);
  }
  assert(msg.includes("Invalid options.name"), msg);
  try {
    // deno-lint-ignore no-explicit-any
    await exportFigure("/tmp", { name: "x", spec: { data: {} } as any, images: false });
  } catch (e) {
    msg = String(e);
  }
  assert(msg.includes("Invalid options.spec.data"), msg);
});
