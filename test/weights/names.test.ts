import { describe, expect, it } from 'vitest';
import { biasTableRows } from '../../src/lang/facts.js';
import { parameterCount, weightSpecs } from '../../src/weights/names.js';
import { manifest } from './fixtures.js';
import { makeModel, pstB, pstT, tinyPst } from './models.js';

describe('parameter names and shapes', () => {
  it('counts PST-T and PST-B backbones as the reference implementation does', () => {
    expect(parameterCount(pstT())).toBe(28_223_622);
    expect(parameterCount(pstB())).toBe(88_655_688);
  });

  it('adds the head [classes, dim] + [classes] unless asked not to', () => {
    expect(parameterCount(pstT(400))).toBe(28_223_622 + 768 * 400 + 400);
    expect(parameterCount(pstT(400), { head: false })).toBe(28_223_622);
    const names = weightSpecs(pstB(174)).slice(-2);
    expect(names).toMatchObject([
      { name: 'cls_head.fc_cls.weight', shape: [174, 1024] },
      { name: 'cls_head.fc_cls.bias', shape: [174] },
    ]);
  });

  it('lists parameters in the order and shapes of a PyTorch state dict of the same structure', () => {
    const fromTorch = manifest['tiny_pst.pth'].parameters.map(({ name, shape }) => ({ name, shape }));
    const ours = weightSpecs(tinyPst()).map(({ name, shape }) => ({ name, shape }));
    expect(ours).toEqual(fromTorch);
  });

  it('gives PST-T the spec shapes', () => {
    const spec = new Map(weightSpecs(pstT()).map((w) => [w.name, w.shape]));
    expect(spec.get('patch_embed.proj.weight')).toEqual([96, 3, 2, 4, 4]);
    expect(spec.get('layers.0.blocks.0.attn.relative_position_bias_table')).toEqual([5239, 3]);
    expect(spec.get('layers.2.blocks.5.mlp.fc1.weight')).toEqual([1536, 384]);
    expect(spec.get('layers.2.downsample.reduction.weight')).toEqual([768, 1536]);
    expect(spec.has('layers.3.downsample.norm.weight')).toBe(false);
    expect(spec.get('norm.weight')).toEqual([768]);
  });

  it('sizes bias tables from the configured window and bias frames', () => {
    const swin2d = makeModel({ dim: 96, depths: [2], heads: [3], biasFrames: 1 });
    expect(biasTableRows(swin2d.stages[0]!)).toBe(169);
    const videoSwin = makeModel({ dim: 96, depths: [2], heads: [3], window: [8, 7, 7], biasFrames: 8, attention: 'window3d' });
    expect(biasTableRows(videoSwin.stages[0]!)).toBe(15 * 13 * 13);
  });

  it('sizes the MLP as int(dim * mlp_ratio) (25.5 → 25) and drops the qkv bias when asked', () => {
    const m = makeModel({ dim: 10, depths: [1], heads: [2], mlpRatio: 2.55 });
    m.stages[0]!.qkvBias = false;
    const spec = new Map(weightSpecs(m).map((w) => [w.name, w.shape]));
    expect(spec.get('layers.0.blocks.0.mlp.fc1.weight')).toEqual([25, 10]);
    expect(spec.has('layers.0.blocks.0.attn.qkv.bias')).toBe(false);
  });
});
