// The index-map algebra: evaluation, smart constructors, simplification (checked by brute force
// on random expressions and random chains of data-movement maps), composition, inversion, strided
// views and printing. (WGSL emission: test/webgpu/wgsl-expr.test.ts.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type IExpr,
  type ChildMap,
  type IndexMap,
  add,
  c,
  children,
  classifyMap,
  compose,
  div,
  evalCond,
  evalExpr,
  evaluate,
  exprToString,
  identity,
  invert,
  linearize,
  lt,
  mapChildren,
  mapToString,
  mod,
  mul,
  opCount,
  readTable,
  rowMajorStrides,
  select,
  simplify,
  simplifyCond,
  simplifyExpr,
  stridedView,
  v,
} from '../../src/ir/indexmap.js';
import {
  channelShift,
  crop,
  pad,
  patchShift,
  permute,
  reshape,
  roll,
  slice,
  windowPartition,
  windowReverse,
} from '../../src/ir/maps.js';
import { NV, boundsOf, condArb, exprArb, indices, shapeArb } from './expr-arbitraries.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Two maps agree on every output index (both invalid, or both valid with the same input index). */
function expectSameMap(a: IndexMap, b: IndexMap): void {
  expect(a.outShape).toEqual(b.outShape);
  expect(a.inShape).toEqual(b.inShape);
  for (const o of indices(a.outShape)) {
    const x = evaluate(a, o);
    const y = evaluate(b, o);
    if (JSON.stringify(x) !== JSON.stringify(y)) expect([o, x]).toEqual([o, y]); // expect() is slow: only on a mismatch
  }
}

