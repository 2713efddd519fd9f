/**
 * The writer's exact statistics (../shared/spec/testbed_v2.md "The writer's exact
 * statistics"): from the SFT data writer's configuration alone, the next-token
 * distribution a perfect SFT policy would have at every response position, and what
 * follows from it: candidate-set size and retained mass per P_min (paper Table 11;
 * lib/eval/candidate_set.ts measures the same on a policy), entropy per response token
 * (the SFT loss floor), accuracy per chain length at the rollout and at the evaluation
 * temperature / top-p, and the share of all-wrong (and all-right) groups of n rollouts.
 *
 * How it is exact. Between two steps the writer's state is visible in the text: the
 * running value it carries is the last result it wrote, and the verify lines written so
 * far (capped by `maxVerify`) can be counted. So the response factorises into pieces,
 * each a finite distribution over strings given that state: the first tag; per step a body
 * (`a op b = r`, in v2 perhaps with a filler, and newline, given the running value and the
 * step's operation) and a tail (optional verify line, and the next step's tag or the answer
 * marker `#`); then the answer digits, newline and EOS, which are fixed. Each piece's
 * strings are prefix-free, so its prefix tree gives the writer's exact next-token
 * distribution at each of its positions (the posterior over the writer's hidden draws
 * given the prefix). A sampler (temperature, then top-p as lib/model/sample.ts) is applied
 * to those exact distributions position by position and the pieces are chained by a
 * forward pass over states: exact for each problem. Over problems: the candidate
 * statistics and the mean accuracy per chain length are exact over the uniform problem
 * distribution (start, operations, operands uniform, as task.ts `generateProblem`; the role
 * partition of splits.ts keeps it uniform up to the hash); the group shares need each
 * problem's accuracy, so they enumerate every problem when there are at most
 * `exactProblemLimit` of a chain length, else average over `samples` problems drawn with
 * `seed` (Monte Carlo over problems, each still exact).
 *
 * {@linkcode writerNextTokens} gives the exact distribution at every position of one given
 * response, to set beside a trained policy's.
 *
 * Averages over positions are token-pooled (the sum over every response position of every
 * response divided by the number of positions, EOS included), as
 * lib/eval/candidate_set.ts pools a policy's rollouts.
 * @module
 */
import { Rng } from "../prng.ts";
import { ALT_STEP_TAGS, FILLER, FILLER_SLOTS, STEP_TAG } from "./format.ts";
import {
  DEFAULT_WRITER_VARIANTS,
  findMisconception,
  resolveSftDataConfig,
  type SftDataConfig,
  type WriterVersion,
} from "./misconceptions.ts";
import { type Bucket, DEFAULT_SPLIT_CONFIG } from "./splits.ts";
import {
  applyOp,
  generateProblem,
  isCommutative,
  mod,
  type Op,
  type Problem,
  resolveTaskConfig,
  type TaskConfig,
} from "./task.ts";
import { CharTokenizer, EOS_ID } from "./tokenizer.ts";

/** A sampling rule applied to a next-token distribution: temperature, then top-p (lib/model/sample.ts). */
export interface Sampler {
  /** Temperature (> 0; 1 = the distribution itself). */
  temperature: number;
  /** Nucleus mass in (0, 1] (1 = off). */
  topP: number;
}

/** Options of {@linkcode writerStatistics}. */
export interface WriterStatisticsOptions {
  /** The task (default task.ts `DEFAULT_TASK_CONFIG`: mod 7, `+ - *`, k in 2..8). */
  task?: Partial<TaskConfig>;
  /** Candidate-set thresholds (default the paper's 0.05, 0.1, 0.2). */
  pMins?: number[];
  /** The rollout sampler of RM data and GRPO groups (default T = 1, top-p 1). */
  rollout?: Sampler;
  /** The avg@k sampler (default the paper's T = 0.6, top-p 0.95). */
  evaluation?: Sampler;
  /** Rollouts per group n for the all-wrong share (default 4, the paper's GRPO n). */
  groupSize?: number;
  /** avg@k columns (default splits.ts `DEFAULT_SPLIT_CONFIG.policyEval`). */
  buckets?: Bucket[];
  /** Problems drawn per chain length for the group shares when not enumerated (default 1000). */
  samples?: number;
  /** Seed of those draws (default 1). */
  seed?: number;
  /** Enumerate every problem of a chain length when there are at most this many (default 5000). */
  exactProblemLimit?: number;
}

/** Candidate-set statistics of one P_min over response positions (token-pooled). */
export interface CandidateRow {
  /** The threshold. */
  pMin: number;
  /** Mean `|C_t|`, `C_t = {v : π(v|s_t) >= P_min}`. */
  size: number;
  /** Mean retained mass `Σ_{v∈C_t} π(v|s_t)`. */
  mass: number;
  /** Mean size over branching positions only. */
  branchSize: number;
  /** Mean retained mass over branching positions only. */
  branchMass: number;
}

