/**
 * Plain-JS float64 loop references for lib/rl (test tier (b)), written from methods.md
 * B7–B16 and conformance.md independently of the vectorised code.
 * @module
 */
import { len, type M2, type M3 } from "../rm/_ref.ts";

export function grpoRef(r: number[], g: number, eps = 1e-6): number[] {
  const out: number[] = [];
  for (let s = 0; s < r.length; s += g) {
    const grp = r.slice(s, s + g);
    const mu = grp.reduce((a, c) => a + c, 0) / g;
    const sd = Math.sqrt(grp.reduce((a, c) => a + (c - mu) ** 2, 0) / g);
    grp.forEach((x) => out.push((x - mu) / Math.max(sd, eps)));
  }
  return out;
}

/** g_t = δ_t + γλ g_{t+1}, reset (0) at padding. */
export function gaeRef(td: M2, m: M2, gamma = 1, lam = 1): M2 {
  return td.map((row, b) => {
    const out = new Array(row.length).fill(0);
    let g = 0;
    for (let t = row.length - 1; t >= 0; t--) {
      g = m[b]![t] ? row[t]! + gamma * lam * g : 0;
      out[t] = g;
    }
    return out;
  });
}

export function whitenRef(x: M2, m: M2): M2 {
  const vals: number[] = [];
  x.forEach((row, b) => row.forEach((v, t) => m[b]![t] && vals.push(v)));
  const mu = vals.reduce((a, c) => a + c, 0) / vals.length;
  const v = vals.reduce((a, c) => a + (c - mu) ** 2, 0) / (vals.length - 1);
  return x.map((row, b) => row.map((y, t) => (m[b]![t] ? (y - mu) / Math.sqrt(v + 1e-8) : 0)));
}

export interface DistrlRefOpts {
  labels: number[];
  g: number;
  gaeNorm: string;
  whiten: boolean;
  gaeCoef: number;
  outCoef: number;
  dropLast: boolean;
}

export function distrlRef(
  td0: M2,
  cand: M3,
  m: M2,
  o: DistrlRefOpts,
): { sigma: number; adv: M2; cadv: M3 } {
  const B = td0.length, L = td0[0]!.length;
  const keep = (b: number, t: number) => m[b]![t] === 1 && !(o.dropLast && t === len(m[b]!) - 1);
  const td = td0.map((row, b) => row.map((x, t) => (keep(b, t) ? x : 0)));
  const P: number[] = [];
  td.forEach((row, b) => {
    let s = 0;
    row.forEach((x, t) => {
      s += x;
      if (m[b]![t]) P.push(s);
    });
  });
  const pm = P.reduce((a, c) => a + c, 0) / P.length;
  const sigma = Math.max(Math.sqrt(P.reduce((a, c) => a + (c - pm) ** 2, 0) / P.length), 1e-6);
  const cadv = cand.map((row, b) =>
    row.map((slots, t) => slots.map((x) => (keep(b, t) ? x / sigma : 0)))
  );
  let norm: M2;
  if (o.gaeNorm === "group") {
    norm = td.map((r) => r.slice());
    for (let s = 0; s < B; s += o.g) {
      const v: number[] = [];
      for (let b = s; b < s + o.g; b++) {
        for (let t = 0; t < L; t++) if (m[b]![t]) v.push(td[b]![t]!);
      }
      const mu = v.reduce((a, c) => a + c, 0) / Math.max(v.length, 1);
      const sd = Math.sqrt(v.reduce((a, c) => a + (c - mu) ** 2, 0) / Math.max(v.length, 1));
      for (let b = s; b < s + o.g; b++) {
        for (let t = 0; t < L; t++) norm[b]![t] = m[b]![t] ? (td[b]![t]! - mu) / (sd + 1e-6) : 0;
      }
    }
  } else {
    let s = 0, n = 0;
    td.forEach((row, b) => row.forEach((x, t) => m[b]![t] && (s += x, n++)));
    norm = td.map((row, b) => row.map((x, t) => (m[b]![t] ? (x - s / n) / sigma : 0)));
  }
  let g = gaeRef(norm, m);
  if (o.whiten) g = whitenRef(g, m);
  const out = grpoRef(o.labels, o.g);
  const adv = g.map((row, b) =>
    row.map((x, t) => (m[b]![t] ? o.outCoef * out[b]! + o.gaeCoef * x : 0))
  );
  return { sigma, adv, cadv };
}

