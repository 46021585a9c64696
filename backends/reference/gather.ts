// Views in the reference: for every output element, the index map says where it reads from
// (or that it is a zero: padding, zeros boundary); the view copies. `evaluate` in src/ir/indexmap.ts
// is the definition of a map; here the same expressions are turned once into nested closures
// (one per expression node, mirroring evalExpr case by case) because walking the tree per element
// made tiny models take seconds. test/reference/gather.test.ts checks the two agree on every view
// of a lowered model. The answers are kept as a gather table per map.
import { floorDiv, floorMod, rowMajorStrides, type ICond, type IExpr, type IndexMap } from '../../src/ir/indexmap.js';

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

const tables = new WeakMap<IndexMap, Int32Array>();

/** table[o] = flat input index read by flat output index o, or −1 for a zero. */
export function gatherTable(map: IndexMap): Int32Array {
  const cached = tables.get(map);
  if (cached) return cached;
  const { outShape, inShape } = map;
  const index = map.index.map(compileExpr);
  const valid = map.valid ? compileCond(map.valid) : () => true;
  const strides = rowMajorStrides(inShape);
  const total = outShape.reduce((a, b) => a * b, 1);
  const table = new Int32Array(total);
  const idx = new Int32Array(outShape.length);
  for (let flat = 0; flat < total; flat++) {
    if (!valid(idx)) table[flat] = -1;
    else {
      let f = 0;
      for (let a = 0; a < inShape.length; a++) {
        const at = index[a]!(idx);
        if (at < 0 || at >= inShape[a]!) {
          throw new Error(`internal: index map reads ${at} on axis ${a} of [${inShape.join(', ')}] at output [${idx.join(', ')}]`);
        }
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
  tables.set(map, table);
  return table;
}

export function gather(x: Float64Array, map: IndexMap): Float64Array {
  const table = gatherTable(map);
  const y = new Float64Array(table.length);
  for (let o = 0; o < table.length; o++) {
    const i = table[o]!;
    if (i >= 0) y[o] = x[i]!;
  }
  return y;
}
