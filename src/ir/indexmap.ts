// Index maps: every data movement of the IR (reshape, permute, roll, window partition, head split,
// patch and channel shift, gathers, padding, slicing) is a static function from an output index to
// an input index, or to "zero". Maps compose and simplify, so a consumer kernel reads through one
// composed map and no pass over memory exists for the movement (architecture principle 2).
//
// Sections: types and smart constructors · evaluation · substitution and composition · interval
// analysis · the simplifier (linear forms over div/mod/select atoms) · inversion of bijections ·
// strided views and op counts · printing · WGSL emission.

// ---------------------------------------------------------------------------------------------
// Types

/** Integer index expressions over the output index variables i0..i{n-1}. */
export type IExpr =
  | { k: 'var'; i: number } // output index along dim i
  | { k: 'const'; v: number }
  | { k: 'add'; a: IExpr; b: IExpr }
  | { k: 'mul'; a: IExpr; c: number } // times an integer constant
  | { k: 'div'; a: IExpr; c: number } // floor division by a positive constant
  | { k: 'mod'; a: IExpr; c: number } // non-negative remainder, c > 0
  | { k: 'select'; cond: ICond; then: IExpr; else: IExpr };

export type ICond =
  | { k: 'true' }
  | { k: 'false' }
  | { k: 'lt'; a: IExpr; b: IExpr } // a < b
  | { k: 'le'; a: IExpr; b: IExpr }
  | { k: 'eq'; a: IExpr; b: IExpr }
  | { k: 'and'; a: ICond; b: ICond }
  | { k: 'or'; a: ICond; b: ICond }
  | { k: 'not'; a: ICond };

export interface IndexMap {
  outShape: number[];
  inShape: number[];
  /** One expression per input dimension, in terms of the output variables. */
  index: IExpr[];
  /** Where false, the output element is 0 (padding, TSM zeros); absent = always valid. */
  valid?: ICond;
}

/** A closed integer interval [lo, hi]. */
export interface Interval {
  lo: number;
  hi: number;
}

/** Misuse of this module by compiler code (never a user's mistake: those are diagnostics). */
export class IndexMapError extends Error {
  constructor(message: string) {
    super(`internal error (index map): ${message}`);
    this.name = 'IndexMapError';
  }
}

function fail(message: string): never {
  throw new IndexMapError(message);
}

function checkInt(n: number, what: string): void {
  if (!Number.isSafeInteger(n)) fail(`${what} must be an integer, got ${n}`);
}

// `+ 0` turns a negative zero into 0, so results compare equal with Object.is.
export function floorDiv(a: number, b: number): number {
  return Math.floor(a / b) + 0;
}

export function floorMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

export function product(shape: readonly number[]): number {
  return shape.reduce((p, n) => p * n, 1);
}

/** Row-major strides: the flat offset of index x is sum(x[k] * strides[k]). */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k]!;
  }
  return strides;
}

// ---------------------------------------------------------------------------------------------
// Smart constructors: they fold constants and trivial cases, nothing that needs bounds.

export function v(i: number): IExpr {
  if (!Number.isInteger(i) || i < 0) fail(`variable index must be a natural number, got ${i}`);
  return { k: 'var', i };
}

export function c(n: number): IExpr {
  checkInt(n, 'constant');
  return { k: 'const', v: n + 0 };
}

export function add(a: IExpr, b: IExpr): IExpr {
  if (a.k === 'const' && b.k === 'const') return c(a.v + b.v);
  if (a.k === 'const') return add(b, a); // constants on the right
  if (b.k === 'const') {
    if (b.v === 0) return a;
    if (a.k === 'add' && a.b.k === 'const') return add(a.a, c(a.b.v + b.v));
  }
  return { k: 'add', a, b };
}

export function sub(a: IExpr, b: IExpr): IExpr {
  return add(a, mul(b, -1));
}

