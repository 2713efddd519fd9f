/**
 * Worker for the cross-process cache race test: builds the same key as its sibling,
 * writing content that names this process, and prints what it got as JSON.
 * Usage: deno run -A _cache_race_worker.ts <root> <goFile>
 * @module
 */
import { join } from "node:path";
import { ArtifactCache } from "../../lib/run/cache.ts";

const [root, goFile] = Deno.args;
if (!root || !goFile) throw new Error("usage: _cache_race_worker.ts <root> <goFile>");
const cache = new ArtifactCache({ root, log: () => {} });
const a = await cache.getOrBuild({ stage: "race", version: 1, config: {} }, async (dir) => {
  await Deno.writeTextFile(join(dir, "who.txt"), `built by ${Deno.pid}`);
  // Wait until both processes are inside build, so both really race on the rename.
  await Deno.writeTextFile(join(goFile + "." + Deno.pid), "");
  for (let i = 0; i < 200; i++) {
    let ready = 0;
    for await (const e of Deno.readDir(join(goFile, ".."))) {
      if (e.name.startsWith("go.")) ready++;
    }
    if (ready >= 2) break;
    await new Promise((r) => setTimeout(r, 25));
  }
});
console.log(JSON.stringify({ hit: a.hit, who: await Deno.readTextFile(a.file("who.txt")) }));
