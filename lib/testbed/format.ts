/**
 * Renderings of problems and solutions, and their parsers.
 *
 * One prompt for every format: the chain, then `=` (e.g. `3+4*2-1=`, read left to
 * right, no precedence). Responses, for the trace 3+4=0, 0*2=0, 0-1=6:
 *
 * | format | response | role |
 * |---|---|---|
 * | `sft` | `>3+4=0\n>0*2=0\n?0\n>0-1=6\n#6\n` | SFT data: tag `>` before each step (Eurus "Advance"), occasional verify lines `?v` restating the step's result (Eurus "Verify"), final `#` |
 * | `shifted` | `3+4=0\n0*2=0\n0-1=6\n$6\n` | the ProcessBench analogue: same steps, no tags, other final marker |
 * | `numbered` | `1:3+4=0\n2:0*2=0\n3:0-1=6\n#6\n` | base-model mix ("Step i:" as ProcessBench renders steps) |
 * | `inline` | `3+4=0;0*2=0;0-1=6;\|6\n` | base-model mix: one line, `;` separators |
 *
 * The testbed v2 writer (../shared/spec/testbed_v2.md "What v2 changes", misconceptions.ts)
 * adds neutral variants, all of them right ways to write the same step: in `sft` the
 * alternative step tags `:` and `|` (`:3+4=0`) and one filler character `;` between two fields of
 * a step line (`>3+;4=0`); in every format a commutative step (`+`, `*`) with its two
 * numbers swapped (`4+3=0`). The parsers accept them in every response (a v1 trace never
 * contains them, so v1 texts parse as before) and the labeller never counts them as errors.
 * Both characters are in the v1 vocabulary, so the tokenizer is unchanged.
 *
 * Step segments (for step labels and step scores): step i spans from its first
 * character to the first character of step i+1; verify lines belong to the step they
 * follow; the last step runs to the end of the response, final answer included
 * (as ProcessBench puts the conclusion inside the last step).
 *
 * Lengths with p = 7 (single-digit values): prompt = 2k+2 characters (with `=`;
 * BOS adds 1); step = 6 (`shifted`, `inline`), 7 (`sft`, `numbered` for k <= 9);
 * verify line = 3; final = 3; EOS 1. Whole sequence (BOS + prompt + response + EOS),
 * sft with at most 2 verify lines: 9k + 13 tokens, so k = 8 -> 85, k = 9 -> 94
 * (fits a 96 context); shifted: 8k + 7 -> k = 8: 71. With p = 11 or 97, add up to
 * 3 characters per step and 1 per operand of the prompt; a v2 filler character adds 1.
 * {@linkcode maxSequenceLength} computes the bound.
 * @module
 */
import type { Op, Problem, Step, Trace } from "./task.ts";

/** The renderings of a solution. */
export type Format = "sft" | "shifted" | "numbered" | "inline";

/** Every format, in a fixed order. */
export const FORMATS: readonly Format[] = ["sft", "shifted", "numbered", "inline"];

/** Final-answer marker of each format. */
export const ANSWER_MARKER = {
  sft: "#",
  shifted: "$",
  numbered: "#",
  inline: "|",
} as const satisfies Record<Format, string>;

/** The step tag of the `sft` format (Eurus "Advance"). */
export const STEP_TAG = ">";
/** An alternative step tag of the `sft` format (testbed v2: neutral variants of {@linkcode STEP_TAG}). */
export type AltStepTag = ":" | "|";
/** The alternative step tags, in the order of the writer's `altTagRate` and `altTag2Rate`. */
export const ALT_STEP_TAGS: readonly AltStepTag[] = [":", "|"];
/** The filler character of the `sft` format (testbed v2): at most one per step line, between two fields. */
export const FILLER = ";";
/** Slots a filler may take in a step line: after the tag and after each of the five fields. */
export const FILLER_SLOTS = 6;

