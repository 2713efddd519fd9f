/**
 * A minimal WebAssembly binary writer: just what the GEMM kernels of ./kernels.ts need
 * (i32 control flow and arithmetic, f32 scalars, 128-bit SIMD with relaxed fused
 * multiply-add, one imported memory). Instructions are appended to a {@linkcode Code}
 * buffer; {@linkcode moduleBytes} assembles functions into a module.
 * @module
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`uleb: expected an integer >= 0, got ${n}`);
  }
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit range). */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
    throw new RangeError(`sleb: expected a 32-bit integer, got ${n}`);
  }
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const SIMD = 0xfd;

/** Instruction buffer of one function body, with typed helpers (alignment as natural). */
export class Code {
  readonly bytes: number[] = [];
  private op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  private simd(code: number, ...rest: number[]): this {
    return this.op(SIMD, ...uleb(code), ...rest);
  }
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if(): this {
    return this.op(0x04, 0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.op(0x0c, ...uleb(depth));
  }
  brIf(depth: number): this {
    return this.op(0x0d, ...uleb(depth));
  }
  call(fn: number): this {
    return this.op(0x10, ...uleb(fn));
  }
  get(l: number): this {
    return this.op(0x20, ...uleb(l));
  }
  set(l: number): this {
    return this.op(0x21, ...uleb(l));
  }
  tee(l: number): this {
    return this.op(0x22, ...uleb(l));
  }
  i32(n: number): this {
    return this.op(0x41, ...sleb(n));
  }
  /** `cond ? a : b`. Stack: a, b, cond. */
  select(): this {
    return this.op(0x1b);
  }
  i32Ne(): this {
    return this.op(0x47);
  }
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32Eq(): this {
    return this.op(0x46);
  }
  i32LtU(): this {
    return this.op(0x49);
  }
  i32LeU(): this {
    return this.op(0x4d);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  f32Load(offset = 0): this {
    return this.op(0x2a, 2, ...uleb(offset));
  }
  f32Store(offset = 0): this {
    return this.op(0x38, 2, ...uleb(offset));
  }
  f32Const0(): this {
    return this.op(0x43, 0, 0, 0, 0);
  }
  f32Sqrt(): this {
    return this.op(0x91);
  }
  f32Add(): this {
    return this.op(0x92);
  }
  f32Sub(): this {
    return this.op(0x93);
  }
  f32Div(): this {
    return this.op(0x95);
  }
  f32Mul(): this {
    return this.op(0x94);
  }
  f32Max(): this {
    return this.op(0x97);
  }
  v128Load(offset = 0): this {
    return this.simd(0x00, 4, ...uleb(offset));
  }
  v128Load32Splat(offset = 0): this {
    return this.simd(0x09, 2, ...uleb(offset));
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b, 4, ...uleb(offset));
  }
  v128Zero(): this {
    return this.simd(0x0c, ...new Array(16).fill(0));
  }
  f32x4Sqrt(): this {
    return this.simd(0xe3);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  f32x4ExtractLane(lane: number): this {
    return this.simd(0x1f, lane);
  }
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  /** `a * b + c` (relaxed: fused or not, as the engine chooses). Stack: a, b, c. */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }
}

/** One function: `params` i32 parameters, no result; locals by type after the params. */
export interface FuncDef {
  name?: string; // exported under this name when set
  params: number;
  i32Locals: number;
  f32Locals: number;
  v128Locals: number;
  code: Code;
}

/**
 * A module importing `env.memory` (`shared` as the host's memory is: a shared memory must be
 * imported as shared) with the given functions, in order (function index = position).
 */
export function moduleBytes(
  funcs: FuncDef[],
  memory: { shared: boolean },
): Uint8Array<ArrayBuffer> {
  const paramCounts = [...new Set(funcs.map((f) => f.params))];
  const types = paramCounts.map((n) => [0x60, ...uleb(n), ...new Array(n).fill(0x7f), 0]);
  const imports = [[
    ...name("env"),
    ...name("memory"),
    0x02,
    ...(memory.shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)]),
  ]];
  const funcTypes = funcs.map((f) => uleb(paramCounts.indexOf(f.params)));
  const exports = funcs
    .map((f, i) => (f.name ? [...name(f.name), 0x00, ...uleb(i)] : null))
    .filter((e): e is number[] => e !== null);
  const bodies = funcs.map((f) => {
    const locals: number[][] = [];
    if (f.i32Locals) locals.push([...uleb(f.i32Locals), 0x7f]);
    if (f.f32Locals) locals.push([...uleb(f.f32Locals), 0x7d]);
    if (f.v128Locals) locals.push([...uleb(f.v128Locals), 0x7b]);
    const body = [...vec(locals), ...f.code.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcTypes)),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}
