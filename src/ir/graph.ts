// The graph IR: a list of nodes in topological order, each an op with static output shape.
// Data movement (reshape, roll, window partition, patch and channel shifts, …) is a `view` whose
// index map says where each output element is read from; the arithmetic ops are few and plain.
// Shapes are inferred here, once, by `inferShape`: lowering and every pass build nodes through it.
import type { ModelConfig } from '../lang/model.js';
import type { IndexMap } from './indexmap.js';

export type NodeId = number;

export interface Node {
  id: NodeId;
  op: Op;
  inputs: NodeId[];
  /** Static output shape. */
  shape: number[];
  /** The PyTorch module path it implements, e.g. 'layers.0.blocks.1.attn.qkv'. */
  label: string;
}

export type Op =
  /** The clip [B, Cin, T, H, W]. */
  | { kind: 'input'; name: string }
  /** A weight by state-dict name. */
  | { kind: 'param'; name: string }
  /** Pure data movement (1 input); `what` names it for listings: 'window_partition', 'tps', … */
  | { kind: 'view'; map: IndexMap; what: string }
  /** inputs [x, W(, b)]: y[..., o] = Σ_i x[..., i]·W[o, i] + b[o]. */
  | { kind: 'linear'; bias: boolean }
  /** inputs [x, gamma, beta]; normalises over the last dim. */
  | { kind: 'layernorm'; eps: number }
  /** Exact (erf) GELU. */
  | { kind: 'gelu' }
  /** Elementwise sum of two tensors of the same shape. */
  | { kind: 'add' }
  | WindowAttentionOp
  /** Mean over `axes`; those dims are removed. */
  | { kind: 'mean'; axes: number[] }
  /** Marks a graph output (1 input). */
  | { kind: 'output'; name: 'features' | 'logits' };

/**
 * inputs [qkv [Bw, N, 3C], biasTable [rows, heads]] → [Bw, N, C], heads merged (head h is
 * channels h·c … h·c+c−1; in qkv, q/k/v of head h start at channel 0·C/1·C/2·C + h·c).
 * Per window w: A = softmax(q·kᵀ·scale + table[biasIndex[g]] + mask[m]) with
 * g = (w div windowsPerGroup) mod biasGroups and m = w mod maskWindows; out = A·v.
 */
export interface WindowAttentionOp {
  kind: 'window_attention';
  heads: number;
  scale: number;
  /** [biasGroups][N][N] rows into the bias table. */
  biasIndex: Int32Array;
  biasGroups: number;
  windowsPerGroup: number;
  /** [maskWindows][N][N], added before the softmax; null for unshifted windows. */
  mask: Float32Array | null;
  maskWindows: number;
}

export interface Graph {
  nodes: Node[];
  inputs: NodeId[];
  params: NodeId[];
  outputs: { features: NodeId; logits?: NodeId };
  model: ModelConfig;
  /** [B, Cin, T, H, W] */
  inputShape: number[];
}

export type OpKind = Op['kind'];

const same = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);
const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

function fail(op: Op, message: string): never {
  // Lowering validates the user's model and input first, so a shape mismatch here is a bug.
  throw new Error(`internal: ${op.kind}: ${message}`);
}

