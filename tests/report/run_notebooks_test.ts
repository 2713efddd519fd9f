import { assert, assertEquals } from "@std/assert";
import { chromiumMissing } from "./_chromium.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * Why the notebooks cannot run here (every tool run_notebooks.sh needs, checked by its own
 * `--check`: jupyter nbconvert, jupyter kernelspec, nbclient, timeout), or null when they can.
 */
export function missingNotebookTools(env: Record<string, string> = {}): string | null {
  try {
    const out = new Deno.Command("bash", {
      args: [`${root}/tools/run_notebooks.sh`, "--check"],
      env,
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (out.success) return null;
    return new TextDecoder().decode(out.stderr).trim() || `exit ${out.code}`;
  } catch (e) {
    return `bash not found (${(e as Error).message})`;
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

async function runScript(dir: string, notebook: string, flags: string[] = []) {
  const out = await new Deno.Command(`${root}/tools/run_notebooks.sh`, {
    args: [...flags, notebook],
    env: { PVL_NB_OUT: `${dir}/out`, PVL_NB_TIMEOUT: "300", PVL_PRESET: "smoke" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

Deno.test("run_notebooks.sh executes the template on the Deno kernel (smoke preset)", async (t) => {
  const missing = missingNotebookTools();
  if (missing) {
    console.log(`skipped: ${missing}`);
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
    await t.step("--commit-outputs writes the outputs back in place, scrubbed", async () => {
      const nb = `${dir}/notebooks/02_commit.ipynb`;
      await Deno.copyFile(`${root}/notebooks/_template.ipynb`, nb);
      const before = JSON.parse(await Deno.readTextFile(nb));
      const r = await runScript(dir, nb, ["--commit-outputs"]);
      assertEquals(r.code, 0, r.text);
      assert(r.text.includes(`wrote its outputs into ${nb}`), r.text);
      const text = await Deno.readTextFile(nb);
      const after = JSON.parse(text);
      // Only outputs and execution counts changed: cells, ids and metadata as committed.
      const strip = (n: { cells: Record<string, unknown>[] }) =>
        n.cells.map(({ outputs: _o, execution_count: _e, ...rest }) => rest);
      assertEquals(strip(after), strip(before));
      assertEquals(after.metadata, before.metadata);
      const mimes = after.cells.flatMap((c: { outputs?: { data?: object }[] }) =>
        (c.outputs ?? []).flatMap((o) => Object.keys(o.data ?? {}))
      );
      assert(mimes.includes("application/vnd.plotly.v1+json"), "plotly bundle kept");
      if (!(await chromiumMissing())) {
        assert(mimes.includes("image/svg+xml"), `a static image with Chromium: ${mimes}`);
      }
      for (const bad of [dir, root, "/tmp/", "/work/", "iopub.execute_input"]) {
        assert(!text.includes(bad), `${bad} in the committed notebook`);
      }
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

Deno.test("run_notebooks.sh --check names a missing jupyter-client in one line with the install line", async () => {
  // A jupyter whose nbconvert works but whose kernelspec (jupyter-client) is missing: the
  // half-installed case that used to fail the notebook test instead of skipping it.
  const bin = await Deno.makeTempDir({ prefix: "pvl_nbcheck_" });
  try {
    await Deno.writeTextFile(
      `${bin}/jupyter`,
      '#!/usr/bin/env bash\nif [[ "$1" == kernelspec ]]; then echo "no jupyter-kernelspec" >&2; exit 1; fi\necho 7.0\n',
    );
    await Deno.chmod(`${bin}/jupyter`, 0o755);
    const msg = missingNotebookTools({ PATH: `${bin}:${Deno.env.get("PATH") ?? ""}` });
    assert(msg !== null, "expected a missing piece");
    assert(msg.includes("jupyter kernelspec (jupyter-client)"), msg);
    assert(msg.includes("apt-get install -y"), msg);
    assertEquals(msg.split("\n").length, 1, msg);
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});
