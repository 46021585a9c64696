// Shared by the tests of passes and whole models: a tiny model after any pass of the declared
// pipeline (never a pipeline of the test's own), and random weights and clips for it (biases and
// LayerNorm affines non-trivial, so every epilogue term matters).
import type { Graph } from '../../src/ir/graph.js';
import type { InputSize } from '../../src/passes/lower.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { loadModelWithSettings } from '../../src/lang/overrides.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { compileProgram, need, type PassName, type Program } from '../../src/passes/pipeline.js';
import { initWeights, makeRandom, type WeightMap } from '../../src/weights/index.js';
import { readFromDisk } from '../../src/lang/read-disk.js';

export const TINY_FAMILIES = ['pst-tiny', 'swin2d-tiny', 'tsm-tiny', 'tps-tiny', 'video-swin-tiny'];

export function tinyModel(file: string): ModelConfig {
  return loadModel(`models/tiny/${file}.pst`, undefined, readFromDisk).model;
}

/** The regularisation the training tests exercise (PST-T's kind: drop_path over the blocks, head
 *  dropout), set on a tiny model whose own file trains without it. */
export const REGULARISED = ['drop_path=0.1', 'head.dropout=0.5'];

/** A tiny model with drop_path 0.1 (rising over its blocks) and head dropout 0.5. */
export function regularisedTinyModel(file: string): ModelConfig {
  return loadModelWithSettings(`models/tiny/${file}.pst`, undefined, REGULARISED, readFromDisk).model;
}

/** The model (at its own frames and size, `batch` clips) after the pipeline's pass `pass`. */
export function programAfter(model: ModelConfig, pass: PassName, batch = 2): Program {
  return compileProgram(model, { batch, frames: model.input.frames, size: model.input.size }, { until: pass });
}

/** The graph of the model at `input` after `pass`. */
export function graphFor(model: ModelConfig, input: InputSize, pass: PassName): Graph {
  return need(compileProgram(model, input, { until: pass }), 'graph', 'test');
}

/** The graph after `pass`: what the interpreter and the later passes read. */
export function graphAfter(model: ModelConfig, pass: PassName, batch = 2): Graph {
  return need(programAfter(model, pass, batch), 'graph', 'test');
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
