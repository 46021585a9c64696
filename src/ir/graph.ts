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
  /** A graph input by name: 'clip' [B, Cin, T, H, W]; training graphs add 'labels' [B] (class indices). */
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
  | { kind: 'output'; name: 'features' | 'logits' | 'loss' }
  | TrainingOp;

/**
 * Ops that only training graphs hold: the training-mode forward (dropout, loss) and the adjoints
 * the autodiff pass appends (src/passes/autodiff.ts). Conventions: `dy` is the gradient of the
 * loss with respect to an op's output; every op is deterministic, so a step replays bit for bit.
 */
export type TrainingOp =
  /**
   * A tensor of `shape` filled with `value`, no inputs: the seed dloss = 1 of the backward pass,
   * and the zero gradient of a parameter the loss does not read.
   */
  | { kind: 'constant'; value: number; shape: number[] }
  /** Σ over `axes`; those dims are removed (a linear layer's bias gradient: Σ over rows). */
  | { kind: 'sum'; axes: number[] }
  /** y = factor·x (the 1/count of a mean's adjoint, loss scaling). */
  | { kind: 'scale'; factor: number }
  /** Elementwise product of two tensors of the same shape. */
  | { kind: 'mul' }
  /** inputs [x, dy] → dy·GELU'(x), exact (erf) GELU. */
  | { kind: 'gelu_grad' }
  /** inputs [x, gamma, dy] → dx of LayerNorm over the last dim (biased variance, eps inside √). */
  | { kind: 'layernorm_grad'; eps: number }
  /** inputs [x] → x̂ = (x − mean)/√(var + eps) over the last dim (for dγ = Σ_rows dy·x̂). */
  | { kind: 'layernorm_normalized'; eps: number }
  /**
   * inputs [qkv, biasTable, dout] → dS [Bw, heads, N, N]: the gradient of the pre-softmax scores
   * S = q·kᵀ·scale + bias + mask of `attention` (the forward op's attributes, repeated):
   * dS = P ∘ (dP − rowsum(dP ∘ P)) with P = softmax(S), dP = dout_h·v_hᵀ.
   */
  | { kind: 'attention_grad_scores'; attention: WindowAttentionOp }
  /**
   * inputs [qkv, biasTable, dout, dS] → dqkv [Bw, N, 3C]: dq = dS·k·scale, dk = dSᵀ·q·scale,
   * dv = Pᵀ·dout, per window and head, written in the qkv channel layout.
   */
  | { kind: 'attention_grad_qkv'; attention: WindowAttentionOp }
  /**
   * inputs [dS [Bw, heads, N, N]] → [rows, heads]: the bias table's gradient,
   * out[r, h] = Σ over windows w and (i, j) with biasIndex[g(w)][i][j] = r of dS[w, h, i, j].
   * `rows` is the table's row count.
   */
  | { kind: 'bias_table_grad'; attention: WindowAttentionOp; rows: number }
  /**
   * The adjoint (transpose) of the view with this map: input shape map.outShape, output shape
   * map.inShape; out[j] = Σ over output indices i with map(i) = j (and valid(i)) of dy[i].
   * Autodiff emits it only for maps that are not bijections (a bijection's adjoint is the view
   * of its inverse map): channel shift with `keep`/`zeros`, padding, crops, patch gathers. (The
   * adjoint of a mean or a sum is a plain `view` — a broadcast gather — then a `scale`.)
   */
  | { kind: 'view_grad'; map: IndexMap; what: string }
  /**
   * Training-mode dropout: y = x·mask/(1 − rate), mask drawn from the counter-based RNG
   * (src/ir/rng.ts) keyed by the step's key, `stream` (unique per op in a graph) and a counter:
   * the element's flat row-major index, or, when `perSample`, its index along axis 0 (drop_path:
   * a whole sample's residual branch is kept or dropped). Kept when `keeps(rate, key, stream,
   * counter)`.
   * Its adjoint is the same op (same stream) applied to dy: the mask replays exactly.
   */
  | { kind: 'dropout'; rate: number; stream: number; perSample: boolean }
  /**
   * inputs [logits [B, K], labels [B] (class indices stored as numbers)] → [1]: the mean over
   * the batch of softmax cross-entropy, with label smoothing ε: target = (1−ε)·onehot + ε/K.
   */
  | { kind: 'cross_entropy'; smoothing: number }
  /** inputs [logits, labels, dloss [1]] → dlogits [B, K] = dloss·(softmax(logits) − target)/B. */
  | { kind: 'cross_entropy_grad'; smoothing: number };

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
  outputs: { features: NodeId; logits?: NodeId; loss?: NodeId };
  /** Training graphs: each trainable param's gradient node (same shape as the param), by name. */
  grads?: { param: string; node: NodeId }[];
  model: ModelConfig;
  /** [B, Cin, T, H, W] */
  inputShape: number[];
}

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
      if (op.name === 'loss' && size(inputs[0]!) !== 1) fail(op, `the loss must be one value, got ${fmt(inputs[0]!)}`);
      return [...inputs[0]!];
    case 'constant':
      arity(0);
      return [...op.shape];
    case 'sum': {
      arity(1);
      const x = inputs[0]!;
      for (const a of op.axes) if (a < 0 || a >= x.length) fail(op, `axis ${a} outside ${fmt(x)}`);
      return x.filter((_, i) => !op.axes.includes(i));
    }
    case 'scale':
    case 'dropout':
      arity(1);
      return [...inputs[0]!];
    case 'mul':
    case 'gelu_grad':
      arity(2);
      if (!same(inputs[0]!, inputs[1]!)) fail(op, `${fmt(inputs[0]!)} and ${fmt(inputs[1]!)} differ`);
      return [...inputs[0]!];
    case 'layernorm_normalized':
      arity(1);
      return [...inputs[0]!];
    case 'layernorm_grad': {
      arity(3);
      const [x, g, dy] = inputs as number[][];
      if (!same(g!, [x!.at(-1)!]) || !same(x!, dy!)) fail(op, `x ${fmt(x!)}, gamma ${fmt(g!)}, dy ${fmt(dy!)} disagree`);
      return [...x!];
    }
    case 'attention_grad_scores':
    case 'attention_grad_qkv': {
      arity(op.kind === 'attention_grad_scores' ? 3 : 4);
      const out = inferShape(op.attention, inputs.slice(0, 2));
      const [bw, n] = out as [number, number, number];
      if (!same(inputs[2]!, out)) fail(op, `dout ${fmt(inputs[2]!)} must match the attention output ${fmt(out)}`);
      const scores = [bw, op.attention.heads, n, n];
      if (op.kind === 'attention_grad_scores') return scores;
      if (!same(inputs[3]!, scores)) fail(op, `dS ${fmt(inputs[3]!)} must be ${fmt(scores)}`);
      return [...inputs[0]!];
    }
    case 'bias_table_grad': {
      arity(1);
      const ds = inputs[0]!;
      const n = ds[2]!;
      if (ds.length !== 4 || ds[1] !== op.attention.heads || ds[3] !== n) fail(op, `dS must be [Bw, ${op.attention.heads}, N, N], got ${fmt(ds)}`);
      if (op.attention.biasIndex.length !== op.attention.biasGroups * n * n) fail(op, `bias index does not match ${n} tokens`);
      return [op.rows, op.attention.heads];
    }
    case 'view_grad':
      arity(1);
      if (!same(op.map.outShape, inputs[0]!)) fail(op, `the adjoint reads ${fmt(op.map.outShape)} but dy is ${fmt(inputs[0]!)}`);
      return [...op.map.inShape];
    case 'cross_entropy':
    case 'cross_entropy_grad': {
      arity(op.kind === 'cross_entropy' ? 2 : 3);
      const [logits, labels, dloss] = inputs as number[][];
      if (logits!.length !== 2 || !same(labels!, [logits![0]!])) fail(op, `logits ${fmt(logits!)} and labels ${fmt(labels!)} disagree`);
      if (op.kind === 'cross_entropy') return [1];
      if (!same(dloss!, [1])) fail(op, `dloss must be [1], got ${fmt(dloss!)}`);
      return [...logits!];
    }
  }
}

