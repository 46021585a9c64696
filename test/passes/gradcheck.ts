// Gradient checking for the autodiff tests: the interpreter's gradients of a differentiated and
// folded graph against float64 central differences of the forward graph's loss.
import { interpret, type InterpretInputs, type ReferenceWeights } from '../../backends/reference/interpreter.js';
import { foldViews } from '../../src/ir/fold.js';
import type { Graph } from '../../src/ir/graph.js';
import { differentiate } from '../../src/passes/autodiff.js';
import { random } from '../reference/fixtures.js';

export interface GradCheck {
  /** Per param: max over the checked entries of |autodiff − central difference| / max |autodiff gradient|. */
  errors: Map<string, number>;
  /** The worst of `errors`. */
  max: number;
  loss: number;
  grads: Map<string, Float64Array>;
}

export interface GradCheckOptions {
  rngKey?: readonly [number, number];
  /** Entries checked per param (all when the param has no more); chosen at random. */
  entries?: number;
  /** Params to check (default all). */
  params?: string[];
  seed?: number;
  /** Relative step: h = step·max(1, |w|). */
  step?: number;
}

export function gradCheck(forward: Graph, weights: ReferenceWeights, inputs: InterpretInputs, options: GradCheckOptions = {}): GradCheck {
  const key = options.rngKey ? { rngKey: options.rngKey } : {};
  const backward = foldViews(differentiate(forward).graph);
  const result = interpret(backward, inputs, weights, key);
  const grads = result.grads!;
  const folded = foldViews(forward);
  const lossAt = (w: ReferenceWeights): number => interpret(folded, inputs, w, key).loss!;
  const pick = random(options.seed ?? 1);
  const errors = new Map<string, number>();
  for (const name of options.params ?? [...grads.keys()]) {
    const w = weights.get(name)!;
    const ad = grads.get(name)!;
    const n = w.data.length;
    const count = Math.min(n, options.entries ?? n);
    const entries = count === n ? [...Array(n).keys()] : Array.from({ length: count }, () => Math.floor(((pick() + 1) / 2) * n));
    const scale = ad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    let worst = 0;
    for (const e of entries) {
      const data = Float64Array.from(w.data);
      const h = (options.step ?? 1e-5) * Math.max(1, Math.abs(data[e]!));
      const at = (x: number): number => {
        data[e] = x;
        return lossAt(new Map(weights).set(name, { shape: w.shape, data }));
      };
      const x0 = data[e]!;
      const fd = (at(x0 + h) - at(x0 - h)) / (2 * h);
      worst = Math.max(worst, Math.abs(ad[e]! - fd));
    }
    errors.set(name, scale === 0 ? worst : worst / scale);
  }
  return { errors, max: Math.max(0, ...errors.values()), loss: result.loss!, grads };
}

/** Uniform values in [−1, 1) from a seed. */
export function randomData(n: number, seed: number): Float64Array {
  const r = random(seed);
  return Float64Array.from({ length: n }, () => r());
}
