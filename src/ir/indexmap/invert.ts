// Inversion of bijections.
//
// The map is read as one function f of the flat output position x. Its div/mod breakpoints cut x
// into mixed-radix digits; in digit space the flat input position must again be a mixed-radix
// number whose digits are each either an output digit or mod(±digit + terms of known digits, n)
// (a roll or a cyclic shift). Solving those digit equations one at a time gives the inverse, and
// the checks along the way prove f injective, hence (equal sizes) a bijection.
import { product, rowMajorStrides } from './arith.js';
import { add, c, div, mod, mul, sub, v, type IExpr, type IndexMap, type Interval } from './expr.js';
import { linearize, substitute, unflatten } from './compose.js';
import { exprRange } from './interval.js';
import { linAtom, linConst, linFromExpr, linKey, linPlus, linScale, linToExpr, type Lin, type Term } from './linear.js';
import { Simplifier, simplify } from './simplify.js';
import { varsOf } from './walk.js';

/**
 * The inverse of a bijection (in and out shapes swapped), or null when the map is not one, or is
 * one that this symbolic route cannot solve (`classifyMap` then decides by evaluation).
 */
export function invert(map: IndexMap): IndexMap | null {
  const size = product(map.outShape);
  if (size !== product(map.inShape) || size === 0) return null;
  const m = simplify(map);
  if (m.valid) return null; // a map that reads zeros somewhere is no bijection

  // f(x): flat input position as a function of the flat output position x (variable 0).
  const unflat = unflatten(v(0), m.outShape);
  const f = new Simplifier([{ lo: 0, hi: size - 1 }]).lin(linearize({ ...m, index: m.index.map((e) => substitute(e, unflat)) }));

  const points = new Set<number>();
  collectBreakpoints(f, points);
  const cuts = [...points].filter((p) => p > 1 && p < size).sort((a, b) => a - b);
  const radices = [1, ...cuts];
  for (let t = 1; t < radices.length; t++) if (radices[t]! % radices[t - 1]! !== 0) return null;
  if (size % radices[radices.length - 1]! !== 0) return null;
  const digitSize = radices.map((r, t) => (t + 1 < radices.length ? radices[t + 1]! : size) / r);

  // Rewrite f over the output digits.
  let xOfDigits: IExpr = c(0);
  radices.forEach((r, t) => (xOfDigits = add(xOfDigits, mul(v(t), r))));
  const digitBounds = digitSize.map((n) => ({ lo: 0, hi: n - 1 }));
  const sd = new Simplifier(digitBounds);
  const g = sd.lin(substitute(linToExpr(f), [xOfDigits]));
  if (g.k !== 0) return null;

  // The flat input position must be a mixed-radix number: coefficients 1, R0, R0·R1, …
  const inTerms = [...g.terms.values()].sort((a, b) => a.coef - b.coef);
  const inRadix: number[] = [];
  const inSize: number[] = [];
  let expect = 1;
  for (const t of inTerms) {
    const r = exprRange(t.atom, digitBounds);
    if (t.coef !== expect || r.lo !== 0) return null;
    inRadix.push(t.coef);
    inSize.push(r.hi + 1);
    expect *= r.hi + 1;
  }
  if (expect !== size) return null;

  // The inverse reads output position y of the original map's input space.
  const inStrides = rowMajorStrides(m.inShape);
  let y: IExpr = c(0);
  m.inShape.forEach((_, j) => (y = add(y, mul(v(j), inStrides[j]!))));
  const inDigit = inTerms.map((_, t) => (t + 1 === inTerms.length ? div(y, inRadix[t]!) : mod(div(y, inRadix[t]!), inSize[t]!)));

  const solution: (IExpr | undefined)[] = digitSize.map((n) => (n === 1 ? c(0) : undefined));
  let pending = groupPieces(
    inTerms.map((t, i) => ({ lhs: linAtom(t.atom), value: inDigit[i]! })),
    digitBounds,
  );
  while (pending.length > 0) {
    const next: DigitEq[] = [];
    let progressed = false;
    for (const e of pending) {
      const step = solveEq(e, solution, digitBounds);
      if (step === 'fail') return null;
      if (step === 'wait') next.push(e);
      else {
        next.push(...step);
        progressed = true;
      }
    }
    if (!progressed) return null;
    pending = next;
  }
  let x: IExpr = c(0);
  for (let t = 0; t < radices.length; t++) {
    const sol = solution[t];
    if (!sol) return null;
    x = add(x, mul(sol, radices[t]!));
  }
  return simplify({ outShape: [...m.inShape], inShape: [...m.outShape], index: unflatten(x, m.outShape) });
}

/** Breakpoints of x (variable 0) in the structural atoms of f: div(x, a), mod(x, b), mod(div(x, a), b). */
function collectBreakpoints(f: Lin, points: Set<number>): void {
  for (const t of f.terms.values()) {
    const atom = t.atom;
    if (atom.k === 'div' && atom.a.k === 'var') points.add(atom.c);
    if (atom.k !== 'mod') continue;
    const inner = atom.a;
    if (inner.k === 'var') points.add(atom.c);
    else if (inner.k === 'div' && inner.a.k === 'var') {
      points.add(inner.c);
      points.add(inner.c * atom.c);
    } else collectBreakpoints(linFromExpr(inner), points); // the digits under a roll or cyclic shift
  }
}

/** An equation of the inversion: lhs (over output digits) = value (over the inverse's variables). */
interface DigitEq {
  lhs: Lin;
  value: IExpr;
}

/**
 * mod(div(C, r), n), mod(C, n) or div(C, r) (n = null) as a piece of the number C. The simplifier
 * keeps constants outside: mod(div(C', r) + q, n) is the piece of C' + q·r.
 */
