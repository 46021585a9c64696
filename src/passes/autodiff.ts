// Reverse-mode differentiation of a training graph (one with a 'loss' output): the forward graph
// is kept node for node (same ids), and the backward graph is appended — from dloss = 1, each
// node's adjoint in reverse order, fan-out accumulated with `add` — ending in `Graph.grads`, one
// gradient node per param. Only nodes that depend on a param and feed the loss are
// differentiated (the clip's gather, the features output get no adjoint).
//
// Data movement stays data movement: the adjoint of a view whose map is a bijection is a view of
// the inverse map (a permutation: roll, window partition/reverse, cyclic TPS, reshapes), which
// fold-views composes into the backward kernels' loads like any forward view; any other map
// (padding, crop, `keep`/`zeros` shifts, patch gathers) gets `view_grad`, its exact transpose.
// Run it on the lowered graph, before foldViews: one view per movement inverts most easily.
import { GraphBuilder, type Graph, type Node, type NodeId, type Op } from '../ir/graph.js';
import { classifyMap } from '../ir/indexmap.js';
import * as maps from '../ir/maps.js';

/** How the adjoint of each view was expressed: for docs and tests. */
export interface ViewAdjoint {
  label: string;
  what: string;
  adjoint: 'inverse_view' | 'view_grad';
  /**
   * Whether no two outputs read the same input (null: too large to enumerate). An injective
   * view_grad is a scatter without accumulation: a backend needs no atomics for it.
   */
  injective: boolean | null;
}

export interface Differentiated {
  graph: Graph;
  views: ViewAdjoint[];
}

/** The training graph with its backward pass appended and `grads` set for every param. */
export function differentiate(graph: Graph): Differentiated {
  const loss = graph.outputs.loss;
  if (loss === undefined) throw new Error('internal: autodiff needs a graph with a loss output (lowerModel(…, { mode: "train" }))');
  const g = replay(graph);
  const needs = dependsOnParams(graph);
  const contributions = new Map<NodeId, NodeId[]>();
  const contribute = (to: NodeId, grad: NodeId): void => {
    if (!needs[to]) return;
    contributions.set(to, [...(contributions.get(to) ?? []), grad]);
  };
  const views: ViewAdjoint[] = [];
  const gradOf = new Map<NodeId, NodeId>();

  contributions.set(loss, [g.op({ kind: 'constant', value: 1, shape: [...graph.nodes[loss]!.shape] }, [], 'loss.backward')]);
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    const parts = contributions.get(id);
    if (!parts || !needs[id]) continue;
    const node = graph.nodes[id]!;
    const label = `${node.label}.backward`;
    // Fan-out: the gradient of a value read several times is the sum of what each reader sends.
    const dy = parts.reduce((a, b) => g.op({ kind: 'add' }, [a, b], label));
    gradOf.set(id, dy);
    adjoint(g, graph, node, dy, label, contribute, views, needs);
  }

  for (const p of graph.params) {
    const node = graph.nodes[p]!;
    if (node.op.kind !== 'param') continue;
    const dy = gradOf.get(p) ?? g.op({ kind: 'constant', value: 0, shape: [...node.shape] }, [], `${node.label}.backward`);
    g.grad(node.op.name, dy);
  }
  return { graph: g.build(), views };
}

/** A builder holding a copy of `graph`'s nodes under the same ids. */
function replay(graph: Graph): GraphBuilder {
  const g = new GraphBuilder(graph.model, graph.inputShape);
  for (const node of graph.nodes) {
    const op = node.op;
    const id =
      op.kind === 'input' ? g.input(op.name, node.shape, node.label) : op.kind === 'param' ? g.param(op.name, node.shape) : g.op(op, node.inputs, node.label);
    if (id !== node.id) throw new Error('internal: autodiff expects node ids 0, 1, 2, … in order');
  }
  return g;
}

/** needs[id]: the node's value depends on some param (so its gradient can be nonzero). */
function dependsOnParams(graph: Graph): boolean[] {
  const needs = graph.nodes.map(() => false);
  for (const n of graph.nodes) needs[n.id] = n.op.kind === 'param' || n.inputs.some((i) => needs[i]);
  return needs;
}

type Emit = Exclude<Op, { kind: 'input' | 'param' }>;

