// Each data-movement map against a direct implementation written the other way round: a small
// tensor library that actually moves elements (views, materialising permutes, scatters), the way
// the PyTorch code of Swin and PST does it. Input elements are 1, 2, 3, … so that 0 means "zero".
import { describe, expect, it } from 'vitest';
import { type IndexMap, evaluate, rowMajorStrides } from '../../src/ir/indexmap.js';
import {
  channelShift,
  crop,
  headSplit,
  pad,
  patchEmbedGather,
  patchMergeGather,
  patchShift,
  permute,
  reshape,
  roll,
  slice,
  windowPartition,
  windowReverse,
} from '../../src/ir/maps.js';
import { indices } from './expr-arbitraries.js';

// ---------------------------------------------------------------------------------------------
// A tiny tensor library

interface T {
  shape: number[];
  data: number[];
}

const size = (shape: readonly number[]) => shape.reduce((p, n) => p * n, 1);


function offset(shape: readonly number[], idx: readonly number[]): number {
  const s = rowMajorStrides(shape);
  return idx.reduce((o, x, k) => o + x * s[k]!, 0);
}

const arange = (shape: number[]): T => ({ shape, data: Array.from({ length: size(shape) }, (_, i) => i + 1) });
const zeros = (shape: number[]): T => ({ shape, data: new Array<number>(size(shape)).fill(0) });
const get = (t: T, idx: readonly number[]) => t.data[offset(t.shape, idx)]!;
const set = (t: T, idx: readonly number[], x: number) => (t.data[offset(t.shape, idx)] = x);
const clone = (t: T): T => ({ shape: [...t.shape], data: [...t.data] });

function view(t: T, shape: number[]): T {
  expect(size(shape)).toBe(size(t.shape));
  return { shape, data: t.data };
}

/** Materialising permute, written as a scatter from the input. */
function permuteT(t: T, perm: number[]): T {
  const out = zeros(perm.map((p) => t.shape[p]!));
  for (const i of indices(t.shape)) set(out, perm.map((p) => i[p]!), get(t, i));
  return out;
}

/** torch.roll as a scatter: in[i] goes to out[(i + s) mod n]. */
function rollT(t: T, shifts: number[]): T {
  const out = zeros(t.shape);
  for (const i of indices(t.shape)) {
    set(out, i.map((x, k) => (((x + shifts[k]!) % t.shape[k]!) + t.shape[k]!) % t.shape[k]!), get(t, i));
  }
  return out;
}

function padT(t: T, after: number[]): T {
  const out = zeros(t.shape.map((n, k) => n + after[k]!));
  for (const i of indices(t.shape)) set(out, i, get(t, i));
  return out;
}

/** Python slicing start:stop:step on every axis. */
function sliceT(t: T, ranges: [number, number, number][]): T {
  const axes = ranges.map(([start, stop, step]) => {
    const xs: number[] = [];
    for (let x = start; step > 0 ? x < stop : x > stop; x += step) xs.push(x);
    return xs;
  });
  const out = zeros(axes.map((a) => a.length));
  for (const o of indices(out.shape)) set(out, o, get(t, o.map((x, k) => axes[k]![x]!)));
  return out;
}

/** Concatenate along the last axis. */
function concatLast(ts: T[]): T {
  const lead = ts[0]!.shape.slice(0, -1);
  const widths = ts.map((t) => t.shape[t.shape.length - 1]!);
  const out = zeros([...lead, widths.reduce((a, b) => a + b, 0)]);
  for (const o of indices(lead)) {
    let ch = 0;
    ts.forEach((t, n) => {
      for (let k = 0; k < widths[n]!; k++) set(out, [...o, ch++], get(t, [...o, k]));
    });
  }
  return out;
}

/** The map reproduces `expected` from `input`: every output reads its element, or 0 where invalid. */
function expectMapMoves(map: IndexMap, input: T, expected: T): void {
  expect(map.inShape).toEqual(input.shape);
  expect(map.outShape).toEqual(expected.shape);
  for (const o of indices(map.outShape)) {
    const i = evaluate(map, o);
    const got = i === null ? 0 : get(input, i);
    if (got !== get(expected, o)) expect([o, i, got]).toEqual([o, i, get(expected, o)]);
  }
}

// ---------------------------------------------------------------------------------------------