/** Builds a graph node by node, inferring and checking each shape as it goes. */
export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly inputs: NodeId[] = [];
  private readonly params: NodeId[] = [];
  private readonly outputs: { features?: NodeId; logits?: NodeId; loss?: NodeId } = {};
  private readonly grads: { param: string; node: NodeId }[] = [];

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

  /** Declares `node` the gradient of the loss with respect to the param named `param`. */
  grad(param: string, node: NodeId): void {
    const p = this.params.find((id) => this.nodes[id]!.op.kind === 'param' && (this.nodes[id]!.op as { name: string }).name === param);
    if (p === undefined) throw new Error(`internal: gradient of unknown param '${param}'`);
    const [a, b] = [this.shape(p), this.shape(node)];
    if (!same(a, b)) throw new Error(`internal: gradient of '${param}' is ${fmt(b)}, the param ${fmt(a)}`);
    this.grads.push({ param, node });
  }

  build(): Graph {
    if (this.outputs.features === undefined) throw new Error('internal: graph has no features output');
    return {
      nodes: this.nodes,
      inputs: this.inputs,
      params: this.params,
      outputs: {
        features: this.outputs.features,
        ...(this.outputs.logits !== undefined ? { logits: this.outputs.logits } : {}),
        ...(this.outputs.loss !== undefined ? { loss: this.outputs.loss } : {}),
      },
      ...(this.grads.length > 0 ? { grads: [...this.grads] } : {}),
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

/**
 * Bytes of one float32, the element type of every tensor of the graph: what memory plans, limits
 * and buffers are counted in (a backend that stores f16 says so itself, webgpu/precision.ts).
 */
export const F32_BYTES = 4;

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
