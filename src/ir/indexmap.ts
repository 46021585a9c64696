// Index maps: every data movement of the IR (reshape, permute, roll, window partition, head split,
// patch and channel shift, gathers, padding, slicing) is a static function from an output index to
// an input index, or to "zero". Maps compose and simplify, so a consumer kernel reads through one
// composed map and no pass over memory exists for the movement (architecture principle 2).
//
// This file is the public face of src/ir/indexmap/, one module per job: arith (floor division,
// strides) · expr (types, smart constructors, keys) · walk (generic traversal) · eval (meaning,
// gather tables) · compose (substitution) · interval (bounds) · linear + simplify (the simplifier)
// · invert and classify (bijections, injectivity) · cost (strided views, op counts) · print.
// Emitting an expression in a target language belongs to its backend (backends/webgpu/wgsl-expr.ts).
export { floorDiv, floorMod, gcd, product, rowMajorStrides } from './indexmap/arith.js';
export {
  IndexMapError,
  TRUE,
  add,
  and,
  c,
  div,
  eq,
  le,
  lt,
  mod,
  mul,
  not,
  or,
  select,
  sub,
  v,
  type ICond,
  type IExpr,
  type IndexMap,
  type Interval,
} from './indexmap/expr.js';
export { children, mapChildren, usesVar, type ChildMap, type INode } from './indexmap/walk.js';
export { evalCond, evalExpr, evaluate, readTable } from './indexmap/eval.js';
export { compose, identity, linearize, unflatten } from './indexmap/compose.js';
export { exprRange, shapeBounds } from './indexmap/interval.js';
export { simplify, simplifyCond, simplifyExpr } from './indexmap/simplify.js';
export { invert } from './indexmap/invert.js';
export { CLASSIFY_ENUMERATION_LIMIT, classifyMap, type MapClass } from './indexmap/classify.js';
export { opCount, stridedView } from './indexmap/cost.js';
export { exprToString, mapToString } from './indexmap/print.js';