/** Accuracy (final answer right) of one chain length under both samplers. */
export interface AccuracyRow {
  /** Chain length k. */
  k: number;
  /** Accuracy under the rollout sampler (exact over uniform problems). */
  rollout: number;
  /** Accuracy under the evaluation sampler (exact over uniform problems). */
  evaluation: number;
}

/** Shares of groups of n rollouts on one problem that are all wrong / all right, one chain length. */
export interface GroupRow {
  /** Chain length k. */
  k: number;
  /** `E_problem[(1 - a)^n]` under the rollout sampler. */
  allWrongRollout: number;
  /** `E_problem[(1 - a)^n]` under the evaluation sampler. */
  allWrongEvaluation: number;
  /** `E_problem[a^n]` under the rollout sampler. */
  allRightRollout: number;
  /** `E_problem[a^n]` under the evaluation sampler. */
  allRightEvaluation: number;
  /** `"exact"`: every problem enumerated; `"monte_carlo"`: `problems` drawn with the seed. */
  method: "exact" | "monte_carlo";
  /** Problems averaged over. */
  problems: number;
}

/** What {@linkcode writerStatistics} returns. */
export interface WriterStatistics {
  /** The writer version of the config. */
  writer: WriterVersion;
  /** Mean response tokens (EOS included) over the training distribution (k uniform over the task's range). */
  tokensPerResponse: number;
  /** Candidate statistics per P_min, over every response position of the training distribution. */
  candidates: CandidateRow[];
  /** Fraction of positions that branch (more than one token with probability >= {@linkcode BRANCH_P}). */
  branchFraction: number;
  /** Entropy of the next-token distribution per response token (nats): the SFT loss floor. */
  entropy: number;
  /** Accuracy per chain length of the task's range. */
  accuracy: AccuracyRow[];
  /** Accuracy per avg@k bucket (k uniform in the bucket), and their unweighted mean in `meanBucket`. */
  buckets: { name: string; rollout: number; evaluation: number }[];
  /** Unweighted mean over `buckets` (the avg@k analogue under `evaluation`). */
  meanBucket: { rollout: number; evaluation: number };
  /** Group shares per chain length of the task's range. */
  groups: GroupRow[];
  /** Group shares averaged over the task's range (the GRPO prompts: train role, k uniform). */
  meanGroup: {
    allWrongRollout: number;
    allWrongEvaluation: number;
    allRightRollout: number;
    allRightEvaluation: number;
  };
  /** The options used (defaults filled). */
  options: Required<Omit<WriterStatisticsOptions, "task">> & { task: TaskConfig };
}

/**
 * A position branches when more than one token has probability >= this; the same value as
 * lib/eval/candidate_set.ts `BRANCH_P` (not imported: that module loads tfjs).
 */
export const BRANCH_P = 0.01;

/** Probabilities within this of a threshold count as reaching it (rates such as 0.1 are sums of floats). */
const THRESHOLD_EPS = 1e-12;

/** The end-of-sequence token inside piece strings (never a character of any format). */
const EOS = "\u0000";

const TOKENIZER = new CharTokenizer();

/** The tokenizer id of a piece character (top-p breaks ties by the lower id, as lib/model/sample.ts). */
function tokenId(ch: string): number {
  return ch === EOS ? EOS_ID : TOKENIZER.encode(ch).ids[0]!;
}

/**
 * Temperature then top-p applied to a distribution over tokens, as lib/model/sample.ts
 * (`q ∝ π^(1/T)`; keep the most likely tokens, ties by lower id, until their mass reaches
 * topP; renormalise). Pure.
 *
 * @example
 * ```ts
 * import { applySampler } from "./calculator.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * const q = applySampler(new Map([["a", 0.5], ["b", 0.3], ["c", 0.2]]), { temperature: 1, topP: 0.7 });
 * assertAlmostEquals(q.get("a")!, 0.625);
 * assertAlmostEquals(q.get("c") ?? 0, 0);
 * ```
 */
export function applySampler(
  dist: ReadonlyMap<string, number>,
  sampler: Sampler,
): Map<string, number> {
  const { temperature: t, topP } = sampler;
  if (t === 1 && topP >= 1) return new Map(dist);
  let entries = [...dist].map(([c, p]) => [c, Math.pow(p, 1 / t)] as [string, number]);
  const z = entries.reduce((a, [, q]) => a + q, 0);
  entries = entries.map(([c, q]) => [c, q / z]);
  if (topP < 1) {
    entries.sort((a, b) => b[1] - a[1] || tokenId(a[0]) - tokenId(b[0]));
    let cum = 0, cut = entries.length;
    for (let r = 0; r < entries.length; r++) {
      cum += entries[r]![1];
      if (cum >= topP) {
        cut = r + 1;
        break;
      }
    }
    entries = entries.slice(0, cut);
    const zz = entries.reduce((a, [, q]) => a + q, 0);
    entries = entries.map(([c, q]) => [c, q / zz]);
  }
  return new Map(entries);
}

