// ModelConfigs written by hand (no .pst parsing), so the weights tests stand on their own.
import type { ModelConfig, StageConfig } from '../../src/lang/model.js';

export interface Sketch {
  dim: number;
  depths: number[];
  heads: number[];
  window?: [number, number, number];
  biasFrames?: number;
  mlpRatio?: number;
  patch?: [number, number, number];
  classes?: number | null;
  attention?: 'window2d' | 'window3d';
}

export function makeModel(s: Sketch): ModelConfig {
  const stages: StageConfig[] = s.depths.map((depth, i) => ({
    number: i + 1,
    depth,
    dim: s.dim * 2 ** i,
    heads: s.heads[i]!,
    attention: s.attention ?? 'window2d',
    window: s.window ?? [1, 7, 7],
    biasFrames: s.biasFrames ?? 16,
    mlpRatio: s.mlpRatio ?? 4,
    qkvBias: true,
    dropout: 0,
    attnDropout: 0,
    blocks: Array.from({ length: depth }, (_, j) => ({ index: j, shift: null, shiftWindows: j % 2 === 1, dropPath: 0 })),
    merge: i < s.depths.length - 1 ? 'patch_merging' : 'none',
  }));
  return {
    name: 'test',
    embed: { patch: s.patch ?? [2, 4, 4], dim: s.dim, norm: true, inChannels: 3 },
    stages,
    finalNorm: true,
    head: s.classes ? { pool: 'mean', dropout: 0.5, classes: s.classes } : null,
    input: { frames: 32, size: 224, batch: 1 },
  };
}

export const pstT = (classes: number | null = null) =>
  makeModel({ dim: 96, depths: [2, 2, 6, 2], heads: [3, 6, 12, 24], classes });
export const pstB = (classes: number | null = null) =>
  makeModel({ dim: 128, depths: [2, 2, 18, 2], heads: [4, 8, 16, 32], classes });

/** The model tools/make_pth_fixtures.py builds as TinyPST (+ a 5-class head). */
export const tinyPst = (classes: number | null = 5) =>
  makeModel({ dim: 8, depths: [2, 1], heads: [2, 4], window: [1, 3, 3], biasFrames: 2, mlpRatio: 2, patch: [1, 2, 2], classes });
