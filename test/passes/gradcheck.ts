// Gradient checking for the autodiff tests: the interpreter's gradients of a differentiated and
// folded graph against float64 central differences of the forward graph's loss.
import { interpret, type InterpretInputs, type ReferenceWeights } from '../../backends/reference/interpreter.js';
import { foldViews } from '../../src/passes/fold.js';
import { GraphBuilder, size, type Graph, type NodeId } from '../../src/ir/graph.js';
import { differentiate } from '../../src/passes/autodiff.js';
import { random, tinyPst } from '../reference/fixtures.js';

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
    // A sample is drawn from the entries with a nonzero gradient (most rows of a bias table are
    // read by no window, and a zero checked against a zero proves little).
    const nonzero = [...ad.keys()].filter((i) => ad[i] !== 0);
    const pool = nonzero.length > 0 ? nonzero : [...ad.keys()];
    const entries = count === n ? [...Array(n).keys()] : Array.from({ length: count }, () => pool[Math.floor(((pick() + 1) / 2) * pool.length)]!);
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

export type Param = (name: string, shape: number[]) => NodeId;

/**
 * A graph computing y = build(params) and loss = Σ y ∘ probe (a random probe, so every element
 * of dy differs), with random values for every param.
 */
export function probedGraph(
  build: (g: GraphBuilder, param: Param) => NodeId,
  seed: number,
): { graph: Graph; weights: Map<string, { shape: number[]; data: Float64Array }> } {
  const g = new GraphBuilder(tinyPst(), [1]);
  const weights = new Map<string, { shape: number[]; data: Float64Array }>();
  let k = 0;
  const param: Param = (name, shape) => {
    weights.set(name, { shape, data: randomData(size(shape), seed + 7919 * ++k) });
    return g.param(name, shape);
  };
  const y = build(g, param);
  g.op({ kind: 'output', name: 'features' }, [y], 'y');
  const probe = param('probe', g.shape(y));
  const all = g.shape(y).map((_, i) => i);
  const loss = g.op({ kind: 'sum', axes: all }, [g.op({ kind: 'mul' }, [y, probe], 'probe')], 'loss');
  g.op({ kind: 'output', name: 'loss' }, [loss], 'loss');
  return { graph: g.build(), weights };
}