describe('views', () => {
  it('reshape keeps row-major order', () => {
    const x = arange([2, 3, 4]);
    expectMapMoves(reshape([2, 3, 4], [4, 6]), x, view(x, [4, 6]));
    expectMapMoves(reshape([2, 3, 4], [3, 2, 2, 2]), x, view(x, [3, 2, 2, 2]));
  });

  it('permute moves dim perm[k] to k', () => {
    const x = arange([2, 3, 4]);
    expectMapMoves(permute([2, 3, 4], [2, 0, 1]), x, permuteT(x, [2, 0, 1]));
    expectMapMoves(permute([2, 3, 4], [1, 2, 0]), x, permuteT(x, [1, 2, 0]));
  });

  it('roll follows torch.roll, with negative and oversized shifts', () => {
    const x = arange([3, 4, 5]);
    expectMapMoves(roll([3, 4, 5], [1, -3, 7]), x, rollT(x, [1, -3, 7]));
    expectMapMoves(roll([3, 4, 5], [0, 0, 0]), x, x);
  });

  it('pad appends zeros, crop keeps the start, slice steps', () => {
    const x = arange([3, 4]);
    expectMapMoves(pad([3, 4], [2, 1]), x, padT(x, [2, 1]));
    expectMapMoves(crop([3, 4], [2, 3]), x, sliceT(x, [
      [0, 2, 1],
      [0, 3, 1],
    ]));
    expectMapMoves(slice([3, 4], [2, 1], [-1, 2], [3, 2]), x, sliceT(x, [
      [2, -1, -1],
      [1, 4, 2],
    ]));
  });

  it('headSplit views [Bw, N, C] as [Bw, heads, N, c]', () => {
    const x = arange([2, 3, 6]);
    expectMapMoves(headSplit([2, 3, 6], 2), x, permuteT(view(x, [2, 3, 2, 3]), [0, 2, 1, 3]));
  });

  it('rejects shapes that do not fit', () => {
    expect(() => reshape([2, 3], [5])).toThrow(/internal error/);
    expect(() => permute([2, 3], [0, 0])).toThrow(/permutation/);
    expect(() => slice([4], [0], [2], [3])).toThrow(/outside/);
    expect(() => windowPartition([1, 2, 5, 4, 3], [1, 2, 2])).toThrow(/divide/);
  });
});

describe('windows', () => {
  // Swin's window_partition / window_reverse, 3-D.
  function partitionT(x: T, [wd, wh, ww]: number[]): T {
    const [b, d, h, w, ch] = x.shape as [number, number, number, number, number];
    const v = view(x, [b, d / wd, wd, h / wh, wh, w / ww, ww, ch]);
    const p = permuteT(v, [0, 1, 3, 5, 2, 4, 6, 7]);
    return view(p, [size(p.shape) / (wd * wh * ww * ch), wd * wh * ww, ch]);
  }
  function reverseT(win: T, [b, d, h, w, ch]: number[], [wd, wh, ww]: number[]): T {
    const v = view(win, [b!, d! / wd!, h! / wh!, w! / ww!, wd!, wh!, ww!, ch!]);
    return view(permuteT(v, [0, 1, 4, 2, 5, 3, 6, 7]), [b!, d!, h!, w!, ch!]);
  }

  it('partition numbers windows ((b·nD + d)·nH + h)·nW + w with tokens row-major inside', () => {
    const shape = [2, 4, 6, 4, 3];
    const x = arange(shape);
    for (const win of [
      [1, 3, 2],
      [2, 2, 2],
      [4, 6, 4],
      [1, 1, 1],
    ]) {
      expectMapMoves(windowPartition(shape, win), x, partitionT(x, win));
    }
  });

  it('reverse puts the windows back', () => {
    const shape = [2, 4, 6, 4, 3];
    const win = [2, 3, 2];
    const windows = partitionT(arange(shape), win);
    expectMapMoves(windowReverse(shape, win), windows, reverseT(windows, shape, win));
    expectMapMoves(windowReverse(shape, win), windows, arange(shape));
  });
});

