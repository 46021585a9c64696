// Whether a map is injective, surjective or bijective over its domain (the output positions where
// it is valid; a zero reads nothing). Autodiff needs this: a gather y[o] = x[f(o)] has as adjoint
// the gather through f's inverse when f is a bijection, and a transposed gather (a sum over the
// outputs reading each input) otherwise.
import { product } from './arith.js';
import type { IndexMap } from './expr.js';
import { readTable } from './eval.js';
import { invert } from './invert.js';

export interface MapClass {
  injective: boolean;
  surjective: boolean;
  bijective: boolean;
  /** The inverse map when the map is a bijection and the symbolic route found it. */
  inverse: IndexMap | null;
  /** How it was decided: `invert` found the inverse, or every output position was evaluated. */
  proof: 'inverse' | 'enumeration';
}

/** Enumeration's bound on output plus input elements: a few MB of tables, well under a second. */
export const CLASSIFY_ENUMERATION_LIMIT = 1 << 22;

/**
 * Classify `map` symbolically (a found inverse proves a bijection), else by evaluating it at every
 * output position when outputs + inputs ≤ `limit`; null when neither decides.
 */
export function classifyMap(map: IndexMap, limit = CLASSIFY_ENUMERATION_LIMIT): MapClass | null {
  const inverse = invert(map);
  if (inverse) return { injective: true, surjective: true, bijective: true, inverse, proof: 'inverse' };
  const inputs = product(map.inShape);
  if (product(map.outShape) + inputs > limit) return null;
  // reads[i] = 1 once some valid output position has read input i.
  const reads = new Uint8Array(inputs);
  let injective = true;
  for (const i of readTable(map)) {
    if (i < 0) continue;
    if (reads[i]! > 0) injective = false;
    else reads[i] = 1;
  }
  const surjective = reads.every((n) => n > 0);
  return { injective, surjective, bijective: injective && surjective, inverse: null, proof: 'enumeration' };
}
