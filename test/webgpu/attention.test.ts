import { describe, expect, it } from 'vitest';
import { attentionTiling, emitWindowAttention, type AttentionOptions } from '../../backends/webgpu/kernels/attention.js';
import { KERNEL_STYLES, MIN_LIMITS } from '../../backends/webgpu/kernels/common.js';
import { MAX_HEAD_DIM } from '../../src/lang/facts.js';
import { freshSeed, maxNormRelativeError, randomArray, rng, runKernel, useDevice } from './util.js';

const device = useDevice();

const TOLERANCE = 1e-4;

interface Inputs {
  qkv: Float32Array;
  biasTable: Float32Array;
  biasIndex: Int32Array;
  mask: Float32Array;
}

/** Window attention in float64, straight from the definition; output token (w, i) lands at outAt. */
function attention64(o: AttentionOptions, x: Inputs, outAt?: (w: number, i: number) => number): Float64Array {
  const { windows, tokens: N, channels: C, heads } = o;
  const c = C / heads;
  const scale = c ** -0.5;
  const out = new Float64Array(windows * N * C);
  const q = (w: number, i: number, ch: number) => x.qkv[(w * N + i) * 3 * C + ch]!;
  for (let w = 0; w < windows; w++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < N; i++) {
        const s = new Float64Array(N);
        for (let j = 0; j < N; j++) {
          let dot = 0;
          for (let d = 0; d < c; d++) dot += q(w, i, h * c + d) * q(w, j, C + h * c + d);
          s[j] = dot * scale;
          if (o.bias) {
            const g = Math.floor(w / o.bias.windowsPerGroup) % o.bias.groups;
            s[j] += x.biasTable[x.biasIndex[(g * N + i) * N + j]! * heads + h]!;
          }
          if (o.mask) s[j] += x.mask[((w % o.mask.masks) * N + i) * N + j]!;
        }
        const max = Math.max(...s);
        let total = 0;
        for (let j = 0; j < N; j++) total += (s[j] = Math.exp(s[j]! - max));
        const row = (outAt ? outAt(w, i) : w * N + i) * C;
        for (let d = 0; d < c; d++) {
          let acc = 0;
          for (let j = 0; j < N; j++) acc += s[j]! * q(w, j, 2 * C + h * c + d);
          out[row + h * c + d] = acc / total;
        }
      }
    }
  }
  return out;
}

function inputs(seed: number, o: AttentionOptions, tableRows: number, groups: number, masks: number): Inputs {
  const random = rng(seed);
  const { windows, tokens: N, channels: C, heads } = o;
  return {
    // Wide enough that the softmax is far from uniform.
    qkv: randomArray(random, windows * N * 3 * C, -2, 2),
    biasTable: randomArray(random, tableRows * heads),
    biasIndex: Int32Array.from({ length: groups * N * N }, () => Math.floor(random() * tableRows)),
    // Swin's mask: 0 within a region, −100 across regions.
    mask: Float32Array.from({ length: masks * N * N }, () => (random() < 0.3 ? -100 : 0)),
  };
}

describe('attentionTiling', () => {
  it('holds a 7×7 window in one query tile and one key tile, and tiles larger windows and wider heads', () => {
    expect(attentionTiling(49, 32, MIN_LIMITS)).toEqual({ threads: 64, queryTiles: 1, keyTile: 49 });
    expect(attentionTiling(392, 32, MIN_LIMITS)).toEqual({ threads: 256, queryTiles: 2, keyTile: 64 });
    // Direct: workgroups of 64 query rows of any windows and heads; a small window's keys in one
    // tile, a larger one's in even unrolled tiles of at most 8 (the last one short for N = 300).
    expect(attentionTiling(9, 8, MIN_LIMITS, true)).toEqual({ threads: 64, queryTiles: 1, keyTile: 9 });
    expect(attentionTiling(49, 32, MIN_LIMITS, true)).toEqual({ threads: 64, queryTiles: 1, keyTile: 7 });
    expect(attentionTiling(392, 96, MIN_LIMITS, true)).toEqual({ threads: 64, queryTiles: 1, keyTile: 8 });
    expect(attentionTiling(300, 4, MIN_LIMITS, true)).toEqual({ threads: 64, queryTiles: 1, keyTile: 8 });
    expect(attentionTiling(49, 96, MIN_LIMITS).keyTile).toBe(21);
    // The widest head pstc accepts (MAX_HEAD_DIM) still gets a tile of keys in 16 KiB.
    expect(attentionTiling(49, MAX_HEAD_DIM, MIN_LIMITS).keyTile).toBeGreaterThanOrEqual(2);
  });
});