/** A rendered response with its step segments in characters (`[starts[i], ends[i])`). */
export interface RenderedResponse {
  /** The response text (after the prompt). */
  text: string;
  /** Character start of each step segment. */
  starts: number[];
  /** Character end (exclusive) of each step segment; the last one is `text.length`. */
  ends: number[];
}

/** A parsed response: steps (null = an unparseable segment), answer, segments, and whether it followed the format. */
export interface ParsedResponse {
  /** One entry per step segment; null where the segment is not a step of this format. */
  steps: (Step | null)[];
  /** The final answer (first final-answer line), or null. */
  answer: number | null;
  /** Character starts of the segments. */
  starts: number[];
  /** Character ends (exclusive) of the segments. */
  ends: number[];
  /** True when every segment parsed, the answer is present and nothing follows it. */
  wellFormed: boolean;
}

/**
 * The prompt of a problem, e.g. `3+4*2-1=`.
 *
 * @example
 * ```ts
 * import { renderPrompt } from "./format.ts";
 * import { assertEquals } from "@std/assert";
 * const ops = [{ op: "+" as const, operand: 4 }, { op: "*" as const, operand: 2 }];
 * assertEquals(renderPrompt({ start: 3, ops, modulus: 7 }), "3+4*2=");
 * ```
 */
export function renderPrompt(problem: Problem): string {
  return `${problem.start}${problem.ops.map((o) => o.op + o.operand).join("")}=`;
}

const PROMPT_RE = /^(\d{1,9})((?:[+\-*/]\d{1,9})+)=$/;

/**
 * Parses a prompt back into a problem (the modulus is not written: pass it), or null.
 *
 * @example
 * ```ts
 * import { parsePrompt } from "./format.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(parsePrompt("3+4*2=", { modulus: 7 })?.ops.length, 2);
 * ```
 */
export function parsePrompt(text: string, options: { modulus: number }): Problem | null {
  const m = PROMPT_RE.exec(text);
  if (!m) return null;
  const ops = [...m[2]!.matchAll(/([+\-*/])(\d{1,9})/g)].map((x) => ({
    op: x[1] as Op,
    operand: Number(x[2]),
  }));
  return { start: Number(m[1]), ops, modulus: options.modulus };
}

function stepBody(s: Step): string {
  return `${s.value}${s.op}${s.operand}=${s.result}`;
}

/** The fields of a step line after its tag; a filler at slot j sits before field j. */
function stepFields(s: Step): string[] {
  return [String(s.value), s.op, String(s.operand), "=", String(s.result)];
}

/** An `sft` step line's body with its filler (if any) in place. */
function sftStepBody(s: Step): string {
  if (s.filler === undefined) return stepBody(s);
  const f = stepFields(s);
  f.splice(s.filler, 0, FILLER);
  return f.join("");
}

/** Parses an `sft` step body that may hold one filler between fields; null if it does not parse. */
function parseSftStepBody(body: string): Step | null {
  const at = body.indexOf(FILLER);
  if (at < 0) return parseStep(body);
  if (body.indexOf(FILLER, at + 1) >= 0) return null;
  const step = parseStep(body.slice(0, at) + body.slice(at + 1));
  if (step === null) return null;
  // the filler must sit on a field boundary: slot j = number of fields before it
  let len = 0, slot = 0;
  for (const f of stepFields(step)) {
    if (len === at) break;
    len += f.length, slot++;
  }
  if (len !== at) return null;
  step.filler = slot;
  return step;
}

/**
 * Renders a trace in a format. Verify lines, alternative tags and fillers are
 * written in `sft` only (other formats drop them, like the shifted traces of the paper
 * drop action tags); the order of a step's two numbers is kept in every format.
 *
 * @example
 * ```ts
 * import { renderResponse } from "./format.ts";
 * import { assertEquals } from "@std/assert";
 * const step = { value: 3, op: "+" as const, operand: 4, result: 0, verify: 0 };
 * const trace = { steps: [step], answer: 0 };
 * assertEquals(renderResponse(trace, "sft").text, ">3+4=0\n?0\n#0\n");
 * assertEquals(renderResponse(trace, "shifted").text, "3+4=0\n$0\n");
 * ```
 */