function pieceOf(a: IExpr): { base: Lin; r: number; n: number | null } | null {
  if (a.k === 'div') return { base: linFromExpr(a.a), r: a.c, n: null };
  if (a.k !== 'mod') return null;
  const y = linFromExpr(a.a);
  const [t] = y.terms.values();
  if (y.terms.size === 1 && t!.coef === 1 && t!.atom.k === 'div') {
    return { base: linPlus(linFromExpr(t!.atom.a), linConst(y.k * t!.atom.c)), r: t!.atom.c, n: a.c };
  }
  return { base: y, r: 1, n: a.c };
}

/**
 * Input digits that are the pieces of one number C in another radix (a reshape after a roll, say)
 * are put back together: piece_t = mod(div(C, r_t), n_t) covering [0, top) give
 * mod(C, top) = Σ r_t·piece_t (C itself where C lies in [0, top)).
 */
function groupPieces(eqs: DigitEq[], bounds: readonly Interval[]): DigitEq[] {
  type Piece = { base: Lin; r: number; n: number | null; eq: DigitEq };
  const groups = new Map<string, Piece[]>();
  for (const eq of eqs) {
    const [t] = eq.lhs.terms.values();
    const p = t && pieceOf(t.atom);
    if (!p) continue;
    const key = linKey({ terms: p.base.terms, k: 0 }); // the constant is matched below
    groups.set(key, [...(groups.get(key) ?? []), { ...p, eq }]);
  }
  let out = eqs;
  for (const pieces of groups.values()) {
    if (pieces.length < 2) continue;
    pieces.sort((a, b) => a.r - b.r);
    // A piece's constant only matters modulo r·n: all must agree with the top piece's.
    const k = pieces[pieces.length - 1]!.base.k;
    let expect = 1;
    let top = Infinity;
    let chained = true;
    for (const [i, p] of pieces.entries()) {
      if (p.r !== expect || (p.n === null && i + 1 < pieces.length)) chained = false;
      if (p.n === null ? p.base.k !== k : (k - p.base.k) % (p.r * p.n) !== 0) chained = false;
      if (p.n !== null) expect = p.r * p.n;
      top = p.n === null ? Infinity : expect;
    }
    if (!chained) continue;
    const base = { terms: pieces[0]!.base.terms, k };
    const r = exprRange(linToExpr(base), bounds);
    const whole = r.lo >= 0 && r.hi < top ? base : Number.isFinite(top) ? linAtom(mod(linToExpr(base), top)) : null;
    if (!whole) continue;
    let value: IExpr = c(0);
    for (const p of pieces) value = add(value, mul(p.eq.value, p.r));
    out = [...out.filter((e) => !pieces.some((p) => p.eq === e)), { lhs: whole, value }];
  }
  return out;
}

/**
 * Make progress on one equation once the digits it needs are known ('wait' until then):
 *   d = value                          → the solution for d;
 *   mod(σ·U + rest, n) = value         → U = mod(σ·(value − rest), n), where U ∈ [0, n) holds the
 *                                        unknown digits (a roll or a cyclic shift), σ = ±1;
 *   Σ r_t·a_t + known = value          → a_t = mod(div(value − known, r_t), R_t) for a mixed radix
 *                                        (r_0 = 1, r_{t+1} = r_t·R_t, a_t ∈ [0, R_t)).
 * Each step determines the unknowns uniquely, which is what makes the map injective.
 */
function solveEq(eq: DigitEq, solution: (IExpr | undefined)[], bounds: readonly Interval[]): DigitEq[] | 'wait' | 'fail' {
  const isUnknown = (e: IExpr) => [...varsOf(e)].some((d) => solution[d] === undefined);
  const known = solution.map((s) => s ?? c(0));
  let value = sub(eq.value, c(eq.lhs.k));
  const unknown: Term[] = [];
  for (const t of eq.lhs.terms.values()) {
    if (isUnknown(t.atom)) unknown.push(t);
    else value = sub(value, mul(substitute(t.atom, known), t.coef));
  }
  if (unknown.length === 0) return 'fail'; // an input digit fixed by others: not injective
  if (unknown.length === 1 && unknown[0]!.coef === 1) {
    const atom = unknown[0]!.atom;
    if (atom.k === 'var') {
      solution[atom.i] = value;
      return [];
    }
    if (atom.k !== 'mod') return 'wait';
    const x = linFromExpr(atom.a);
    let u = linConst(0);
    let rest = linConst(x.k);
    for (const t of x.terms.values()) {
      if (isUnknown(t.atom)) u = linPlus(u, linAtom(t.atom, t.coef));
      else rest = linPlus(rest, linAtom(t.atom, t.coef));
    }
    const signs = new Set([...u.terms.values()].map((t) => Math.sign(t.coef)));
    if (signs.size !== 1) return 'wait';
    const sigma = [...signs][0]!;
    const uPos = linScale(u, sigma);
    const r = exprRange(linToExpr(uPos), bounds);
    if (r.lo !== 0 || r.hi !== atom.c - 1) return 'wait';
    const restExpr = substitute(linToExpr(rest), known);
    return [{ lhs: uPos, value: mod(mul(sub(value, restExpr), sigma), atom.c) }];
  }
  if (unknown.length < 2) return 'wait';
  unknown.sort((a, b) => a.coef - b.coef);
  const out: DigitEq[] = [];
  let expect = 1;
  for (const [i, t] of unknown.entries()) {
    const r = exprRange(t.atom, bounds);
    if (t.coef !== expect || r.lo !== 0) return 'wait';
    const size = r.hi + 1;
    const digit = i + 1 === unknown.length ? div(value, t.coef) : mod(div(value, t.coef), size);
    out.push({ lhs: linAtom(t.atom), value: digit });
    expect *= size;
  }
  return out;
}
