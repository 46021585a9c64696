// Shared by the pass tests: a tiny model's folded graph, random weights for it (biases and
// LayerNorm affines non-trivial, so every epilogue term matters), and the max-norm error.
import { foldViews } from '../../src/ir/fold.js';
import type { Graph } from '../../src/ir/graph.js';
import { lowerModel } from '../../src/ir/lower.js';
import { loadModel } from '../../src/lang/elaborate.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { initWeights, makeRandom, type WeightMap } from '../../src/weights/index.js';

export const TINY_FAMILIES = ['pst-tiny', 'swin2d-tiny', 'tsm-tiny', 'tps-tiny', 'video-swin-tiny'];

export function tinyModel(file: string): ModelConfig {
  return loadModel(`models/tiny/${file}.pst`).model;
}

export function foldedGraph(model: ModelConfig, batch = 2): Graph {
  return foldViews(lowerModel(model, { batch, frames: model.input.frames, size: model.input.size }));
}

/** Seeded init plus uniform noise of ±0.05 on every tensor. */
export function randomWeights(model: ModelConfig, seed: number): WeightMap {
  const weights = initWeights(model, seed);
  const random = makeRandom(seed, 'noise');
  for (const w of weights.values()) for (let i = 0; i < w.data.length; i++) w.data[i]! += 0.1 * (random() - 0.5);
  return weights;
}

export function randomClip(graph: Graph, seed: number): Float64Array {
  const random = makeRandom(seed, 'clip');
  const n = graph.inputShape.reduce((a, b) => a * b, 1);
  // float32 values, so the device and the float64 reference read the same numbers
  return Float64Array.from(Float32Array.from({ length: n }, () => 2 * random() - 1));
}

export function maxNormError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

export function freshSeed(): number {
  return process.env.PSTC_SEED ? Number(process.env.PSTC_SEED) : Math.floor(Math.random() * 2 ** 31);
}
