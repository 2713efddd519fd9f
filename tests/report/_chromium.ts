/**
 * Whether the headless-Chromium tests can run: a Chromium executable ({@linkcode findChromium})
 * that actually starts headless through playwright-core with the project's flags (a binary
 * without its shared libraries, or one that cannot start in this sandbox, skips too).
 */
import { CHROMIUM_ARGS, findChromium, NO_CHROMIUM_HINT } from "../../lib/report/export.ts";

let cached: Promise<string | null> | null = null;

/** Why the Chromium tests skip here (one line with the install hint), or null when they can run. */
export function chromiumMissing(): Promise<string | null> {
  cached ??= (async () => {
    const executablePath = findChromium();
    if (!executablePath) return NO_CHROMIUM_HINT;
    try {
      const { chromium } = await import("playwright-core");
      const browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS] });
      await browser.close();
      return null;
    } catch (e) {
      const first = (e as Error).message.split("\n").find((l) => l.trim()) ?? String(e);
      return `${executablePath} does not start headless (${first.trim()}); ` +
        "`apt-get install chromium` (Debian) installs it with its libraries";
    }
  })();
  return cached;
}