/** Sums over positions of the per-position statistics (weighted by reach probability). */
interface Sums {
  /** Expected number of positions. */
  tokens: number;
  /** Per P_min: Σ size, Σ mass, Σ size at branching positions, Σ mass at branching positions. */
  size: number[];
  mass: number[];
  branchSize: number[];
  branchMass: number[];
  /** Σ entropy (nats). */
  entropy: number;
  /** Σ [position branches]. */
  branch: number;
}

function emptySums(nP: number): Sums {
  const z = () => Array<number>(nP).fill(0);
  return {
    tokens: 0,
    size: z(),
    mass: z(),
    branchSize: z(),
    branchMass: z(),
    entropy: 0,
    branch: 0,
  };
}

function addSums(into: Sums, from: Sums, w: number): void {
  if (w === 0) return;
  into.tokens += w * from.tokens;
  into.entropy += w * from.entropy;
  into.branch += w * from.branch;
  for (let j = 0; j < into.size.length; j++) {
    into.size[j]! += w * from.size[j]!;
    into.mass[j]! += w * from.mass[j]!;
    into.branchSize[j]! += w * from.branchSize[j]!;
    into.branchMass[j]! += w * from.branchMass[j]!;
  }
}

/** Adds `w` times the statistics of one position with next-token distribution `dist`. */
function addPosition(into: Sums, dist: ReadonlyMap<string, number>, pMins: number[], w: number) {
  let h = 0, strong = 0;
  for (const p of dist.values()) {
    if (p > 0) h -= p * Math.log(p);
    if (p >= BRANCH_P - THRESHOLD_EPS) strong++;
  }
  const branches = strong > 1;
  into.tokens += w;
  into.entropy += w * h;
  if (branches) into.branch += w;
  pMins.forEach((pm, j) => {
    let size = 0, mass = 0;
    for (const p of dist.values()) if (p >= pm - THRESHOLD_EPS) size++, mass += p;
    into.size[j]! += w * size;
    into.mass[j]! += w * mass;
    if (branches) into.branchSize[j]! += w * size, into.branchMass[j]! += w * mass;
  });
}

/** One string a piece may be written as, its probability under the writer, and the state it leads to. */
interface Outcome {
  text: string;
  prob: number;
  /** Encoded next state (the piece's own meaning). */
  next: number;
}

/** A piece summarised: its position statistics under the writer, and where it leads under each sampler. */
interface Piece {
  sums: Sums;
  /** next state -> probability under each sampler (index 0: the writer itself). */
  next: Map<number, number[]>;
}

/**
 * Walks the prefix tree of a piece's (prefix-free) outcomes: at each node the writer's
 * next-token distribution, its statistics weighted by the node's probability, and each
 * sampler's probability of each outcome (the product of its transformed distributions).
 */
function walkPiece(outcomes: Outcome[], pMins: number[], samplers: Sampler[]): Piece {
  const merged = new Map<string, Outcome>();
  for (const o of outcomes) {
    if (o.prob <= 0) continue;
    const m = merged.get(o.text);
    if (m) {
      if (m.next !== o.next) throw new Error(`piece: one text, two next states: ${o.text}`);
      m.prob += o.prob;
    } else merged.set(o.text, { ...o });
  }
  const sums = emptySums(pMins.length);
  const next = new Map<number, number[]>();
  const visit = (group: Outcome[], depth: number, reach: number, reachS: number[]) => {
    const children = new Map<string, Outcome[]>();
    for (const o of group) {
      const ch = o.text[depth]!;
      const list = children.get(ch);
      if (list) list.push(o);
      else children.set(ch, [o]);
    }
    const total = group.reduce((a, o) => a + o.prob, 0);
    const dist = new Map<string, number>();
    for (const [ch, list] of children) dist.set(ch, list.reduce((a, o) => a + o.prob, 0) / total);
    addPosition(sums, dist, pMins, reach);
    const transformed = samplers.map((s) => applySampler(dist, s));
    for (const [ch, list] of children) {
      const p = dist.get(ch)!;
      const childS = reachS.map((r, i) => r * (transformed[i]!.get(ch) ?? 0));
      const leaf = list.find((o) => o.text.length === depth + 1);
      if (leaf) {
        if (list.length > 1) throw new Error(`piece: outcomes are not prefix-free at ${leaf.text}`);
        const acc = next.get(leaf.next) ?? Array<number>(samplers.length).fill(0);
        childS.forEach((x, i) => (acc[i]! += x));
        next.set(leaf.next, acc);
      } else visit(list, depth + 1, reach * p, childS);
    }
  };
  const all = [...merged.values()];
  if (all.length > 0) visit(all, 0, 1, samplers.map(() => 1));
  return { sums, next };
}

/** The resolved writer config with v2 defaults filled, and the task's numbers. */
interface Ctx {
  c: SftDataConfig;
  v2: boolean;
  swapRate: number;
  /** Rates of `ALT_STEP_TAGS`. */
  altTagRates: [number, number];
  fillerRate: number;
  p: number;
  pMins: number[];
  samplers: Sampler[];
  /** Number of verify-count values (maxVerify + 1). */
  nV: number;
  bodies: Map<number, Piece>;
  tails: Map<number, Piece>;
}

