// WGSL emission of index expressions, checked by running the emitted text with i32 semantics
// (truncating / and %) against the IR's evaluation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { condToWGSL, exprToWGSL } from '../../backends/webgpu/wgsl-expr.js';
import { add, c, compose, div, evalCond, evalExpr, evaluate, linearize, mod, rowMajorStrides, simplify, simplifyExpr, v } from '../../src/ir/indexmap.js';
import { roll, windowPartition } from '../../src/ir/maps.js';
import { NV, boundsOf, condArb, exprArb, indices, shapeArb } from '../ir/expr-arbitraries.js';

// WGSL: a tiny evaluator of the emitted subset with i32 semantics (truncating / and %).

function evalWGSL(text: string, env: Record<string, number>): number | boolean {
  const tokens = text.match(/\d+|[A-Za-z_]\w*|<=|==|&&|\|\||[-+*/%<!(),]/g) ?? [];
  if (tokens.join('') !== text.replace(/\s+/g, '')) throw new Error(`unknown characters in ${text}`);
  let p = 0;
  const peek = () => tokens[p];
  const take = (t?: string) => {
    const x = tokens[p++];
    if (t !== undefined && x !== t) throw new Error(`expected ${t}, got ${x} in ${text}`);
    return x!;
  };
  const i32 = (x: number) => x | 0;
  type V = number | boolean;
  const num = (x: V) => (typeof x === 'number' ? x : Number.NaN);
  const binary = (next: () => V, ops: Record<string, (a: V, b: V) => V>) => (): V => {
    let a = next();
    while (peek() !== undefined && ops[peek()!]) a = ops[take()]!(a, next());
    return a;
  };
  const primary = (): V => {
    const t = take();
    if (t === '(') {
      const x = orExpr();
      take(')');
      return x;
    }
    if (t === '-') return i32(-num(primary()));
    if (t === '!') return !primary();
    if (t === 'true' || t === 'false') return t === 'true';
    if (t === 'select') {
      take('(');
      const f = orExpr();
      take(',');
      const tr = orExpr();
      take(',');
      const cond = orExpr();
      take(')');
      return cond ? tr : f;
    }
    if (/^\d+$/.test(t)) return Number(t);
    if (t in env) return env[t]!;
    throw new Error(`unknown token ${t}`);
  };
  const mulExpr = binary(primary, {
    '*': (a, b) => Math.imul(num(a), num(b)),
    '/': (a, b) => i32(Math.trunc(num(a) / num(b))),
    '%': (a, b) => i32(num(a) % num(b)),
  });
  const addExpr = binary(mulExpr, { '+': (a, b) => i32(num(a) + num(b)), '-': (a, b) => i32(num(a) - num(b)) });
  const cmpExpr = binary(addExpr, { '<': (a, b) => a < b, '<=': (a, b) => a <= b, '==': (a, b) => a === b });
  const andExpr = binary(cmpExpr, { '&&': (a, b) => Boolean(a) && Boolean(b) });
  const orExpr: () => V = binary(andExpr, { '||': (a, b) => Boolean(a) || Boolean(b) });
  const result = orExpr();
  if (p !== tokens.length) throw new Error(`trailing tokens in ${text}`);
  return result;
}

describe('WGSL emission', () => {
  const names = ['gx', 'gy', 'gz'];
  const env = (p: number[]) => Object.fromEntries(names.map((n, k) => [n, p[k]!]));

  it('matches evalExpr for random expressions and negative intermediate values', () => {
    const point = fc.array(fc.integer({ min: -40, max: 40 }), { minLength: NV, maxLength: NV });
    fc.assert(
      fc.property(exprArb, fc.array(point, { minLength: 5, maxLength: 5 }), (e, points) => {
        const text = exprToWGSL(e, names);
        for (const p of points) expect([text, p, evalWGSL(text, env(p))]).toEqual([text, p, evalExpr(e, p)]);
      }),
      { numRuns: 1000 },
    );
  });

  it('matches evalCond for random conditions', () => {
    const point = fc.array(fc.integer({ min: -40, max: 40 }), { minLength: NV, maxLength: NV });
    fc.assert(
      fc.property(condArb, point, (cnd, p) => {
        expect(evalWGSL(condToWGSL(cnd, names), env(p))).toBe(evalCond(cnd, p));
      }),
      { numRuns: 500 },
    );
  });

  it('drops sign corrections only where the bounds prove them needless', () => {
    fc.assert(
      fc.property(exprArb, shapeArb, (e, shape) => {
        const text = exprToWGSL(e, names, shape);
        for (const p of indices(shape)) {
          if (evalWGSL(text, env(p)) !== evalExpr(e, p)) expect([text, p, evalWGSL(text, env(p))]).toEqual([text, p, evalExpr(e, p)]);
        }
      }),
      { numRuns: 250 },
    );
    expect(exprToWGSL(div(v(0), 4), names, [8])).toBe('(gx / 4)');
    expect(exprToWGSL(mod(add(v(0), c(-1)), 4), names, [8])).toBe('((((gx - 1) % 4) + 4) % 4)');
  });

  it('emits the folded PST read as one expression', () => {
    const m = simplify(compose(windowPartition([1, 2, 4, 4, 2], [1, 2, 2]), roll([1, 2, 4, 4, 2], [0, 0, -1, -1, 0])));
    const text = exprToWGSL(simplifyExpr(linearize(m), boundsOf(m.outShape)), names, m.outShape);
    for (const o of indices(m.outShape)) {
      const i = evaluate(m, o)!;
      const flat = i.reduce((s, x, k) => s + x * rowMajorStrides(m.inShape)[k]!, 0);
      expect(evalWGSL(text, env(o))).toBe(flat);
    }
  });
});