/** The output shape of `op` applied to inputs of the given shapes; throws on a mismatch. */
export function inferShape(op: Op, inputs: readonly (readonly number[])[]): number[] {
  const arity = (n: number | number[]): void => {
    const ok = Array.isArray(n) ? n.includes(inputs.length) : inputs.length === n;
    if (!ok) fail(op, `expected ${String(n)} inputs, got ${inputs.length}`);
  };
  switch (op.kind) {
    case 'input':
    case 'param':
      return fail(op, 'leaf nodes have no inferred shape');
    case 'view': {
      arity(1);
      if (!same(op.map.inShape, inputs[0]!)) fail(op, `map reads ${fmt(op.map.inShape)} but input is ${fmt(inputs[0]!)}`);
      return [...op.map.outShape];
    }
    case 'linear': {
      arity(op.bias ? 3 : 2);
      const [x, w, b] = inputs as number[][];
      if (w!.length !== 2) fail(op, `weight must be 2-D, got ${fmt(w!)}`);
      if (x!.at(-1) !== w![1]) fail(op, `input ${fmt(x!)} does not match weight ${fmt(w!)}`);
      if (b && !same(b, [w![0]!])) fail(op, `bias ${fmt(b)} does not match weight ${fmt(w!)}`);
      return [...x!.slice(0, -1), w![0]!];
    }
    case 'layernorm': {
      arity(3);
      const [x, g, b] = inputs as number[][];
      const c = x!.at(-1)!;
      if (!same(g!, [c]) || !same(b!, [c])) fail(op, `gamma ${fmt(g!)}/beta ${fmt(b!)} do not match ${fmt(x!)}`);
      return [...x!];
    }
    case 'gelu':
      arity(1);
      return [...inputs[0]!];
    case 'add':
      arity(2);
      if (!same(inputs[0]!, inputs[1]!)) fail(op, `${fmt(inputs[0]!)} + ${fmt(inputs[1]!)}`);
      return [...inputs[0]!];
    case 'window_attention': {
      arity(2);
      const [qkv, table] = inputs as number[][];
      if (qkv!.length !== 3 || qkv![2]! % 3 !== 0) fail(op, `qkv must be [Bw, N, 3C], got ${fmt(qkv!)}`);
      const [bw, n, c3] = qkv as [number, number, number];
      const c = c3 / 3;
      if (c % op.heads !== 0) fail(op, `${op.heads} heads do not divide ${c} channels`);
      if (table!.length !== 2 || table![1] !== op.heads) fail(op, `bias table ${fmt(table!)} needs ${op.heads} columns`);
      if (op.biasIndex.length !== op.biasGroups * n * n) fail(op, `bias index holds ${op.biasIndex.length} entries, want ${op.biasGroups}·${n}²`);
      const rows = table![0]!;
      for (const r of op.biasIndex) if (r < 0 || r >= rows) fail(op, `bias index row ${r} outside a ${rows}-row table`);
      if (op.mask && op.mask.length !== op.maskWindows * n * n) fail(op, `mask holds ${op.mask.length} entries, want ${op.maskWindows}·${n}²`);
      return [bw, n, c];
    }
    case 'mean': {
      arity(1);
      const x = inputs[0]!;
      for (const a of op.axes) if (a < 0 || a >= x.length) fail(op, `axis ${a} outside ${fmt(x)}`);
      return x.filter((_, i) => !op.axes.includes(i));
    }
    case 'output':
      arity(1);
      return [...inputs[0]!];
  }
}

/** Builds a graph node by node, inferring and checking each shape as it goes. */
export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly inputs: NodeId[] = [];
  private readonly params: NodeId[] = [];
  private readonly outputs: { features?: NodeId; logits?: NodeId } = {};

  constructor(
    private readonly model: ModelConfig,
    private readonly inputShape: number[],
  ) {}

  shape(id: NodeId): number[] {
    return this.nodes[id]!.shape;
  }

  input(name: string, shape: number[], label = name): NodeId {
    const id = this.push({ kind: 'input', name }, [], shape, label);
    this.inputs.push(id);
    return id;
  }

  param(name: string, shape: number[]): NodeId {
    const id = this.push({ kind: 'param', name }, [], shape, name);
    this.params.push(id);
    return id;
  }

  /** Any non-leaf op; the shape comes from `inferShape`. */
  op(op: Exclude<Op, { kind: 'input' | 'param' }>, inputs: NodeId[], label: string): NodeId {
    const shape = inferShape(op, inputs.map((i) => this.shape(i)));
    const id = this.push(op, inputs, shape, label);
    if (op.kind === 'output') this.outputs[op.name] = id;
    return id;
  }

  view(x: NodeId, map: IndexMap, what: string, label: string): NodeId {
    return this.op({ kind: 'view', map, what }, [x], label);
  }

  build(): Graph {
    if (this.outputs.features === undefined) throw new Error('internal: graph has no features output');
    return {
      nodes: this.nodes,
      inputs: this.inputs,
      params: this.params,
      outputs: { features: this.outputs.features, ...(this.outputs.logits !== undefined ? { logits: this.outputs.logits } : {}) },
      model: this.model,
      inputShape: this.inputShape,
    };
  }

  private push(op: Op, inputs: NodeId[], shape: number[], label: string): NodeId {
    const id = this.nodes.length;
    this.nodes.push({ id, op, inputs, shape, label });
    return id;
  }
}

/** Number of elements of a shape. */
export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** For each node, the nodes that read it. */
export function consumers(graph: Graph): NodeId[][] {
  const users: NodeId[][] = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const i of n.inputs) users[i]!.push(n.id);
  return users;
}
