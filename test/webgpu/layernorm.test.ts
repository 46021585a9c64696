import { describe, expect, it } from 'vitest';
import { layernormStats } from '../../backends/reference/ops.js';
import { MIN_LIMITS } from '../../backends/webgpu/kernels/common.js';
import { chooseLayerNormVariant, emitLayerNorm, ROW_CACHE_MAX_CHANNELS, type LayerNormOptions } from '../../backends/webgpu/kernels/layernorm.js';
import { freshSeed, maxNormRelativeError, randomArray, rng, runKernel, useDevice } from './util.js';

const device = useDevice();

const TOLERANCE = 1e-4;

/** LayerNorm in float64 over rows of `channels`, each row read through `at(row, ch)`. */
function layerNorm64(
  rows: number,
  channels: number,
  at: (row: number, ch: number) => number,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
): Float64Array {
  const out = new Float64Array(rows * channels);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < channels; c++) mean += at(r, c);
    mean /= channels;
    let variance = 0;
    for (let c = 0; c < channels; c++) variance += (at(r, c) - mean) ** 2;
    variance /= channels;
    const invStd = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < channels; c++) out[r * channels + c] = (at(r, c) - mean) * invStd * gamma[c]! + beta[c]!;
  }
  return out;
}

describe('emitLayerNorm', () => {
  // C = 1 (a constant row: output = beta), ragged rows for the thread count, pst-tiny's 16, PST's
  // 96 and 768 (wider than a row-per-thread kernel caches), in both variants.
  const SHAPES: [number, number][] = [
    [3, 1],
    [70, 16],
    [5, 96],
    [33, 768],
    [7, 1000],
  ];
  for (const [rows, channels] of SHAPES) for (const variant of ['workgroup', 'thread'] as const) {
    it(`${rows}×${channels}, inputs offset by 100 (two-pass variance), ${variant} per row`, async () => {
      const seed = freshSeed();
      const random = rng(seed);
      // A large mean against a unit spread: one-pass Σx² − (Σx)² would lose digits here.
      const x = randomArray(random, rows * channels, 99, 101);
      const gamma = randomArray(random, channels, 0.5, 1.5);
      const beta = randomArray(random, channels);
      const o: LayerNormOptions = { rows, channels, limits: device().kernelLimits(), variant };
      const kernel = emitLayerNorm(o);
      expect(kernel.wgsl.includes('workgroupBarrier')).toBe(variant === 'workgroup');
      if (variant === 'thread') expect(kernel.wgsl.includes('var xs: array<f32, C>')).toBe(channels <= ROW_CACHE_MAX_CHANNELS);
      const actual = await runKernel(device(), kernel, { x, gamma, beta }, 'y');
      const expected = layerNorm64(rows, channels, (r, c) => x[r * channels + c]!, gamma, beta, 1e-5);
      const error = maxNormRelativeError(actual, expected);
      console.log(`layernorm ${rows}×${channels} (${variant}): error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  for (const variant of ['workgroup', 'thread'] as const) it(`x̂ only (affine: false), 9×96, ${variant} per row`, async () => {
    const [rows, channels] = [9, 96];
    const seed = freshSeed();
    const x = randomArray(rng(seed), rows * channels, -2, 3);
    const kernel = emitLayerNorm({ rows, channels, affine: false, limits: device().kernelLimits(), variant });
    const actual = await runKernel(device(), kernel, { x }, 'y');
    const ones = new Float32Array(channels).fill(1);
    const expected = layerNorm64(rows, channels, (r, c) => x[r * channels + c]!, ones, new Float32Array(channels), 1e-5);
    const error = maxNormRelativeError(actual, expected);
    console.log(`layernorm x̂ ${rows}×${channels} (${variant}): error ${error.toExponential(2)} (seed ${seed})`);
    expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  });

  // Statistics only (a LayerNorm folded into its GEMMs' loads): mean and 1/σ per row, on rows
  // with a large mean, narrow and wider than a row-per-thread kernel caches.
  for (const [rows, channels] of [[9, 96], [5, 768]] as const) for (const variant of ['workgroup', 'thread'] as const) {
    it(`row statistics only (statsOnly), ${rows}×${channels}, ${variant} per row`, async () => {
      const seed = freshSeed();
      const x = randomArray(rng(seed), rows * channels, 49, 51);
      const kernel = emitLayerNorm({ rows, channels, statsOnly: true, limits: device().kernelLimits(), variant });
      expect(kernel.bindings.map((b) => b.name)).toEqual(['x', 'y']);
      const actual = await runKernel(device(), kernel, { x }, 'y');
      const expected = layernormStats(Float64Array.from(x), channels, 1e-5);
      expect(actual).toHaveLength(2 * rows);
      // Relative to each statistic (1/σ ≈ 1.7 and the mean ≈ 50 are compared separately).
      const error = Math.max(
        maxNormRelativeError(actual.filter((_, i) => i % 2 === 0), expected.filter((_, i) => i % 2 === 0)),
        maxNormRelativeError(actual.filter((_, i) => i % 2 === 1), expected.filter((_, i) => i % 2 === 1)),
      );
      console.log(`layernorm statistics ${rows}×${channels} (${variant}): error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('one thread per row on direct-style adapters and for narrow rows, else a workgroup per row', () => {
    expect(chooseLayerNormVariant(768, { ...MIN_LIMITS, style: 'direct' }).kind).toBe('thread');
    expect(chooseLayerNormVariant(768, { ...MIN_LIMITS, style: 'tiled' }).kind).toBe('workgroup');
    expect(chooseLayerNormVariant(16, { ...MIN_LIMITS, style: 'tiled' }).kind).toBe('thread');
    expect(chooseLayerNormVariant(16, { ...MIN_LIMITS, style: 'direct' }, 'workgroup').kind).toBe('workgroup');
  });

  for (const variant of ['workgroup', 'thread'] as const) it(`reads through the patch-merging gather with padding, and writes transposed (${variant} per row)`, async () => {
    // x is a [H, W, C] map with odd H: patch merging pads to even, gathers x0..x3 on channels
    // (x0 = (0,0), x1 = (1,0), x2 = (0,1), x3 = (1,1)) and normalises over 4C.
    const [H, W, C] = [5, 3, 6];
    const [outH, outW] = [Math.ceil(H / 2), Math.ceil(W / 2)];
    const rows = outH * outW;
    const channels = 4 * C;
    const gatherAt = (row: number, ch: number): number => {
      const q = Math.floor(ch / C);
      const h = Math.floor(row / outW) * 2 + (q % 2);
      const w = (row % outW) * 2 + Math.floor(q / 2);
      return h >= H || w >= W ? -1 : (h * W + w) * C + (ch % C);
    };
    const loadX = {
      describes: 'patch-merging gather (x0, x1, x2, x3) of [5, 3, 6], zero-padded to even',
      source: `fn load_x(row: i32, ch: i32) -> f32 {
  let q = ch / ${C};
  let h = (row / ${outW}) * 2 + q % 2;
  let w = (row % ${outW}) * 2 + q / 2;
  if (h >= ${H} || w >= ${W}) {
    return 0.0;
  }
  return x[(h * ${W} + w) * ${C} + ch % ${C}];
}`,
    };
    const storeY = { describes: 'transpose to [4C, rows]', source: `fn store_y(row: i32, ch: i32, value: f32) { y[ch * ROWS + row] = value; }` };
    const seed = freshSeed();
    const random = rng(seed);
    const x = randomArray(random, H * W * C);
    const gamma = randomArray(random, channels, 0.5, 1.5);
    const beta = randomArray(random, channels);
    const kernel = emitLayerNorm({ rows, channels, loadX, xElements: H * W * C, storeY, yElements: rows * channels, fuses: ['patch merging gather', 'LayerNorm(4C)'], variant });
    expect(kernel.wgsl).toContain('// x read through: patch-merging gather');
    const actual = await runKernel(device(), kernel, { x, gamma, beta }, 'y');
    const normed = layerNorm64(rows, channels, (r, c) => (gatherAt(r, c) < 0 ? 0 : x[gatherAt(r, c)]!), gamma, beta, 1e-5);
    const expected = new Float64Array(rows * channels);
    for (let r = 0; r < rows; r++) for (let c = 0; c < channels; c++) expected[c * rows + r] = normed[r * channels + c]!;
    const error = maxNormRelativeError(actual, expected);
    console.log(`layernorm patch-merging gather (${variant}): error ${error.toExponential(2)} (seed ${seed})`);
    expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  });
});
