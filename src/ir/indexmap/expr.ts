// Index expressions: the types of the index-map IR, the smart constructors that keep expressions
// folded, and the canonical structural keys that the simplifier sorts and compares by.
import { floorDiv, floorMod } from './arith.js';

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

export function fail(message: string): never {
  throw new IndexMapError(message);
}

function checkInt(n: number, what: string): void {
  if (!Number.isSafeInteger(n)) fail(`${what} must be an integer, got ${n}`);
}

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

// Keys are asked for again and again of the same (immutable, shared) subtrees by the simplifier:
// remembering them keeps building one linear in the size of the tree.
const keys = new WeakMap<IExpr | ICond, string>();

/** A canonical structural key: equal keys mean structurally equal expressions. */
export function exprKey(e: IExpr): string {
  if (e.k === 'var') return `i${e.i}`;
  if (e.k === 'const') return String(e.v);
  let key = keys.get(e);
  if (key === undefined) {
    key = buildExprKey(e);
    keys.set(e, key);
  }
  return key;
}

function buildExprKey(e: IExpr): string {
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
  if (cnd.k === 'true' || cnd.k === 'false') return cnd.k;
  let key = keys.get(cnd);
  if (key === undefined) {
    key = buildCondKey(cnd);
    keys.set(cnd, key);
  }
  return key;
}

function buildCondKey(cnd: ICond): string {
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