export function renderResponse(trace: Trace, format: Format): RenderedResponse {
  let text = "";
  const starts: number[] = [], ends: number[] = [];
  trace.steps.forEach((s, i) => {
    if (i > 0) ends.push(text.length);
    starts.push(text.length);
    switch (format) {
      case "sft":
        text += `${s.tag ?? STEP_TAG}${sftStepBody(s)}\n`;
        if (s.verify !== null) text += `?${s.verify}\n`;
        break;
      case "shifted":
        text += `${stepBody(s)}\n`;
        break;
      case "numbered":
        text += `${i + 1}:${stepBody(s)}\n`;
        break;
      case "inline":
        text += `${stepBody(s)};`;
        break;
    }
  });
  if (trace.answer !== null) text += `${ANSWER_MARKER[format]}${trace.answer}\n`;
  if (trace.steps.length > 0) ends.push(text.length);
  return { text, starts, ends };
}

const STEP_RE = /^(\d{1,9})([+\-*/])(\d{1,9})=(\d{1,9})$/;
const NUM_RE = /^\d{1,9}$/;

function parseStep(body: string): Step | null {
  const m = STEP_RE.exec(body);
  if (!m) return null;
  return {
    value: Number(m[1]),
    op: m[2] as Op,
    operand: Number(m[3]),
    result: Number(m[4]),
    verify: null,
  };
}

/** Pieces of `text`, each with its start, split after every `sep` (the separator stays in the piece). */
function pieces(text: string, sep: string): { body: string; start: number; end: number }[] {
  const out: { body: string; start: number; end: number }[] = [];
  let start = 0;
  while (start < text.length) {
    const j = text.indexOf(sep, start);
    const end = j < 0 ? text.length : j + 1;
    out.push({ body: text.slice(start, j < 0 ? text.length : j), start, end });
    start = end;
  }
  return out;
}

/**
 * Parses a response of a format into step segments and the final answer. Never
 * throws: text that does not follow the format gives null steps / a null answer
 * and `wellFormed: false`. Inverse of {@linkcode renderResponse} on rendered traces.
 * The v2 variants parse in every response: in `sft` a step line tagged `:` or `|` (`tag`) and
 * one filler `;` on a field boundary of a step line (`filler`: its slot); a second filler,
 * or one inside a number, leaves the line unparseable.
 *
 * @example
 * ```ts
 * import { parseResponse } from "./format.ts";
 * import { assertEquals } from "@std/assert";
 * const r = parseResponse(">3+4=0\n?0\n>0*2=0\n#0\n", "sft");
 * assertEquals(r.ends, [10, 20]);
 * assertEquals(r.answer, 0);
 * ```
 */
