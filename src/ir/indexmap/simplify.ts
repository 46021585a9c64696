// The simplifier: rewrites an index map to fewer and cheaper operations, using the bounds of its
// variables (0 ≤ i_k < outShape[k]) and what its validity condition implies.
//
// Expressions are normalised to linear forms: a constant plus integer multiples of atoms, where
// an atom is a variable or a div / mod / select that could not be removed. Rewrites, each an
// identity of integer arithmetic, justified by interval bounds where it says so:
//   div(Q·c + R, c)   = Q + div(R, c)            mod(Q·c + R, c) = mod(R, c)
//   div(R, c)         = m        when R ∈ [m·c, (m+1)·c)   (mod likewise: R − m·c)
//   div(g·B + S, g·c') = div(B + m, c')  and  mod(g·B + S, g·c') = g·mod(B + m, c') + S − m·g
//                                             when S ∈ [m·g, (m+1)·g)
//   div(div(X, a) + k, c) = div(X + a·k, a·c)    div(mod(Y, m), c) = mod(div(Y, c), m/c)  (c | m)
//   mod(β·mod(X, a) + R, c) = mod(β·X + R, c)   when c | β·a
//   and the recombinations of X = k·div(X, k) + mod(X, k) that leave fewer atoms.
// Selects whose condition the bounds decide become the branch; a branch is simplified with the
// bounds its condition implies; terms common to both branches move out of the select.
import { floorDiv, floorMod, gcd } from './arith.js';
import { FALSE, TRUE, add, and, c, div, eq, exprKey, fail, lt, mod, mul, not, or, select, type ICond, type IExpr, type IndexMap, type Interval } from './expr.js';
import { exprRange, refineBounds, shapeBounds } from './interval.js';
import {
  linAtom,
  linConst,
  linFromExpr,
  linKey,
  linPlus,
  linScale,
  linTermsDivExact,
  linToExpr,
  sortedTerms,
  type Lin,
} from './linear.js';
import { mapChildren, type ChildMap } from './walk.js';

/** Whether a contains s·m, term by term (constants aside). */
function linContains(a: Lin, m: Lin, s: number): boolean {
  if (m.terms.size === 0 || s === 0) return false;
  for (const [key, t] of m.terms) if (a.terms.get(key)?.coef !== s * t.coef) return false;
  return true;
}

/** Candidate factors g of d (1 < g < d) shared with some coefficient, largest first. */
function factorCandidates(a: Lin, d: number): number[] {
  const gs = new Set<number>();
  for (const t of a.terms.values()) {
    const g = gcd(t.coef, d);
    if (g > 1 && g < d) gs.add(g);
  }
  return [...gs].sort((x, y) => y - x);
}

function sameBucket(r: Interval, d: number): boolean {
  return floorDiv(r.lo, d) === floorDiv(r.hi, d);
}

export class Simplifier {
  private readonly memo = new Map<IExpr, Lin>();
  private readonly divMemo = new Map<string, Lin>();
  private readonly modMemo = new Map<string, Lin>();

  constructor(readonly bounds: readonly Interval[]) {}

  expr(e: IExpr): IExpr {
    return linToExpr(this.lin(e));
  }

  range(a: Lin): Interval {
    let lo = a.k;
    let hi = a.k;
    for (const t of a.terms.values()) {
      const r = exprRange(t.atom, this.bounds);
      if (t.coef >= 0) {
        lo += t.coef * r.lo;
        hi += t.coef * r.hi;
      } else {
        lo += t.coef * r.hi;
        hi += t.coef * r.lo;
      }
    }
    return { lo, hi };
  }

  lin(e: IExpr): Lin {
    const hit = this.memo.get(e);
    if (hit) return hit;
    const r = this.build(e);
    this.memo.set(e, r);
    return r;
  }

  private build(e: IExpr): Lin {
    switch (e.k) {
      case 'var': {
        const b = this.bounds[e.i];
        if (!b) fail(`variable i${e.i} has no bound`);
        return b.lo === b.hi ? linConst(b.lo) : linAtom(e);
      }
      case 'const':
        return linConst(e.v);
      case 'add':
        return this.normalize(linPlus(this.lin(e.a), this.lin(e.b)));
      case 'mul':
        return linScale(this.lin(e.a), e.c);
      case 'div':
        return this.div(this.lin(e.a), e.c);
      case 'mod':
        return this.mod(this.lin(e.a), e.c);
      case 'select':
        return this.select(e.cond, e.then, e.else);
    }
  }

  div(a: Lin, d: number): Lin {
    if (d === 1) return a;
    const key = linKey(a);
    const hit = this.divMemo.get(`${key}/${d}`);
    if (hit) return hit;
    const r = this.divUncached(a, d);
    this.divMemo.set(`${key}/${d}`, r);
    return r;
  }