/**
 * The body of one step (`a op b = r` and newline) given the running value: the draws of
 * misconceptions.ts `plantErrors` (misconception at its rate; else corruption, its kind
 * and value uniform) and, in v2, the order of a commutative step's numbers and the filler's
 * slot. Next state: the written result.
 */
function bodyOutcomes(ctx: Ctx, r: number, op: Op, operand: number): Outcome[] {
  const { c, p } = ctx;
  const out: Outcome[] = [];
  const swap = ctx.v2 && isCommutative(op) ? ctx.swapRate : 0;
  const f = ctx.v2 ? ctx.fillerRate : 0;
  // the filler's slot: none, or slot j (the first slot whose draw fires)
  const slots: [number | null, number][] = [[null, Math.pow(1 - f, FILLER_SLOTS)]];
  for (let j = 0; j < FILLER_SLOTS && f > 0; j++) slots.push([j, Math.pow(1 - f, j) * f]);
  const line = (fields: string[], prob: number, result: number) => {
    for (const [slot, w] of slots) {
      if (w <= 0) continue;
      const fs = [...fields];
      if (slot !== null) fs.splice(slot, 0, FILLER);
      out.push({ text: fs.join("") + "\n", prob: prob * w, next: result });
    }
  };
  const add = (prob: number, value: number, opnd: number, result: number) => {
    if (prob <= 0) return;
    line([String(value), op, String(opnd), "=", String(result)], prob * (1 - swap), result);
    if (swap > 0) line([String(opnd), op, String(value), "=", String(result)], prob * swap, result);
  };
  const m = findMisconception(c.misconceptions, { value: r, op, operand });
  const q = m ? (m.rate ?? c.rate) : 0;
  const truth = applyOp(r, op, operand, p);
  if (q > 0) add(q, r, operand, mod(truth + m!.delta, p));
  const ok = 1 - q, cr = c.corruptionRate;
  add(ok * (1 - cr), r, operand, truth);
  if (ok > 0 && cr > 0) {
    const perKind = (ok * cr) / (p > 2 ? 3 : 2);
    for (let x = 0; x < p; x++) if (x !== truth) add(perKind / (p - 1), r, operand, x);
    if (p > 2) {
      for (let o = 1; o < p; o++) {
        if (o !== operand) add(perKind / (p - 2), r, o, applyOp(r, op, o, p));
      }
    }
    for (let v = 0; v < p; v++) {
      if (v !== r) add(perKind / (p - 1), v, operand, applyOp(v, op, operand, p));
    }
  }
  return out;
}

/** The marker that follows a step's lines: the next step's tag (v2: alternative tags at their rates) or `#`. */
function nextMarkers(ctx: Ctx, isLast: boolean): [string, number][] {
  if (isLast) return [["#", 1]];
  if (!ctx.v2) return [[STEP_TAG, 1]];
  const [a1, a2] = ctx.altTagRates;
  const out: [string, number][] = [[STEP_TAG, 1 - a1 - a2], [ALT_STEP_TAGS[0]!, a1], [
    ALT_STEP_TAGS[1]!,
    a2,
  ]];
  return out.filter(([, w]) => w > 0);
}

/**
 * The tail of one step given its written result and the verify lines so far: a verify
 * line (while under `maxVerify`), then the next marker. Next state: the verify count.
 */
function tailOutcomes(ctx: Ctx, result: number, verifies: number, isLast: boolean): Outcome[] {
  const pv = verifies < ctx.c.maxVerify ? ctx.c.verifyRate : 0;
  const out: Outcome[] = [];
  for (const [v, wv] of [[0, 1 - pv], [1, pv]] as const) {
    for (const [marker, wm] of nextMarkers(ctx, isLast)) {
      const text = (v ? `?${result}\n` : "") + marker;
      out.push({ text, prob: wv * wm, next: verifies + v });
    }
  }
  return out;
}

function body(ctx: Ctx, r: number, op: Op, operand: number): Piece {
  const key = (r * 4 + "+-*/".indexOf(op)) * ctx.p + operand;
  let piece = ctx.bodies.get(key);
  if (!piece) {
    piece = walkPiece(bodyOutcomes(ctx, r, op, operand), ctx.pMins, ctx.samplers);
    ctx.bodies.set(key, piece);
  }
  return piece;
}

function tail(ctx: Ctx, result: number, verifies: number, isLast: boolean): Piece {
  const key = (result * ctx.nV + verifies) * 2 + (isLast ? 1 : 0);
  let piece = ctx.tails.get(key);
  if (!piece) {
    piece = walkPiece(tailOutcomes(ctx, result, verifies, isLast), ctx.pMins, ctx.samplers);
    ctx.tails.set(key, piece);
  }
  return piece;
}

/** The first position: the first step's tag. */
function firstTag(ctx: Ctx): Piece {
  return walkPiece(
    nextMarkers(ctx, false).map(([m, w]) => ({ text: m, prob: w, next: 0 })),
    ctx.pMins,
    ctx.samplers,
  );
}