describe('emitWindowAttention', () => {
  const CASES: { name: string; o: AttentionOptions }[] = [
    {
      name: 'N=9, 2 heads of 8, 6 windows in 3 groups, 2 masks',
      o: { windows: 6, tokens: 9, channels: 16, heads: 2, bias: { tableRows: 25, groups: 3, windowsPerGroup: 2 }, mask: { masks: 2 } },
    },
    {
      name: 'N=49, 2 heads of 32, 8 windows in 2 groups, 4 masks',
      o: { windows: 8, tokens: 49, channels: 64, heads: 2, bias: { tableRows: 169, groups: 2, windowsPerGroup: 4 }, mask: { masks: 4 } },
    },
    {
      // Heads of 96 channels: a 49-token window no longer fits workgroup memory, keys stream in tiles.
      name: 'N=49, 1 head of 96 (keys in 3 tiles of 21), 2 windows',
      o: { windows: 2, tokens: 49, channels: 96, heads: 1, bias: { tableRows: 169, groups: 1, windowsPerGroup: 2 }, mask: { masks: 2 } },
    },
    {
      // Video Swin's 8×7×7 window: more queries than one workgroup has threads (2 query tiles).
      name: 'N=392 (8×7×7), 2 heads of 8, 3 windows, 3 masks',
      o: { windows: 3, tokens: 392, channels: 16, heads: 2, bias: { tableRows: 15 * 169, groups: 1, windowsPerGroup: 1 }, mask: { masks: 3 } },
    },
    {
      name: 'N=300 (not a multiple of any tile), 1 head of 4, 2 windows',
      o: { windows: 2, tokens: 300, channels: 4, heads: 1, bias: { tableRows: 50, groups: 2, windowsPerGroup: 1 }, mask: { masks: 1 } },
    },
  ];
  // Both styles, forced (the device's own choice depends on the adapter).
  for (const { name, o } of CASES) for (const style of KERNEL_STYLES) {
    it(`${name}, with bias and mask (${style})`, async () => {
      const seed = freshSeed();
      const x = inputs(seed, o, o.bias!.tableRows, o.bias!.groups, o.mask!.masks);
      const kernel = emitWindowAttention({ ...o, style, limits: device().kernelLimits() });
      expect(kernel.wgsl.includes('workgroupBarrier')).toBe(style === 'tiled');
      if (style === 'direct') expect(kernel.wgsl).toContain(o.tokens > 16 ? 'in unrolled tiles of' : `in one tile of ${o.tokens} tokens`);
      const actual = await runKernel(device(), kernel, { qkv: x.qkv, bias_table: x.biasTable, bias_index: x.biasIndex, mask: x.mask }, 'out');
      const error = maxNormRelativeError(actual, attention64(o, x));
      console.log(`attention ${name} (${style}): error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('writes through a store_o mapping (a patch-shift-back between frames), without bias or mask', async () => {
    // 3 frames of 2 windows; token i of window w goes to the same place in frame d + s(i),
    // s(i) = i mod 3 − 1, cyclic in time: the shape of TPS's inverse shift.
    const [frames, perFrame, N] = [3, 2, 9];
    const o: AttentionOptions = { windows: frames * perFrame, tokens: N, channels: 16, heads: 2 };
    const target = (w: number, i: number) => {
      const d = Math.floor(w / perFrame);
      const shifted = (d + (i % 3) - 1 + frames) % frames;
      return (shifted * perFrame + (w % perFrame)) * N + i;
    };
    const storeO = {
      describes: 'patch shift back: frame d → d + (i mod 3 − 1), cyclic',
      source: `fn store_o(w: i32, i: i32, ch: i32, value: f32) {
  let d = w / ${perFrame};
  let shifted = (d + i % 3 - 1 + ${frames}) % ${frames};
  out[((shifted * ${perFrame} + w % ${perFrame}) * N + i) * C + ch] = value;
}`,
    };
    const seed = freshSeed();
    const x = inputs(seed, o, 1, 1, 1);
    const kernel = emitWindowAttention({ ...o, storeO, outElements: o.windows * N * o.channels });
    expect(kernel.bindings.filter((b) => !b.constant).map((b) => b.name)).toEqual(['qkv', 'out']);
    expect(kernel.wgsl).toContain('// out written through: patch shift back');
    const actual = await runKernel(device(), kernel, { qkv: x.qkv }, 'out');
    const error = maxNormRelativeError(actual, attention64(o, x, target));
    console.log(`attention store_o shift-back: error ${error.toExponential(2)} (seed ${seed})`);
    expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it('streams keys and values through a small workgroup memory and few threads (many key and query tiles)', async () => {
    // 512 bytes: key tiles of 4 tokens of 16 channels; 32 threads: 2 query tiles of a 49-token window.
    const o: AttentionOptions = { windows: 3, tokens: 49, channels: 32, heads: 2, bias: { tableRows: 169, groups: 3, windowsPerGroup: 1 }, mask: { masks: 3 } };
    // The tiled style, forced: on a CPU adapter the device's own (direct) stages nothing.
    const limits = { ...device().kernelLimits(), maxComputeWorkgroupStorageSize: 512, maxComputeInvocationsPerWorkgroup: 32, style: 'tiled' as const };
    expect(attentionTiling(49, 16, limits)).toEqual({ threads: 32, queryTiles: 2, keyTile: 4 });
    const seed = freshSeed();
    const x = inputs(seed, o, 169, 3, 3);
    const actual = await runKernel(device(), emitWindowAttention({ ...o, limits }), { qkv: x.qkv, bias_table: x.biasTable, bias_index: x.biasIndex, mask: x.mask }, 'out');
    const error = maxNormRelativeError(actual, attention64(o, x));
    console.log(`attention in 13 key tiles × 2 query tiles: error ${error.toExponential(2)} (seed ${seed})`);
    expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it('refuses heads wider than the checker allows (a bug if reached: PST309 comes first)', () => {
    expect(() => emitWindowAttention({ windows: 1, tokens: 4, channels: 2 * MAX_HEAD_DIM, heads: 1 })).toThrow(/channels per head/);
  });
});