function adjoint(
  g: GraphBuilder,
  graph: Graph,
  node: Node,
  dy: NodeId,
  label: string,
  contribute: (to: NodeId, grad: NodeId) => void,
  views: ViewAdjoint[],
  needs: boolean[],
): void {
  const op = node.op;
  const [a, b, c] = node.inputs;
  const shapeOf = (id: NodeId): number[] => graph.nodes[id]!.shape;
  const emit = (o: Emit, inputs: NodeId[]): NodeId => g.op(o, inputs, label);
  const view = (x: NodeId, map: ReturnType<typeof maps.permute>, what: string): NodeId => g.view(x, map, what, label);
  const want = (id: NodeId | undefined): id is NodeId => id !== undefined && needs[id]!;

  switch (op.kind) {
    case 'param':
    case 'input':
    case 'constant':
      return;
    case 'output':
      contribute(a!, dy);
      return;
    case 'view': {
      const kind = classifyMap(op.map);
      const inverse = kind?.inverse ?? null;
      views.push({ label: node.label, what: op.what, adjoint: inverse ? 'inverse_view' : 'view_grad', injective: kind?.injective ?? null });
      contribute(a!, inverse ? view(dy, inverse, `${op.what}⁻¹`) : emit({ kind: 'view_grad', map: op.map, what: op.what }, [dy]));
      return;
    }
    case 'linear': {
      // y[r, o] = Σ_i x[r, i]·W[o, i] + b[o] over the flattened rows r.
      const [outDim, inDim] = shapeOf(b!) as [number, number];
      if (want(a)) {
        const wT = view(b!, maps.permute([outDim, inDim], [1, 0]), 'transpose');
        contribute(a, emit({ kind: 'linear', bias: false }, [dy, wT]));
      }
      if (want(b)) {
        // dW[o, i] = Σ_r dy[r, o]·x[r, i]: a GEMM of dyᵀ [O, R] by xᵀ [I, R] (as linear's weight).
        const dyT = view(rowsFlat(g, dy, label), maps.permute([rows(shapeOf(a!)), outDim], [1, 0]), 'transpose');
        const xT = view(rowsFlat(g, a!, label), maps.permute([rows(shapeOf(a!)), inDim], [1, 0]), 'transpose');
        contribute(b, emit({ kind: 'linear', bias: false }, [dyT, xT]));
      }
      if (op.bias && want(c)) contribute(c, emit({ kind: 'sum', axes: leadingAxes(node.shape) }, [dy]));
      return;
    }
    case 'layernorm': {
      if (want(a)) contribute(a, emit({ kind: 'layernorm_grad', eps: op.eps }, [a, b!, dy]));
      const axes = leadingAxes(node.shape);
      if (want(b)) {
        const normalized = emit({ kind: 'layernorm_normalized', eps: op.eps }, [a!]);
        contribute(b, emit({ kind: 'sum', axes }, [emit({ kind: 'mul' }, [dy, normalized])]));
      }
      if (want(c)) contribute(c, emit({ kind: 'sum', axes }, [dy]));
      return;
    }
    case 'gelu':
      contribute(a!, emit({ kind: 'gelu_grad' }, [a!, dy]));
      return;
    case 'add':
      contribute(a!, dy);
      contribute(b!, dy);
      return;
    case 'mean':
    case 'sum': {
      const inShape = shapeOf(a!);
      const count = op.axes.reduce((n, ax) => n * inShape[ax]!, 1);
      const scaled = op.kind === 'mean' ? emit({ kind: 'scale', factor: 1 / count }, [dy]) : dy;
      contribute(a!, view(scaled, maps.broadcast(inShape, op.axes), 'broadcast'));
      return;
    }
    case 'scale':
      contribute(a!, emit({ kind: 'scale', factor: op.factor }, [dy]));
      return;
    case 'mul':
      if (want(a)) contribute(a, emit({ kind: 'mul' }, [dy, b!]));
      if (want(b)) contribute(b, emit({ kind: 'mul' }, [dy, a!]));
      return;
    case 'window_attention': {
      const dS = emit({ kind: 'attention_grad_scores', attention: op }, [a!, b!, dy]);
      if (want(a)) contribute(a, emit({ kind: 'attention_grad_qkv', attention: op }, [a, b!, dy, dS]));
      if (want(b)) contribute(b, emit({ kind: 'bias_table_grad', attention: op, rows: shapeOf(b)[0]! }, [dS]));
      return;
    }
    case 'dropout':
      // The same mask (same key, stream and counters) on dy.
      contribute(a!, emit(op, [dy]));
      return;
    case 'cross_entropy':
      contribute(a!, emit({ kind: 'cross_entropy_grad', smoothing: op.smoothing }, [a!, b!, dy]));
      return;
    case 'gelu_grad':
    case 'layernorm_grad':
    case 'layernorm_normalized':
    case 'attention_grad_scores':
    case 'attention_grad_qkv':
    case 'bias_table_grad':
    case 'view_grad':
    case 'cross_entropy_grad':
      throw new Error(`internal: autodiff has no adjoint of the adjoint op '${op.kind}' (no second derivatives)`);
  }
}

function rows(shape: readonly number[]): number {
  return shape.slice(0, -1).reduce((n, d) => n * d, 1);
}

function leadingAxes(shape: readonly number[]): number[] {
  return shape.slice(0, -1).map((_, k) => k);
}

/** x seen as [rows, channels] (itself when already 2-D). */
function rowsFlat(g: GraphBuilder, x: NodeId, label: string): NodeId {
  const shape = g.shape(x);
  if (shape.length === 2) return x;
  return g.view(x, maps.reshape(shape, [rows(shape), shape.at(-1)!]), 'reshape', label);
}
