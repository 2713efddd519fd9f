import { chromiumMissing } from "./_chromium.ts";
import { assert, assertEquals } from "@std/assert";
import { barWithErrors, lineWithBands } from "../../lib/report/figures.ts";
import { CHROMIUM_ARGS, exportFigure, findChromium } from "../../lib/report/export.ts";
import { collectSections, writeIndexPage, writeReading } from "../../lib/report/index_page.ts";
import { comparisonTable, writeTable } from "../../lib/report/tables.ts";

async function buildDemo(dir: string): Promise<string> {
  const sec = `${dir}/01_demo`;
  await exportFigure(sec, {
    name: "bar",
    spec: barWithErrors([
      { name: "DPO-RM", mean: 27, ciLow: 25, ciHigh: 29, n: 3, paper: 27.8 },
      { name: "IPVRM", mean: 38, ciLow: 36, ciHigh: 40, n: 3, paper: 39.1 },
    ], { title: "F1 by RM" }),
    images: false,
    reading: "IPVRM above DPO-RM.",
  });
  await exportFigure(sec, {
    name: "curve",
    spec: lineWithBands([{
      name: "DistRL",
      x: [0, 1, 2],
      mean: [1, 2, 3],
      low: [0, 1, 2],
      high: [2, 3, 4],
    }]),
    images: false,
  });
  const df = comparisonTable([
    {
      row: "IPVRM - DPO-RM",
      metric: "F1",
      ours: { mean: 11, ciLow: 8, ciHigh: 14, n: 3 },
      paper: 11.3,
      verdict: "reproduced",
    },
  ]);
  await writeTable(df, `${sec}/summary`, { caption: "F1 difference" });
  await writeReading(sec, "A short honest reading.");
  return await writeIndexPage(dir);
}

Deno.test("collectSections() reads figures, tables and readings back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pvl_index_" });
  try {
    await buildDemo(dir);
    const [s, ...rest] = await collectSections(dir);
    assertEquals(rest.length, 0);
    assertEquals(s!.id, "01_demo");
    assertEquals(s!.figures.map((f) => f.name), ["bar", "curve"]);
    assertEquals(s!.figures[0]!.reading, "IPVRM above DPO-RM.");
    assertEquals(s!.tables.map((t) => t.name), ["summary"]);
    assert(s!.tables[0]!.html.includes('class="verdict reproduced"'));
    assertEquals(s!.reading, "A short honest reading.");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("index.html renders every figure in headless Chromium without console errors", async () => {
  const missing = await chromiumMissing();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  const executablePath = findChromium()!;
  const dir = await Deno.makeTempDir({ prefix: "pvl_index_" });
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS] });
  try {
    const index = await buildDemo(dir);
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(`file://${index}`, { waitUntil: "load" });
    await page.waitForFunction(
      () => {
        // deno-lint-ignore no-explicit-any
        const d = (globalThis as any).document;
        return [...d.querySelectorAll("div.plot")].every((
          p: { querySelector(s: string): unknown },
        ) => p.querySelector("svg.main-svg"));
      },
      undefined,
      { timeout: 20_000 },
    );
    const counts = await page.$$eval(
      "div.plot",
      (els) => els.map((e) => e.querySelectorAll("svg").length),
    );
    assertEquals(counts.length, 2);
    assert(counts.every((n) => n > 0), `every plot has an <svg>: ${counts}`);
    assertEquals(await page.$$eval("table.pvl-table", (els) => els.length), 1);
    assertEquals(problems, []);
  } finally {
    await browser.close();
    await Deno.remove(dir, { recursive: true });
  }
});
