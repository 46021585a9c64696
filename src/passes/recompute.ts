// Activation recomputation per transformer block (`--recompute`): a rewrite of a differentiated
// training graph (after `autodiff`, before `fold`) that trades compute for memory. Without it, a
// block's forward intermediates (LN outputs, qkv, attention output, the MLP's hidden layer, …) are
// read again by the backward graph, so plan-memory keeps every block's intermediates alive from
// the forward until that block's backward: the peak holds all of them at once. With it, each
// backward read of a block's intermediate is redirected to a copy of the forward computation,
// emitted just before the block's backward region and computed from the block's input (which the
// backward reads anyway, so it stays live). Across the forward only block inputs/outputs remain
// live; the intermediates of one block at a time are alive again in the backward.
//
// The copies are ordinary graph nodes (same ops, same params, label `<label>.recompute`), so they
// go through fold, fusion, the memory plan and the same kernel emitters as everything else.
// Dropout and drop_path copies keep their op — the same RNG stream — and the mask is a pure
// function of (step key, stream, counter), so a copy draws exactly the forward's mask.
import { GraphBuilder, type Graph, type NodeId } from '../ir/graph.js';
import { weightNames } from '../lang/facts.js';

export const RECOMPUTE_SUFFIX = '.recompute';

/** What the pass did, per block: for `explain` and the tests. */
export interface RecomputedBlock {
  /** The block's module path, e.g. 'layers.0.blocks.1'. */
  block: string;
  /** Forward nodes of the block that are computed again in the backward. */
  nodes: number;
}

export interface Recomputed {
  graph: Graph;
  blocks: RecomputedBlock[];
}

/**
 * The forward of a training graph is the prefix up to its loss output (lowering emits the loss
 * last and autodiff appends the backward after it); a graph without a loss is returned as it is.
 */
export function recomputeBlocks(graph: Graph): Recomputed {
  const loss = graph.outputs.loss;
  if (loss === undefined || graph.grads === undefined) return { graph, blocks: [] };
  const isForward = (id: NodeId) => id <= loss;

  // Forward compute nodes by block (leaves — params, inputs — are never recomputed).
  const prefixes: string[] = [];
  graph.model.stages.forEach((stage, s) => stage.blocks.forEach((_, j) => prefixes.push(weightNames.block(s, j).prefix)));
  const blockOf = new Map<NodeId, number>();
  for (const n of graph.nodes) {
    if (!isForward(n.id) || n.op.kind === 'param' || n.op.kind === 'input') continue;
    const b = prefixes.findIndex((p) => n.label === p || n.label.startsWith(`${p}.`));
    if (b >= 0) blockOf.set(n.id, b);
  }
  // A block node read by a forward node outside the block is the block's output (the next
  // block's input): it stays live. Every other block node is an intermediate.
  const kept = new Set<NodeId>();
  for (const n of graph.nodes) {
    if (!isForward(n.id)) continue;
    for (const i of n.inputs) if (blockOf.has(i) && blockOf.get(i) !== blockOf.get(n.id)) kept.add(i);
  }
  const intermediate = (id: NodeId) => blockOf.has(id) && !kept.has(id);

  // Per block: the intermediates the backward reads, closed under their intermediate inputs, and
  // where the copies go: just before the first backward node that reads one of them.
  const recompute = prefixes.map(() => new Set<NodeId>());
  const insertAt = prefixes.map(() => Infinity);
  for (const n of graph.nodes) {
    if (isForward(n.id)) continue;
    for (const i of n.inputs) {
      if (!intermediate(i)) continue;
      const b = blockOf.get(i)!;
      insertAt[b] = Math.min(insertAt[b]!, n.id);
      const stack = [i];
      while (stack.length) {
        const id = stack.pop()!;
        if (recompute[b]!.has(id)) continue;
        recompute[b]!.add(id);
        for (const j of graph.nodes[id]!.inputs) if (intermediate(j)) stack.push(j);
      }
    }
  }

  const g = new GraphBuilder(graph.model, graph.inputShape);
  const renamed = new Map<NodeId, NodeId>();
  const copies = prefixes.map(() => new Map<NodeId, NodeId>());
  const copiesAt = new Map<NodeId, number[]>();
  insertAt.forEach((at, b) => {
    if (at !== Infinity) copiesAt.set(at, [...(copiesAt.get(at) ?? []), b]);
  });
  for (const node of graph.nodes) {
    for (const b of copiesAt.get(node.id) ?? []) {
      const copy = copies[b]!;
      for (const id of [...recompute[b]!].sort((x, y) => x - y)) {
        const orig = graph.nodes[id]!;
        if (orig.op.kind === 'param' || orig.op.kind === 'input') throw new Error('internal: recompute reached a leaf');
        copy.set(id, g.op(orig.op, orig.inputs.map((i) => copy.get(i) ?? renamed.get(i)!), `${orig.label}${RECOMPUTE_SUFFIX}`));
      }
    }
    const op = node.op;
    // A backward node reads the copy of a block intermediate; forward nodes read the originals.
    const use = (i: NodeId): NodeId => (!isForward(node.id) && intermediate(i) ? copies[blockOf.get(i)!]!.get(i)! : renamed.get(i)!);
    const id =
      op.kind === 'input' ? g.input(op.name, node.shape, node.label) : op.kind === 'param' ? g.param(op.name, node.shape) : g.op(op, node.inputs.map(use), node.label);
    renamed.set(node.id, id);
  }
  for (const { param, node } of graph.grads) g.grad(param, renamed.get(node)!);
  const blocks = prefixes.flatMap((block, b) => (recompute[b]!.size ? [{ block, nodes: recompute[b]!.size }] : []));
  return { graph: g.build(), blocks };
}
