/**
 * Seeded pseudo-random numbers (xoshiro128**, seeded through splitmix32), with a
 * state that can be saved and restored so that runs resume exactly. Library code
 * never calls `Math.random`: every stochastic function takes an {@linkcode Rng}.
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
