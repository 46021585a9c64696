// How far a backend's forward is from the float64 reference: the project's error measure (the
// max-norm relative error, |actual − expected|∞ / |expected|∞), and one call that runs the
// interpreter on a model's lowered graph and measures a device's features and logits against it
// (`pstc bench --precision f16` reports it; the tests assert it).
import type { InputConfig, ModelConfig } from '../../src/lang/model.js';
import { need, runPipeline, startProgram } from '../../src/passes/pipeline.js';
import { interpret, type ReferenceWeights } from './interpreter.js';

/** |actual − expected|∞ / |expected|∞ (the absolute error where expected is all zeros). */
export function maxNormRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

export interface ReferenceError {
  /** Max-norm relative error of the features, and of the logits for a model with a head. */
  features: number;
  logits?: number;
  /** Seconds the float64 interpreter took. */
  referenceSeconds: number;
}

/**
 * The error of `got` (a forward of `model` at `input` on `clip` with `weights`) against the float64
 * interpreter on the same float32 clip and weights.
 */
export function errorAgainstReference(
  model: ModelConfig,
  input: InputConfig,
  weights: ReferenceWeights,
  clip: Float32Array,
  got: { features: Float32Array; logits?: Float32Array },
): ReferenceError {
  const graph = need(runPipeline(startProgram(model, input), { until: 'fold' }), 'graph', 'reference error');
  const start = performance.now();
  const want = interpret(graph, { clip: Float64Array.from(clip) }, weights);
  const referenceSeconds = (performance.now() - start) / 1000;
  return {
    features: maxNormRelativeError(got.features, want.features),
    ...(want.logits && got.logits ? { logits: maxNormRelativeError(got.logits, want.logits) } : {}),
    referenceSeconds,
  };
}
