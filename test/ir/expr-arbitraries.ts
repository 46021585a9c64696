// Shared by the index-map tests (test/ir/indexmap.test.ts, test/webgpu/wgsl-expr.test.ts): random
// raw expressions and conditions, and every index of a small shape.
import fc from 'fast-check';
import type { ICond, IExpr, Interval } from '../../src/ir/indexmap.js';

/** Every index of a shape, row-major. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const idx = shape.map(() => 0);
  if (shape.some((n) => n === 0)) return;
  for (;;) {
    yield [...idx];
    let k = shape.length - 1;
    while (k >= 0 && ++idx[k]! === shape[k]) idx[k--] = 0;
    if (k < 0) return;
  }
}

// Random raw expressions (built without smart constructors, so the simplifier meets every shape).
export const NV = 3;
export const { expr: exprArb, cond: condArb } = fc.letrec<{ expr: IExpr; cond: ICond }>((tie) => ({
  expr: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'e' },
    fc.integer({ min: 0, max: NV - 1 }).map((i): IExpr => ({ k: 'var', i })),
    fc.integer({ min: -7, max: 7 }).map((x): IExpr => ({ k: 'const', v: x })),
    fc.tuple(tie('expr'), tie('expr')).map(([a, b]): IExpr => ({ k: 'add', a, b })),
    fc.tuple(tie('expr'), fc.integer({ min: -4, max: 4 })).map(([a, k]): IExpr => ({ k: 'mul', a, c: k })),
    fc.tuple(tie('expr'), fc.integer({ min: 1, max: 8 })).map(([a, k]): IExpr => ({ k: 'div', a, c: k })),
    fc.tuple(tie('expr'), fc.integer({ min: 1, max: 8 })).map(([a, k]): IExpr => ({ k: 'mod', a, c: k })),
    fc.tuple(tie('cond'), tie('expr'), tie('expr')).map(([cond, a, b]): IExpr => ({ k: 'select', cond, then: a, else: b })),
  ),
  cond: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'e' },
    fc.constant<ICond>({ k: 'true' }),
    fc.tuple(fc.constantFrom('lt', 'le', 'eq'), tie('expr'), tie('expr')).map(([k, a, b]) => ({ k, a, b }) as ICond),
    fc.tuple(fc.constantFrom('and', 'or'), tie('cond'), tie('cond')).map(([k, a, b]) => ({ k, a, b }) as ICond),
    tie('cond').map((a): ICond => ({ k: 'not', a })),
  ),
}));
export const shapeArb = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: NV, maxLength: NV });
export const boundsOf = (shape: number[]): Interval[] => shape.map((n) => ({ lo: 0, hi: n - 1 }));
