import { describe, expect, it } from 'vitest';
import { freshWeightsFrom, initWeights } from '../../src/weights/init.js';
import { initChoicesOf, weightSpecs } from '../../src/weights/names.js';
import { makeModel } from './models.js';

const model = makeModel({ dim: 32, depths: [2, 2], heads: [2, 4], classes: 10 });

function stats(data: Float32Array): { mean: number; std: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (const x of data) {
    s += x;
    s2 += x * x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const mean = s / data.length;
  return { mean, std: Math.sqrt(s2 / data.length - mean * mean), min, max };
}

describe('initWeights', () => {
  const w = initWeights(model, 42);

  it('makes every parameter, in weightSpecs order and shape', () => {
    expect([...w.entries()].map(([n, t]) => [n, t.shape])).toEqual(weightSpecs(model).map((s) => [s.name, s.shape]));
  });

  it('draws Linear weights and bias tables from N(0, 0.02²)', () => {
    const fc1 = stats(w.get('layers.1.blocks.0.mlp.fc1.weight')!.data); // 256 × 64 values
    expect(Math.abs(fc1.mean)).toBeLessThan(0.001);
    expect(fc1.std).toBeGreaterThan(0.0195);
    expect(fc1.std).toBeLessThan(0.0205);
    const table = stats(w.get('layers.0.blocks.0.attn.relative_position_bias_table')!.data);
    expect(table.std).toBeGreaterThan(0.019);
    expect(table.std).toBeLessThan(0.021);
  });

  it("init_std changes the blocks' and patch mergings' Linear weights only (a train section's init_std)", () => {
    const wide = initWeights(model, 42, { linearStd: 0.25 });
    for (const name of ['layers.1.blocks.0.mlp.fc1.weight', 'layers.0.blocks.0.attn.qkv.weight', 'layers.0.blocks.1.attn.proj.weight', 'layers.0.downsample.reduction.weight']) {
      const s = stats(wide.get(name)!.data);
      expect(s.std, name).toBeGreaterThan(0.23);
      expect(s.std, name).toBeLessThan(0.27);
      // The same draws, scaled: the stream is the tensor's own, the std only multiplies it.
      expect(wide.get(name)!.data[7]).toBeCloseTo((w.get(name)!.data[7]! * 0.25) / 0.02, 5);
    }
    for (const name of ['layers.0.blocks.0.attn.relative_position_bias_table', 'cls_head.fc_cls.weight', 'patch_embed.proj.weight']) {
      expect(wide.get(name)!.data).toEqual(w.get(name)!.data);
    }
  });

  it("bias_init_std and head_init_std change the bias tables and the head only, and the bias draw is not cut at ±2", () => {
    const chosen = initWeights(model, 42, { biasTableStd: 3, headStd: 0.18 });
    const tables = [...chosen.keys()].filter((n) => n.endsWith('relative_position_bias_table'));
    expect(tables.length).toBe(4);
    const all = new Float32Array(tables.flatMap((n) => [...chosen.get(n)!.data]));
    const t = stats(all);
    expect(t.std).toBeGreaterThan(2.7);
    expect(t.std).toBeLessThan(3.3);
    // timm's bounds would keep every value within ±2: a std-3 draw has ~50 % beyond them.
    expect(all.filter((x) => Math.abs(x) > 2).length / all.length).toBeGreaterThan(0.4);
    const head = stats(chosen.get('cls_head.fc_cls.weight')!.data);
    expect(head.std).toBeGreaterThan(0.15);
    expect(head.std).toBeLessThan(0.21);
    for (const name of ['layers.1.blocks.0.mlp.fc1.weight', 'layers.0.blocks.0.attn.qkv.weight', 'patch_embed.proj.weight', 'layers.0.blocks.0.norm1.weight']) {
      expect(chosen.get(name)!.data).toEqual(w.get(name)!.data);
    }
  });

  it("a train section's init keys become the init choices, each left out keeping the reference's draw", () => {
    expect(initChoicesOf({ initStd: 0.25, biasInitStd: 3, headInitStd: 0.18 })).toEqual({ linearStd: 0.25, biasTableStd: 3, headStd: 0.18 });
    expect(initChoicesOf({ initStd: 0.25 })).toEqual({ linearStd: 0.25 });
    expect(initChoicesOf(undefined)).toEqual({});
    expect(freshWeightsFrom(3, {})).toBe('random seed 3');
    expect(freshWeightsFrom(3, { linearStd: 0.25, biasTableStd: 3, headStd: 0.18 })).toBe('random seed 3, init_std 0.25, bias_init_std 3, head_init_std 0.18');
  });

  it('zeroes Linear biases and sets LayerNorms to weight 1, bias 0', () => {
    expect(w.get('layers.0.blocks.0.attn.qkv.bias')!.data.every((x) => x === 0)).toBe(true);
    expect(w.get('layers.0.blocks.1.norm2.weight')!.data.every((x) => x === 1)).toBe(true);
    expect(w.get('norm.bias')!.data.every((x) => x === 0)).toBe(true);
  });

  it('keeps the patch embedding at PyTorch\'s Conv3d default U(±1/√fan_in) and the head at N(0, 0.01²)', () => {
    const bound = 1 / Math.sqrt(3 * 2 * 4 * 4);
    const conv = stats(w.get('patch_embed.proj.weight')!.data);
    expect(conv.max).toBeLessThanOrEqual(bound);
    expect(conv.min).toBeGreaterThanOrEqual(-bound);
    expect(conv.std).toBeGreaterThan(0.9 * bound / Math.sqrt(3));
    expect(conv.std).toBeLessThan(1.1 * bound / Math.sqrt(3));
    const head = stats(w.get('cls_head.fc_cls.weight')!.data);
    expect(head.std).toBeGreaterThan(0.008);
    expect(head.std).toBeLessThan(0.012);
  });

  it('is deterministic for a seed, different for another, and independent of the head', () => {
    const again = initWeights(model, 42);
    const other = initWeights(model, 43);
    const name = 'layers.0.blocks.1.attn.qkv.weight';
    expect(again.get(name)!.data).toEqual(w.get(name)!.data);
    expect(other.get(name)!.data).not.toEqual(w.get(name)!.data);
    const headless = initWeights({ ...model, head: null }, 42);
    expect(headless.get(name)!.data).toEqual(w.get(name)!.data);
  });
});
