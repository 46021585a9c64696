import { describe, expect, it } from 'vitest';
import { decays, learningRate } from '../../src/train/optimizer.js';

describe('learning-rate schedule', () => {
  const s = { totalSteps: 110, warmupSteps: 10, minLr: 0 };
  it('warms up linearly to the peak, then follows a cosine to minLr', () => {
    expect(learningRate(0, 1, s)).toBeCloseTo(0.1, 12);
    expect(learningRate(9, 1, s)).toBeCloseTo(1, 12);
    expect(learningRate(10, 1, s)).toBeCloseTo(1, 12);
    expect(learningRate(60, 1, s)).toBeCloseTo(0.5, 12);
    expect(learningRate(110, 1, s)).toBeCloseTo(0, 12);
    expect(learningRate(60, 1, { ...s, minLr: 0.2 })).toBeCloseTo(0.6, 12);
  });
  it('without warm-up starts at the peak', () => {
    expect(learningRate(0, 0.5, { totalSteps: 10, warmupSteps: 0, minLr: 0 })).toBe(0.5);
  });
});

describe('weight decay', () => {
  it('skips norms, biases and bias tables (the official recipes)', () => {
    expect(decays('layers.0.blocks.0.attn.qkv.weight', [48, 16])).toBe(true);
    expect(decays('patch_embed.proj.weight', [16, 3, 2, 4, 4])).toBe(true);
    expect(decays('layers.0.blocks.0.attn.qkv.bias', [48])).toBe(false);
    expect(decays('layers.0.blocks.0.norm1.weight', [16])).toBe(false);
    expect(decays('layers.0.blocks.0.attn.relative_position_bias_table', [775, 2])).toBe(false);
    expect(decays('cls_head.fc_cls.weight', [10, 32])).toBe(true);
  });
});