export function mul(a: IExpr, k: number): IExpr {
  checkInt(k, 'multiplier');
  if (k === 0) return c(0);
  if (k === 1) return a;
  if (a.k === 'const') return c(a.v * k);
  if (a.k === 'mul') return mul(a.a, a.c * k);
  return { k: 'mul', a, c: k };
}

export function div(a: IExpr, k: number): IExpr {
  checkInt(k, 'divisor');
  if (k <= 0) fail(`divisor must be positive, got ${k}`);
  if (k === 1) return a;
  if (a.k === 'const') return c(floorDiv(a.v, k));
  if (a.k === 'div') return div(a.a, a.c * k); // floor(floor(x/a)/b) = floor(x/(a·b))
  return { k: 'div', a, c: k };
}

export function mod(a: IExpr, k: number): IExpr {
  checkInt(k, 'modulus');
  if (k <= 0) fail(`modulus must be positive, got ${k}`);
  if (k === 1) return c(0);
  if (a.k === 'const') return c(floorMod(a.v, k));
  if (a.k === 'mod' && a.c % k === 0) return mod(a.a, k);
  return { k: 'mod', a, c: k };
}

export function select(cond: ICond, a: IExpr, b: IExpr): IExpr {
  if (cond.k === 'true') return a;
  if (cond.k === 'false') return b;
  if (exprKey(a) === exprKey(b)) return a;
  return { k: 'select', cond, then: a, else: b };
}

export const TRUE: ICond = { k: 'true' };
export const FALSE: ICond = { k: 'false' };

function bool(b: boolean): ICond {
  return b ? TRUE : FALSE;
}

export function lt(a: IExpr, b: IExpr): ICond {
  if (a.k === 'const' && b.k === 'const') return bool(a.v < b.v);
  if (exprKey(a) === exprKey(b)) return FALSE;
  return { k: 'lt', a, b };
}

export function le(a: IExpr, b: IExpr): ICond {
  if (a.k === 'const' && b.k === 'const') return bool(a.v <= b.v);
  if (exprKey(a) === exprKey(b)) return TRUE;
  return { k: 'le', a, b };
}

export function eq(a: IExpr, b: IExpr): ICond {
  if (a.k === 'const' && b.k === 'const') return bool(a.v === b.v);
  if (exprKey(a) === exprKey(b)) return TRUE;
  return { k: 'eq', a, b };
}

export function and(a: ICond, b: ICond): ICond {
  if (a.k === 'false' || b.k === 'false') return FALSE;
  if (a.k === 'true') return b;
  if (b.k === 'true') return a;
  if (condKey(a) === condKey(b)) return a;
  return { k: 'and', a, b };
}

export function or(a: ICond, b: ICond): ICond {
  if (a.k === 'true' || b.k === 'true') return TRUE;
  if (a.k === 'false') return b;
  if (b.k === 'false') return a;
  if (condKey(a) === condKey(b)) return a;
  return { k: 'or', a, b };
}

export function not(a: ICond): ICond {
  if (a.k === 'true') return FALSE;
  if (a.k === 'false') return TRUE;
  if (a.k === 'not') return a.a;
  return { k: 'not', a };
}

/** A canonical structural key: equal keys mean structurally equal expressions. */
export function exprKey(e: IExpr): string {
  switch (e.k) {
    case 'var':
      return `i${e.i}`;
    case 'const':
      return String(e.v);
    case 'add':
      return `(+ ${exprKey(e.a)} ${exprKey(e.b)})`;
    case 'mul':
      return `(* ${exprKey(e.a)} ${e.c})`;
    case 'div':
      return `(/ ${exprKey(e.a)} ${e.c})`;
    case 'mod':
      return `(% ${exprKey(e.a)} ${e.c})`;
    case 'select':
      return `(? ${condKey(e.cond)} ${exprKey(e.then)} ${exprKey(e.else)})`;
  }
}

