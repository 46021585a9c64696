// Commute row-only views through the linear layer they read. After window attention, the output
// projection is followed by window reverse, roll back and crop: views that only move tokens (rows)
// and never channels. A linear layer acts on each row alone, so
//   view_rows(linear(x)) = linear(view_rows'(x))
// where view_rows' is the same row movement on x's channel count. After this pass the residual
// `add` reads both operands in the feature-map layout, and the projection can write its result
// there directly, with the residual added in its epilogue.
import { GraphBuilder, consumers, type Graph, type NodeId, type Op } from '../ir/graph.js';
import { foldViews } from './fold.js';
import { usesVar, type IndexMap } from '../ir/indexmap.js';

/**
 * A view moves whole rows when its last input index is its last output index (same extent) and
 * no other input index depends on it. A view that yields zeros (padding) is not row-only here:
 * linear(0) is the bias, not 0, so such a view does not commute with a linear layer with a bias.
 */
export function isRowOnly(map: IndexMap): boolean {
  const last = map.outShape.length - 1;
  const lastIn = map.inShape.length - 1;
  if (map.valid || last < 0 || lastIn < 0) return false;
  if (map.outShape[last] !== map.inShape[lastIn]) return false;
  const e = map.index[lastIn]!;
  if (e.k !== 'var' || e.i !== last) return false;
  return map.index.every((x, k) => k === lastIn || !usesVar(x, last));
}

type ComputeOp = Exclude<Op, { kind: 'input' | 'param' }>;

/** The same row movement on tensors of `channels` channels. */
function withChannels(map: IndexMap, channels: number): IndexMap {
  return {
    outShape: [...map.outShape.slice(0, -1), channels],
    inShape: [...map.inShape.slice(0, -1), channels],
    index: map.index,
  };
}

/**
 * Moves every row-only view of a linear layer's output (when the view is that layer's only
 * reader) in front of the layer, then folds the views again so that no view reads a view.
 */
export function commuteRowViews(graph: Graph): Graph {
  const users = consumers(graph);
  // linear id → the row-only view that is its sole reader
  const moved = new Map<NodeId, NodeId>();
  for (const n of graph.nodes) {
    if (n.op.kind !== 'view' || !isRowOnly(n.op.map)) continue;
    const src = graph.nodes[n.inputs[0]!]!;
    if (src.op.kind === 'linear' && users[src.id]!.length === 1) moved.set(src.id, n.id);
  }
  if (moved.size === 0) return graph;
  const linearOf = new Map([...moved].map(([l, v]) => [v, l]));

  const g = new GraphBuilder(graph.model, graph.inputShape);
  const renamed = new Map<NodeId, NodeId>();
  const use = (old: NodeId) => renamed.get(old)!;
  for (const node of graph.nodes) {
    const op = node.op;
    if (op.kind === 'input') renamed.set(node.id, g.input(op.name, node.shape, node.label));
    else if (op.kind === 'param') renamed.set(node.id, g.param(op.name, node.shape));
    else if (moved.has(node.id)) continue; // emitted at its view, below
    else if (op.kind === 'view' && linearOf.has(node.id)) {
      const lin = graph.nodes[linearOf.get(node.id)!]!;
      const [x, ...rest] = lin.inputs;
      const xShape = graph.nodes[x!]!.shape;
      const rows = g.view(use(x!), withChannels(op.map, xShape.at(-1)!), `${op.what}(commuted)`, node.label);
      renamed.set(node.id, g.op(lin.op as ComputeOp, [rows, ...rest.map(use)], lin.label));
    } else {
      renamed.set(node.id, g.op(op, node.inputs.map(use), node.label));
    }
  }
  for (const { param, node } of graph.grads ?? []) g.grad(param, use(node));
  return foldViews(g.build());
}
