// Interval analysis: sound bounds on an expression's values from bounds on its variables. The
// simplifier's rewrites and the WGSL emitter's dropped sign corrections are justified by these.
import { floorDiv } from './arith.js';
import { fail, type ICond, type IExpr, type Interval } from './expr.js';

export function shapeBounds(shape: readonly number[]): Interval[] {
  return shape.map((n) => ({ lo: 0, hi: n - 1 }));
}

/** A sound enclosure of the values of e when each variable i lies in bounds[i]. */
export function exprRange(e: IExpr, bounds: readonly Interval[]): Interval {
  switch (e.k) {
    case 'var': {
      const b = bounds[e.i];
      if (!b) fail(`variable i${e.i} has no bound`);
      return b;
    }
    case 'const':
      return { lo: e.v, hi: e.v };
    case 'add': {
      const a = exprRange(e.a, bounds);
      const b = exprRange(e.b, bounds);
      return { lo: a.lo + b.lo, hi: a.hi + b.hi };
    }
    case 'mul': {
      const a = exprRange(e.a, bounds);
      return e.c >= 0 ? { lo: a.lo * e.c, hi: a.hi * e.c } : { lo: a.hi * e.c, hi: a.lo * e.c };
    }
    case 'div': {
      const a = exprRange(e.a, bounds);
      return { lo: floorDiv(a.lo, e.c), hi: floorDiv(a.hi, e.c) };
    }
    case 'mod': {
      const a = exprRange(e.a, bounds);
      const q = floorDiv(a.lo, e.c);
      if (q === floorDiv(a.hi, e.c)) return { lo: a.lo - q * e.c, hi: a.hi - q * e.c };
      return { lo: 0, hi: e.c - 1 };
    }
    case 'select': {
      const a = exprRange(e.then, bounds);
      const b = exprRange(e.else, bounds);
      return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
    }
  }
}

/**
 * Bounds implied by a condition of the shapes the simplifier produces (i < q, q < i, i == q, and
 * conjunctions of them): new bounds, null where they are empty, undefined when nothing is learnt.
 */
export function refineBounds(bounds: readonly Interval[], cnd: ICond, holds: boolean): Interval[] | null | undefined {
  const out = bounds.map((b) => ({ ...b }));
  const learnt = refineInto(out, cnd, holds);
  if (!learnt) return undefined;
  return out.some((b) => b.lo > b.hi) ? null : out;
}

function refineInto(b: Interval[], cnd: ICond, holds: boolean): boolean {
  if (cnd.k === 'and' && holds) return [refineInto(b, cnd.a, true), refineInto(b, cnd.b, true)].some(Boolean);
  if (cnd.k === 'or' && !holds) return [refineInto(b, cnd.a, false), refineInto(b, cnd.b, false)].some(Boolean);
  if (cnd.k === 'not') return refineInto(b, cnd.a, !holds);
  if (cnd.k !== 'lt' && cnd.k !== 'le' && cnd.k !== 'eq') return false;
  const { a, b: rhs } = cnd;
  // Normalise to (variable, relation, constant).
  let i: number;
  let q: number;
  let varOnLeft: boolean;
  if (a.k === 'var' && rhs.k === 'const') [i, q, varOnLeft] = [a.i, rhs.v, true];
  else if (a.k === 'const' && rhs.k === 'var') [i, q, varOnLeft] = [rhs.i, a.v, false];
  else return false;
  const r = b[i]!;
  if (cnd.k === 'eq') {
    if (holds) [r.lo, r.hi] = [Math.max(r.lo, q), Math.min(r.hi, q)];
    else if (r.lo === q) r.lo++;
    else if (r.hi === q) r.hi--;
    else return false;
    return true;
  }
  // x < q (strict) or x <= q, with x on the left or right.
  const strict = cnd.k === 'lt';
  if (varOnLeft) {
    const hiIfHolds = strict ? q - 1 : q; // i ≤ hiIfHolds; otherwise i ≥ hiIfHolds + 1
    if (holds) r.hi = Math.min(r.hi, hiIfHolds);
    else r.lo = Math.max(r.lo, hiIfHolds + 1);
  } else {
    const loIfHolds = strict ? q + 1 : q; // i ≥ loIfHolds; otherwise i ≤ loIfHolds − 1
    if (holds) r.lo = Math.max(r.lo, loIfHolds);
    else r.hi = Math.min(r.hi, loIfHolds - 1);
  }
  return true;
}
