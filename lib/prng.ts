/**
 * Seeded pseudo-random numbers. {@linkcode Rng}: a sequential stream (xoshiro128**,
 * seeded through splitmix32) with a state that can be saved and restored so that runs
 * resume exactly (data generation, initialisation, problem draws). {@linkcode CounterRng}:
 * counter-based draws (Philox-4x32-10), each a pure function of (seed, stream name,
 * problem, sample, position), for every sampling draw of evaluation and RL rollouts, so
 * that a problem's samples do not depend on the batch it sits in. Library code never
 * calls `Math.random`: every stochastic function takes one of the two.
 * @module
 */

/** Saved state of an {@linkcode Rng}: four uint32 words. */
export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a hash of a string, for deriving sub-seeds from labels. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A seeded generator.
 *
 * @example
 * ```ts
 * import { Rng } from "./prng.ts";
 * import { assertEquals } from "@std/assert";
 * const a = new Rng(7), b = new Rng(7);
 * assertEquals(a.next(), b.next());
 * ```
 */
export class Rng {
  #s: Uint32Array;

  /** `seed`: any integer (a float is rejected); equal seeds give equal streams. */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) {
      throw new RangeError(`Invalid seed: expected an integer, got ${seed}`);
    }
    const sm = splitmix32(seed);
    this.#s = new Uint32Array([sm(), sm(), sm(), sm()]);
    if (this.#s.every((x) => x === 0)) this.#s[0] = 1;
  }

  /** A generator restored from {@linkcode Rng.state}. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.#s = new Uint32Array(state);
    return r;
  }

  /** The current state (copy), for checkpoints. */
  state(): RngState {
    return [this.#s[0]!, this.#s[1]!, this.#s[2]!, this.#s[3]!];
  }

  /** A uniform uint32. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Invalid n: expected an integer >= 1, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** A uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** A standard normal draw (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Shuffles `xs` in place (Fisher-Yates) and returns it. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }

  /** One element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError("Invalid xs: expected a non-empty array");
    return xs[this.int(xs.length)]!;
  }

  /** An independent generator derived from this one's seed stream and a label. */
  fork(label: string): Rng {
    return new Rng((this.nextU32() ^ hashString(label)) | 0);
  }

  /** A positive int32 seed (>= 1: tfjs treats seed 0 as unseeded). */
  seed(): number {
    return 1 + (this.nextU32() % 2147483646);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---------------------------------------------------------------------------------------
// Counter-based draws

/** The high 32 bits of the 64-bit product of two uint32 (the low ones are `Math.imul`). */
function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const lh = aL * bH, hl = aH * bL;
  const mid = ((aL * bL) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * Philox-4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3"): the
 * 4-word block of counter `(c0, c1, c2, c3)` under key `(k0, k1)`, written into `out`.
 * A bijection of the counter for each key; matches Random123's known-answer vectors.
 *
 * @example
 * ```ts
 * import { philox4x32 } from "./prng.ts";
 * import { assertEquals } from "@std/assert";
 * const out = new Uint32Array(4);
 * philox4x32(0, 0, 0, 0, 0, 0, out); // Random123 kat_vectors: philox4x32 10, all zero
 * assertEquals([...out], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
 * ```
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): Uint32Array {
  let x0 = c0 >>> 0, x1 = c1 >>> 0, x2 = c2 >>> 0, x3 = c3 >>> 0;
  let y0 = k0 >>> 0, y1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      y0 = (y0 + 0x9e3779b9) >>> 0;
      y1 = (y1 + 0xbb67ae85) >>> 0;
    }
    const hi0 = mulhi32(0xd2511f53, x0), lo0 = Math.imul(0xd2511f53, x0) >>> 0;
    const hi1 = mulhi32(0xcd9e8d57, x2), lo1 = Math.imul(0xcd9e8d57, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ y0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ y1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
  return out;
}

/**
 * Counter-based uniforms: every draw is a pure function of (seed, stream name, problem,
 * sample, position) through {@linkcode philox4x32} (key: the seed's low word and the
 * stream name's hash; counter: problem, sample, position and the seed's high word). No
 * state is consumed, so a draw never depends on which other draws were made before it,
 * e.g. on the other rows of a sampling batch or their lengths: two policies sampled on
 * the same problem with the same stream share their uniforms (common random numbers).
 *
 * @example
 * ```ts
 * import { CounterRng } from "./prng.ts";
 * import { assert, assertEquals, assertNotEquals } from "@std/assert";
 * const a = new CounterRng(1, "eval/avg"), b = new CounterRng(1, "eval/avg");
 * assertEquals(a.uniform(5, 0, 3), b.uniform(5, 0, 3)); // same key, same draw, any order
 * assertNotEquals(a.uniform(5, 0, 3), a.uniform(5, 1, 3)); // another sample
 * assertNotEquals(a.uniform(5, 0, 3), new CounterRng(1, "rl/rollout").uniform(5, 0, 3));
 * const u = a.uniform(5, 0, 3);
 * assert(u >= 0 && u < 1);
 * ```
 */
export class CounterRng {
  /** Key words (seed low word, stream hash) and the seed's high word. */
  readonly #k0: number;
  readonly #k1: number;
  readonly #c3: number;
  readonly #out = new Uint32Array(4);
  /** The seed it was built with. */
  readonly seed: number;
  /** The stream name it was built with. */
  readonly stream: string;

  /** `seed`: any integer (a float is rejected); `stream`: a name separating uses of one seed. */
  constructor(seed: number, stream: string) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Invalid seed: expected a safe integer, got ${seed}`);
    }
    this.seed = seed;
    this.stream = stream;
    this.#k0 = seed >>> 0;
    this.#k1 = hashString(stream);
    this.#c3 = Math.floor(seed / 4294967296) >>> 0;
  }

  /** A uniform uint32 of (problem, sample, position); each a uint32 (taken modulo 2^32). */
  u32(problem: number, sample: number, position: number): number {
    return philox4x32(problem, sample, position, this.#c3, this.#k0, this.#k1, this.#out)[0]!;
  }

  /** A uniform float in [0, 1) with 32 random bits, of (problem, sample, position). */
  uniform(problem: number, sample: number, position: number): number {
    return this.u32(problem, sample, position) / 4294967296;
  }

  /** A generator of the same seed for another stream name. */
  withStream(stream: string): CounterRng {
    return new CounterRng(this.seed, stream);
  }
}

/**
 * A uint32 problem key of a label (e.g. a problem's canonical text), with `occurrence`
 * telling apart equal labels in one call (the second copy of a problem gets 1, ...).
 *
 * @example
 * ```ts
 * import { counterKey } from "./prng.ts";
 * import { assertEquals, assertNotEquals } from "@std/assert";
 * assertEquals(counterKey("3+4"), counterKey("3+4", 0));
 * assertNotEquals(counterKey("3+4"), counterKey("3+4", 1));
 * ```
 */
export function counterKey(label: string, occurrence = 0): number {
  return hashString(occurrence === 0 ? label : `${label}#${occurrence}`);
}
