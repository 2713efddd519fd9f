/**
 * Progress lines for long jobs, one line per update on stderr (no carriage returns,
 * so logs and CI stay readable):
 * `[sft] step 120/500 (24%) loss 1.234 tok/s 14,230 eta 3m12s`.
 * Updates are rate limited (every N seconds and/or N steps, the last step always);
 * rates and the ETA come from an exponential moving average over time, so they follow
 * the current speed rather than the average since start. Clock and writer are
 * injectable for tests.
 * @module
 */

/** Options of {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Total number of steps; omit when unknown (no percentage, no ETA). */
  total?: number;
  /** First step (for a resumed run), so the rate is not inflated by earlier steps. Default 0. */
  startStep?: number;
  /** Print at most once per this many seconds (0 = no time limit). Default 10. */
  everySeconds?: number;
  /** Also print whenever this many steps passed since the last line. Default: off. */
  everySteps?: number;
  /** Time constant of the moving rate, in seconds. Default 30. */
  rateTauSeconds?: number;
  /** Clock in milliseconds. Default `performance.now`. */
  now?: () => number;
  /** Line sink (without newline). Default: write the line and "\n" to stderr. */
  write?: (line: string) => void;
}

/** Values reported with one step. */
export interface ProgressUpdate {
  /** Loss at this step, printed with 3 decimals. */
  loss?: number;
  /** Cumulative tokens processed so far (since `startStep`); gives `tok/s`. */
  tokens?: number;
  /** Further named values, printed as `name value` (4 significant digits). */
  metrics?: Record<string, number>;
}

/** A progress reporter, from {@linkcode createProgress}. */
export interface Progress {
  /** Report that `step` steps are done; prints when the rate limit allows or at the last step. */
  update(step: number, values?: ProgressUpdate): void;
  /** Print the latest state if it was not printed, then `[stage] done N steps in 3m12s`. */
  finish(): void;
}

const encoder = new TextEncoder();

function defaultWrite(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
}

/**
 * A duration as compact text: `45s`, `3m12s`, `1h02m`, `2d03h`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(formatDuration(192), "3m12s");
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/**
 * An integer with thousands separators, independent of the locale: `14,230`.
 *
 * @example
 * ```ts
 * import { formatCount } from "./progress.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(formatCount(14230.4), "14,230");
 * ```
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const r = Math.round(n);
  const digits = String(Math.abs(r)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return r < 0 ? `-${digits}` : digits;
}

function formatMetric(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? String(Number(x.toPrecision(4))) : x.toExponential(3);
}

function checkNonNegative(name: string, v: number | undefined, integer: boolean): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new RangeError(
      `Invalid ${name}: expected a non-negative ${integer ? "integer" : "number"}, got ${v}`,
    );
  }
}

/**
 * A progress reporter for the stage `stage` (printed in brackets).
 *
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * import { assertEquals } from "@std/assert";
 * let t = 0;
 * const lines: string[] = [];
 * const p = createProgress("sft", { total: 500, now: () => t, write: (l) => lines.push(l) });
 * t = 48_000; // 120 steps in 48 s -> 2.5 steps/s, 380 left -> 152 s
 * p.update(120, { loss: 1.2341, tokens: 683_040 });
 * assertEquals(lines[0], "[sft] step 120/500 (24%) loss 1.234 tok/s 14,230 eta 2m32s");
 * ```
 */
export function createProgress(stage: string, options: ProgressOptions = {}): Progress {
  if (typeof stage !== "string" || stage.length === 0) {
    throw new RangeError(
      `Invalid stage: expected a non-empty string, got ${JSON.stringify(stage)}`,
    );
  }
  const { total, startStep = 0, everySteps } = options;
  checkNonNegative("total", total, true);
  checkNonNegative("startStep", startStep, true);
  checkNonNegative("everySteps", everySteps, true);
  checkNonNegative("everySeconds", options.everySeconds, false);
  const everyMs = (options.everySeconds ?? 10) * 1000;
  const tauMs = (options.rateTauSeconds ?? 30) * 1000;
  if (!(tauMs > 0)) {
    throw new RangeError(
      `Invalid rateTauSeconds: expected a positive number, got ${options.rateTauSeconds}`,
    );
  }
  const now = options.now ?? (() => performance.now());
  const write = options.write ?? defaultWrite;

  const t0 = now();
  let last = { t: t0, step: startStep, tokens: 0 };
  let stepRate: number | undefined; // steps per ms, moving
  let tokRate: number | undefined; // tokens per ms, moving
  let lastPrint = { t: t0, step: startStep };
  let latest: { step: number; values: ProgressUpdate } | undefined;
  let latestPrinted = true;

  function observe(t: number, step: number, tokens: number | undefined): void {
    const dt = t - last.t;
    if (dt <= 0) return;
    // Time-weighted EMA: a long gap counts more than a short one, so the estimate does
    // not depend on how often update() is called.
    const w = 1 - Math.exp(-dt / tauMs);
    const sr = (step - last.step) / dt;
    stepRate = stepRate === undefined ? sr : stepRate + w * (sr - stepRate);
    if (tokens !== undefined) {
      const tr = (tokens - last.tokens) / dt;
      tokRate = tokRate === undefined ? tr : tokRate + w * (tr - tokRate);
    }
    last = { t, step, tokens: tokens ?? last.tokens };
  }

  function line(step: number, values: ProgressUpdate): string {
    const parts = [`[${stage}]`];
    if (total !== undefined) {
      const pct = total > 0 ? Math.floor((100 * step) / total) : 100;
      parts.push(`step ${step}/${total} (${pct}%)`);
    } else parts.push(`step ${step}`);
    if (values.loss !== undefined) {
      parts.push(`loss ${Number.isFinite(values.loss) ? values.loss.toFixed(3) : values.loss}`);
    }
    if (values.tokens !== undefined && tokRate !== undefined) {
      parts.push(`tok/s ${formatCount(tokRate * 1000)}`);
    }
    for (const [k, v] of Object.entries(values.metrics ?? {})) {
      parts.push(`${k} ${formatMetric(v)}`);
    }
    if (total !== undefined && step < total) {
      const eta = stepRate !== undefined && stepRate > 0 ? (total - step) / stepRate / 1000 : NaN;
      parts.push(`eta ${formatDuration(eta)}`);
    }
    return parts.join(" ");
  }

  function print(t: number, step: number, values: ProgressUpdate): void {
    write(line(step, values));
    lastPrint = { t, step };
    latestPrinted = true;
  }

  return {
    update(step, values = {}) {
      if (!Number.isFinite(step) || step < 0) {
        throw new RangeError(`Invalid step: expected a non-negative number, got ${step}`);
      }
      const t = now();
      observe(t, step, values.tokens);
      latest = { step, values };
      latestPrinted = false;
      const isLast = total !== undefined && step >= total;
      const dueTime = everyMs > 0 && t - lastPrint.t >= everyMs;
      const dueSteps = everySteps !== undefined && everySteps > 0 &&
        step - lastPrint.step >= everySteps;
      if (isLast || dueTime || dueSteps) print(t, step, values);
    },
    finish() {
      const t = now();
      if (latest !== undefined && !latestPrinted) print(t, latest.step, latest.values);
      const steps = (latest?.step ?? startStep) - startStep;
      write(`[${stage}] done ${formatCount(steps)} steps in ${formatDuration((t - t0) / 1000)}`);
    },
  };
}
