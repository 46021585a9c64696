import { describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { consumers } from '../../src/ir/graph.js';
import * as maps from '../../src/ir/maps.js';
import { commuteRowViews, isRowOnly } from '../../src/passes/commute.js';
import { freshSeed, maxNormRelativeError } from '../webgpu/util.js';
import { TINY_FAMILIES, graphAfter, randomClip, randomWeights, tinyModel } from './helpers.js';

describe('isRowOnly', () => {
  const shape = [1, 2, 6, 6, 8];
  it('accepts views that only move tokens', () => {
    expect(isRowOnly(maps.windowReverse(shape, [1, 3, 3]))).toBe(true);
    expect(isRowOnly(maps.roll(shape, [0, 0, 1, 1, 0]))).toBe(true);
    expect(isRowOnly(maps.crop(shape, [1, 2, 5, 5, 8]))).toBe(true);
  });
  it('rejects views that move channels or read zeros', () => {
    expect(isRowOnly(maps.permute(shape, [0, 4, 1, 2, 3]))).toBe(false);
    expect(isRowOnly(maps.pad(shape, [0, 0, 1, 1, 0]))).toBe(false); // linear(0) = bias, not 0
    const tokens = [8, 9, 16];
    expect(isRowOnly(maps.channelShift(tokens, { heads: 2, foldChannels: 1, frames: 2, windowsPerFrame: 4, boundary: 'keep' }))).toBe(false);
    expect(isRowOnly(maps.patchMergeGather(shape))).toBe(false);
  });
});

describe('commuteRowViews', () => {
  for (const family of TINY_FAMILIES) {
    it(`${family}: same numbers as before, and every residual add reads plain tensors`, () => {
      const seed = freshSeed();
      const model = tinyModel(family);
      const before = graphAfter(model, 'fold');
      const after = commuteRowViews(before);
      const weights = randomWeights(model, seed);
      const clip = randomClip(before, seed);
      const a = interpret(before, { clip }, weights);
      const b = interpret(after, { clip }, weights);
      const error = maxNormRelativeError(b.features, a.features);
      console.log(`${family}: commute changes features by ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThan(1e-12);
      if (a.logits) expect(maxNormRelativeError(b.logits!, a.logits)).toBeLessThan(1e-12);

      // The attention output projection now writes the feature-map layout: the add after it reads
      // no view, and no view reads a view.
      const users = consumers(after);
      const adds = after.nodes.filter((n) => n.op.kind === 'add');
      expect(adds.length).toBeGreaterThan(0);
      for (const add of adds) for (const i of add.inputs) expect(after.nodes[i]!.op.kind).not.toBe('view');
      for (const n of after.nodes) if (n.op.kind === 'view') expect(after.nodes[n.inputs[0]!]!.op.kind).not.toBe('view');
      // Nothing computed twice: each projection still has one reader.
      for (const n of after.nodes) if (n.label.endsWith('attn.proj') && n.op.kind === 'linear') expect(users[n.id]).toHaveLength(1);
    });
  }
});
