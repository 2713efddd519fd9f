/**
 * Generated f32 GEMM kernels in WebAssembly SIMD with relaxed fused multiply-add:
 *
 * - `gemm_nn(a, b, c, M, K, N, i0, i1, relu, scratch)`: rows `i0 <= i < i1` of `C = A B`,
 *   `A [M, K]`;
 * - `gemm_tn(a, b, c, M, K, N, i0, i1, relu, scratch)`: rows `i0 <= i < i1` of `C = A^T B`,
 *   `A [K, M]` stored as it is (the weight gradient `x^T dy` without materialising `x^T`);
 *
 * with `B [K, N]`, `C [M, N]`, all row-major f32 at byte addresses `a`, `b`, `c` of the
 * imported memory; `relu != 0` stores `max(C, 0)`. Rows are split between threads by
 * `[i0, i1)`. Register tiles of `MR = 6` rows by `NR = 8` columns (12 accumulators, 2 B
 * vectors and one broadcast A value: 15 of x86-64's 16 vector registers), then 4-wide and
 * single columns, and 1-5 row tails, each a generated function. Per `k`: 2 loads of B, 6
 * broadcast loads of A, 12 `f32x4.relaxed_madd`. K is cut into blocks of {@linkcode KC}; for
 * each 8-column panel and K block, the B panel is first copied to `scratch` (`KC x 8` floats,
 * 8 KiB, per thread): contiguous, it stays in L1 for every row tile, where B's own rows at a
 * stride of `4N` bytes (2 KiB for N = 512) fall into two cache sets and evict each other.
 * @module
 */
import { Code, type FuncDef, moduleBytes } from "./encode.ts";
import { adamFunc, sumsqFunc } from "./update.ts";

export type GemmKind = "nn" | "tn";
const KINDS: GemmKind[] = ["nn", "tn"];
/** Row tile (registers), column tiles. */
export const MR = 6;
const NRS = [8, 4, 1] as const;
/** K block (rows of a packed B panel). */
export const KC = 256;
type Nr = typeof NRS[number];

// tile parameters
const PA = 0, PB = 1, PC = 2, PK = 3, LDA = 4, LDB = 5, LDC = 6, RELU = 7, ACC = 8;
const TILE_PARAMS = 9;

function tileIndex(kind: GemmKind, mr: number, nr: Nr): number {
  return (KINDS.indexOf(kind) * MR + (mr - 1)) * NRS.length + NRS.indexOf(nr);
}

/**
 * One register tile: `mr x nr` block of C from `pa` (A's first row of the tile), `pb`
 * (B's first column), `pc`, over `k` rows of B; `acc != 0` adds to C instead of storing.
 */
