import { assertEquals } from "@std/assert";
import { EXPERIMENTS } from "../../lib/experiments/_registry.ts";

const ROOT = new URL("../../notebooks/", import.meta.url);

/** The `const arms = [...]` literal of a notebook's arms cell, evaluated as a module. */
async function notebookArms(file: string): Promise<unknown> {
  const nb = JSON.parse(await Deno.readTextFile(new URL(file, ROOT)));
  const cell = (nb.cells as { cell_type: string; source: string[] }[])
    .map((c) => c.source.join(""))
    .find((s) => s.startsWith("const arms"));
  if (!cell) throw new Error(`${file}: no "const arms" cell`);
  const literal = cell.slice(cell.indexOf("= [") + 2, cell.lastIndexOf("];") + 1);
  const tmp = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(tmp, `export default ${literal};\n`);
    return (await import(`file://${tmp}`)).default;
  } finally {
    await Deno.remove(tmp);
  }
}

Deno.test("each notebook's arms cell equals its experiment's arms (the notebook shows what runs)", async (t) => {
  for (const e of EXPERIMENTS) {
    await t.step(e.id, async () => {
      assertEquals(await notebookArms(`${e.id}.ipynb`), e.arms());
    });
  }
});