/** Every valid output index reads an index inside the input shape. */
function expectInBounds(m: IndexMap): void {
  for (const o of indices(m.outShape)) {
    const i = evaluate(m, o);
    if (i && i.some((x, k) => x < 0 || x >= m.inShape[k]!)) expect.fail(`${o} reads ${i} outside [${m.inShape}]`);
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
}

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** A random data-movement step reading a tensor of `shape`; bijective steps only when asked. */
function randomStep(rng: Rng, shape: number[], bijective: boolean): IndexMap {
  const kinds = ['reshape', 'permute', 'roll', 'window', 'shift'];
  if (!bijective) kinds.push('pad', 'crop', 'slice', 'channel', 'shiftZeros');
  for (;;) {
    const kind = pick(rng, kinds);
    const size = shape.reduce((p, n) => p * n, 1);
    if (kind === 'reshape') {
      // Regroup the flat elements into a random factorisation of the same size.
      const out: number[] = [];
      let left = size;
      while (left > 1 && out.length < 4) {
        const d = pick(rng, divisors(left).filter((x) => x > 1));
        out.push(d);
        left /= d;
      }
      if (left > 1 || out.length === 0) out.push(left);
      return reshape(shape, out);
    }
    if (kind === 'permute') {
      const perm = shape.map((_, k) => k).sort(() => rng() - 0.5);
      return permute(shape, perm);
    }
    if (kind === 'roll') return roll(shape, shape.map((n) => int(rng, -n, n)));
    if (kind === 'pad') return pad(shape, shape.map(() => int(rng, 0, 1)));
    if (kind === 'crop') return crop(shape, shape.map((n) => int(rng, 1, n)));
    if (kind === 'slice') {
      const steps = shape.map(() => pick(rng, [1, 2, -1]));
      const starts = shape.map((n, k) => (steps[k]! > 0 ? int(rng, 0, n - 1) : n - 1 - int(rng, 0, n - 1)));
      const outShape = shape.map((n, k) => {
        const room = steps[k]! > 0 ? Math.floor((n - 1 - starts[k]!) / steps[k]!) : Math.floor(starts[k]! / -steps[k]!);
        return int(rng, 1, room + 1);
      });
      return slice(shape, starts, steps, outShape);
    }
    if (kind === 'window' && shape.length === 5) {
      const [, d, h, w] = shape as [number, number, number, number];
      return windowPartition(shape, [pick(rng, divisors(d)), pick(rng, divisors(h)), pick(rng, divisors(w))]);
    }
    if ((kind === 'shift' || kind === 'channel' || kind === 'shiftZeros') && shape.length === 3) {
      const [bw, n, ch] = shape as [number, number, number];
      const frames = pick(rng, divisors(bw));
      const windowsPerFrame = pick(rng, divisors(bw / frames));
      const heads = pick(rng, divisors(ch));
      if (kind === 'channel') {
        const fold = int(rng, 0, Math.floor(ch / heads / 2));
        return channelShift(shape, { heads, foldChannels: fold, frames, windowsPerFrame, boundary: pick(rng, ['keep', 'zeros', 'cyclic'] as const) });
      }
      const windowW = pick(rng, divisors(n));
      const g = int(rng, 1, 3);
      const grid = Array.from({ length: g }, () => Array.from({ length: g }, () => int(rng, -3, 3)));
      return patchShift(shape, {
        heads,
        shiftedHeads: int(rng, 0, heads),
        grid,
        windowH: n / windowW,
        windowW,
        frames,
        windowsPerFrame,
        boundary: kind === 'shift' ? 'cyclic' : pick(rng, ['keep', 'zeros'] as const),
        inverse: rng() < 0.5,
      });
    }
  }
}

/** A chain of 1–4 random steps read through as one composed map (not simplified). */
function randomChain(seed: number, bijective: boolean): IndexMap {
  const rng = mulberry32(seed);
  const starts = [
    [2, 3, 4, 2, 1],
    [1, 2, 4, 6, 2],
    [8, 6, 4],
    [6, 9, 2],
    [4, 4, 3],
    [24, 10],
  ];
  let map = identity(pick(rng, starts));
  const steps = int(rng, 1, 4);
  for (let s = 0; s < steps; s++) map = compose(randomStep(rng, map.outShape, bijective), map);
  return map;
}

// ---------------------------------------------------------------------------------------------

describe('evaluation', () => {
  it('uses floor division and a non-negative remainder', () => {
    expect(evalExpr(div(v(0), 4), [-1])).toBe(-1);
    expect(evalExpr(div(v(0), 4), [-4])).toBe(-1);
    expect(evalExpr(div(v(0), 4), [-5])).toBe(-2);
    expect(evalExpr(mod(v(0), 4), [-1])).toBe(3);
    expect(evalExpr(mod(v(0), 4), [7])).toBe(3);
  });

  it('returns null where the map is not valid', () => {
    const m: IndexMap = { outShape: [4], inShape: [3], index: [v(0)], valid: lt(v(0), c(3)) };
    expect(evaluate(m, [2])).toEqual([2]);
    expect(evaluate(m, [3])).toBeNull();
  });
});

describe('smart constructors', () => {
  it('fold constants and trivial cases', () => {
    expect(add(c(2), c(3))).toEqual(c(5));
    expect(add(add(v(0), c(2)), c(-2))).toEqual(v(0));
    expect(mul(mul(v(0), 2), 3)).toEqual(mul(v(0), 6));
    expect(mul(v(0), 0)).toEqual(c(0));
    expect(div(div(v(0), 2), 3)).toEqual(div(v(0), 6));
    expect(mod(mod(v(0), 12), 4)).toEqual(mod(v(0), 4));
    expect(mod(c(-1), 4)).toEqual(c(3));
    expect(select(lt(c(1), c(2)), v(0), v(1))).toEqual(v(0));
    expect(select(lt(v(0), c(2)), v(1), v(1))).toEqual(v(1));
  });

  it('reject a non-positive divisor', () => {
    expect(() => div(v(0), 0)).toThrow(/internal error/);
    expect(() => mod(v(0), -2)).toThrow(/internal error/);
  });
});

describe('simplify', () => {
  const b = (...ns: number[]) => boundsOf(ns);
  const s = (e: IExpr, ...ns: number[]) => exprToString(simplifyExpr(e, b(...ns)));

  it('applies the interval rules', () => {
    expect(s(mod(v(0), 8), 5)).toBe('i0'); // 0 ≤ x < c
    expect(s(div(v(0), 8), 5)).toBe('0');
    expect(s(div(div(v(0), 3), 4), 50)).toBe('i0 // 12');
    expect(s(mod(mod(v(0), 12), 4), 50)).toBe('i0 % 4');
    expect(s(div(add(mul(v(0), 6), v(1)), 6), 5, 6)).toBe('i0'); // (6a + b) div 6 with b < 6
    expect(s(mod(add(mul(v(0), 6), v(1)), 6), 5, 6)).toBe('i1');
    expect(s(add(mul(div(v(0), 4), 4), mod(v(0), 4)), 50)).toBe('i0'); // 4·(x div 4) + x mod 4
    expect(s(add(v(0), mul(mod(v(0), 4), -1)), 50)).toBe('4*(i0 // 4)');
    expect(s(select(lt(v(0), c(10)), v(1), v(2)), 5, 3, 3)).toBe('i1'); // always true
    expect(s(select(lt(v(0), c(3)), select(lt(v(0), c(5)), v(1), v(2)), v(2)), 8, 3, 3)).toBe('i0 < 3 ? i1 : i2');
    expect(s(select(lt(v(0), c(3)), add(v(1), c(2)), add(v(1), c(5))), 8, 3)).toBe('i1 + (i0 < 3 ? 2 : 5)');
  });

  it('keeps the value of each rewrite on its targeted shapes (brute force)', () => {
    const x = v(0);
    const y = v(1);
    const cases: IExpr[] = [
      div(add(div(x, 3), c(2)), 4), // nested div with a constant
      div(add(div(x, 3), c(-5)), 4),
      div(mod(x, 12), 4), // div of a mod
      mod(add(mul(mod(x, 6), 2), y), 4), // inner mod whose modulus·coef the outer divides
      mod(add(mul(x, 4), add(y, c(2))), 8), // common factor
      div(add(mul(x, 4), add(y, c(-3))), 8),
      add(mod(x, 4), mul(mod(div(x, 4), 3), 4)), // pieces of x mod 12
      add(x, mul(div(x, 4), -4)), // x − 4·(x div 4)
      add(mul(mod(add(x, y), 5), 3), mul(div(add(x, y), 5), 15)),
      mod(add(x, select(lt(y, c(2)), c(6), c(-3))), 3), // select of multiples
      add(div(add(x, c(41)), 24), c(1)),
    ];
    for (const [nx, ny] of [
      [40, 4],
      [40, 7],
      [13, 2],
    ] as const) {
      for (const e of cases) {
        const simple = simplifyExpr(e, boundsOf([nx, ny]));
        for (const p of indices([nx, ny])) {
          if (evalExpr(simple, p) !== evalExpr(e, p)) expect([exprToString(e), p, exprToString(simple)]).toBe('sound');
        }
      }
    }
  });

  it('decides and canonicalises conditions', () => {
    expect(simplifyCond(lt(v(0), c(9)), b(5))).toEqual({ k: 'true' });
    expect(simplifyCond(lt(add(mul(v(0), 2), c(1)), c(6)), b(8)).k).toBe('lt');
    expect(exprToString(select(simplifyCond(lt(add(mul(v(0), 2), c(1)), c(6)), b(8)), v(0), c(0)))).toBe('i0 < 3 ? i0 : 0');
  });

  it('is sound on random expressions (brute force over all points)', () => {
    fc.assert(
      fc.property(exprArb, shapeArb, (e, shape) => {
        const simple = simplifyExpr(e, boundsOf(shape));
        for (const p of indices(shape)) {
          if (evalExpr(simple, p) !== evalExpr(e, p)) expect([p, evalExpr(simple, p)]).toEqual([p, evalExpr(e, p)]);
        }
      }),
      { numRuns: 700 },
    );
  });

  it('is sound on random conditions', () => {
    fc.assert(
      fc.property(condArb, shapeArb, (cond, shape) => {
        const simple = simplifyCond(cond, boundsOf(shape));
        for (const p of indices(shape)) {
          if (evalCond(simple, p) !== evalCond(cond, p)) expect([p, evalCond(simple, p)]).toEqual([p, evalCond(cond, p)]);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('is sound on random compositions of random maps, and cheaper overall', () => {
    let before = 0;
    let after = 0;
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const m = randomChain(seed, false);
        expectInBounds(m);
        const simple = simplify(m);
        expectSameMap(simple, m);
        // A heuristic: splitting a mod by a common factor can cost an op or two in rare cases.
        expect(opCount(simple)).toBeLessThanOrEqual(opCount(m) + 2);
        before += opCount(m);
        after += opCount(simple);
      }),
      { numRuns: 150 },
    );
    expect(after).toBeLessThan(0.95 * before);
  });
});

describe('compose', () => {
  it('agrees with reading through the maps one after the other', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer(), (s1, s2) => {
        const inner = randomChain(s1, false);
        const outer = simplify(compose(randomStep(mulberry32(s2), inner.outShape, false), identity(inner.outShape)));
        const both = compose(outer, inner);
        for (const o of indices(both.outShape)) {
          const mid = evaluate(outer, o);
          const expected = mid === null ? null : evaluate(inner, mid);
          const got = evaluate(both, o);
          if (JSON.stringify(got) !== JSON.stringify(expected)) expect([o, got]).toEqual([o, expected]);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('rejects mismatched shapes', () => {
    expect(() => compose(identity([2, 3]), identity([3, 2]))).toThrow(/compose/);
  });
});

describe('invert', () => {
  it('inverts random chains of bijections exactly, or declines (round trip by brute force)', () => {
    // Inversion is symbolic: it may decline exotic chains (rolls of merged dims whose carries
    // cross other reshapes), but what it returns must be the inverse, and it must mostly succeed.
    let inverted = 0;
    const runs = 120;
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const m = randomChain(seed, true);
        const inv = invert(m);
        if (!inv) return;
        inverted++;
        expectSameMap(simplify(compose(inv, m)), identity(m.inShape));
        expectSameMap(simplify(compose(m, inv)), identity(m.outShape));
      }),
      { numRuns: runs },
    );
    expect(inverted).toBeGreaterThan(0.8 * runs);
  });

  it('inverts every single bijective step and their PST-style chains', () => {
    const steps: IndexMap[] = [
      reshape([4, 6], [2, 3, 4]),
      permute([2, 3, 4], [2, 0, 1]),
      roll([3, 4, 5], [1, -2, 7]),
      windowPartition([2, 4, 6, 6, 3], [1, 3, 3]),
      windowReverse([2, 4, 6, 6, 3], [2, 3, 2]),
      channelShift([16, 4, 8], { heads: 2, foldChannels: 1, frames: 4, windowsPerFrame: 2, boundary: 'cyclic' }),
      patchShift([16, 4, 6], {
        heads: 3,
        shiftedHeads: 2,
        grid: [
          [1, -1],
          [2, 0],
        ],
        windowH: 2,
        windowW: 2,
        frames: 4,
        windowsPerFrame: 2,
        boundary: 'cyclic',
        inverse: true,
      }),
      compose(windowPartition([1, 4, 6, 6, 2], [1, 3, 3]), roll([1, 4, 6, 6, 2], [0, 0, -1, -1, 0])),
      compose(permute([3, 4, 5], [1, 0, 2]), roll([3, 4, 5], [1, 0, 2])),
    ];
    for (const m of steps) {
      const inv = invert(m);
      expect(inv, mapToString(m)).not.toBeNull();
      expectSameMap(simplify(compose(inv!, m)), identity(m.inShape));
      expectSameMap(simplify(compose(m, inv!)), identity(m.outShape));
    }
  });

  it('inverts window partition into window reverse', () => {
    const shape = [2, 4, 6, 6, 3];
    const inv = invert(windowPartition(shape, [2, 3, 3]));
    expect(inv).not.toBeNull();
    expectSameMap(inv!, windowReverse(shape, [2, 3, 3]));
  });

  it('returns null for maps that are not bijections', () => {
    expect(invert(pad([3, 4], [1, 0]))).toBeNull();
    expect(invert(crop([3, 4], [2, 4]))).toBeNull();
    expect(invert(slice([4, 4], [0, 0], [2, 1], [2, 4]))).toBeNull();
    const keep = { heads: 1, foldChannels: 1, frames: 4, windowsPerFrame: 2, boundary: 'keep' as const };
    expect(invert(channelShift([8, 2, 4], keep))).toBeNull();
    // Not injective: every output reads input 0 of its row.
    expect(invert({ outShape: [2, 2], inShape: [2, 2], index: [v(0), c(0)] })).toBeNull();
    expect(invert({ outShape: [4], inShape: [4], index: [div(v(0), 2)] })).toBeNull();
  });
});

describe('classifyMap', () => {
  /** The classification by brute force: how often each input is read by a valid output. */
  function bruteForce(m: IndexMap): { injective: boolean; surjective: boolean } {
    const strides = rowMajorStrides(m.inShape);
    const reads = new Map<number, number>();
    for (const o of indices(m.outShape)) {
      const i = evaluate(m, o);
      if (i) reads.set(i.reduce((f, x, k) => f + x * strides[k]!, 0), (reads.get(i.reduce((f, x, k) => f + x * strides[k]!, 0)) ?? 0) + 1);
    }
    const inputs = m.inShape.reduce((p, n) => p * n, 1);
    return { injective: [...reads.values()].every((n) => n === 1), surjective: reads.size === inputs };
  }

  it('agrees with brute force on random chains, and proves bijections by their inverse', () => {
    fc.assert(
      fc.property(fc.integer(), fc.boolean(), (seed, bijective) => {
        const m = randomChain(seed, bijective);
        const k = classifyMap(m)!;
        expect(k).not.toBeNull();
        const want = bruteForce(m);
        expect([k.injective, k.surjective, k.bijective]).toEqual([want.injective, want.surjective, want.injective && want.surjective]);
        if (k.proof === 'inverse') expectSameMap(simplify(compose(k.inverse!, m)), identity(m.inShape));
        else expect(k.inverse).toBeNull();
      }),
      { numRuns: 150 },
    );
  });

  it('tells the adjoint cases apart: padding, cropping, broadcasting, a bijection invert declines', () => {
    const pick = (m: IndexMap) => {
      const k = classifyMap(m)!;
      return [k.injective, k.surjective, k.proof];
    };
    expect(pick(pad([3, 4], [1, 0]))).toEqual([true, true, 'enumeration']); // zeros read nothing
    expect(pick(crop([3, 4], [2, 4]))).toEqual([true, false, 'enumeration']);
    expect(pick({ outShape: [4], inShape: [2], index: [div(v(0), 2)] })).toEqual([false, true, 'enumeration']);
    expect(pick({ outShape: [4], inShape: [4], index: [div(v(0), 2)] })).toEqual([false, false, 'enumeration']);
    // Swap the halves of [0, 4) through a select: a bijection, found by evaluation.
    const swap: IndexMap = { outShape: [4], inShape: [4], index: [select(lt(v(0), c(2)), add(v(0), c(2)), add(v(0), c(-2)))] };
    expect(pick(swap)).toEqual([true, true, 'enumeration']);
    expect(pick(roll([3, 5], [1, 2]))).toEqual([true, true, 'inverse']);
  });

  it('declines, rather than enumerates, past its bound', () => {
    const broadcast: IndexMap = { outShape: [64, 64], inShape: [64], index: [v(1)] };
    expect(classifyMap(broadcast, 1000)).toBeNull();
    expect(classifyMap(broadcast)!.injective).toBe(false);
  });
});

describe('readTable', () => {
  it('agrees with evaluate on random chains (zeros as −1)', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const m = randomChain(seed, false);
        const strides = rowMajorStrides(m.inShape);
        const table = readTable(m);
        let flat = 0;
        for (const o of indices(m.outShape)) {
          const i = evaluate(m, o);
          const want = i ? i.reduce((f, x, k) => f + x * strides[k]!, 0) : -1;
          if (table[flat] !== want) expect([o, table[flat]]).toEqual([o, want]);
          flat++;
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a map that reads outside its input', () => {
    expect(() => readTable({ outShape: [3], inShape: [2], index: [v(0)] })).toThrow(/internal error.*reads 2 on axis 0/);
  });
});

describe('children and mapChildren', () => {
  it('list the direct subterms of every kind, in order', () => {
    const cnd = lt(v(0), c(2));
    const e = select(cnd, add(v(0), v(1)), mul(v(1), 3));
    expect(children(e)).toEqual([cnd, add(v(0), v(1)), mul(v(1), 3)]);
    expect(children(cnd)).toEqual([v(0), c(2)]);
    expect(children(v(0))).toEqual([]);
    expect(children({ k: 'not', a: cnd })).toEqual([cnd]);
  });

  it('rebuild through the smart constructors: substituting constants folds the whole expression', () => {
    const substituteAll = (by: number[]): ChildMap => {
      const f: ChildMap = {
        expr: (x) => (x.k === 'var' ? c(by[x.i]!) : mapChildren(x, f)),
        cond: (x) => mapChildren(x, f),
      };
      return f;
    };
    fc.assert(
      fc.property(exprArb, fc.array(fc.integer({ min: -9, max: 9 }), { minLength: NV, maxLength: NV }), (e, p) => {
        expect(substituteAll(p).expr(e)).toEqual(c(evalExpr(e, p)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('stridedView', () => {
  /** The strided view, when given, reproduces the flat offset of every read. */
  function expectView(m: IndexMap): void {
    const view = stridedView(m);
    expect(view).not.toBeNull();
    const strides = rowMajorStrides(m.inShape);
    for (const o of indices(m.outShape)) {
      const flat = evaluate(m, o)!.reduce((s, x, k) => s + x * strides[k]!, 0);
      expect(o.reduce((s, x, k) => s + x * view!.strides[k]!, view!.offset)).toBe(flat);
    }
  }

  it('finds plain views for permutes, reshapes, crops and slices', () => {
    expectView(permute([2, 3, 4], [2, 0, 1]));
    expectView(reshape([2, 3, 4], [4, 6]));
    expectView(compose(reshape([6, 4], [2, 3, 4]), reshape([2, 3, 4], [6, 4])));
    expectView(compose(permute([3, 2, 4], [1, 0, 2]), reshape([6, 4], [3, 2, 4])));
    expectView(crop([5, 6], [3, 2]));
    expectView(slice([8, 6], [1, 5], [2, -1], [3, 4]));
    expect(stridedView(reshape([2, 3, 4], [4, 6]))).toEqual({ offset: 0, strides: [6, 1] });
  });

  it('reports a gather for rolls, shifts and rolled window partitions', () => {
    expect(stridedView(roll([4, 5], [0, 2]))).toBeNull();
    expect(stridedView(pad([4, 5], [0, 1]))).toBeNull();
    const shift = { heads: 1, shiftedHeads: 1, grid: [[1, -1]], windowH: 2, windowW: 2, frames: 2, windowsPerFrame: 2, boundary: 'cyclic' as const };
    expect(stridedView(patchShift([8, 4, 2], shift))).toBeNull();
    const shape = [1, 2, 4, 4, 2];
    expect(stridedView(compose(windowPartition(shape, [1, 2, 2]), roll(shape, [0, 0, -1, -1, 0])))).toBeNull();
  });
});

describe('the PST read: roll ∘ window partition ∘ patch shift', () => {
  // PST-style block on a small clip: B = 2, D = 4 frames, a 14×14 padded map, C = 6 (2 heads),
  // 7×7 windows rolled by (0, −3, −3), pattern C on all heads.
  const patternC = [
    [-4, 1, 2],
    [-1, 0, 3],
    [-2, -3, 4],
  ];
  const feature = [2, 4, 14, 14, 6];
  const rolled = roll(feature, [0, 0, -3, -3, 0]);
  const windows = windowPartition(feature, [1, 7, 7]);
  const shift = patchShift([32, 49, 6], {
    heads: 2,
    shiftedHeads: 2,
    grid: patternC,
    windowH: 7,
    windowW: 7,
    frames: 4,
    windowsPerFrame: 4,
    boundary: 'cyclic',
  });
  const raw = compose(compose(shift, windows), rolled);
  const folded = simplify(raw);

  it('composes into one map equal to reading through the three', () => {
    for (const o of indices(raw.outShape)) {
      const expected = evaluate(rolled, evaluate(windows, evaluate(shift, o)!)!);
      const got = evaluate(folded, o);
      if (JSON.stringify(got) !== JSON.stringify(expected)) expect([o, got]).toEqual([o, expected]);
    }
  });

  it('costs far fewer operations once simplified, and is still a bijection', () => {
    const before = opCount(raw);
    const after = opCount(folded);
    expect(after).toBeLessThan(before / 2);
    const inv = invert(raw);
    expect(inv).not.toBeNull();
    expectSameMap(simplify(compose(inv!, raw)), identity(feature));
  });
});

describe('printing', () => {
  it('prints expressions and maps with floor-division notation', () => {
    expect(exprToString(add(mul(div(v(0), 3), 4), mul(mod(v(1), 2), -1)))).toBe('4*(i0 // 3) - i1 % 2');
    expect(exprToString(add(v(0), c(-2)), ['h'])).toBe('h - 2');
    expect(mapToString(reshape([6], [2, 3]))).toBe('[2, 3] -> [6]: (3*i0 + i1)');
    expect(mapToString(reshape([2, 3], [6]))).toBe('[6] -> [2, 3]: (i0 // 3, i0 % 3)');
    expect(mapToString(pad([3], [1]))).toBe('[4] -> [3]: (i0) where i0 < 3');
  });

  it('linearizes row-major', () => {
    const m = permute([2, 3], [1, 0]);
    expect(exprToString(simplifyExpr(linearize(m), boundsOf(m.outShape)))).toBe('i0 + 3*i1');
  });
});
