// Substitution and composition: a consumer reading through a view reads through the composed map.
import { rowMajorStrides } from './arith.js';
import { TRUE, add, and, c, div, fail, mod, mul, v, type ICond, type IExpr, type IndexMap } from './expr.js';
import { mapChildren, type ChildMap } from './walk.js';

/** Replace variable i by by[i] everywhere, refolding constants. */
export function substitute(e: IExpr, by: readonly IExpr[]): IExpr {
  return new Substitution(by).expr(e);
}

class Substitution implements ChildMap {
  // Composed expressions share subtrees; remembering results keeps substitution linear in the DAG.
  private readonly memo = new Map<IExpr, IExpr>();
  constructor(private readonly by: readonly IExpr[]) {}

  expr(e: IExpr): IExpr {
    const hit = this.memo.get(e);
    if (hit) return hit;
    const r = e.k === 'var' ? (this.by[e.i] ?? fail(`no expression for variable i${e.i}`)) : mapChildren(e, this);
    this.memo.set(e, r);
    return r;
  }

  cond(cnd: ICond): ICond {
    return mapChildren(cnd, this);
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
