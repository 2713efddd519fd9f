/**
 * Runs conformance cases: JSON Lines in, one JSON line out per case, same order.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { OPS } from "./ops.ts";

/** Answers one input line (already trimmed, non-empty) with one output object. */
export async function runCase(line: string): Promise<Record<string, unknown>> {
  let c: unknown;
  try {
    c = JSON.parse(line);
  } catch (e) {
    return { id: null, error: `input: not a JSON line (${(e as Error).message})` };
  }
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    return { id: null, error: "input: expected a JSON object {id, op, args}" };
  }
  const rec = c as Record<string, unknown>;
  const id = rec.id ?? null;
  const op = rec.op;
  if (typeof op !== "string") return { id, error: `op: expected a string, got ${typeof op}` };
  const fn = OPS[op];
  if (!fn) {
    return { id, error: `op: unknown op "${op}"; known: ${Object.keys(OPS).sort().join(", ")}` };
  }
  const args = rec.args ?? {};
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    return { id, error: "args: expected an object" };
  }
  tf.engine().startScope();
  try {
    const out = await fn(args as Record<string, unknown>);
    return { id, out };
  } catch (e) {
    return { id, error: e instanceof Error ? e.message : String(e) };
  } finally {
    tf.engine().endScope();
  }
}

/** Runs every line of `text`, calling `emit` with each output line in order. */
export async function runLines(text: string, emit: (line: string) => void): Promise<void> {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    emit(JSON.stringify(await runCase(line)));
  }
}
