/**
 * Generated f32 GEMM kernel in WebAssembly SIMD with relaxed fused multiply-add, strided and
 * batched, exported as
 *
 * `gemm(a, b, c, M, K, N, rsA, csA, rsB, csB, rsC, sA, sB, sC, b0, b1, i0, i1, relu, scratch)`:
 * for every batch `b0 <= t < b1` and rows `i0 <= i < i1`,
 * `C_t[i, j] = sum_k A_t[i, k] B_t[k, j]` (`relu != 0`: `max(., 0)`), where, in bytes of the
 * imported memory, `A_t[i, k]` is at `a + t sA + i rsA + k csA`, `B_t[k, j]` at
 * `b + t sB + k rsB + j csB`, `C_t[i, j]` at `c + t sC + i rsC + 4 j` (C's columns contiguous).
 *
 * Strides make one kernel cover `A B` (`csA = 4`), `A^T B` from A as stored (`rsA = 4`: the
 * weight gradient `x^T dy` without materialising `x^T`), `A B^T` (`rsB = 4`), and the
 * per-(sequence, head) attention products read straight from the time-major `[T, C, E]`
 * projections. Threads split batches, or rows when there is one batch.
 *
 * Register tiles of `MR = 6` rows by `NR = 8` columns (12 accumulators, 2 B vectors and one
 * broadcast A value: 15 of x86-64's 16 vector registers), then 4-wide and single columns, and
 * 1-5 row tails, each a generated function. Per `k`: 2 loads of B, 6 broadcast loads of A, 12
 * `f32x4.relaxed_madd`. K is cut into blocks of {@linkcode KC}; for each column panel and K
 * block, the B panel is first copied to `scratch` (`KC x 8` floats, 8 KiB, per thread):
 * contiguous, it stays in L1 for every row tile (B's own rows at a stride of `4N` bytes, 2 KiB
 * for N = 512, fall into two cache sets and evict each other), and any `csB` becomes
 * contiguous. Each element of C is one chain of fused multiply-adds over k in order, whatever
 * the tile, block or thread that computes it: results do not depend on the thread count.
 * @module
 */
import { Code, type FuncDef, moduleBytes } from "./encode.ts";
import { adamFunc, sumsqFunc } from "./update.ts";

/** Row tile (registers), column tiles. */
export const MR = 6;
const NRS = [8, 4, 1] as const;
/** K block (rows of a packed B panel). */
export const KC = 256;
type Nr = typeof NRS[number];

// tile parameters
const PA = 0, PB = 1, PC = 2, PK = 3, RSA = 4, CSA = 5, LDC = 6, RELU = 7, ACC = 8;
const TILE_PARAMS = 9;

function tileIndex(mr: number, nr: Nr): number {
  return (mr - 1) * NRS.length + NRS.indexOf(nr);
}

/**
 * One register tile: `mr x nr` block of C from `pa` (A's element (i, k0) of the tile's first
 * row), the packed B panel `pb` (`nr` floats per k), `pc`, over `k` values; `acc != 0` adds
 * to C instead of storing.
 */