  private divUncached(a: Lin, d: number): Lin {
    // Split off the part that is a multiple of d.
    let q = linConst(floorDiv(a.k, d));
    let rest = linConst(floorMod(a.k, d));
    for (const t of a.terms.values()) {
      if (t.coef % d === 0) q = linPlus(q, linAtom(t.atom, t.coef / d));
      else rest = linPlus(rest, linAtom(t.atom, t.coef));
    }
    const r = this.range(rest);
    if (sameBucket(r, d)) return this.normalize(linPlus(q, linConst(floorDiv(r.lo, d))));
    const nested = this.divOfSingleAtom(rest, d);
    if (nested) return this.normalize(linPlus(q, nested));
    for (const g of factorCandidates(rest, d)) {
      const { big, small } = splitByFactor(rest, g);
      const s = this.range(small);
      if (big.terms.size > 0 && sameBucket(s, g)) {
        const inner = linPlus(linTermsDivExact(big, g), linConst(floorDiv(s.lo, g)));
        return this.normalize(linPlus(q, this.div(inner, d / g)));
      }
    }
    return this.normalize(linPlus(q, linAtom(div(linToExpr(rest), d))));
  }

  /** div(div(X, a) + k, d) and div(mod(Y, m), d) with d | m. */
  private divOfSingleAtom(rest: Lin, d: number): Lin | null {
    if (rest.terms.size !== 1) return null;
    const [t] = rest.terms.values();
    if (!t || t.coef !== 1) return null;
    if (t.atom.k === 'div') {
      const x = linPlus(linFromExpr(t.atom.a), linConst(t.atom.c * rest.k));
      return this.div(x, t.atom.c * d);
    }
    if (t.atom.k === 'mod' && rest.k === 0 && t.atom.c % d === 0) {
      return this.mod(this.div(linFromExpr(t.atom.a), d), t.atom.c / d);
    }
    return null;
  }

  mod(a: Lin, m: number): Lin {
    if (m === 1) return linConst(0);
    const key = `${linKey(a)}%${m}`;
    const hit = this.modMemo.get(key);
    if (hit) return hit;
    const r = this.modUncached(a, m);
    this.modMemo.set(key, r);
    return r;
  }

  private modUncached(a: Lin, m: number): Lin {
    // Drop multiples of m; unwrap inner mods whose modulus, times the coefficient, m divides.
    let rest = a;
    for (let changed = true; changed; ) {
      changed = false;
      let next = linConst(floorMod(rest.k, m));
      for (const t of rest.terms.values()) {
        if (t.coef % m === 0 || multipleOfAtLeaves(t.atom, t.coef, m)) continue;
        if (t.atom.k === 'mod' && (t.coef * t.atom.c) % m === 0) {
          next = linPlus(next, linScale(linFromExpr(t.atom.a), t.coef));
          changed = true;
        } else {
          next = linPlus(next, linAtom(t.atom, t.coef));
        }
      }
      rest = next;
    }
    rest = this.normalize(rest);
    const r = this.range(rest);
    if (sameBucket(r, m)) return linPlus(rest, linConst(-floorDiv(r.lo, m) * m));
    for (const g of factorCandidates(rest, m)) {
      const { big, small } = splitByFactor(rest, g);
      const s = this.range(small);
      if (big.terms.size > 0 && sameBucket(s, g)) {
        const mm = floorDiv(s.lo, g);
        const inner = this.mod(linPlus(linTermsDivExact(big, g), linConst(mm)), m / g);
        return this.normalize(linPlus(linScale(inner, g), linPlus(small, linConst(-mm * g))));
      }
    }
    return linAtom(mod(linToExpr(rest), m));
  }

  /**
   * Use X = k·div(X, k) + mod(X, k) to remove atoms:
   *   α·mod(X,k) + α·k·div(X,k) → α·X;   α·mod(X,k) − α·X → −α·k·div(X,k);
   *   β·X − β·k·div(X,k) → β·mod(X,k).
   */
  private normalize(a: Lin): Lin {
    for (let round = 0; round < 32; round++) {
      const next = this.recombineOnce(a);
      if (!next) return a;
      a = next;
    }
    return a;
  }

