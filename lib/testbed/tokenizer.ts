/**
 * The character-level tokenizer shared by every format of the testbed: one id per
 * character, plus PAD / BOS / EOS. The vocabulary is closed over all formats of
 * format.ts, so a trace re-rendered in another format never needs a new token.
 * Step boundaries are mapped to tokens through the character offsets returned by
 * {@linkcode CharTokenizer.encode}, never by re-tokenising prefixes.
 * @module
 */

/** Padding id (also the id a masked position carries). */
export const PAD_ID = 0;
/** Beginning-of-sequence id. */
export const BOS_ID = 1;
/** End-of-sequence id. */
export const EOS_ID = 2;

/** Every character any format writes: digits, operations, `=`, newline, the tags and separators. */
export const CHARSET = "0123456789+-*/=\n>?#$:;|";

/** An encoded text: ids with the character span `[start, end)` of each token (specials are empty spans). */
export interface Encoding {
  /** Token ids. */
  ids: number[];
  /** Character start of each token in the encoded text. */
  starts: number[];
  /** Character end (exclusive) of each token. */
  ends: number[];
}

/** Character-level tokenizer over {@linkcode CHARSET}. */
export class CharTokenizer {
  /** Number of ids (specials + characters). */
  readonly vocabSize: number;
  readonly #toId = new Map<string, number>();
  readonly #toChar: string[] = ["<pad>", "<bos>", "<eos>"];

  /** `charset`: the characters (unique); the default covers every testbed format. */
  constructor(charset: string = CHARSET) {
    for (const ch of charset) {
      if (this.#toId.has(ch)) {
        throw new RangeError(`charset: duplicate character ${JSON.stringify(ch)}`);
      }
      this.#toId.set(ch, this.#toChar.length);
      this.#toChar.push(ch);
    }
    this.vocabSize = this.#toChar.length;
  }

  /**
   * Encodes `text`, optionally wrapped in BOS / EOS; throws on a character outside
   * the vocabulary, naming it and its position.
   *
   * @example
   * ```ts
   * import { CharTokenizer } from "./tokenizer.ts";
   * import { assertEquals } from "@std/assert";
   * const tok = new CharTokenizer();
   * const enc = tok.encode("3+4=0\n", { bos: true });
   * assertEquals(enc.ids.length, 7);
   * assertEquals(enc.starts[1], 0); // the first character follows BOS
   * ```
   */
  encode(text: string, options: { bos?: boolean; eos?: boolean } = {}): Encoding {
    const ids: number[] = [], starts: number[] = [], ends: number[] = [];
    if (options.bos) ids.push(BOS_ID), starts.push(0), ends.push(0);
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      const id = this.#toId.get(ch);
      if (id === undefined) {
        throw new RangeError(
          `text: character ${JSON.stringify(ch)} at ${i} is not in the vocabulary`,
        );
      }
      ids.push(id), starts.push(i), ends.push(i + 1);
    }
    if (options.eos) ids.push(EOS_ID), starts.push(text.length), ends.push(text.length);
    return { ids, starts, ends };
  }

  /**
   * Decodes ids to text. PAD and BOS are dropped; decoding stops at the first EOS
   * (the rest of a sampled row is padding). Unknown ids throw.
   *
   * @example
   * ```ts
   * import { CharTokenizer } from "./tokenizer.ts";
   * import { assertEquals } from "@std/assert";
   * const tok = new CharTokenizer();
   * assertEquals(tok.decode(tok.encode("1+1=2", { bos: true, eos: true }).ids), "1+1=2");
   * ```
   */
  decode(ids: readonly number[]): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === EOS_ID) break;
      if (id === PAD_ID || id === BOS_ID) continue;
      const ch = this.#toChar[id];
      if (ch === undefined || !Number.isInteger(id) || id < 0) {
        throw new RangeError(`ids: unknown id ${id} at ${i}`);
      }
      s += ch;
    }
    return s;
  }

  /** The string of one id (specials as `<pad>`, `<bos>`, `<eos>`), for debugging. */
  token(id: number): string {
    const ch = this.#toChar[id];
    if (ch === undefined) throw new RangeError(`id: unknown id ${id}`);
    return ch;
  }

  /** True when every character of `text` is in the vocabulary. */
  covers(text: string): boolean {
    for (const ch of text) if (!this.#toId.has(ch)) return false;
    return true;
  }
}

/**
 * Exclusive token end of a character boundary: the index of the first token that
 * starts at or after `charEnd` (BOS, an empty span at 0, counts as before it).
 * Use it to turn step character ends into `step_ends` for step scoring.
 *
 * @example
 * ```ts
 * import { CharTokenizer, tokenEnd } from "./tokenizer.ts";
 * import { assertEquals } from "@std/assert";
 * const enc = new CharTokenizer().encode("1+1=2\n2+1=3\n");
 * assertEquals(tokenEnd(enc, 6), 6);
 * ```
 */
export function tokenEnd(enc: Encoding, charEnd: number): number {
  let t = 0;
  while (
    t < enc.ids.length && (enc.starts[t]! < charEnd || (enc.ends[t] === 0 && enc.ids[t] === BOS_ID))
  ) t++;
  return t;
}
