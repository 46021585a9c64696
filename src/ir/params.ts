// The weights a lowered graph reads, checked against a weight map before anything runs (PST306).
// Both backends call this: the reference interpreter and the WebGPU runtime take weights
// structurally (src/weights sits below them, see docs/architecture-notes.md), so the check lives
// with the graph whose `param` nodes say which names and shapes are needed.
import { DiagnosticError, type Diagnostic } from '../lang/diagnostics.js';
import { size, type Graph } from './graph.js';

/** A weight as any backend receives it: a shape and its data, row-major. */
export interface WeightLike {
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** One PST306 per parameter of the graph that `weights` lacks or holds with another shape. */
export function weightProblems(graph: Graph, weights: ReadonlyMap<string, WeightLike>): Diagnostic[] {
  const problems: Diagnostic[] = [];
  for (const id of graph.params) {
    const n = graph.nodes[id]!;
    if (n.op.kind !== 'param') continue;
    const w = weights.get(n.op.name);
    const want = `[${n.shape.join(', ')}]`;
    if (!w) {
      problems.push({ code: 'PST306', severity: 'error', flag: '--weights', message: `weight '${n.op.name}' is missing`, expected: `a tensor of shape ${want}` });
    } else if (w.shape.length !== n.shape.length || w.shape.some((d, i) => d !== n.shape[i]) || w.data.length !== size(n.shape)) {
      problems.push({ code: 'PST306', severity: 'error', flag: '--weights', message: `weight '${n.op.name}' has shape [${w.shape.join(', ')}]`, expected: want });
    }
  }
  return problems;
}

/** Throws every PST306 of `weightProblems` at once. */
export function checkWeights(graph: Graph, weights: ReadonlyMap<string, WeightLike>): void {
  const problems = weightProblems(graph, weights);
  if (problems.length) throw new DiagnosticError(problems);
}