/** Adds the fixed answer line (digits of `r`, newline) and EOS: positions with one token of probability 1. */
function addAnswer(ctx: Ctx, into: Sums, r: number, w: number): void {
  const n = String(r).length + 2;
  const one = new Map([[EOS, 1]]);
  addPosition(into, one, ctx.pMins, w * n);
}

function makeCtx(config: SftDataConfig, pMins: number[], samplers: Sampler[], p: number): Ctx {
  const c = resolveSftDataConfig(config, { modulus: p });
  const v2 = c.writer === "v2";
  const vs = c.variants ?? DEFAULT_WRITER_VARIANTS;
  return {
    c,
    v2,
    swapRate: vs.swapRate,
    altTagRates: [vs.altTagRate, vs.altTag2Rate],
    fillerRate: vs.fillerRate,
    p,
    pMins,
    samplers,
    nV: c.maxVerify + 1,
    bodies: new Map(),
    tails: new Map(),
  };
}

/**
 * One forward pass over the steps of a chain: `opsAt(i)` lists the step's possible
 * (operation, operand, probability) (one entry for a fixed problem, every pair for the
 * uniform distribution); the state is (true value, written value, counts). Returns the
 * position sums under the writer and the accuracy under each sampler.
 */
function forward(
  ctx: Ctx,
  starts: [number, number][],
  k: number,
  opsAt: (i: number) => readonly { op: Op; operand: number; w: number }[],
): { sums: Sums; accuracy: number[] } {
  const nS = ctx.samplers.length, p = ctx.p, nC = ctx.nV;
  const size = p * p * nC;
  const code = (t: number, r: number, counts: number) => (t * p + r) * nC + counts;
  let dist = Array.from({ length: nS }, () => new Float64Array(size));
  for (const [s, w] of starts) for (const d of dist) d[code(s, s, 0)]! += w;
  const sums = emptySums(ctx.pMins.length);
  addSums(sums, firstTag(ctx).sums, 1);
  for (let i = 0; i < k; i++) {
    const isLast = i === k - 1;
    const nextDist = Array.from({ length: nS }, () => new Float64Array(size));
    const ops = opsAt(i);
    for (let x = 0; x < size; x++) {
      let any = false;
      for (const d of dist) if (d[x]! > 0) any = true;
      if (!any) continue;
      const counts = x % nC, r = Math.floor(x / nC) % p, t = Math.floor(x / nC / p);
      const w0 = dist[0]![x]!;
      for (const { op, operand, w } of ops) {
        const t2 = applyOp(t, op, operand, p);
        const b = body(ctx, r, op, operand);
        addSums(sums, b.sums, w0 * w);
        for (const [res, pb] of b.next) {
          const tl = tail(ctx, res, counts, isLast);
          addSums(sums, tl.sums, w0 * w * pb[0]!);
          for (const [c2, pt] of tl.next) {
            const y = code(t2, res, c2);
            for (let s = 0; s < nS; s++) nextDist[s]![y]! += dist[s]![x]! * w * pb[s]! * pt[s]!;
          }
        }
      }
    }
    dist = nextDist;
  }
  const accuracy = Array<number>(nS).fill(0);
  for (let x = 0; x < size; x++) {
    const r = Math.floor(x / nC) % p, t = Math.floor(x / nC / p);
    if (dist[0]![x]! > 0) addAnswer(ctx, sums, r, dist[0]![x]!);
    if (r === t) { for (let s = 0; s < nS; s++) accuracy[s]! += dist[s]![x]!; }
  }
  return { sums, accuracy };
}

function uniformOps(task: TaskConfig): { op: Op; operand: number; w: number }[] {
  const pairs: { op: Op; operand: number; w: number }[] = [];
  const n = task.ops.length * (task.modulus - 1);
  for (const op of task.ops) {
    for (let operand = 1; operand < task.modulus; operand++) pairs.push({ op, operand, w: 1 / n });
  }
  return pairs;
}

function checkSampler(s: Sampler, name: string): void {
  if (!(s.temperature > 0) || !Number.isFinite(s.temperature)) {
    throw new RangeError(`${name}.temperature: expected a number > 0, got ${s.temperature}`);
  }
  if (!(s.topP > 0 && s.topP <= 1)) {
    throw new RangeError(`${name}.topP: expected a number in (0, 1], got ${s.topP}`);
  }
}

/**
 * The exact statistics of one problem: position averages over its responses (writer),
 * and its accuracy under the writer, the rollout and the evaluation sampler.
 *
 * @example
 * ```ts
 * import { problemStatistics } from "./calculator.ts";
 * import { assertAlmostEquals } from "@std/assert";
 * // one misconception at q = 0.5 on 2*3, nothing else random: `>2*3=6\n#6\n` or `>2*3=0\n#0\n`
 * const config = {
 *   misconceptions: [{ op: "*" as const, operand: 3, values: [2], delta: 1 }],
 *   rate: 0.5, corruptionRate: 0, verifyRate: 0, maxVerify: 0,
 * };
 * const s = problemStatistics({ start: 2, ops: [{ op: "*", operand: 3 }], modulus: 7 }, config);
 * assertAlmostEquals(s.candidates[0]!.size, 12 / 11); // 11 positions, one holds 2 tokens
 * assertAlmostEquals(s.accuracy.writer, 0.5);
 * ```
 */
