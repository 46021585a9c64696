// Row bases for GEMM operands read through an index map. A map that moves whole rows (window
// partition, roll, patch shift, padding) reads A[m, k] at flat offset k + base(m); a channel shift
// moves channel groups, so its base also depends on k, but only through which group k is in:
// base(m, k) is constant on aligned runs of k ([j·L, j·L + L) for the group width L). A kernel can
// then compute the base once per row and run, and read the run's elements at base + k, instead of
// evaluating the whole map (divisions, modulos, a select chain) for every element.
// This module finds that decomposition symbolically from the composed map's flat offset.
import { add, c, div, gcd, mul, usesVar, v, type ICond, type IExpr } from '../../src/ir/indexmap.js';

/** flat(m, k) = k + base(m, k), with base and validity constant on aligned runs of `run` k's. */
export interface RowRuns {
  /** The flat offset minus k; constant on each run. */
  base: IExpr;
  /** Elements of K per run (divides K; K itself when the base does not depend on k). */
  run: number;
}

/**
 * Split `flat` (an expression over the kernel's grid variables) into k + base where base and
 * `valid` are piecewise constant in variable `kVar` on aligned runs; null when flat has no
 * `+ k` (or `+ k mod P`) term of coefficient 1 (a transposed read, say), where a per-element load is the answer.
 */
export function rowRuns(flat: IExpr, valid: ICond | undefined, kVar: number, K: number): RowRuns | null {
  const terms = sumTerms(flat);
  // k itself, or k mod P (a patch's innermost pixels: k mod P = k − P·floor(k / P), and the
  // floor is constant on aligned runs of P).
  const at = terms.findIndex((t) => kPeriod(t, kVar) !== null);
  if (at < 0) return null;
  const period = kPeriod(terms[at]!, kVar)!;
  const rest = terms.filter((_, i) => i !== at);
  if (period !== Infinity) rest.push(mul(div(v(kVar), period), -period));
  const base: IExpr = rest.length ? rest.reduce((a, b) => add(a, b)) : c(0);
  const run = gcdRun(gcdRun(exprRun(base, kVar), valid ? condRun(valid, kVar) : Infinity), K);
  return { base, run };
}

function sumTerms(e: IExpr): IExpr[] {
  return e.k === 'add' ? [...sumTerms(e.a), ...sumTerms(e.b)] : [e];
}

/** gcd where Infinity means "constant over all k" (the identity). */
function gcdRun(a: number, b: number): number {
  if (a === Infinity) return b;
  if (b === Infinity) return a;
  return gcd(a, b);
}

/**
 * k itself (period Infinity: no wrap-around) or k mod P (period P): the forms whose comparisons
 * against constants and floor divisions are piecewise constant on aligned runs.
 */
function kPeriod(e: IExpr, kVar: number): number | null {
  if (e.k === 'var' && e.i === kVar) return Infinity;
  if (e.k === 'mod' && e.a.k === 'var' && e.a.i === kVar) return e.c;
  return null;
}

/** The largest L (or Infinity) such that e is constant in k on aligned runs of L; 1 if none. */
function exprRun(e: IExpr, kVar: number): number {
  if (!usesVar(e, kVar)) return Infinity;
  switch (e.k) {
    case 'var':
      return 1;
    case 'const':
      return Infinity;
    case 'add':
      return gcdRun(exprRun(e.a, kVar), exprRun(e.b, kVar));
    case 'mul':
      return exprRun(e.a, kVar);
    case 'div': {
      // floor(k / c) changes at multiples of c; floor((k mod P) / c) also at multiples of P.
      const period = kPeriod(e.a, kVar);
      if (period !== null) return gcdRun(period, e.c);
      return exprRun(e.a, kVar);
    }
    case 'mod':
      return exprRun(e.a, kVar);
    case 'select':
      return gcdRun(condRun(e.cond, kVar), gcdRun(exprRun(e.then, kVar), exprRun(e.else, kVar)));
  }
}

/** X < c for X = k or k mod P: the truth value changes only at multiples of P and at c. */
function lessThanRun(x: IExpr, c: number, kVar: number): number | null {
  const period = kPeriod(x, kVar);
  if (period === null) return null;
  if (c <= 0 || c >= period) return Infinity;
  return gcdRun(period, c);
}

function condRun(cnd: ICond, kVar: number): number {
  if (!usesVar(cnd, kVar)) return Infinity;
  switch (cnd.k) {
    case 'true':
    case 'false':
      return Infinity;
    case 'and':
    case 'or':
      return gcdRun(condRun(cnd.a, kVar), condRun(cnd.b, kVar));
    case 'not':
      return condRun(cnd.a, kVar);
    case 'lt':
    case 'le':
    case 'eq': {
      const { a, b } = cnd;
      // a < c, a <= c (= a < c + 1), c < b (= !(b < c + 1)), c <= b (= !(b < c)), a == c.
      const bound = (x: IExpr, c: number, shift: number) => lessThanRun(x, c + shift, kVar);
      let run: number | null = null;
      if (b.k === 'const') {
        if (cnd.k === 'eq') {
          const below = bound(a, b.v, 0);
          const upTo = bound(a, b.v, 1);
          run = below !== null && upTo !== null ? gcdRun(below, upTo) : null;
        } else run = bound(a, b.v, cnd.k === 'le' ? 1 : 0);
      } else if (a.k === 'const' && cnd.k !== 'eq') run = bound(b, a.v, cnd.k === 'lt' ? 1 : 0);
      // Otherwise: a comparison of two piecewise-constant sides is piecewise constant.
      return run ?? gcdRun(exprRun(a, kVar), exprRun(b, kVar));
    }
  }
}