describe('temporal shifts', () => {
  /** Window tokens [B·F·wpf, N, C] viewed as [B, F, wpf, N, heads, c]. */
  const B = 2;
  const F = 4;
  const WPF = 2;

  // TSM-style channel shift, written as slice assignments over the frame axis.
  function channelShiftT(x: T, heads: number, fold: number, boundary: 'keep' | 'zeros' | 'cyclic'): T {
    const [bw, n, ch] = x.shape as [number, number, number];
    const c = ch / heads;
    const src = view(x, [bw / (F * WPF), F, WPF, n, heads, c]);
    const out = boundary === 'zeros' ? zeros(src.shape) : clone(src);
    if (boundary === 'zeros') {
      for (const i of indices(src.shape)) if (i[5]! >= 2 * fold) set(out, i, get(src, i));
    }
    for (const i of indices(src.shape)) {
      const k = i[5]!;
      if (k >= 2 * fold) continue;
      // Channel k < fold of frame f goes to frame f + 1; k in [fold, 2·fold) to frame f − 1.
      let dest = i[1]! + (k < fold ? 1 : -1);
      if (boundary === 'cyclic') dest = (dest + F) % F;
      else if (dest < 0 || dest >= F) continue;
      set(out, [i[0]!, dest, ...i.slice(2)], get(src, i));
    }
    return view(out, x.shape);
  }

  it.each(['keep', 'zeros', 'cyclic'] as const)('channel shift, boundary %s', (boundary) => {
    const shape = [B * F * WPF, 3, 8];
    const x = arange(shape);
    for (const [heads, fold] of [
      [2, 1],
      [1, 2],
      [2, 0],
    ] as const) {
      const map = channelShift(shape, { heads, foldChannels: fold, frames: F, windowsPerFrame: WPF, boundary });
      expectMapMoves(map, x, channelShiftT(x, heads, fold, boundary));
    }
  });

  // PST's shift: for each position class (h mod g, w mod g), torch.roll over frames by s.
  function patchShiftT(
    x: T,
    o: { heads: number; shiftedHeads: number; grid: number[][]; windowH: number; windowW: number },
    boundary: 'keep' | 'zeros' | 'cyclic',
    inverse: boolean,
  ): T {
    const [bw, , ch] = x.shape as [number, number, number];
    const c = ch / o.heads;
    const src = view(x, [bw / (F * WPF), F, WPF, o.windowH, o.windowW, o.heads, c]);
    const out = clone(src);
    if (boundary === 'zeros') for (const i of indices(src.shape)) if (i[5]! < o.shiftedHeads) set(out, i, 0);
    for (const i of indices(src.shape)) {
      const [b, f, r, h, w, head] = i as [number, number, number, number, number, number];
      if (head >= o.shiftedHeads) continue;
      const row = o.grid[h % o.grid.length]!;
      const s = (inverse ? -1 : 1) * row[w % row.length]!;
      let dest = f + s; // frame f's token is read by frame f + s
      if (boundary === 'cyclic') dest = (((dest % F) + F) % F);
      else if (dest < 0 || dest >= F) continue;
      set(out, [b, dest, r, h, w, ...i.slice(5)], get(src, i));
    }
    return view(out, x.shape);
  }

  const patternC = [
    [-4, 1, 2],
    [-1, 0, 3],
    [-2, -3, 4],
  ];

  it.each(['cyclic', 'keep', 'zeros'] as const)('patch shift with pattern C, boundary %s', (boundary) => {
    for (const inverse of [false, true]) {
      for (const [heads, shiftedHeads] of [
        [2, 2],
        [3, 1],
      ] as const) {
        const geo = { heads, shiftedHeads, grid: patternC, windowH: 3, windowW: 4 };
        const shape = [B * F * WPF, 12, heads * 2];
        const x = arange(shape);
        const map = patchShift(shape, { ...geo, frames: F, windowsPerFrame: WPF, boundary, inverse });
        expectMapMoves(map, x, patchShiftT(x, geo, boundary, inverse));
      }
    }
  });

  it('patch shift tiles a 2×2 grid and is undone by its inverse', () => {
    const geo = { heads: 1, shiftedHeads: 1, grid: [[0, 1], [-1, 2]], windowH: 3, windowW: 3 };
    const shape = [B * F * WPF, 9, 2];
    const x = arange(shape);
    const there = patchShift(shape, { ...geo, frames: F, windowsPerFrame: WPF, boundary: 'cyclic' });
    const back = patchShift(shape, { ...geo, frames: F, windowsPerFrame: WPF, boundary: 'cyclic', inverse: true });
    expectMapMoves(there, x, patchShiftT(x, geo, 'cyclic', false));
    const shifted = patchShiftT(x, geo, 'cyclic', false);
    expectMapMoves(back, shifted, x);
  });
});

describe('gathers', () => {
  function mergeT(x: T): T {
    const [, , h, w] = x.shape as [number, number, number, number, number];
    const p = padT(x, [0, 0, h % 2, w % 2, 0]);
    const [b, d, hp, wp, ch] = p.shape as [number, number, number, number, number];
    const part = (h0: number, w0: number) => sliceT(p, [
      [0, b, 1],
      [0, d, 1],
      [h0, hp, 2],
      [w0, wp, 2],
      [0, ch, 1],
    ]);
    return concatLast([part(0, 0), part(1, 0), part(0, 1), part(1, 1)]);
  }

  it.each([
    [[2, 2, 4, 6, 3]],
    [[1, 2, 5, 3, 2]],
  ])('patch merging of %j', (shape) => {
    const x = arange(shape);
    expectMapMoves(patchMergeGather(shape), x, mergeT(x));
  });

  // Conv3d patches with kernel = stride: pad, view as blocks, move the kernel axes last.
  function embedT(x: T, [kt, kh, kw]: number[]): T {
    const [, , t, h, w] = x.shape as [number, number, number, number, number];
    const p = padT(x, [0, 0, (kt! - (t % kt!)) % kt!, (kh! - (h % kh!)) % kh!, (kw! - (w % kw!)) % kw!]);
    const [b, cin, tp, hp, wp] = p.shape as [number, number, number, number, number];
    const v = view(p, [b, cin, tp / kt!, kt!, hp / kh!, kh!, wp / kw!, kw!]);
    const q = permuteT(v, [0, 2, 4, 6, 1, 3, 5, 7]);
    return view(q, [b, tp / kt!, hp / kh!, wp / kw!, cin * kt! * kh! * kw!]);
  }

  it.each([
    [[1, 3, 4, 8, 8], [2, 4, 4]],
    [[2, 2, 5, 6, 7], [2, 4, 3]],
  ])('patch embedding of %j with kernel %j', (shape, kernel) => {
    const x = arange(shape);
    expectMapMoves(patchEmbedGather(shape, kernel), x, embedT(x, kernel));
  });
});
