// Hand-built ModelConfigs for the IR and reference tests (the same shape src/lang elaborates).
import type { BlockConfig, ChannelShift, ModelConfig, PatchShift, Shift, StageConfig } from '../../src/lang/model.js';
import { rng } from '../webgpu/util.js';

export const patternC: PatchShift = {
  kind: 'patch',
  name: 'pattern_c',
  grid: [
    [-4, 1, 2],
    [-1, 0, 3],
    [-2, -3, 4],
  ],
  ratio: 1,
  boundary: 'cyclic',
  shiftBack: true,
};

export const tcsEighth: ChannelShift = { kind: 'channel', name: 'tcs_eighth', fold: 1 / 8, boundary: 'keep' };

/** alternate(tcs, tps) with shift_windows = alternate. */
function blocks(depth: number, shifts: (Shift | null)[]): BlockConfig[] {
  return Array.from({ length: depth }, (_, j) => ({ index: j, shift: shifts[j % shifts.length] ?? null, shiftWindows: j % 2 === 1, dropPath: 0 }));
}

function stage(number: number, depth: number, dim: number, heads: number, extra: Partial<StageConfig> = {}, shifts: (Shift | null)[] = [tcsEighth, patternC]): StageConfig {
  return {
    number,
    depth,
    dim,
    heads,
    attention: 'window2d',
    window: [1, 7, 7],
    biasFrames: 16,
    mlpRatio: 4,
    qkvBias: true,
    dropout: 0,
    attnDropout: 0,
    blocks: blocks(depth, shifts),
    merge: 'patch_merging',
    ...extra,
  };
}

export function pstT(): ModelConfig {
  return {
    name: 'pst_t',
    embed: { patch: [2, 4, 4], dim: 96, norm: true, inChannels: 3 },
    stages: [stage(1, 2, 96, 3), stage(2, 2, 192, 6), stage(3, 6, 384, 12), stage(4, 2, 768, 24)],
    finalNorm: true,
    head: { pool: 'mean', dropout: 0.5, classes: 400 },
    input: { frames: 32, size: 224, batch: 1 },
  };
}

/**
 * A tiny PST: 4×4 windows (so the 3×3 pattern tiles with a remainder), a 10×10 first map (padding
 * to 12, three windows a side, shifted by 2) and a 5×5 second map (padding to 8, shifted).
 * Input 1×3×8×40×40 → D = 4.
 */
export function tinyPst(overrides: Partial<StageConfig> = {}, shifts?: (Shift | null)[]): ModelConfig {
  const common = { window: [1, 4, 4] as [number, number, number], biasFrames: 4, ...overrides };
  return {
    name: 'tiny_pst',
    embed: { patch: [2, 4, 4], dim: 16, norm: true, inChannels: 3 },
    stages: [stage(1, 2, 16, 2, common, shifts), stage(2, 2, 32, 4, common, shifts)],
    finalNorm: true,
    head: { pool: 'mean', dropout: 0.5, classes: 5 },
    input: { frames: 8, size: 40, batch: 1 },
  };
}

/** Deterministic pseudo-random numbers in [−1, 1) (the tests' mulberry32), for inputs and weights. */
export function random(seed: number): () => number {
  const next = rng(seed);
  return () => next() * 2 - 1;
}