/** Candidate ids per position, ascending (B8), from probabilities p[b][t][v]. */
export function candidateSetRef(
  logp: M3,
  sampled: M2,
  m: M2,
  o: { mode: string; pMin: number; topK: number; dropLast: boolean },
): { sets: number[][][]; size: number; mass: number } {
  let size = 0, mass = 0, n = 0;
  const sets = logp.map((row, b) =>
    row.map((lp, t) => {
      const ok = m[b]![t] === 1 && !(o.dropLast && t === len(m[b]!) - 1);
      if (!ok) return [];
      n++;
      const p = lp.map(Math.exp);
      let ids: number[];
      if (o.mode === "threshold") ids = p.map((_, v) => v).filter((v) => p[v]! >= o.pMin);
      else {
        const order = p.map((_, v) => v).sort((a, c) => p[c]! - p[a]! || a - c).slice(0, o.topK);
        const y = sampled[b]![t]!;
        ids = [y, ...order.filter((v) => v !== y && p[v]! > o.pMin)];
        // the sampled token takes a slot: only top-(K−1) others survive when y is outside the top-K
        if (!order.includes(y)) {
          ids = [
            y,
            ...order.slice(0, o.topK - 1).filter((v) => p[v]! > o.pMin),
          ];
        }
      }
      size += ids.length;
      mass += ids.reduce((a, v) => a + p[v]!, 0);
      return ids.sort((a, c) => a - c);
    })
  );
  return { sets, size: n ? size / n : 0, mass: n ? mass / n : 0 };
}

export interface PolicyRefOpts {
  epsLow: number;
  epsHigh: number;
  distEps: number;
  dual: number | null;
  alpha: number;
  agg: string;
}

function surr(rho: number, a: number, lo: number, hi: number, c: number | null): number {
  let l = Math.max(-a * rho, -a * Math.min(Math.max(rho, lo), hi));
  if (c !== null && a < 0) l = Math.min(l, -a * c);
  return l;
}

export function policyLossRef(
  x: { lpNew: M2; lpOld: M2; adv: M2; m: M2; cNew: M3; cOld: M3; cAdv: M3; cm: M3 },
  o: PolicyRefOpts,
): { loss: number; tok: number; dist: number; clip: number } {
  const B = x.lpNew.length;
  let tokSeq = 0, distSeq = 0, tokSum = 0, tokN = 0, dNum = 0, dDen = 0, clip = 0;
  for (let b = 0; b < B; b++) {
    const T = len(x.m[b]!);
    let ts = 0, ds = 0;
    x.lpNew[b]!.forEach((lp, t) => {
      if (x.m[b]![t]) {
        const rho = Math.exp(lp - x.lpOld[b]![t]!);
        const l = surr(rho, x.adv[b]![t]!, 1 - o.epsLow, 1 + o.epsHigh, o.dual);
        ts += l;
        tokSum += l;
        tokN++;
        if (rho < 1 - o.epsLow || rho > 1 + o.epsHigh) clip++;
      }
      (x.cNew[b]?.[t] ?? []).forEach((cl, j) => {
        if (!x.cm[b]![t]![j]) return;
        const p = Math.exp(x.cOld[b]![t]![j]!);
        const l = surr(
          Math.exp(cl - x.cOld[b]![t]![j]!),
          x.cAdv[b]![t]![j]!,
          1 - o.distEps,
          1 + o.distEps,
          o.dual,
        );
        ds += p * l;
        dNum += p * l;
        dDen += p;
      });
    });
    tokSeq += ts / T;
    distSeq += ds / T;
  }
  const tok = o.agg === "sequence" ? tokSeq / B : tokSum / tokN;
  const dist = o.agg === "sequence" ? distSeq / B : dDen > 0 ? dNum / dDen : 0;
  return { loss: tok + o.alpha * dist, tok, dist, clip: clip / tokN };
}

/** PRIME (B16) loops. */
export function primeRef(
  lr: M2,
  m: M2,
  o: { outcomes: number[]; g: number; beta: number },
): { adv: M2; ret: M2 } {
  const B = lr.length, L = lr[0]!.length;
  const r = lr.map((row, b) => row.map((x, t) => (t < len(m[b]!) - 1 ? o.beta * x : 0)));
  let mx = 0;
  r.forEach((row) => {
    let s = 0;
    for (let t = L - 1; t >= 0; t--) mx = Math.max(mx, Math.abs(s += row[t]!));
  });
  const rn = r.map((row) => row.map((x) => x / (mx + 1e-6)));
  const total = rn.map((row) => row.slice());
  const n = o.g;
  for (let s = 0; s < B; s += n) {
    let sumMean = 0, sumOut = 0;
    for (let b = s; b < s + n; b++) {
      sumMean += rn[b]!.reduce((a, c) => a + c, 0) / len(m[b]!);
      sumOut += o.outcomes[b]!;
    }
    for (let b = s; b < s + n; b++) {
      const T = len(m[b]!);
      for (let t = 0; t < L; t++) {
        total[b]![t] = t < T ? 5 * (rn[b]![t]! * n / (n - 1) - sumMean / (n - 1)) : 0;
      }
      total[b]![T - 1]! += 5 * (o.outcomes[b]! * n / (n - 1) - sumOut / (n - 1));
    }
  }
  const ret = total.map((row, b) => {
    const out = new Array(L).fill(0);
    let s = 0;
    for (let t = L - 1; t >= 0; t--) out[t] = m[b]![t] ? (s += row[t]!) : 0;
    return out;
  });
  return { adv: whitenRef(ret, m), ret };
}