export function parseResponse(text: string, format: Format): ParsedResponse {
  const steps: (Step | null)[] = [], starts: number[] = [], ends: number[] = [];
  let answer: number | null = null;
  let wellFormed = true;
  let answered = false;
  const marker = ANSWER_MARKER[format];
  const parts = format === "inline"
    ? (() => {
      // the inline answer `|a\n` ends with a newline, not `;`
      const bar = text.indexOf("|");
      const head = bar < 0 ? text : text.slice(0, bar);
      const ps = pieces(head, ";");
      if (bar >= 0) {
        for (const p of pieces(text.slice(bar), "\n")) {
          ps.push({
            ...p,
            start: p.start + bar,
            end: p.end + bar,
          });
        }
      }
      return ps;
    })()
    : pieces(text, "\n");
  const extend = (end: number) => {
    if (ends.length > 0) ends[ends.length - 1] = end;
  };
  for (const { body, start, end } of parts) {
    const closed = format === "inline"
      ? text[end - 1] === ";" || body.startsWith(marker)
      : text[end - 1] === "\n";
    if (!closed) wellFormed = false;
    if (answered) {
      wellFormed = false;
      extend(end);
      continue;
    }
    if (body.startsWith(marker)) {
      const a = body.slice(marker.length);
      if (NUM_RE.test(a)) answer = Number(a);
      else wellFormed = false;
      answered = true;
      extend(end);
      continue;
    }
    if (format === "sft" && body.startsWith("?")) {
      const last = steps.at(-1);
      const v = body.slice(1);
      if (last && last.verify === null && NUM_RE.test(v)) last.verify = Number(v);
      else wellFormed = false;
      extend(end);
      continue;
    }
    let step: Step | null = null;
    if (format === "sft") {
      const alt = ALT_STEP_TAGS.find((t) => body.startsWith(t));
      step = alt || body.startsWith(STEP_TAG) ? parseSftStepBody(body.slice(1)) : null;
      if (step && alt) step.tag = alt;
    } else if (format === "numbered") {
      const m = /^(\d{1,9}):(.*)$/.exec(body);
      step = m && Number(m[1]) === steps.length + 1 ? parseStep(m[2]!) : null;
    } else step = parseStep(body);
    if (step === null) wellFormed = false;
    steps.push(step);
    starts.push(start);
    ends.push(end);
  }
  if (!answered) wellFormed = false;
  if (steps.length > 0) ends[ends.length - 1] = text.length;
  return { steps, answer, starts, ends, wellFormed };
}

/**
 * The trace of a parsed response when every segment parsed, else null.
 *
 * @example
 * ```ts
 * import { parseResponse, traceOf } from "./format.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(traceOf(parseResponse("3+4=0\n$0\n", "shifted"))?.answer, 0);
 * ```
 */
export function traceOf(parsed: ParsedResponse): Trace | null {
  if (parsed.steps.some((s) => s === null)) return null;
  return { steps: parsed.steps as Step[], answer: parsed.answer };
}

/**
 * The text of each step segment (the ProcessBench row `steps` field of a rendered response).
 *
 * @example
 * ```ts
 * import { stepTexts } from "./format.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(stepTexts("3+4=0\n0*2=0\n$0\n", "shifted"), ["3+4=0\n", "0*2=0\n$0\n"]);
 * ```
 */
export function stepTexts(text: string, format: Format): string[] {
  const p = parseResponse(text, format);
  return p.starts.map((s, i) => text.slice(s, p.ends[i]));
}

/**
 * Upper bound on BOS + prompt + response + EOS tokens for chain length k
 * (values below `modulus`, at most `maxVerify` verify lines and `maxFiller` filler
 * characters in `sft`; `maxVerify` defaults to one per step, `maxFiller` to 0 as v1 writes
 * none; the v2 writer writes at most one per step).
 *
 * @example
 * ```ts
 * import { maxSequenceLength } from "./format.ts";
 * import { assertEquals } from "@std/assert";
 * assertEquals(maxSequenceLength(8, { format: "sft", modulus: 7, maxVerify: 2 }), 85);
 * ```
 */
export function maxSequenceLength(
  k: number,
  options: { format: Format; modulus: number; maxVerify?: number; maxFiller?: number },
): number {
  const d = String(options.modulus - 1).length;
  const prompt = d + k * (1 + d) + 1;
  const body = 3 * d + 2;
  const perStep = {
    sft: body + 2,
    shifted: body + 1,
    numbered: body + 2 + String(k).length,
    inline: body + 1,
  }[options.format];
  const sft = options.format === "sft";
  const verify = sft ? Math.min(options.maxVerify ?? k, k) * (d + 2) : 0;
  const filler = sft ? Math.min(options.maxFiller ?? 0, k) : 0;
  return 1 + prompt + k * perStep + verify + filler + (d + 2) + 1;
}