export function condKey(cnd: ICond): string {
  switch (cnd.k) {
    case 'true':
    case 'false':
      return cnd.k;
    case 'lt':
    case 'le':
    case 'eq':
      return `(${cnd.k} ${exprKey(cnd.a)} ${exprKey(cnd.b)})`;
    case 'and':
    case 'or':
      return `(${cnd.k} ${condKey(cnd.a)} ${condKey(cnd.b)})`;
    case 'not':
      return `(not ${condKey(cnd.a)})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export function evalExpr(e: IExpr, vars: readonly number[]): number {
  switch (e.k) {
    case 'var': {
      const x = vars[e.i];
      if (x === undefined) fail(`no value for variable i${e.i}`);
      return x;
    }
    case 'const':
      return e.v;
    case 'add':
      return evalExpr(e.a, vars) + evalExpr(e.b, vars);
    case 'mul':
      return evalExpr(e.a, vars) * e.c + 0;
    case 'div':
      return floorDiv(evalExpr(e.a, vars), e.c);
    case 'mod':
      return floorMod(evalExpr(e.a, vars), e.c);
    case 'select':
      return evalCond(e.cond, vars) ? evalExpr(e.then, vars) : evalExpr(e.else, vars);
  }
}

export function evalCond(cnd: ICond, vars: readonly number[]): boolean {
  switch (cnd.k) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'lt':
      return evalExpr(cnd.a, vars) < evalExpr(cnd.b, vars);
    case 'le':
      return evalExpr(cnd.a, vars) <= evalExpr(cnd.b, vars);
    case 'eq':
      return evalExpr(cnd.a, vars) === evalExpr(cnd.b, vars);
    case 'and':
      return evalCond(cnd.a, vars) && evalCond(cnd.b, vars);
    case 'or':
      return evalCond(cnd.a, vars) || evalCond(cnd.b, vars);
    case 'not':
      return !evalCond(cnd.a, vars);
  }
}

/** The input index that output index `out` reads, or null where the map yields 0. */
export function evaluate(map: IndexMap, out: readonly number[]): number[] | null {
  if (map.valid && !evalCond(map.valid, out)) return null;
  return map.index.map((e) => evalExpr(e, out));
}

// ---------------------------------------------------------------------------------------------
// Substitution and composition

/** Replace variable i by by[i] everywhere, refolding constants. */
export function substitute(e: IExpr, by: readonly IExpr[]): IExpr {
  return new Substitution(by).expr(e);
}

export function substituteCond(cnd: ICond, by: readonly IExpr[]): ICond {
  return new Substitution(by).cond(cnd);
}

class Substitution {
  // Composed expressions share subtrees; remembering results keeps substitution linear in the DAG.
  private readonly memo = new Map<IExpr, IExpr>();
  constructor(private readonly by: readonly IExpr[]) {}

  expr(e: IExpr): IExpr {
    const hit = this.memo.get(e);
    if (hit) return hit;
    const r = this.build(e);
    this.memo.set(e, r);
    return r;
  }

  private build(e: IExpr): IExpr {
    switch (e.k) {
      case 'var': {
        const r = this.by[e.i];
        if (!r) fail(`no expression for variable i${e.i}`);
        return r;
      }
      case 'const':
        return e;
      case 'add':
        return add(this.expr(e.a), this.expr(e.b));
      case 'mul':
        return mul(this.expr(e.a), e.c);
      case 'div':
        return div(this.expr(e.a), e.c);
      case 'mod':
        return mod(this.expr(e.a), e.c);
      case 'select':
        return select(this.cond(e.cond), this.expr(e.then), this.expr(e.else));
    }
  }

  cond(cnd: ICond): ICond {
    switch (cnd.k) {
      case 'true':
      case 'false':
        return cnd;
      case 'lt':
        return lt(this.expr(cnd.a), this.expr(cnd.b));
      case 'le':
        return le(this.expr(cnd.a), this.expr(cnd.b));
      case 'eq':
        return eq(this.expr(cnd.a), this.expr(cnd.b));
      case 'and':
        return and(this.cond(cnd.a), this.cond(cnd.b));
      case 'or':
        return or(this.cond(cnd.a), this.cond(cnd.b));
      case 'not':
        return not(this.cond(cnd.a));
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, k) => n === b[k]);
}

/**
 * `outer` reads the output of `inner`: the result maps outer's output index to inner's input
 * index. Valid where outer is valid and inner is valid at the index outer reads.
 */
export function compose(outer: IndexMap, inner: IndexMap): IndexMap {
  if (!sameShape(outer.inShape, inner.outShape)) {
    fail(`compose: outer reads [${outer.inShape}] but inner produces [${inner.outShape}]`);
  }
  const s = new Substitution(outer.index);
  const valid = and(outer.valid ?? TRUE, inner.valid ? s.cond(inner.valid) : TRUE);
  const result: IndexMap = {
    outShape: [...outer.outShape],
    inShape: [...inner.inShape],
    index: inner.index.map((e) => s.expr(e)),
  };
  if (valid.k !== 'true') result.valid = valid;
  return result;
}

export function identity(shape: number[]): IndexMap {
  return { outShape: [...shape], inShape: [...shape], index: shape.map((_, k) => v(k)) };
}

/** The row-major digits of a flat position in `shape` (the first one undivided by any modulus). */
export function unflatten(flat: IExpr, shape: readonly number[]): IExpr[] {
  const strides = rowMajorStrides(shape);
  return shape.map((n, k) => (k === 0 ? div(flat, strides[k]!) : mod(div(flat, strides[k]!), n)));
}

/** Flat row-major input offset as one expression (built without simplification). */
export function linearize(map: IndexMap): IExpr {
  const strides = rowMajorStrides(map.inShape);
  let flat: IExpr = c(0);
  map.index.forEach((e, j) => {
    flat = add(flat, mul(e, strides[j]!));
  });
  return flat;
}

// ---------------------------------------------------------------------------------------------
// Interval analysis

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

// ---------------------------------------------------------------------------------------------
// The simplifier.
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

interface Term {
  atom: IExpr;
  coef: number;
}

interface Lin {
  terms: Map<string, Term>;
  k: number;
}

function linConst(k: number): Lin {
  return { terms: new Map(), k };
}

function linAtom(atom: IExpr, coef = 1): Lin {
  if (atom.k === 'const') return linConst(atom.v * coef);
  const terms = new Map<string, Term>();
  if (coef !== 0) terms.set(exprKey(atom), { atom, coef });
  return { terms, k: 0 };
}

/** a + s·b */
function linPlus(a: Lin, b: Lin, s = 1): Lin {
  const terms = new Map(a.terms);
  for (const [key, t] of b.terms) {
    const coef = (terms.get(key)?.coef ?? 0) + s * t.coef;
    if (coef === 0) terms.delete(key);
    else terms.set(key, { atom: t.atom, coef });
  }
  return { terms, k: a.k + s * b.k };
}

function linScale(a: Lin, s: number): Lin {
  if (s === 0) return linConst(0);
  const terms = new Map<string, Term>();
  for (const [key, t] of a.terms) terms.set(key, { atom: t.atom, coef: t.coef * s });
  return { terms, k: a.k * s };
}

/** a / g where g divides every coefficient (the constant is dropped). */
function linTermsDivExact(a: Lin, g: number): Lin {
  const terms = new Map<string, Term>();
  for (const [key, t] of a.terms) terms.set(key, { atom: t.atom, coef: t.coef / g });
  return { terms, k: 0 };
}

function termOrder(a: Term, b: Term): number {
  // Variables first, by index; then other atoms by key, so the output is deterministic.
  if (a.atom.k === 'var' && b.atom.k === 'var') return a.atom.i - b.atom.i;
  if (a.atom.k === 'var') return -1;
  if (b.atom.k === 'var') return 1;
  const ka = exprKey(a.atom);
  const kb = exprKey(b.atom);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function sortedTerms(a: Lin): Term[] {
  return [...a.terms.values()].sort(termOrder);
}

function linToExpr(a: Lin): IExpr {
  let e: IExpr | undefined;
  for (const t of sortedTerms(a)) {
    const term = mul(t.atom, t.coef);
    e = e ? add(e, term) : term;
  }
  return e ? add(e, c(a.k)) : c(a.k);
}

/** Read a linear form off an expression's top-level sums and products (no rewriting). */
function linFromExpr(e: IExpr): Lin {
  switch (e.k) {
    case 'const':
      return linConst(e.v);
    case 'add':
      return linPlus(linFromExpr(e.a), linFromExpr(e.b));
    case 'mul':
      return linScale(linFromExpr(e.a), e.c);
    default:
      return linAtom(e);
  }
}

function linKey(a: Lin): string {
  return `${sortedTerms(a)
    .map((t) => `${t.coef}*${exprKey(t.atom)}`)
    .join(' ')} ${a.k}`;
}

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

class Simplifier {
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

/**
 * Bounds implied by a condition of the shapes the simplifier produces (i < q, q < i, i == q, and
 * conjunctions of them): new bounds, null where they are empty, undefined when nothing is learnt.
 */
function refineBounds(bounds: readonly Interval[], cnd: ICond, holds: boolean): Interval[] | null | undefined {
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
      return div(tidy(e.a), e.c);
    case 'mod':
      return mod(tidy(e.a), e.c);
    case 'select':
      return select(e.cond, tidy(e.then), tidy(e.else));
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

// ---------------------------------------------------------------------------------------------
// Inversion of bijections.
//
// The map is read as one function f of the flat output position x. Its div/mod breakpoints cut x
// into mixed-radix digits; in digit space the flat input position must again be a mixed-radix
// number whose digits are each either an output digit or mod(±digit + terms of known digits, n)
// (a roll or a cyclic shift). Solving those digit equations one at a time gives the inverse, and
// the checks along the way prove f injective, hence (equal sizes) a bijection.

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

function varsOf(e: IExpr, out: Set<number>): Set<number> {
  switch (e.k) {
    case 'var':
      out.add(e.i);
      break;
    case 'const':
      break;
    case 'add':
      varsOf(e.a, out);
      varsOf(e.b, out);
      break;
    case 'mul':
    case 'div':
    case 'mod':
      varsOf(e.a, out);
      break;
    case 'select':
      condVars(e.cond, out);
      varsOf(e.then, out);
      varsOf(e.else, out);
  }
  return out;
}

function condVars(cnd: ICond, out: Set<number>): void {
  switch (cnd.k) {
    case 'true':
    case 'false':
      return;
    case 'lt':
    case 'le':
    case 'eq':
      varsOf(cnd.a, out);
      varsOf(cnd.b, out);
      return;
    case 'and':
    case 'or':
      condVars(cnd.a, out);
      condVars(cnd.b, out);
      return;
    case 'not':
      condVars(cnd.a, out);
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
  const isUnknown = (e: IExpr) => [...varsOf(e, new Set())].some((d) => solution[d] === undefined);
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

// ---------------------------------------------------------------------------------------------
// Strided views and op counts

/**
 * Non-null iff, after simplification, the map is always valid and its flat input offset is
 * offset + Σ strides[k]·i_k: a plain strided view. Anything else is a gather.
 */
export function stridedView(map: IndexMap): { offset: number; strides: number[] } | null {
  const s = simplify(map);
  if (s.valid) return null;
  const flat = new Simplifier(shapeBounds(s.outShape)).lin(linearize(s));
  const strides = s.outShape.map(() => 0);
  for (const t of flat.terms.values()) {
    if (t.atom.k !== 'var') return null;
    strides[t.atom.i] = t.coef;
  }
  return { offset: flat.k, strides };
}

function exprOps(e: IExpr): number {
  switch (e.k) {
    case 'var':
    case 'const':
      return 0;
    case 'add':
      return 1 + exprOps(e.a) + exprOps(e.b);
    case 'mul':
    case 'div':
    case 'mod':
      return 1 + exprOps(e.a);
    case 'select':
      return 1 + condOps(e.cond) + exprOps(e.then) + exprOps(e.else);
  }
}

function condOps(cnd: ICond): number {
  switch (cnd.k) {
    case 'true':
    case 'false':
      return 0;
    case 'lt':
    case 'le':
    case 'eq':
      return 1 + exprOps(cnd.a) + exprOps(cnd.b);
    case 'and':
    case 'or':
      return 1 + condOps(cnd.a) + condOps(cnd.b);
    case 'not':
      return 1 + condOps(cnd.a);
  }
}

/** Operations (each add, mul, div, mod, select, comparison, logic op) in the linearized read and its validity test. */
export function opCount(map: IndexMap): number {
  return exprOps(linearize(map)) + (map.valid ? condOps(map.valid) : 0);
}

// ---------------------------------------------------------------------------------------------
// Printing: `//` and `%` are floor division and non-negative remainder, as in Python.

function defaultName(i: number): string {
  return `i${i}`;
}

// Precedence: 1 select, 2 sums, 3 products, 4 atoms.
function printExpr(e: IExpr, names: readonly string[] | undefined): { s: string; p: number } {
  const name = (i: number) => names?.[i] ?? defaultName(i);
  const wrap = (x: { s: string; p: number }, p: number) => (x.p < p ? `(${x.s})` : x.s);
  switch (e.k) {
    case 'var':
      return { s: name(e.i), p: 4 };
    case 'const':
      return { s: String(e.v), p: e.v < 0 ? 2 : 4 };
    case 'add': {
      const a = wrap(printExpr(e.a, names), 2);
      if (e.b.k === 'const' && e.b.v < 0) return { s: `${a} - ${-e.b.v}`, p: 2 };
      if (e.b.k === 'mul' && e.b.c < 0) {
        const neg = mul(e.b.a, -e.b.c);
        return { s: `${a} - ${wrap(printExpr(neg, names), 3)}`, p: 2 };
      }
      return { s: `${a} + ${wrap(printExpr(e.b, names), 2)}`, p: 2 };
    }
    case 'mul':
      if (e.c === -1) return { s: `-${wrap(printExpr(e.a, names), 4)}`, p: 2 };
      return { s: `${e.c < 0 ? `(${e.c})` : e.c}*${wrap(printExpr(e.a, names), 4)}`, p: 3 };
    case 'div':
      return { s: `${wrap(printExpr(e.a, names), 4)} // ${e.c}`, p: 3 };
    case 'mod':
      return { s: `${wrap(printExpr(e.a, names), 4)} % ${e.c}`, p: 3 };
    case 'select':
      return {
        s: `${condToString(e.cond, names)} ? ${wrap(printExpr(e.then, names), 2)} : ${wrap(printExpr(e.else, names), 1)}`,
        p: 1,
      };
  }
}

export function exprToString(e: IExpr, names?: string[]): string {
  return printExpr(e, names).s;
}

export function condToString(cnd: ICond, names?: readonly string[]): string {
  const ex = (e: IExpr) => {
    const x = printExpr(e, names);
    return x.p < 2 ? `(${x.s})` : x.s;
  };
  const part = (x: ICond) => (x.k === 'and' || x.k === 'or' ? `(${condToString(x, names)})` : condToString(x, names));
  switch (cnd.k) {
    case 'true':
    case 'false':
      return cnd.k;
    case 'lt':
      return `${ex(cnd.a)} < ${ex(cnd.b)}`;
    case 'le':
      return `${ex(cnd.a)} <= ${ex(cnd.b)}`;
    case 'eq':
      return `${ex(cnd.a)} == ${ex(cnd.b)}`;
    case 'and':
      return `${part(cnd.a)} && ${part(cnd.b)}`;
    case 'or':
      return `${part(cnd.a)} || ${part(cnd.b)}`;
    case 'not':
      return `!(${condToString(cnd.a, names)})`;
  }
}

/** e.g. `[6] -> [2, 3]: (i0 // 3, i0 % 3)`, with `where <valid>` when the map reads zeros. */
export function mapToString(map: IndexMap): string {
  const body = map.index.map((e) => exprToString(e)).join(', ');
  const where = map.valid ? ` where ${condToString(map.valid)}` : '';
  return `[${map.outShape.join(', ')}] -> [${map.inShape.join(', ')}]: (${body})${where}`;
}

// ---------------------------------------------------------------------------------------------
// WGSL emission (i32 arithmetic). WGSL's `/` and `%` truncate toward zero, so floor division and
// the non-negative remainder need a correction wherever the operand may be negative. Passing the
// shape the variables index (0 ≤ names[i] < shape[i]) lets the emitter drop provably needless
// corrections.

export function exprToWGSL(e: IExpr, names: string[], shape?: readonly number[]): string {
  return new WgslEmitter(names, shape).expr(e);
}

export function condToWGSL(cnd: ICond, names: string[], shape?: readonly number[]): string {
  return new WgslEmitter(names, shape).cond(cnd);
}

class WgslEmitter {
  private readonly bounds: Interval[] | undefined;
  constructor(
    private readonly names: readonly string[],
    shape: readonly number[] | undefined,
  ) {
    this.bounds = shape ? shapeBounds(shape) : undefined;
  }

  private nonNegative(e: IExpr): boolean {
    return this.bounds !== undefined && exprRange(e, this.bounds).lo >= 0;
  }

  expr(e: IExpr): string {
    switch (e.k) {
      case 'var': {
        const n = this.names[e.i];
        if (n === undefined) fail(`no WGSL name for variable i${e.i}`);
        return n;
      }
      case 'const':
        return e.v < 0 ? `(${e.v})` : String(e.v);
      case 'add':
        if (e.b.k === 'mul' && e.b.c < 0) return `(${this.expr(e.a)} - ${this.expr(mul(e.b.a, -e.b.c))})`;
        if (e.b.k === 'const' && e.b.v < 0) return `(${this.expr(e.a)} - ${-e.b.v})`;
        return `(${this.expr(e.a)} + ${this.expr(e.b)})`;
      case 'mul':
        return e.c === -1 ? `(-${this.expr(e.a)})` : `(${this.expr(e.a)} * ${this.expr(c(e.c))})`;
      case 'div': {
        const a = this.expr(e.a);
        if (this.nonNegative(e.a)) return `(${a} / ${e.c})`;
        // floor(a / k) = trunc((a − (k − 1)) / k) for a < 0
        return `((${a} - select(0, ${e.c - 1}, ${a} < 0)) / ${e.c})`;
      }
      case 'mod': {
        const a = this.expr(e.a);
        if (this.nonNegative(e.a)) return `(${a} % ${e.c})`;
        return `(((${a} % ${e.c}) + ${e.c}) % ${e.c})`;
      }
      case 'select':
        return `select(${this.expr(e.else)}, ${this.expr(e.then)}, ${this.cond(e.cond)})`;
    }
  }

  cond(cnd: ICond): string {
    switch (cnd.k) {
      case 'true':
      case 'false':
        return cnd.k;
      case 'lt':
        return `(${this.expr(cnd.a)} < ${this.expr(cnd.b)})`;
      case 'le':
        return `(${this.expr(cnd.a)} <= ${this.expr(cnd.b)})`;
      case 'eq':
        return `(${this.expr(cnd.a)} == ${this.expr(cnd.b)})`;
      case 'and':
        return `(${this.cond(cnd.a)} && ${this.cond(cnd.b)})`;
      case 'or':
        return `(${this.cond(cnd.a)} || ${this.cond(cnd.b)})`;
      case 'not':
        return `(!${this.cond(cnd.a)})`;
    }
  }
}