function tile(kind: GemmKind, mr: number, nr: Nr): FuncDef {
  const c = new Code();
  const vec = nr >= 4;
  const nv = vec ? nr / 4 : 0;
  const K_ = TILE_PARAMS; // i32 locals: k, row pointers 1..mr-1 (nn), C pointer
  const rowPtr = (r: number) => (r === 0 ? PA : K_ + r);
  const CP = K_ + mr;
  const i32Locals = mr + 1;
  const F = TILE_PARAMS + i32Locals; // f32 locals (scalar column)
  const f32Locals = vec ? 0 : mr + 1;
  const V = F + f32Locals; // v128 locals
  const acc = (r: number, h: number) => (vec ? V + r * nv + h : F + r);
  const bReg = (h: number) => (vec ? V + mr * nv + h : F + mr);
  const av = V + mr * nv + nv;
  const v128Locals = vec ? mr * nv + nv + 1 : 0;

  if (kind === "nn") {
    for (let r = 1; r < mr; r++) {
      c.get(PA).get(LDA).i32(r).i32Mul().i32Add().set(rowPtr(r));
    }
  }
  // acc: start from C
  c.get(ACC).if();
  c.get(PC).set(CP);
  for (let r = 0; r < mr; r++) {
    for (let h = 0; h < (vec ? nv : 1); h++) {
      c.get(CP);
      if (vec) c.v128Load(16 * h);
      else c.f32Load();
      c.set(acc(r, h));
    }
    if (r + 1 < mr) c.get(CP).get(LDC).i32Add().set(CP);
  }
  c.end();
  c.get(PK).set(K_);
  c.loop();
  for (let h = 0; h < (vec ? nv : 1); h++) {
    c.get(PB);
    if (vec) c.v128Load(16 * h);
    else c.f32Load();
    c.set(bReg(h));
  }
  for (let r = 0; r < mr; r++) {
    const ptr = kind === "nn" ? rowPtr(r) : PA;
    const off = kind === "nn" ? 0 : 4 * r;
    if (vec) {
      c.get(ptr).v128Load32Splat(off).set(av);
      for (let h = 0; h < nv; h++) {
        c.get(av).get(bReg(h)).get(acc(r, h)).f32x4RelaxedMadd().set(acc(r, h));
      }
    } else {
      c.get(ptr).f32Load(off).get(bReg(0)).f32Mul().get(acc(r, 0)).f32Add().set(acc(r, 0));
    }
  }
  if (kind === "nn") {
    for (let r = 0; r < mr; r++) c.get(rowPtr(r)).i32(4).i32Add().set(rowPtr(r));
  } else {
    c.get(PA).get(LDA).i32Add().set(PA);
  }
  c.get(PB).get(LDB).i32Add().set(PB);
  c.get(K_).i32(1).i32Sub().tee(K_).brIf(0);
  c.end();
  // optional ReLU, then store row by row (pc advances by ldc)
  c.get(RELU).if();
  for (let r = 0; r < mr; r++) {
    for (let h = 0; h < (vec ? nv : 1); h++) {
      if (vec) c.get(acc(r, h)).v128Zero().f32x4Max().set(acc(r, h));
      else c.get(acc(r, 0)).f32Const0().f32Max().set(acc(r, 0));
    }
  }
  c.end();
  for (let r = 0; r < mr; r++) {
    for (let h = 0; h < (vec ? nv : 1); h++) {
      c.get(PC).get(acc(r, h));
      if (vec) c.v128Store(16 * h);
      else c.f32Store();
    }
    if (r + 1 < mr) c.get(PC).get(LDC).i32Add().set(PC);
  }
  return { params: TILE_PARAMS, i32Locals, f32Locals, v128Locals, code: c };
}

// pack(src, dst, ldb, k): k rows of 8 floats at a stride of ldb bytes -> contiguous
const PACK_PARAMS = 4;
function pack(): FuncDef {
  const c = new Code();
  const SRC = 0, DST = 1, LD = 2, KK = 3;
  c.loop();
  c.get(DST).get(SRC).v128Load(0).v128Store(0);
  c.get(DST).get(SRC).v128Load(16).v128Store(16);
  c.get(SRC).get(LD).i32Add().set(SRC);
  c.get(DST).i32(32).i32Add().set(DST);
  c.get(KK).i32(1).i32Sub().tee(KK).brIf(0);
  c.end();
  return { params: PACK_PARAMS, i32Locals: 0, f32Locals: 0, v128Locals: 0, code: c };
}

// driver parameters and locals
const A = 0, B = 1, C = 2, M = 3, K = 4, N = 5, I0 = 6, I1 = 7, R = 8, SCR = 9;
const J = 10, I = 11, LA = 12, LB = 13, REM = 14, KB = 15, KCUR = 16, PBP = 17, LDBP = 18;
const ACCF = 19, RL = 20;
const DRIVER_PARAMS = 10, DRIVER_LOCALS = 11;

/**
 * `gemm_<kind>`: column panels of 8, then 4, then 1; in each, K blocks of {@linkcode KC}
 * (8-column panels packed into `scratch`), and row tiles of 6 with a 1-5 row tail.
 */
