// What a map costs: whether it is a plain strided view (no gather needed), and how many integer
// operations a kernel spends on reading through it.
import { linearize } from './compose.js';
import type { IndexMap } from './expr.js';
import { shapeBounds } from './interval.js';
import { Simplifier, simplify } from './simplify.js';
import { nodeOps } from './walk.js';

/**
 * Non-null iff, after simplification, the map is always valid and its flat input offset is
 * offset + Σ strides[k]·i_k: a plain strided view. Anything else is a gather.
 */
export function stridedView(map: IndexMap): { offset: number; strides: number[] } | null {
  const s = simplify(map);
  if (s.valid) return null;
  const flat = new Simplifier(shapeBounds(s.outShape)).lin(linearize(s));
  const strides = s.outShape.map(() => 0);
  for (const t of flat.terms.values()) {
    if (t.atom.k !== 'var') return null;
    strides[t.atom.i] = t.coef;
  }
  return { offset: flat.k, strides };
}

/** Operations (each add, mul, div, mod, select, comparison, logic op) in the linearized read and its validity test. */
export function opCount(map: IndexMap): number {
  return nodeOps(linearize(map)) + (map.valid ? nodeOps(map.valid) : 0);
}
