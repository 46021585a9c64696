// bench --baseline's ratio of medians and its bootstrap interval over alternating pairs.
import { describe, expect, it } from 'vitest';
import { ratioOfMedians } from '../../src/cli/spread.js';

/** Deterministic noise in [-1, 1). */
function noise(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  };
}

describe('ratioOfMedians', () => {
  it('is exact where the pairs agree: equal passes give 1, a model twice as slow gives 2', () => {
    const b = [100, 120, 90, 110, 105];
    expect(ratioOfMedians(b, b)).toEqual({ ratio: 1, low: 1, high: 1, pairs: 5 });
    const twice = ratioOfMedians(b.map((x) => 2 * x), b);
    expect(twice.ratio).toBeCloseTo(2, 12);
    expect(twice.low).toBeCloseTo(2, 12);
    expect(twice.high).toBeCloseTo(2, 12);
  });

  it('holds 1 for two equal models timed on a noisy machine, and not for one 30 % slower', () => {
    const r = noise(7);
    // ±20 % per pass (what llvmpipe shows on this machine), 21 pairs.
    const b = Array.from({ length: 21 }, () => 2500 * (1 + 0.2 * r()));
    const same = b.map(() => 2500 * (1 + 0.2 * r()));
    const equal = ratioOfMedians(same, b);
    expect(equal.low).toBeLessThanOrEqual(1);
    expect(equal.high).toBeGreaterThanOrEqual(1);
    expect(equal.low).toBeLessThanOrEqual(equal.ratio);
    expect(equal.high).toBeGreaterThanOrEqual(equal.ratio);
    const slower = ratioOfMedians(same.map((x) => 1.3 * x), b);
    expect(slower.low).toBeGreaterThan(1);
  });

  it('is the same interval every time, and wants paired samples', () => {
    const r = noise(3);
    const a = Array.from({ length: 9 }, () => 10 + r());
    const b = Array.from({ length: 9 }, () => 10 + r());
    expect(ratioOfMedians(a, b)).toEqual(ratioOfMedians(a, b));
    expect(() => ratioOfMedians(a, b.slice(1))).toThrow(/paired/);
    expect(() => ratioOfMedians([], [])).toThrow(/paired/);
  });
});