  private recombineOnce(a: Lin): Lin | null {
    for (const t of a.terms.values()) {
      const atom = t.atom;
      if (atom.k === 'mod') {
        const x = linFromExpr(atom.a);
        if (x.terms.size === 0) continue;
        const alpha = t.coef;
        const d = this.div(x, atom.c);
        const withoutMod = linPlus(a, linAtom(atom, -alpha));
        // α·mod(X,k) + α·k·div(X,k) → α·X
        if (linContains(a, d, alpha * atom.c) && !d.terms.has(exprKey(atom))) {
          return linPlus(linPlus(withoutMod, d, -alpha * atom.c), x, alpha);
        }
        // α·mod(X,k) − α·X → −α·k·div(X,k)
        if (linContains(a, x, -alpha)) {
          return linPlus(linPlus(withoutMod, x, alpha), d, -alpha * atom.c);
        }
        // α·mod(X,k) + α·k·mod(div(X,k), m) → α·mod(X, k·m)
        const [dAtom] = d.terms.values();
        if (d.terms.size === 1 && d.k === 0 && dAtom!.coef === 1) {
          const dKey = exprKey(dAtom!.atom);
          for (const u of a.terms.values()) {
            if (u.atom.k === 'mod' && u.coef === alpha * atom.c && exprKey(u.atom.a) === dKey) {
              const wide = this.mod(x, atom.c * u.atom.c);
              return linPlus(linPlus(withoutMod, linAtom(u.atom, -u.coef)), wide, alpha);
            }
          }
        }
      } else if (atom.k === 'div' && t.coef % atom.c === 0) {
        const x = linFromExpr(atom.a);
        const m = this.mod(x, atom.c);
        if (m.terms.size === 1 && m.terms.has(exprKey(atom))) continue;
        // α·mod(X',k) + α·k·div(X,k) → α·X when X' ≡ X (mod k): both mods are the same value.
        const alpha = t.coef / atom.c;
        if (linContains(a, m, alpha)) {
          return linPlus(linPlus(linPlus(a, m, -alpha), linAtom(atom, -t.coef)), x, alpha);
        }
        // β·X − β·k·div(X,k) → β·mod(X,k), only when div(X, k) is already in its simplest form.
        const beta = -alpha;
        if (!linContains(a, x, beta)) continue;
        if (linKey(this.div(x, atom.c)) !== linKey(linAtom(atom))) continue;
        return linPlus(linPlus(linPlus(a, x, -beta), linAtom(atom, -t.coef)), m, beta);
      }
    }
    return null;
  }

  private select(cond: ICond, then: IExpr, other: IExpr): Lin {
    let cnd = this.cond(cond);
    if (cnd.k === 'true') return this.lin(then);
    if (cnd.k === 'false') return this.lin(other);
    let [t, e] = [then, other];
    if (cnd.k === 'not') [cnd, t, e] = [cnd.a, other, then];
    // Each branch only matters where its condition holds: simplify it under the tighter bounds.
    const thenBounds = refineBounds(this.bounds, cnd, true);
    const elseBounds = refineBounds(this.bounds, cnd, false);
    if (thenBounds === null) return this.lin(e);
    if (elseBounds === null) return this.lin(t);
    const tl = thenBounds === undefined ? this.lin(t) : new Simplifier(thenBounds).lin(t);
    const el = elseBounds === undefined ? this.lin(e) : new Simplifier(elseBounds).lin(e);
    if (linKey(tl) === linKey(el)) return tl;
    // Terms equal in both branches move out of the select.
    let common = linConst(tl.k === el.k ? tl.k : 0);
    for (const [key, term] of tl.terms) {
      if (el.terms.get(key)?.coef === term.coef) common = linPlus(common, linAtom(term.atom, term.coef));
    }
    const sel = select(cnd, linToExpr(linPlus(tl, common, -1)), linToExpr(linPlus(el, common, -1)));
    return this.normalize(linPlus(common, linAtom(sel)));
  }

  cond(cnd: ICond): ICond {
    switch (cnd.k) {
      case 'true':
      case 'false':
        return cnd;
      case 'lt':
        return this.ltZero(linPlus(this.lin(cnd.a), this.lin(cnd.b), -1));
      case 'le':
        return this.ltZero(linPlus(linPlus(this.lin(cnd.a), this.lin(cnd.b), -1), linConst(-1)));
      case 'eq':
        return this.eqZero(linPlus(this.lin(cnd.a), this.lin(cnd.b), -1));
      case 'and': {
        const a = this.cond(cnd.a);
        return a.k === 'false' ? a : and(a, this.cond(cnd.b));
      }
      case 'or': {
        const a = this.cond(cnd.a);
        return a.k === 'true' ? a : or(a, this.cond(cnd.b));
      }
      case 'not': {
        const a = this.cond(cnd.a);
        // not(x < y) is y − x − 1 < 0 again, which keeps conditions in one canonical shape.
        if (a.k === 'lt') return this.ltZero(linPlus(linPlus(this.lin(a.b), this.lin(a.a), -1), linConst(-1)));
        return not(a);
      }
    }
  }

  /** The condition a < 0, decided by bounds or put in canonical form: S < q or q < S. */
  private ltZero(a: Lin): ICond {
    const r = this.range(a);
    if (r.hi < 0) return TRUE;
    if (r.lo >= 0) return FALSE;
    const g = coefGcd(a);
    let s = linTermsDivExact(a, g);
    const q = Math.ceil(-a.k / g); // Σ(coef/g)·t < −k/g  ⇔  S < ceil(−k/g) for integer S
    if (leadingCoef(s) < 0) {
      s = linScale(s, -1);
      return lt(c(-q), linToExpr(s));
    }
    return lt(linToExpr(s), c(q));
  }

