// Printing index maps for people (compile --emit ir, explain, test failures): `//` and `%` are
// floor division and the non-negative remainder, as in Python.
import { mul, type ICond, type IExpr, type IndexMap } from './expr.js';

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
