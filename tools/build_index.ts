/**
 * Rebuild figures/index.html from every figures/NN_name/ directory.
 *
 *   deno run -A tools/build_index.ts [figures-dir]
 *
 * @module
 */
import { writeIndexPage } from "../lib/report/index_page.ts";

if (import.meta.main) {
  const dir = Deno.args[0] ?? "figures";
  console.log(`wrote ${await writeIndexPage(dir)}`);
}