function driver(kind: GemmKind, packIndex: number): FuncDef {
  const c = new Code();
  // lda: bytes between consecutive rows of A as stored (nn: K floats, tn: M floats)
  c.get(kind === "nn" ? K : M).i32(2).i32Shl().set(LA);
  c.get(N).i32(2).i32Shl().set(LB);
  const callTile = (mr: number, nr: Nr) => {
    // pa: nn a + i*lda + kb*4, tn a + kb*lda + i*4; pc: c + i*ldb + j*4
    c.get(A);
    if (kind === "nn") c.get(I).get(LA).i32Mul().get(KB).i32(2).i32Shl().i32Add();
    else c.get(KB).get(LA).i32Mul().get(I).i32(2).i32Shl().i32Add();
    c.i32Add();
    c.get(PBP);
    c.get(C).get(I).get(LB).i32Mul().i32Add().get(J).i32(2).i32Shl().i32Add();
    c.get(KCUR).get(LA).get(LDBP).get(LB).get(RL).get(ACCF).call(tileIndex(kind, mr, nr));
  };
  for (const nr of NRS) {
    c.block().loop(); // columns: while j + nr <= N
    c.get(J).i32(nr).i32Add().get(N).i32LeU().i32Eqz().brIf(1);
    c.i32(0).set(KB);
    c.block().loop(); // K blocks: while kb < K
    c.get(KB).get(K).i32LtU().i32Eqz().brIf(1);
    // kc = min(KC, K - kb); acc = kb != 0; relu only on the last block
    c.i32(KC).get(K).get(KB).i32Sub().tee(KCUR).i32(KC).get(KCUR).i32LtU().select().set(KCUR);
    c.get(KB).i32(0).i32Ne().set(ACCF);
    c.get(R).i32(0).get(KB).get(KCUR).i32Add().get(K).i32Eq().select().set(RL);
    // B block at b + kb*ldb + j*4
    c.get(B).get(KB).get(LB).i32Mul().i32Add().get(J).i32(2).i32Shl().i32Add().set(PBP);
    if (nr === 8) {
      c.get(PBP).get(SCR).get(LB).get(KCUR).call(packIndex);
      c.get(SCR).set(PBP);
      c.i32(32).set(LDBP);
    } else {
      c.get(LB).set(LDBP);
    }
    c.get(I0).set(I);
    c.block().loop(); // row tiles: while i + MR <= i1
    c.get(I).i32(MR).i32Add().get(I1).i32LeU().i32Eqz().brIf(1);
    callTile(MR, nr);
    c.get(I).i32(MR).i32Add().set(I);
    c.br(0);
    c.end().end();
    c.get(I1).get(I).i32Sub().set(REM);
    for (let mr = 1; mr < MR; mr++) {
      c.get(REM).i32(mr).i32Eq().if();
      callTile(mr, nr);
      c.end();
    }
    c.get(KB).get(KCUR).i32Add().set(KB);
    c.br(0);
    c.end().end();
    c.get(J).i32(nr).i32Add().set(J);
    c.br(0);
    c.end().end();
  }
  return {
    name: `gemm_${kind}`,
    params: DRIVER_PARAMS,
    i32Locals: DRIVER_LOCALS,
    f32Locals: 0,
    v128Locals: 0,
    code: c,
  };
}

/** The module: every tile function, the two exported drivers, then ./update.ts's kernels. */
export function gemmModuleBytes(memory: { shared: boolean }): Uint8Array<ArrayBuffer> {
  const funcs: FuncDef[] = [];
  for (const kind of KINDS) {
    for (let mr = 1; mr <= MR; mr++) for (const nr of NRS) funcs.push(tile(kind, mr, nr));
  }
  const packIndex = funcs.length;
  funcs.push(pack(), driver("nn", packIndex), driver("tn", packIndex), adamFunc(), sumsqFunc());
  return moduleBytes(funcs, memory);
}

/**
 * Signature of the exported drivers (byte addresses; rows `[i0, i1)`; `scratch`: `KC * 32`
 * bytes of this thread's own, 16-byte aligned).
 */
export type GemmFn = (
  a: number,
  b: number,
  c: number,
  m: number,
  k: number,
  n: number,
  i0: number,
  i1: number,
  relu: number,
  scratch: number,
) => void;
