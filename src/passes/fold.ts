// Fold chains of views: a consumer reads its input through one composed, simplified index map
// instead of through a chain of views, so no view feeds another view. Lowering emits one view
// per data movement (pad, roll, partition, shift, …); this is where they become one read.
import { GraphBuilder, type Graph, type NodeId } from '../ir/graph.js';
import { compose, simplify, type IndexMap } from '../ir/indexmap.js';

interface Chain {
  /** The first non-view node the chain reads (id in the old graph). */
  source: NodeId;
  /** From the chain's output index to the source's index. */
  map: IndexMap;
  what: string[];
  label: string;
}

export function foldViews(graph: Graph): Graph {
  const g = new GraphBuilder(graph.model, graph.inputShape);
  const chains = new Map<NodeId, Chain>();
  const renamed = new Map<NodeId, NodeId>();
  const folded = new Map<NodeId, NodeId>();

  // The new id of an old node as an input: a view becomes one view of its chain's source.
  const use = (old: NodeId): NodeId => {
    const chain = chains.get(old);
    if (!chain) return renamed.get(old)!;
    let id = folded.get(old);
    if (id === undefined) {
      id = g.view(renamed.get(chain.source)!, simplify(chain.map), chain.what.join('+'), chain.label);
      folded.set(old, id);
    }
    return id;
  };

  for (const node of graph.nodes) {
    const op = node.op;
    if (op.kind === 'view') {
      const from = node.inputs[0]!;
      const inner = chains.get(from);
      chains.set(
        node.id,
        inner
          ? { source: inner.source, map: compose(op.map, inner.map), what: [...inner.what, op.what], label: node.label }
          : { source: from, map: op.map, what: [op.what], label: node.label },
      );
    } else if (op.kind === 'input') {
      renamed.set(node.id, g.input(op.name, node.shape, node.label));
    } else if (op.kind === 'param') {
      renamed.set(node.id, g.param(op.name, node.shape));
    } else {
      renamed.set(node.id, g.op(op, node.inputs.map(use), node.label));
    }
  }
  // A gradient may itself be a view (the patch embedding's kernel reads through a reshape).
  for (const { param, node } of graph.grads ?? []) g.grad(param, use(node));
  return g.build();
}