export function problemStatistics(
  problem: Problem,
  config: Partial<SftDataConfig>,
  options: Pick<WriterStatisticsOptions, "pMins" | "rollout" | "evaluation"> = {},
): {
  candidates: CandidateRow[];
  entropy: number;
  tokens: number;
  accuracy: { writer: number; rollout: number; evaluation: number };
} {
  const pMins = options.pMins ?? [0.05, 0.1, 0.2];
  const rollout = options.rollout ?? { temperature: 1, topP: 1 };
  const evaluation = options.evaluation ?? { temperature: 0.6, topP: 0.95 };
  checkSampler(rollout, "rollout");
  checkSampler(evaluation, "evaluation");
  const ctx = makeCtx(
    resolveSftDataConfig(config, { modulus: problem.modulus }),
    pMins,
    [{ temperature: 1, topP: 1 }, rollout, evaluation],
    problem.modulus,
  );
  const { sums, accuracy } = forward(
    ctx,
    [[problem.start, 1]],
    problem.ops.length,
    (i) => [{ ...problem.ops[i]!, w: 1 }],
  );
  return {
    candidates: candidateRows(sums, pMins),
    entropy: sums.entropy / sums.tokens,
    tokens: sums.tokens,
    accuracy: { writer: accuracy[0]!, rollout: accuracy[1]!, evaluation: accuracy[2]! },
  };
}

function candidateRows(sums: Sums, pMins: number[]): CandidateRow[] {
  return pMins.map((pMin, j) => ({
    pMin,
    size: sums.size[j]! / sums.tokens,
    mass: sums.mass[j]! / sums.tokens,
    branchSize: sums.branch > 0 ? sums.branchSize[j]! / sums.branch : NaN,
    branchMass: sums.branch > 0 ? sums.branchMass[j]! / sums.branch : NaN,
  }));
}

/** Every problem of chain length k (start, then each step's pair), or null when more than `limit`. */
function allProblems(task: TaskConfig, k: number, limit: number): Problem[] | null {
  const pairs = uniformOps(task);
  if (task.modulus * Math.pow(pairs.length, k) > limit) return null;
  let chains: { op: Op; operand: number }[][] = [[]];
  for (let i = 0; i < k; i++) {
    chains = chains.flatMap((ch) => pairs.map(({ op, operand }) => [...ch, { op, operand }]));
  }
  const out: Problem[] = [];
  for (let start = 0; start < task.modulus; start++) {
    for (const ops of chains) out.push({ start, ops, modulus: task.modulus });
  }
  return out;
}

/**
 * The writer's exact statistics from its configuration (testbed_v2.md "The writer's exact
 * statistics"; the module doc says what is exact and what is Monte Carlo). Runs in about a
 * second for the default task.
 *
 * @example
 * ```ts
 * import { writerStatistics } from "./calculator.ts";
 * import { DEFAULT_SFT_DATA_CONFIG } from "./misconceptions.ts";
 * import { assert } from "@std/assert";
 * const s = writerStatistics(DEFAULT_SFT_DATA_CONFIG, { samples: 50 });
 * assert(s.candidates[0]!.size > 1 && s.candidates[0]!.mass < 1);
 * assert(s.accuracy[0]!.rollout > s.accuracy.at(-1)!.rollout); // longer chains are harder
 * ```
 */
