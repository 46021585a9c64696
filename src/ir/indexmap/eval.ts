// Evaluation: what an index map means. `evalExpr` / `evalCond` / `evaluate` are the definition;
// `compileExpr` / `compileCond` turn an expression once into nested closures (one per node,
// mirroring evalExpr case by case) for the loops that evaluate a map at every output element
// (walking the tree per element made tiny models take seconds); `readTable` is that loop.
import { floorDiv, floorMod, product, rowMajorStrides } from './arith.js';
import { fail, type ICond, type IExpr, type IndexMap } from './expr.js';

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

/** An expression compiled once into nested closures, one per node. */
type IndexFn = (out: Int32Array) => number;
type CondFn = (out: Int32Array) => boolean;

function compileExpr(e: IExpr): IndexFn {
  switch (e.k) {
    case 'var': {
      const i = e.i;
      return (o) => o[i]!;
    }
    case 'const': {
      const value = e.v;
      return () => value;
    }
    case 'add': {
      const a = compileExpr(e.a);
      const b = compileExpr(e.b);
      return (o) => a(o) + b(o);
    }
    case 'mul': {
      const a = compileExpr(e.a);
      const k = e.c;
      return (o) => a(o) * k;
    }
    case 'div': {
      const a = compileExpr(e.a);
      const k = e.c;
      return (o) => floorDiv(a(o), k);
    }
    case 'mod': {
      const a = compileExpr(e.a);
      const k = e.c;
      return (o) => floorMod(a(o), k);
    }
    case 'select': {
      const cond = compileCond(e.cond);
      const a = compileExpr(e.then);
      const b = compileExpr(e.else);
      return (o) => (cond(o) ? a(o) : b(o));
    }
  }
}

function compileCond(cnd: ICond): CondFn {
  switch (cnd.k) {
    case 'true':
      return () => true;
    case 'false':
      return () => false;
    case 'lt': {
      const a = compileExpr(cnd.a);
      const b = compileExpr(cnd.b);
      return (o) => a(o) < b(o);
    }
    case 'le': {
      const a = compileExpr(cnd.a);
      const b = compileExpr(cnd.b);
      return (o) => a(o) <= b(o);
    }
    case 'eq': {
      const a = compileExpr(cnd.a);
      const b = compileExpr(cnd.b);
      return (o) => a(o) === b(o);
    }
    case 'and': {
      const a = compileCond(cnd.a);
      const b = compileCond(cnd.b);
      return (o) => a(o) && b(o);
    }
    case 'or': {
      const a = compileCond(cnd.a);
      const b = compileCond(cnd.b);
      return (o) => a(o) || b(o);
    }
    case 'not': {
      const a = compileCond(cnd.a);
      return (o) => !a(o);
    }
  }
}

/**
 * table[o] = the flat input position read by flat output position o (row-major), or −1 where the
 * map yields 0. Throws if the map reads outside its input shape.
 */
export function readTable(map: IndexMap): Int32Array {
  const { outShape, inShape } = map;
  const index = map.index.map(compileExpr);
  const valid = map.valid ? compileCond(map.valid) : () => true;
  const strides = rowMajorStrides(inShape);
  const table = new Int32Array(product(outShape));
  const idx = new Int32Array(outShape.length);
  for (let flat = 0; flat < table.length; flat++) {
    if (!valid(idx)) table[flat] = -1;
    else {
      let f = 0;
      for (let a = 0; a < inShape.length; a++) {
        const at = index[a]!(idx);
        if (at < 0 || at >= inShape[a]!) fail(`the map reads ${at} on axis ${a} of [${inShape.join(', ')}] at output [${idx.join(', ')}]`);
        f += at * strides[a]!;
      }
      table[flat] = f;
    }
    // Advance the output multi-index in row-major order.
    for (let a = outShape.length - 1; a >= 0; a--) {
      if (++idx[a]! < outShape[a]!) break;
      idx[a] = 0;
    }
  }
  return table;
}
