// The reference ops on small cases worked out by hand (expected values written out, not recomputed).
import { describe, expect, it } from 'vitest';
import { erf, gelu as geluScalar } from '../../backends/reference/erf.js';
import * as ops from '../../backends/reference/ops.js';
import type { WindowAttentionOp } from '../../src/ir/graph.js';

const f64 = (xs: number[]): Float64Array => Float64Array.from(xs);
const close = (got: Float64Array, want: number[], tol = 1e-14): void => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i]!))));
};

describe('erf and gelu', () => {
  it('match known values to float64 precision', () => {
    const known: [number, number][] = [
      [0, 0],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [-1.5, -0.9661051464753108],
      [4.5, 0.9999999998033839],
      [7, 1],
    ];
    for (const [x, y] of known) expect(Math.abs(erf(x) - y)).toBeLessThan(2e-16 + 4e-16 * Math.abs(y));
  });
  it('gives the exact (erf) GELU, not the tanh approximation', () => {
    close(ops.gelu(f64([1, -1, 2, -3, 0.1, 0])), [0.8413447460685429, -0.15865525393145707, 1.9544997361036416, -0.00404969409489031, 0.053982783727702904, 0], 1e-14);
    // tanh approximation of GELU(1) is 0.841191990607…: differs in the 4th digit.
    expect(Math.abs(geluScalar(1) - 0.8411919906082768)).toBeGreaterThan(1e-4);
  });
});

describe('linear', () => {
  it('computes x·Wᵀ + b with W stored [out, in]', () => {
    const x = f64([1, 2, 3, 4]); // 2 rows × 2
    const w = f64([1, 0, 0, 1, 1, 1]); // 3 × 2
    const b = f64([0.5, -1, 2]);
    close(ops.linear(x, w, b, 2, 3), [1.5, 1, 5, 3.5, 3, 9]);
    close(ops.linear(x, w, null, 2, 3), [1, 2, 3, 3, 4, 7]);
  });
});

describe('layernorm', () => {
  it('normalises over the last dim with the biased variance', () => {
    // rows [1, 3] and [2, 6]: mean 2 / 4, variance 1 / 4 → ±1 before the affine part.
    close(ops.layernorm(f64([1, 3, 2, 6]), f64([2, 1]), f64([0, 10]), 2, 0), [-2, 11, -2, 11]);
  });
  it('adds eps inside the square root', () => {
    // [1, 2, 3, 4]: mean 2.5, variance 1.25.
    const s = 1 / Math.sqrt(1.25 + 1e-5);
    close(ops.layernorm(f64([1, 2, 3, 4]), f64([1, 1, 1, 1]), f64([0, 0, 0, 0]), 4, 1e-5), [-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s]);
  });
});

describe('mean', () => {
  it('averages over the given axes and removes them', () => {
    // shape [2, 3, 2]
    const x = f64([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    close(ops.mean(x, [2, 3, 2], [1]), [2, 3, 8, 9]);
    close(ops.mean(x, [2, 3, 2], [0, 2]), [3.5, 5.5, 7.5]);
  });
});

describe('window attention', () => {
  const base = { kind: 'window_attention', scale: 1, mask: null, maskWindows: 1 } as const;

  it('adds bias and mask before the softmax (one head, two tokens)', () => {
    // token t: [q, k, v]; token 0: q=1 k=1 v=10; token 1: q=2 k=0 v=20.
    const qkv = f64([1, 1, 10, 2, 0, 20]);
    const table = f64([0.5, -0.5]); // 2 rows × 1 head
    const op: WindowAttentionOp = {
      ...base,
      heads: 1,
      biasIndex: Int32Array.from([0, 1, 1, 0]),
      biasGroups: 1,
      windowsPerGroup: 1,
      mask: Float32Array.from([0, -100, 0, 0]),
      maskWindows: 1,
    };
    // token 0: scores [1 + 0.5, 0 − 0.5 − 100] → all weight on token 0 → 10.
    // token 1: scores [2 − 0.5, 0 + 0.5] → softmax [e/(e+1), 1/(e+1)] → 12.689414213699951.
    close(ops.windowAttention(qkv, table, [1, 2, 3], op), [10, 12.689414213699951], 1e-13);
  });

  it('places head h at channels h·c and picks the bias group per window', () => {
    // 2 windows × 2 tokens × 6 channels [q0 q1 k0 k1 v0 v1]; q = 0, so only the bias matters.
    const tok = (v0: number, v1: number): number[] => [0, 0, 0, 0, v0, v1];
    const qkv = f64([...tok(1, 100), ...tok(5, 300), ...tok(1, 100), ...tok(5, 300)]);
    // rows × heads: row 0 = [0, 0], row 1 = [ln 3, 0]
    const table = f64([0, 0, Math.log(3), 0]);
    const op: WindowAttentionOp = {
      ...base,
      heads: 2,
      // group 0: all row 0; group 1: key 1 gets row 1
      biasIndex: Int32Array.from([0, 0, 0, 0, 0, 1, 0, 1]),
      biasGroups: 2,
      windowsPerGroup: 1,
    };
    const out = ops.windowAttention(qkv, table, [2, 2, 6], op);
    // window 0: uniform → head 0 mean(1,5)=3, head 1 mean(100,300)=200.
    // window 1: head 0 weights [1/4, 3/4] → 4; head 1 still uniform → 200.
    close(out, [3, 200, 3, 200, 4, 200, 4, 200], 1e-13);
  });

  it('selects the mask by window mod maskWindows', () => {
    const qkv = f64([0, 0, 1, 0, 0, 3, 0, 0, 1, 0, 0, 3]); // 2 windows, 1 head, v = 1, 3
    const op: WindowAttentionOp = {
      ...base,
      heads: 1,
      biasIndex: new Int32Array(4),
      biasGroups: 1,
      windowsPerGroup: 1,
      mask: Float32Array.from([0, 0, 0, 0, 0, -100, -100, 0]),
      maskWindows: 2,
    };
    close(ops.windowAttention(qkv, f64([0]), [2, 2, 3], op), [2, 2, 1, 3], 1e-13);
  });
});