export function writerStatistics(
  config: Partial<SftDataConfig>,
  options: WriterStatisticsOptions = {},
): WriterStatistics {
  const task = resolveTaskConfig(options.task);
  const o = {
    task,
    pMins: options.pMins ?? [0.05, 0.1, 0.2],
    rollout: options.rollout ?? { temperature: 1, topP: 1 },
    evaluation: options.evaluation ?? { temperature: 0.6, topP: 0.95 },
    groupSize: options.groupSize ?? 4,
    buckets: options.buckets ?? structuredClone(DEFAULT_SPLIT_CONFIG.policyEval),
    samples: options.samples ?? 1000,
    seed: options.seed ?? 1,
    exactProblemLimit: options.exactProblemLimit ?? 5000,
  };
  o.pMins.forEach((pm, i) => {
    if (!(pm > 0 && pm <= 1)) {
      throw new RangeError(`pMins[${i}]: expected a number in (0, 1], got ${pm}`);
    }
  });
  checkSampler(o.rollout, "rollout");
  checkSampler(o.evaluation, "evaluation");
  if (!Number.isInteger(o.groupSize) || o.groupSize < 1) {
    throw new RangeError(`groupSize: expected an integer >= 1, got ${o.groupSize}`);
  }
  if (!Number.isInteger(o.samples) || o.samples < 1) {
    throw new RangeError(`samples: expected an integer >= 1, got ${o.samples}`);
  }
  o.buckets.forEach((b, i) => {
    if (
      !(b.minSteps >= 1 && b.maxSteps >= b.minSteps && Number.isInteger(b.minSteps) &&
        Number.isInteger(b.maxSteps))
    ) {
      throw new RangeError(
        `buckets[${i}] (${b.name}): expected 1 <= minSteps <= maxSteps, got ${b.minSteps}..${b.maxSteps}`,
      );
    }
  });
  const p = task.modulus;
  const c = resolveSftDataConfig(config, { modulus: p });
  const ctx = makeCtx(c, o.pMins, [{ temperature: 1, topP: 1 }, o.rollout, o.evaluation], p);
  const pairs = uniformOps(task);
  const starts = Array.from({ length: p }, (_, s) => [s, 1 / p] as [number, number]);
  const perK = new Map<number, { sums: Sums; accuracy: number[] }>();
  const exactK = (k: number) => {
    let r = perK.get(k);
    if (!r) perK.set(k, r = forward(ctx, starts, k, () => pairs));
    return r;
  };
  // candidate statistics: token-pooled over the training distribution (k uniform)
  const pooled = emptySums(o.pMins.length);
  const accuracy: AccuracyRow[] = [];
  const groups: GroupRow[] = [];
  for (let k = task.minSteps; k <= task.maxSteps; k++) {
    const r = exactK(k);
    addSums(pooled, r.sums, 1);
    accuracy.push({ k, rollout: r.accuracy[1]!, evaluation: r.accuracy[2]! });
    groups.push(groupRow(ctx, task, k, o));
  }
  const buckets = o.buckets.map((b) => {
    let rollout = 0, evaluation = 0;
    const n = b.maxSteps - b.minSteps + 1;
    for (let k = b.minSteps; k <= b.maxSteps; k++) {
      const r = exactK(k);
      rollout += r.accuracy[1]! / n, evaluation += r.accuracy[2]! / n;
    }
    return { name: b.name, rollout, evaluation };
  });
  const meanOf = <T>(xs: T[], f: (x: T) => number) =>
    xs.reduce((a, x) => a + f(x), 0) / Math.max(1, xs.length);
  const nK = task.maxSteps - task.minSteps + 1;
  return {
    writer: c.writer ?? "v1",
    tokensPerResponse: pooled.tokens / nK,
    candidates: candidateRows(pooled, o.pMins),
    branchFraction: pooled.branch / pooled.tokens,
    entropy: pooled.entropy / pooled.tokens,
    accuracy,
    buckets,
    meanBucket: {
      rollout: meanOf(buckets, (b) => b.rollout),
      evaluation: meanOf(buckets, (b) => b.evaluation),
    },
    groups,
    meanGroup: {
      allWrongRollout: meanOf(groups, (g) => g.allWrongRollout),
      allWrongEvaluation: meanOf(groups, (g) => g.allWrongEvaluation),
      allRightRollout: meanOf(groups, (g) => g.allRightRollout),
      allRightEvaluation: meanOf(groups, (g) => g.allRightEvaluation),
    },
    options: o,
  };
}

/** Group shares of one chain length: every problem when few enough, else `samples` drawn. */
function groupRow(
  ctx: Ctx,
  task: TaskConfig,
  k: number,
  o: { groupSize: number; samples: number; seed: number; exactProblemLimit: number },
): GroupRow {
  let problems = allProblems(task, k, o.exactProblemLimit);
  const method = problems ? "exact" : "monte_carlo";
  if (!problems) {
    const rng = new Rng(o.seed).fork(`writer_statistics/k=${k}`);
    problems = Array.from(
      { length: o.samples },
      () => generateProblem(rng, { config: task, steps: k }),
    );
  }
  const n = o.groupSize;
  let wr = 0, we = 0, rr = 0, re = 0;
  for (const pr of problems) {
    const { accuracy } = forward(ctx, [[pr.start, 1]], k, (i) => [{ ...pr.ops[i]!, w: 1 }]);
    const ar = accuracy[1]!, ae = accuracy[2]!;
    wr += Math.pow(1 - ar, n), we += Math.pow(1 - ae, n);
    rr += Math.pow(ar, n), re += Math.pow(ae, n);
  }
  const m = problems.length;
  return {
    k,
    allWrongRollout: wr / m,
    allWrongEvaluation: we / m,
    allRightRollout: rr / m,
    allRightEvaluation: re / m,
    method,
    problems: m,
  };
}

/**
 * Every response the writer can write for `problem`, with its probability (the pieces
 * chained; EOS not written). For tests and small chains: throws when there would be more
 * than `limit` (default 200,000) responses.
 *
 * @example
 * ```ts
 * import { responseDistribution } from "./calculator.ts";
 * import { assertEquals } from "@std/assert";
 * const config = { misconceptions: [], corruptionRate: 0, verifyRate: 0.5, maxVerify: 1 };
 * const d = responseDistribution({ start: 1, ops: [{ op: "+", operand: 1 }], modulus: 7 }, config);
 * assertEquals(d, new Map([[">1+1=2\n#2\n", 0.5], [">1+1=2\n?2\n#2\n", 0.5]]));
 * ```
 */
