// Linear forms: a constant plus integer multiples of atoms, where an atom is a variable or a div,
// mod or select. The simplifier and the inversion do their arithmetic on these.
import { add, c, exprKey, mul, type IExpr } from './expr.js';

export interface Term {
  atom: IExpr;
  coef: number;
}

export interface Lin {
  terms: Map<string, Term>;
  k: number;
}

export function linConst(k: number): Lin {
  return { terms: new Map(), k };
}

export function linAtom(atom: IExpr, coef = 1): Lin {
  if (atom.k === 'const') return linConst(atom.v * coef);
  const terms = new Map<string, Term>();
  if (coef !== 0) terms.set(exprKey(atom), { atom, coef });
  return { terms, k: 0 };
}

/** a + s·b */
export function linPlus(a: Lin, b: Lin, s = 1): Lin {
  const terms = new Map(a.terms);
  for (const [key, t] of b.terms) {
    const coef = (terms.get(key)?.coef ?? 0) + s * t.coef;
    if (coef === 0) terms.delete(key);
    else terms.set(key, { atom: t.atom, coef });
  }
  return { terms, k: a.k + s * b.k };
}

export function linScale(a: Lin, s: number): Lin {
  if (s === 0) return linConst(0);
  const terms = new Map<string, Term>();
  for (const [key, t] of a.terms) terms.set(key, { atom: t.atom, coef: t.coef * s });
  return { terms, k: a.k * s };
}

/** a / g where g divides every coefficient (the constant is dropped). */
export function linTermsDivExact(a: Lin, g: number): Lin {
  const terms = new Map<string, Term>();
  for (const [key, t] of a.terms) terms.set(key, { atom: t.atom, coef: t.coef / g });
  return { terms, k: 0 };
}

// Variables first, by index; then other atoms by key (a term's key in `terms` is its atom's
// exprKey), so the output is deterministic.
function termOrder([ka, a]: [string, Term], [kb, b]: [string, Term]): number {
  if (a.atom.k === 'var' && b.atom.k === 'var') return a.atom.i - b.atom.i;
  if (a.atom.k === 'var') return -1;
  if (b.atom.k === 'var') return 1;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function sortedTerms(a: Lin): Term[] {
  return [...a.terms].sort(termOrder).map(([, t]) => t);
}

export function linToExpr(a: Lin): IExpr {
  let e: IExpr | undefined;
  for (const t of sortedTerms(a)) {
    const term = mul(t.atom, t.coef);
    e = e ? add(e, term) : term;
  }
  return e ? add(e, c(a.k)) : c(a.k);
}

/** Read a linear form off an expression's top-level sums and products (no rewriting). */
export function linFromExpr(e: IExpr): Lin {
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

export function linKey(a: Lin): string {
  return `${sortedTerms(a)
    .map((t) => `${t.coef}*${exprKey(t.atom)}`)
    .join(' ')} ${a.k}`;
}
