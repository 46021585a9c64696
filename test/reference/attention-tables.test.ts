// The static attention tables (src/ir/attention.ts) against entries worked out by hand from
// pst-reference.md: row = (Δd + Tb−1)·(2wh−1)(2ww−1) + (hi−hj+wh−1)(2ww−1) + (wi−wj+ww−1).
import { describe, expect, it } from 'vitest';
import { biasIndex, windowMask } from '../../src/ir/attention.js';
import { biasTableRows } from '../../src/lang/facts.js';
import type { ChannelShift } from '../../src/lang/model.js';
import { patternC } from './fixtures.js';

const tcs: ChannelShift = { kind: 'channel', name: 'tcs', fold: 1 / 8, boundary: 'keep' };
const pst = { attention: 'window2d', configured: [1, 7, 7], window: [1, 7, 7], biasFrames: 16, frames: 16, windowsPerFrame: 64 } as const;
const entry = (t: { index: Int32Array }, n: number, f: number, i: number, j: number): number => t.index[(f * n + i) * n + j]!;

describe('relative position bias index', () => {
  it('has 31·169 = 5239 rows for PST (16 frames, 7×7)', () => {
    expect(biasTableRows({ attention: 'window2d', window: [1, 7, 7], biasFrames: 16 })).toBe(5239);
    // window3d: the table spans the window depth.
    expect(biasTableRows({ attention: 'window3d', window: [8, 7, 7], biasFrames: 8 })).toBe(15 * 169);
  });

  it('TCS (and unshifted) blocks: Δd = f, one group per frame', () => {
    const t = biasIndex({ ...pst, shift: tcs });
    expect([t.groups, t.windowsPerGroup]).toEqual([16, 64]);
    expect(entry(t, 49, 3, 0, 48)).toBe(18 * 169); // (3+15)·169 + (0−6+6)·13 + (0−6+6)
    expect(entry(t, 49, 3, 48, 0)).toBe(18 * 169 + 12 * 13 + 12);
    expect(entry(t, 49, 0, 24, 24)).toBe(15 * 169 + 6 * 13 + 6);
    expect(entry(biasIndex({ ...pst, shift: null }), 49, 15, 0, 0)).toBe(30 * 169 + 6 * 13 + 6);
  });

  it('TPS blocks: Δd = ((f − s_i) mod 16) − ((−s_j) mod 16)', () => {
    const t = biasIndex({ ...pst, shift: patternC });
    // f=0, i=(0,0) s=−4, j=(0,1) s=+1: Δd = 4 − 15 = −11 → 4·169 + 6·13 + 5
    expect(entry(t, 49, 0, 0, 1)).toBe(4 * 169 + 6 * 13 + 5);
    // f=5, i=(1,1) s=0, j=(0,0) s=−4: Δd = 5 − 4 = 1 → 16·169 + 7·13 + 7
    expect(entry(t, 49, 5, 8, 0)).toBe(16 * 169 + 7 * 13 + 7);
    // f=2, i=(3,3) → grid (0,0) s=−4, j=(2,2) s=+4: Δd = 6 − 12 = −6 → 9·169 + 7·13 + 7
    expect(entry(t, 49, 2, 24, 16)).toBe(9 * 169 + 7 * 13 + 7);
  });

  it('a shrunk window indexes the table of the configured window', () => {
    const t = biasIndex({ ...pst, window: [1, 3, 3], frames: 4, windowsPerFrame: 1, shift: tcs });
    // i=(2,2), j=(0,0), f=1: (1+15)·169 + (2+6)·13 + (2+6)
    expect(entry(t, 9, 1, 8, 0)).toBe(16 * 169 + 8 * 13 + 8);
  });

  it('a 2-D table (bias_frames = 1) has no temporal term, even on TPS blocks', () => {
    const t = biasIndex({ ...pst, biasFrames: 1, shift: patternC });
    expect(t.groups).toBe(1);
    expect(entry(t, 49, 0, 48, 0)).toBe(168);
    expect(Math.max(...t.index)).toBe(168);
  });

  it('window3d: Δd = di − dj over a (2wd−1)(2wh−1)(2ww−1) table', () => {
    const t = biasIndex({ attention: 'window3d', configured: [2, 2, 2], window: [2, 2, 2], biasFrames: 2, frames: 4, windowsPerFrame: 1, shift: null });
    // i=(1,0,1), j=(0,0,0): (1+1)·9 + (0+1)·3 + (1+1)
    expect(entry(t, 8, 0, 5, 0)).toBe(23);
    expect(entry(t, 8, 0, 0, 7)).toBe(0);
  });
});

describe('shifted-window mask', () => {
  const at = (m: { mask: Float32Array }, n: number, win: number, i: number, j: number): number => m.mask[(win * n + i) * n + j]!;

  it('is absent without a shift', () => {
    expect(windowMask('window2d', [4, 14, 14], [1, 7, 7], [0, 0, 0])).toBeNull();
  });

  it('splits each shifted axis into [0, P−w), [P−w, P−s), [P−s, P), per frame in window2d', () => {
    const m = windowMask('window2d', [4, 14, 14], [1, 7, 7], [0, 3, 3])!;
    expect(m.windows).toBe(4); // windows of one frame
    expect(m.mask.slice(0, 49 * 49).every((v) => v === 0)).toBe(true); // top-left: one region
    // bottom-right window: rows/cols 7..10 region 1, 11..13 region 2
    expect(at(m, 49, 3, 0, 48)).toBe(-100); // (7,7) vs (13,13)
    expect(at(m, 49, 3, 0, 24)).toBe(0); // (7,7) vs (10,10)
    expect(at(m, 49, 3, 0, 4)).toBe(-100); // (7,7) vs (7,11)
    // top-right window: rows one region, columns split
    expect(at(m, 49, 1, 0, 4)).toBe(-100); // (0,7) vs (0,11)
    expect(at(m, 49, 1, 0, 45)).toBe(0); // (0,7) vs (6,10)
  });

  it('includes the temporal axis in window3d', () => {
    const m = windowMask('window3d', [4, 4, 4], [2, 2, 2], [1, 1, 1])!;
    expect(m.windows).toBe(8);
    expect(at(m, 8, 7, 0, 4)).toBe(-100); // (d2,h2,w2) vs (d3,h2,w2)
    expect(at(m, 8, 7, 0, 0)).toBe(0);
    expect(at(m, 8, 0, 0, 7)).toBe(0); // first window: one region
  });
});
