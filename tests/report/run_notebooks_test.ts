import { assert, assertEquals } from "@std/assert";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

function hasJupyter(): boolean {
  try {
    return new Deno.Command("jupyter", {
      args: ["nbconvert", "--version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A scratch repo: symlinks to lib/, data/, deno.json... and real notebooks/ and figures/. */
async function scratch(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "pvl_nbtest_" });
  for (const f of ["lib", "data", "deno.json", "deno.lock", "node_modules"]) {
    await Deno.symlink(`${root}/${f}`, `${dir}/${f}`);
  }
  await Deno.mkdir(`${dir}/notebooks`);
  await Deno.mkdir(`${dir}/figures`);
  return dir;
}

async function runScript(dir: string, notebook: string) {
  const out = await new Deno.Command(`${root}/tools/run_notebooks.sh`, {
    args: [notebook],
    env: { PVL_NB_OUT: `${dir}/out`, PVL_NB_TIMEOUT: "300" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

Deno.test("run_notebooks.sh executes the template on the Deno kernel (smoke preset)", async (t) => {
  if (!hasJupyter()) {
    console.log(
      "skipped: jupyter nbconvert missing; apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client",
    );
    return;
  }
  const dir = await scratch();
  try {
    await t.step("the template runs clean and writes its figure bundle and index", async () => {
      await Deno.copyFile(
        `${root}/notebooks/_template.ipynb`,
        `${dir}/notebooks/00_template.ipynb`,
      );
      const r = await runScript(dir, `${dir}/notebooks/00_template.ipynb`);
      assertEquals(r.code, 0, r.text);
      assert(r.text.includes("ok    00_template"), r.text);
      const files = [...Deno.readDirSync(`${dir}/figures/00_template`)].map((e) => e.name);
      for (
        const f of [
          "curves.json",
          "curves.html",
          "final_by_arm.json",
          "comparison.parquet",
          "reading.md",
        ]
      ) {
        assert(files.includes(f), `${f} in ${files}`);
      }
      assert(Deno.statSync(`${dir}/figures/index.html`).isFile);
      const executed = JSON.parse(Deno.readTextFileSync(`${dir}/out/00_template.ipynb`));
      const mimes = executed.cells.flatMap((c: { outputs?: { data?: object }[] }) =>
        (c.outputs ?? []).flatMap((o) => Object.keys(o.data ?? {}))
      );
      assert(mimes.includes("application/vnd.plotly.v1+json"), "plotly bundle displayed");
    });
    await t.step("a cell error fails the run", async () => {
      const nb = JSON.parse(await Deno.readTextFile(`${root}/notebooks/_template.ipynb`));
      nb.cells.push({
        cell_type: "code",
        id: "boom",
        metadata: {},
        execution_count: null,
        outputs: [],
        source: ["throw new Error('boom');"],
      });
      await Deno.writeTextFile(`${dir}/notebooks/01_broken.ipynb`, JSON.stringify(nb));
      const r = await runScript(dir, `${dir}/notebooks/01_broken.ipynb`);
      assertEquals(r.code, 1, r.text);
      assert(r.text.includes("FAIL  01_broken"), r.text);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