  private eqZero(a: Lin): ICond {
    const r = this.range(a);
    if (r.lo > 0 || r.hi < 0) return FALSE;
    if (r.lo === 0 && r.hi === 0) return TRUE;
    const g = coefGcd(a);
    if (a.k % g !== 0) return FALSE;
    let s = linTermsDivExact(a, g);
    let q = -a.k / g;
    if (leadingCoef(s) < 0) {
      s = linScale(s, -1);
      q = -q;
    }
    return eq(linToExpr(s), c(q));
  }
}

/** Whether coef·e is a multiple of m because e is a select of constants that all are. */
function multipleOfAtLeaves(e: IExpr, coef: number, m: number): boolean {
  if (e.k === 'const') return (coef * e.v) % m === 0;
  if (e.k !== 'select') return false;
  return multipleOfAtLeaves(e.then, coef, m) && multipleOfAtLeaves(e.else, coef, m);
}

function splitByFactor(a: Lin, g: number): { big: Lin; small: Lin } {
  let big = linConst(0);
  let small = linConst(a.k);
  for (const t of a.terms.values()) {
    if (t.coef % g === 0) big = linPlus(big, linAtom(t.atom, t.coef));
    else small = linPlus(small, linAtom(t.atom, t.coef));
  }
  return { big, small };
}

function coefGcd(a: Lin): number {
  let g = 0;
  for (const t of a.terms.values()) g = gcd(g, t.coef);
  return g || 1;
}

function leadingCoef(a: Lin): number {
  return sortedTerms(a)[0]?.coef ?? 0;
}

/** Conditions are left as the simplifier made them. */
const tidyChildren: ChildMap = { expr: tidy, cond: (cnd) => cnd };

/**
 * A last, cosmetic pass over a simplified expression: a constant added to γ·div(Y + k, d) with
 * k ≠ 0 moves inside, γ·div(Y + k, d) + q = γ·div(Y + k + (q/γ)·d, d), saving one addition. (The
 * simplifier keeps constants outside, in canonical form, so equal atoms have equal keys.)
 */
function tidy(e: IExpr): IExpr {
  switch (e.k) {
    case 'var':
    case 'const':
      return e;
    case 'div':
    case 'mod':
    case 'select':
      return mapChildren(e, tidyChildren);
    case 'add':
    case 'mul': {
      const lin = linFromExpr(e);
      const terms = sortedTerms(lin).map((t) => ({ atom: tidy(t.atom), coef: t.coef }));
      let k = lin.k;
      if (k !== 0) {
        for (const t of terms) {
          if (t.atom.k !== 'div' || k % t.coef !== 0) continue;
          const arg = linFromExpr(t.atom.a);
          if (arg.k === 0) continue;
          t.atom = div(linToExpr(linPlus(arg, linConst((k / t.coef) * t.atom.c))), t.atom.c);
          k = 0;
          break;
        }
      }
      // Terms with the same coefficient share one multiplication: 8·a + 8·b → 8·(a + b).
      const byCoef = new Map<number, IExpr[]>();
      for (const t of terms) byCoef.set(t.coef, [...(byCoef.get(t.coef) ?? []), t.atom]);
      let out: IExpr | undefined;
      for (const [coef, atoms] of byCoef) {
        const term = mul(atoms.reduce((x, y) => add(x, y)), coef);
        out = out ? add(out, term) : term;
      }
      return out ? add(out, c(k)) : c(k);
    }
  }
}

/** Simplify an expression whose variable i lies in bounds[i]. */
export function simplifyExpr(e: IExpr, bounds: readonly Interval[]): IExpr {
  return tidy(new Simplifier(bounds).expr(e));
}

export function simplifyCond(cnd: ICond, bounds: readonly Interval[]): ICond {
  return new Simplifier(bounds).cond(cnd);
}

/**
 * Rewrite a map to fewer and cheaper operations, using 0 ≤ i_k < outShape[k]. Index expressions
 * are also simplified under what `valid` implies, since they are only read where it holds.
 */
export function simplify(map: IndexMap): IndexMap {
  const bounds = shapeBounds(map.outShape);
  const valid = map.valid ? new Simplifier(bounds).cond(map.valid) : TRUE;
  const refined = valid.k === 'true' ? undefined : refineBounds(bounds, valid, true);
  const s = new Simplifier(refined ?? bounds);
  const result: IndexMap = {
    outShape: [...map.outShape],
    inShape: [...map.inShape],
    index: map.index.map((e) => tidy(s.expr(e))),
  };
  if (valid.k !== 'true') result.valid = valid;
  return result;
}
