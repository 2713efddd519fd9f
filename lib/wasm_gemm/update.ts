/**
 * Generated element-wise kernels of the optimiser step (./mod.ts registers them as tfjs
 * kernels), one pass over memory instead of about twelve tfjs ops per parameter:
 *
 * - `adam(pw, pg, pm, pv, ow, om, ov, n, pp, ps)`: for `n` floats, with `s = *ps` (the clip
 *   scale) and hyper-parameters at `pp` (f32: {@linkcode ADAM_PARAMS} order),
 *   `g = g0 s + w l2`, `m' = b1 m + (1-b1) g`, `v' = b2 v + (1-b2) g^2`,
 *   `w' = w decay - (m' / (sqrt(v') / sqrtBc2 + eps)) lrBc1`, written to `ow`, `om`, `ov`.
 *   The same operations in the same order as lib/model/train.ts's tfjs path (Adam: `l2 = wd`,
 *   `decay = 1`; AdamW: `l2 = 0`, `decay = 1 - lr wd`; products by 0 and 1 are exact), in
 *   plain f32 (no fused multiply-add), so both paths give the same floats.
 * - `sumsq(p, n, pout)`: `*pout += sum(p[i]^2)` (4 partial sums, then their sum).
 * @module
 */
import { Code, type FuncDef } from "./encode.ts";

/** Slots of the f32 hyper-parameter block of `adam`. */
export const ADAM_PARAMS = ["l2", "decay", "b1", "ob1", "b2", "ob2", "sqrtBc2", "eps", "lrBc1"];

export function adamFunc(): FuncDef {
  const c = new Code();
  const PW = 0, PG = 1, PM = 2, PV = 3, OW = 4, OM = 5, OV = 6, N = 7, PP = 8, PS = 9;
  const O = 10, END = 11; // i32 locals: byte offset, end of the SIMD part
  // f32 locals (scalar tail): 9 params + scale + g w m v
  const FS = 12, FP = 13, FG = FS + 1 + ADAM_PARAMS.length, FW = FG + 1, FM = FW + 1, FV = FM + 1;
  const VS = FV + 1,
    VP = VS + 1,
    VG = VP + ADAM_PARAMS.length,
    VW = VG + 1,
    VM = VW + 1,
    VV = VM + 1;
  const slot = (name: string) => ADAM_PARAMS.indexOf(name);
  c.get(PS).v128Load32Splat().set(VS);
  c.get(PS).f32Load().set(FS);
  for (let i = 0; i < ADAM_PARAMS.length; i++) {
    c.get(PP).v128Load32Splat(4 * i).set(VP + i);
    c.get(PP).f32Load(4 * i).set(FP + i);
  }
  // SIMD part: bytes [0, END) with END = (n & ~3) * 4
  c.get(N).i32(-4).i32And().i32(2).i32Shl().set(END);
  const body = (simd: boolean) => {
    const P = (name: string) => (simd ? VP : FP) + slot(name);
    const [g, w, m, v, sc] = simd ? [VG, VW, VM, VV, VS] : [FG, FW, FM, FV, FS];
    const load = (p: number) => {
      c.get(p).get(O).i32Add();
      if (simd) c.v128Load();
      else c.f32Load();
    };
    const mul = () => (simd ? c.f32x4Mul() : c.f32Mul());
    const add = () => (simd ? c.f32x4Add() : c.f32Add());
    const store = (p: number, x: number) => {
      c.get(p).get(O).i32Add().get(x);
      if (simd) c.v128Store();
      else c.f32Store();
    };
    load(PW);
    c.set(w);
    load(PG);
    c.get(sc);
    mul();
    c.get(w).get(P("l2"));
    mul();
    add();
    c.set(g);
    load(PM);
    c.get(P("b1"));
    mul();
    c.get(g).get(P("ob1"));
    mul();
    add();
    c.set(m);
    store(OM, m);
    load(PV);
    c.get(P("b2"));
    mul();
    c.get(g).get(g);
    mul();
    c.get(P("ob2"));
    mul();
    add();
    c.set(v);
    store(OV, v);
    // w' = w decay - (m / (sqrt(v) / sqrtBc2 + eps)) lrBc1
    c.get(O).get(OW).i32Add();
    c.get(w).get(P("decay"));
    mul();
    c.get(m).get(v);
    if (simd) c.f32x4Sqrt().get(P("sqrtBc2")).f32x4Div().get(P("eps")).f32x4Add().f32x4Div();
    else c.f32Sqrt().get(P("sqrtBc2")).f32Div().get(P("eps")).f32Add().f32Div();
    c.get(P("lrBc1"));
    mul();
    if (simd) c.f32x4Sub().v128Store();
    else c.f32Sub().f32Store();
  };
  c.block().loop();
  c.get(O).get(END).i32LtU().i32Eqz().brIf(1);
  body(true);
  c.get(O).i32(16).i32Add().set(O);
  c.br(0);
  c.end().end();
  c.block().loop();
  c.get(O).get(N).i32(2).i32Shl().i32LtU().i32Eqz().brIf(1);
  body(false);
  c.get(O).i32(4).i32Add().set(O);
  c.br(0);
  c.end().end();
  return {
    name: "adam",
    params: 10,
    i32Locals: 2,
    f32Locals: 1 + ADAM_PARAMS.length + 4,
    v128Locals: 1 + ADAM_PARAMS.length + 4,
    code: c,
  };
}

export function sumsqFunc(): FuncDef {
  const c = new Code();
  const P = 0, N = 1, OUT = 2, O = 3, END = 4, FA = 5, VA = 6, VX = 7;
  c.get(N).i32(-4).i32And().i32(2).i32Shl().set(END);
  c.block().loop();
  c.get(O).get(END).i32LtU().i32Eqz().brIf(1);
  c.get(P).get(O).i32Add().v128Load().tee(VX).get(VX).f32x4Mul().get(VA).f32x4Add().set(VA);
  c.get(O).i32(16).i32Add().set(O);
  c.br(0);
  c.end().end();
  c.block().loop();
  c.get(O).get(N).i32(2).i32Shl().i32LtU().i32Eqz().brIf(1);
  c.get(P).get(O).i32Add().f32Load().get(P).get(O).i32Add().f32Load().f32Mul();
  c.get(FA).f32Add().set(FA);
  c.get(O).i32(4).i32Add().set(O);
  c.br(0);
  c.end().end();
  c.get(OUT);
  c.get(OUT).f32Load();
  for (let l = 0; l < 4; l++) c.get(VA).f32x4ExtractLane(l).f32Add();
  c.get(FA).f32Add();
  c.f32Store();
  return { name: "sumsq", params: 3, i32Locals: 2, f32Locals: 1, v128Locals: 2, code: c };
}