export function responseDistribution(
  problem: Problem,
  config: Partial<SftDataConfig>,
  options: { limit?: number } = {},
): Map<string, number> {
  const limit = options.limit ?? 200_000;
  const ctx = makeCtx(
    resolveSftDataConfig(config, { modulus: problem.modulus }),
    [],
    [],
    problem.modulus,
  );
  type Prefix = { text: string; prob: number; r: number; counts: number };
  let states: Prefix[] = nextMarkers(ctx, false).filter(([, w]) => w > 0).map(([m, w]) => ({
    text: m,
    prob: w,
    r: problem.start,
    counts: 0,
  }));
  problem.ops.forEach(({ op, operand }, i) => {
    const isLast = i === problem.ops.length - 1;
    const out: Prefix[] = [];
    for (const s of states) {
      for (const b of bodyOutcomes(ctx, s.r, op, operand)) {
        for (const t of tailOutcomes(ctx, b.next, s.counts, isLast)) {
          const prob = s.prob * b.prob * t.prob;
          if (prob > 0) {
            out.push({ text: s.text + b.text + t.text, prob, r: b.next, counts: t.next });
          }
        }
      }
      if (out.length > limit) {
        throw new RangeError(`limit: more than ${limit} responses (k = ${problem.ops.length})`);
      }
    }
    states = out;
  });
  const dist = new Map<string, number>();
  for (const s of states) {
    const text = s.text + `${s.r}\n`;
    dist.set(text, (dist.get(text) ?? 0) + s.prob);
  }
  return dist;
}

/**
 * The writer's exact next-token distribution at every position of one response (`response`
 * then EOS, written `"\u0000"` in the maps): what a perfect SFT policy predicts there. Stops
 * after the first token the writer cannot write (`complete: false`; that position's
 * distribution is included, the state after it is unknown).
 *
 * @example
 * ```ts
 * import { writerNextTokens } from "./calculator.ts";
 * import { assertEquals } from "@std/assert";
 * const config = {
 *   misconceptions: [{ op: "*" as const, operand: 3, values: [2], delta: 1 }],
 *   rate: 0.5, corruptionRate: 0, verifyRate: 0, maxVerify: 0,
 * };
 * const problem = { start: 2, ops: [{ op: "*" as const, operand: 3 }], modulus: 7 };
 * const { distributions, complete } = writerNextTokens(problem, ">2*3=0\n#0\n", { config });
 * assertEquals(complete, true);
 * assertEquals(distributions.length, 11); // 10 characters and EOS
 * assertEquals(distributions[5], new Map([["6", 0.5], ["0", 0.5]]));
 * ```
 */
export function writerNextTokens(
  problem: Problem,
  response: string,
  options: { config: Partial<SftDataConfig> },
): { distributions: Map<string, number>[]; complete: boolean } {
  const ctx = makeCtx(
    resolveSftDataConfig(options.config, { modulus: problem.modulus }),
    [],
    [],
    problem.modulus,
  );
  const text = response + EOS;
  const distributions: Map<string, number>[] = [];
  let pos = 0;
  // walks one piece along `text` from `pos`; the outcome reached, or null at an impossible token
  const follow = (outcomes: Outcome[]): Outcome | null => {
    let live = outcomes.filter((o) => o.prob > 0);
    for (let d = 0;; d++) {
      const dist = new Map<string, number>();
      const total = live.reduce((a, o) => a + o.prob, 0);
      for (const o of live) dist.set(o.text[d]!, (dist.get(o.text[d]!) ?? 0) + o.prob / total);
      distributions.push(dist);
      const ch = text[pos + d];
      if (ch === undefined || !dist.has(ch)) return null;
      live = live.filter((o) => o.text[d] === ch);
      const leaf = live.find((o) => o.text.length === d + 1);
      if (leaf) {
        pos += d + 1;
        return leaf;
      }
    }
  };
  const markers = nextMarkers(ctx, false).map(([m, w]) => ({ text: m, prob: w, next: 0 }));
  if (follow(markers) === null) return { distributions, complete: false };
  let r = problem.start, verifies = 0;
  for (let i = 0; i < problem.ops.length; i++) {
    const { op, operand } = problem.ops[i]!;
    const b = follow(bodyOutcomes(ctx, r, op, operand));
    if (b === null) return { distributions, complete: false };
    r = b.next;
    const t = follow(tailOutcomes(ctx, r, verifies, i === problem.ops.length - 1));
    if (t === null) return { distributions, complete: false };
    verifies = t.next;
  }
  const answer = follow([{ text: `${r}\n${EOS}`, prob: 1, next: 0 }]);
  return { distributions, complete: answer !== null && pos === text.length };
}
