/**
 * Internal: how the command lines end on a bad input: one line on stderr naming what was wrong,
 * exit status 2, never a stack trace.
 * @module
 */
import { BackendError, type BackendInfo, processEnv, resolveBackendName } from "../backend.ts";

/** Prints `e`'s message as one line on stderr and exits with status 2 (a usage error). */
export function exitUsage(e: unknown): never {
  const message = e instanceof Error ? e.message : String(e);
  console.error(message.split("\n")[0]);
  Deno.exit(2);
}

/** Checks `--backend` / `$PVL_BACKEND` before any work starts (throws naming the flag). */
export function checkBackendArg(args: readonly string[]): void {
  resolveBackendName(args, processEnv());
}

/** Starts the backend with `start`; one that cannot start (e.g. no GPU) ends in one line, exit 2. */
export async function startBackend(start: () => Promise<BackendInfo>): Promise<BackendInfo> {
  try {
    return await start();
  } catch (e) {
    if (e instanceof BackendError) exitUsage(e);
    throw e;
  }
}