function tile(mr: number, nr: Nr): FuncDef {
  const c = new Code();
  const vec = nr >= 4;
  const nv = vec ? nr / 4 : 0;
  const K_ = TILE_PARAMS; // i32 locals: k, row pointers 1..mr-1, C pointer
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
  const lanes = vec ? nv : 1;

  for (let r = 1; r < mr; r++) c.get(PA).get(RSA).i32(r).i32Mul().i32Add().set(rowPtr(r));
  // acc: start from C
  c.get(ACC).if();
  c.get(PC).set(CP);
  for (let r = 0; r < mr; r++) {
    for (let h = 0; h < lanes; h++) {
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
  for (let h = 0; h < lanes; h++) {
    c.get(PB);
    if (vec) c.v128Load(16 * h);
    else c.f32Load();
    c.set(bReg(h));
  }
  for (let r = 0; r < mr; r++) {
    if (vec) {
      c.get(rowPtr(r)).v128Load32Splat().set(av);
      for (let h = 0; h < nv; h++) {
        c.get(av).get(bReg(h)).get(acc(r, h)).f32x4RelaxedMadd().set(acc(r, h));
      }
    } else {
      c.get(rowPtr(r)).f32Load().get(bReg(0)).f32Mul().get(acc(r, 0)).f32Add().set(acc(r, 0));
    }
  }
  for (let r = 0; r < mr; r++) c.get(rowPtr(r)).get(CSA).i32Add().set(rowPtr(r));
  c.get(PB).i32(4 * nr).i32Add().set(PB);
  c.get(K_).i32(1).i32Sub().tee(K_).brIf(0);
  c.end();
  // optional ReLU, then store row by row (pc advances by ldc)
  c.get(RELU).if();
  for (let r = 0; r < mr; r++) {
    for (let h = 0; h < lanes; h++) {
      if (vec) c.get(acc(r, h)).v128Zero().f32x4Max().set(acc(r, h));
      else c.get(acc(r, 0)).f32Const0().f32Max().set(acc(r, 0));
    }
  }
  c.end();
  for (let r = 0; r < mr; r++) {
    for (let h = 0; h < lanes; h++) {
      c.get(PC).get(acc(r, h));
      if (vec) c.v128Store(16 * h);
      else c.f32Store();
    }
    if (r + 1 < mr) c.get(PC).get(LDC).i32Add().set(PC);
  }
  return { params: TILE_PARAMS, i32Locals, f32Locals, v128Locals, code: c };
}

/**
 * `pack(src, dst, rsB, csB, k, nr)`: the panel `B[k0 .. k0+k, j0 .. j0+nr]` (element (k, j)
 * at `src + k rsB + j csB`) to `dst`, `nr` contiguous floats per k. Two 16-byte copies per
 * k when `nr = 8` and `csB = 4`; element by element otherwise.
 */
function pack(): FuncDef {
  const c = new Code();
  const SRC = 0, DST = 1, RS = 2, CS = 3, KK = 4, NR = 5, J = 6, P = 7;
  c.get(CS).i32(4).i32Eq().get(NR).i32(8).i32Eq().i32And().if();
  c.loop();
  c.get(DST).get(SRC).v128Load(0).v128Store(0);
  c.get(DST).get(SRC).v128Load(16).v128Store(16);
  c.get(SRC).get(RS).i32Add().set(SRC);
  c.get(DST).i32(32).i32Add().set(DST);
  c.get(KK).i32(1).i32Sub().tee(KK).brIf(0);
  c.end();
  c.else();
  c.loop(); // k
  c.get(SRC).set(P);
  c.i32(0).set(J);
  c.loop(); // j
  c.get(DST).get(P).f32Load().f32Store();
  c.get(P).get(CS).i32Add().set(P);
  c.get(DST).i32(4).i32Add().set(DST);
  c.get(J).i32(1).i32Add().tee(J).get(NR).i32LtU().brIf(0);
  c.end();
  c.get(SRC).get(RS).i32Add().set(SRC);
  c.get(KK).i32(1).i32Sub().tee(KK).brIf(0);
  c.end();
  c.end();
  return { params: 6, i32Locals: 2, f32Locals: 0, v128Locals: 0, code: c };
}

// driver parameters and locals
// (M = 3 is read through the row range i0..i1 only)
const A = 0, B = 1, C = 2, K = 4, N = 5, RA = 6, CA = 7, RB = 8, CB = 9, RC = 10;
const SA = 11, SB = 12, SC = 13, B0 = 14, B1 = 15, I0 = 16, I1 = 17, R = 18, SCR = 19;
const DRIVER_PARAMS = 20;
const T = 20, J = 21, I = 22, REM = 23, KB = 24, KCUR = 25, ACCF = 26, RL = 27;
const AB = 28, BB = 29, CBASE = 30; // batch base pointers
const DRIVER_LOCALS = 11;

/**
 * `gemm`: for each batch, column panels of 8, then 4, then 1; in each, K blocks of
 * {@linkcode KC} (the panel packed into `scratch`), and row tiles of 6 with a 1-5 row tail.
 */
function driver(packIndex: number): FuncDef {
  const c = new Code();
  const callTile = (mr: number, nr: Nr) => {
    // pa = abase + i rsA + kb csA; pc = cbase + i rsC + 4 j
    c.get(AB).get(I).get(RA).i32Mul().i32Add().get(KB).get(CA).i32Mul().i32Add();
    c.get(SCR);
    c.get(CBASE).get(I).get(RC).i32Mul().i32Add().get(J).i32(2).i32Shl().i32Add();
    c.get(KCUR).get(RA).get(CA).get(RC).get(RL).get(ACCF).call(tileIndex(mr, nr));
  };
  c.get(B0).set(T);
  c.block().loop(); // batches: while t < b1
  c.get(T).get(B1).i32LtU().i32Eqz().brIf(1);
  c.get(A).get(T).get(SA).i32Mul().i32Add().set(AB);
  c.get(B).get(T).get(SB).i32Mul().i32Add().set(BB);
  c.get(C).get(T).get(SC).i32Mul().i32Add().set(CBASE);
  c.i32(0).set(J);
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
    // pack B[kb .., j ..] (at bbase + kb rsB + j csB) into scratch
    c.get(BB).get(KB).get(RB).i32Mul().i32Add().get(J).get(CB).i32Mul().i32Add();
    c.get(SCR).get(RB).get(CB).get(KCUR).i32(nr).call(packIndex);
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
  c.get(T).i32(1).i32Add().set(T);
  c.br(0);
  c.end().end();
  return {
    name: "gemm",
    params: DRIVER_PARAMS,
    i32Locals: DRIVER_LOCALS,
    f32Locals: 0,
    v128Locals: 0,
    code: c,
  };
}

/** The module: every tile function, the packer, the exported driver, ./update.ts's kernels. */
export function gemmModuleBytes(memory: { shared: boolean }): Uint8Array<ArrayBuffer> {
  const funcs: FuncDef[] = [];
  for (let mr = 1; mr <= MR; mr++) for (const nr of NRS) funcs.push(tile(mr, nr));
  const packIndex = funcs.length;
  funcs.push(pack(), driver(packIndex), adamFunc(), sumsqFunc());
  return moduleBytes(funcs, memory);
}

/**
 * Signature of the exported `gemm` (byte addresses and strides; batches `[b0, b1)`, rows
 * `[i0, i1)`; `scratch`: `KC * 32` bytes of this thread's own, 16-byte aligned).
 */
export type GemmFn = (
  a: number,
  b: number,
  c: number,
  m: number,
  k: number,
  n: number,
  rsA: number,
  csA: number,
  rsB: number,
  csB: number,
  rsC: number,
  sA: number,
  sB: number,
  sC: number,
  b0: number,
  b1: number,
  i0: number,
  i1: number,
  relu: number,
  scratch: number,
) => void;
