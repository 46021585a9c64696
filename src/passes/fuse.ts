// Fusion: a folded graph (no view reads a view) → the list of kernels that compute it, in graph
// order. Each kernel names the IR nodes it implements and reads its operands through the index
// maps of the views in front of them, so no data-movement view is ever materialised:
//   - linear (+ GELU, or ·GELU'(x) of a gelu_grad, when it is the linear's only reader)
//     (+ residual add when that is the only reader): one GEMM with a fused epilogue; both its
//     operands read through views' maps (training: dX = dY·W reads the weight transposed,
//     dW = dYᵀ·X reads two activations transposed), the `add` that accumulates a gradient
//     folded into the epilogue like a residual;
//   - layernorm whose value only GEMMs read as their A operand, each GEMM row one whole row of it
//     (through views or not), on a row-major input: a kernel that writes each row's mean and 1/σ
//     only, and every reading GEMM normalises A as it loads it (prologue fusion: the normalised
//     activation is never written; inference's norm2 and the norm1 of blocks without a channel
//     shift; training keeps them, dW reads their output as B);
//   - any other layernorm, layernorm_grad, layernorm_normalized, window attention and its two
//     gradient kernels, mean, cross_entropy(_grad): one kernel each, inputs read through maps;
//   - sum: a reduction kernel; a `mul` read only by a sum is folded into its load (dγ = Σ dy·x̂);
//   - a lone gelu, add, scale, mul, gelu_grad or dropout: an elementwise kernel, reading through
//     maps (dropout draws its mask from the counter-based RNG in the kernel);
//   - constant: a fill kernel;
//   - bias_table_grad, view_grad: deterministic gather-sums through host tables (no atomics);
//   - a view read by a graph output (the features' N×C×D×H×W layout, a gradient whose param is
//     read through a non-trivial view): the one copy kernel.
import { consumers, size, type Graph, type Node, type NodeId, type WindowAttentionOp } from '../ir/graph.js';
import { rowMajorStrides, stridedView, usesVar, type IndexMap } from '../ir/indexmap.js';

/** How a kernel reads an operand: a materialised tensor, directly or through a view's map. */
export interface TensorRead {
  /** The materialised node read (a kernel's output, the clip input, or a param). */
  source: NodeId;
  /** The view's map (its outShape is what the kernel sees, its inShape the source's); null: direct. */
  map: IndexMap | null;
  /** The view node folded into this read, if any. */
  view: NodeId | null;
  /** e.g. 'pad+roll+window_partition+tcs @ layers.0.blocks.0.attn', or the source's label. */
  describes: string;
}

interface KernelBase {
  /** The IR nodes this kernel implements (views folded into its reads included). */
  nodes: NodeId[];
  /** The node whose value this kernel writes (a materialised tensor, row-major). */
  out: NodeId;
}

/**
 * A LayerNorm applied to a GEMM's A operand as it is loaded: A's read (`a`) is of the LayerNorm's
 * input x, through the map the GEMM had over the LayerNorm's output (same shape, same row-major
 * offsets), and the element at offset s becomes (x[s] − mean[r])·rstd[r]·γ[c] + β[c] with
 * r = s / channels, c = s mod channels; padding the map adds stays 0. Each GEMM row reads one
 * whole source row (keepsRows), so c is the GEMM's k and r is the same for the whole row.
 */
export interface LayerNormPrologue {
  /** The LayerNorm node: its kernel (kind 'layernorm_stats') writes [rows, 2] = (mean, rstd) there. */
  stats: NodeId;
  gamma: NodeId;
  beta: NodeId;
  channels: number;
  rows: number;
}

export type FusedKernel =
  | (KernelBase & {
      kind: 'gemm';
      a: TensorRead;
      /** A LayerNorm folded into A's load, or null. */
      layerNorm: LayerNormPrologue | null;
      /** The B operand [N, K]: a weight param, or (training) any tensor, through any map. */
      weight: TensorRead;
      bias: NodeId | null;
      gelu: boolean;
      /** The GELU input x of a gelu_grad fused into the epilogue (C ← C·GELU'(x)), or null. */
      geluGrad: TensorRead | null;
      residual: TensorRead | null;
      M: number;
      N: number;
      K: number;
    })
  | (KernelBase & { kind: 'layernorm'; x: TensorRead; gamma: NodeId; beta: NodeId; eps: number; rows: number; channels: number })
  /** A LayerNorm's row statistics only, [rows, 2] = (mean, 1/√(var + eps)), for GEMMs' prologues. */
  | (KernelBase & { kind: 'layernorm_stats'; x: TensorRead; eps: number; rows: number; channels: number })
  | (KernelBase & { kind: 'attention'; qkv: TensorRead; table: NodeId; op: WindowAttentionOp; windows: number; tokens: number; channels: number })
  | (KernelBase & { kind: 'gelu'; x: TensorRead })
  | (KernelBase & { kind: 'add'; a: TensorRead; b: TensorRead })
  | (KernelBase & { kind: 'mean'; x: TensorRead; axes: number[] })
  /** The final output layout: the only kernel whose work is moving data. */
  | (KernelBase & { kind: 'copy'; x: TensorRead })
  // Training graphs.
  /** A tensor filled with one value (the seed dloss = 1, the zero gradient of an unread param). */
  | (KernelBase & { kind: 'fill'; value: number })
  | (KernelBase & { kind: 'scale'; x: TensorRead; factor: number })
  | (KernelBase & { kind: 'mul'; a: TensorRead; b: TensorRead })
  | (KernelBase & { kind: 'gelu_grad'; x: TensorRead; dy: TensorRead })
  | (KernelBase & { kind: 'dropout'; x: TensorRead; rate: number; stream: number; perSample: boolean })
  /** Σ over `axes` of the product of the factors (one, or two when a mul is folded in). */
  | (KernelBase & { kind: 'sum'; factors: TensorRead[]; axes: number[] })
  | (KernelBase & { kind: 'layernorm_grad'; x: TensorRead; gamma: NodeId; dy: TensorRead; eps: number; rows: number; channels: number })
  | (KernelBase & { kind: 'layernorm_normalized'; x: TensorRead; eps: number; rows: number; channels: number })
  | (KernelBase & AttentionShape & { kind: 'attention_grad_scores'; qkv: TensorRead; table: NodeId; dout: TensorRead })
  | (KernelBase & AttentionShape & { kind: 'attention_grad_qkv'; qkv: TensorRead; table: NodeId; dout: TensorRead; ds: TensorRead })
  | (KernelBase & AttentionShape & { kind: 'bias_table_grad'; ds: TensorRead; rows: number })
  /** The exact transpose of `map` applied to dy (read through its own view, if any). */
  | (KernelBase & { kind: 'view_grad'; dy: TensorRead; map: IndexMap; what: string })
  | (KernelBase & { kind: 'cross_entropy'; logits: TensorRead; labels: TensorRead; smoothing: number })
  | (KernelBase & { kind: 'cross_entropy_grad'; logits: TensorRead; labels: TensorRead; dloss: TensorRead; smoothing: number });

interface AttentionShape {
  op: WindowAttentionOp;
  windows: number;
  tokens: number;
  channels: number;
}

export interface FusedGraph {
  graph: Graph;
  kernels: FusedKernel[];
  /** The materialised node holding each graph output. */
  outputs: { features: NodeId; logits?: NodeId; loss?: NodeId };
  /** Training graphs: the materialised node holding each param's gradient (kept to the end). */
  grads: { param: string; node: NodeId }[];
}

/** The reads of a kernel, for listings and memory planning. */
export function kernelReads(k: FusedKernel): TensorRead[] {
  switch (k.kind) {
    case 'gemm':
      return [k.a, k.weight, ...(k.geluGrad ? [k.geluGrad] : []), ...(k.residual ? [k.residual] : [])];
    case 'layernorm':
    case 'layernorm_stats':
    case 'layernorm_normalized':
      return [k.x];
    case 'attention':
      return [k.qkv];
    case 'gelu':
    case 'mean':
    case 'copy':
    case 'scale':
    case 'dropout':
      return [k.x];
    case 'add':
    case 'mul':
      return [k.a, k.b];
    case 'gelu_grad':
    case 'layernorm_grad':
      return [k.x, k.dy];
    case 'fill':
      return [];
    case 'sum':
      return k.factors;
    case 'attention_grad_scores':
      return [k.qkv, k.dout];
    case 'attention_grad_qkv':
      return [k.qkv, k.dout, k.ds];
    case 'bias_table_grad':
      return [k.ds];
    case 'view_grad':
      return [k.dy];
    case 'cross_entropy':
      return [k.logits, k.labels];
    case 'cross_entropy_grad':
      return [k.logits, k.labels, k.dloss];
  }
}

/**
 * Elements of the tensor a kernel writes: its node's, except a LayerNorm whose kernel writes only
 * the row statistics (two per row).
 */
export function outputElements(graph: Graph, k: FusedKernel): number {
  return k.kind === 'layernorm_stats' ? 2 * k.rows : size(graph.nodes[k.out]!.shape);
}

/** Every materialised node a kernel reads (activations and params). */
export function kernelSources(k: FusedKernel): NodeId[] {
  const ids = kernelReads(k).map((r) => r.source);
  if (k.kind === 'gemm' && k.bias !== null) ids.push(k.bias);
  if (k.kind === 'gemm' && k.layerNorm) ids.push(k.layerNorm.stats, k.layerNorm.gamma, k.layerNorm.beta);
  if (k.kind === 'layernorm') ids.push(k.gamma, k.beta);
  if (k.kind === 'layernorm_grad') ids.push(k.gamma);
  if (k.kind === 'attention' || k.kind === 'attention_grad_scores' || k.kind === 'attention_grad_qkv') ids.push(k.table);
  return ids;
}

/** Fusions a backend may decline for its adapter (each on by default). */
export interface FusionOptions {
  /**
   * LayerNorms into their GEMMs' A-loads (LayerNormPrologue). It saves writing and reading the
   * normalised activation, and costs arithmetic in the GEMM's inner loop: the WebGPU backend keeps
   * it for GPUs and declines it on CPU adapters, where it measured slower (backends/webgpu/plan.ts).
   */
  layerNormPrologue?: boolean;
}

export function fuse(graph: Graph, options: FusionOptions = {}): FusedGraph {
  const users = consumers(graph);
  const node = (id: NodeId): Node => graph.nodes[id]!;
  const absorbed = new Set<NodeId>();
  const kernels: FusedKernel[] = [];

  const read = (id: NodeId): TensorRead => {
    const n = node(id);
    if (n.op.kind !== 'view') return { source: id, map: null, view: null, describes: `${n.label} (row-major)` };
    const src = node(n.inputs[0]!);
    if (src.op.kind === 'view') throw new Error(`internal: fuse needs folded views; view ${id} reads view ${src.id}`);
    return { source: src.id, map: n.op.map, view: id, describes: `${n.op.what} @ ${n.label}` };
  };
  const viewsOf = (reads: TensorRead[]) => reads.flatMap((r) => (r.view !== null ? [r.view] : []));
  const soleUser = (id: NodeId, kind: Node['op']['kind']): Node | null => {
    const u = users[id]!;
    return u.length === 1 && node(u[0]!).op.kind === kind ? node(u[0]!) : null;
  };
  const attentionShape = (op: WindowAttentionOp, qkv: NodeId): AttentionShape => {
    const [windows, tokens, c3] = node(qkv).shape as [number, number, number];
    return { op, windows, tokens, channels: c3 / 3 };
  };
  /** A row-wise kernel's grid: rows × the last dim. */
  const rowsOf = (n: Node) => {
    const channels = n.shape.at(-1)!;
    return { rows: size(n.shape) / channels, channels };
  };
  // Reads that must be a tensor in memory as it is (the kernel indexes it row-major).
  const direct = (r: TensorRead, what: string): TensorRead => {
    if (r.map && !isRowMajorIdentity(r.map)) throw new Error(`internal: fusion reads ${what} through a gather (${r.describes})`);
    return r;
  };
  /** Muls read only by a sum: the sum reads their factors (no kernel of their own). */
  const foldedIntoSum = new Set<NodeId>();
  /** LayerNorms applied in the A-loads of the GEMMs that read them (see LayerNormPrologue). */
  const prologues = new Map<NodeId, LayerNormPrologue>();
  for (const n of options.layerNormPrologue === false ? [] : graph.nodes) {
    if (n.op.kind !== 'layernorm' || !intoGemmLoads(graph, users, n.id)) continue;
    const x = read(n.inputs[0]!);
    if (x.map && !isRowMajorIdentity(x.map)) continue;
    prologues.set(n.id, { stats: n.id, gamma: n.inputs[1]!, beta: n.inputs[2]!, ...rowsOf(n) });
  }

  for (const n of graph.nodes) {
    if (absorbed.has(n.id)) continue;
    const op = n.op;
    switch (op.kind) {
      case 'input':
      case 'param':
      case 'view':
        break;
      case 'linear': {
        let a = read(n.inputs[0]!);
        const layerNorm = prologues.get(a.source) ?? null;
        if (layerNorm) {
          // Read x itself where the GEMM read the LayerNorm's output: same shape, same offsets.
          const x = read(node(a.source).inputs[0]!);
          a = { ...a, source: x.source, describes: `${a.describes}, LayerNorm '${node(a.source).label}' applied on load` };
        }
        const weight = read(n.inputs[1]!);
        let tail = n;
        const geluNode = soleUser(n.id, 'gelu');
        if (geluNode) tail = geluNode;
        // dH = gelu_grad(H, dY) with dY this GEMM's value: C ← C·GELU'(H) in the epilogue
        // (H computed earlier: kernels run in graph order).
        let geluGrad: TensorRead | null = null;
        const geluGradNode = geluNode ? null : soleUser(n.id, 'gelu_grad');
        if (geluGradNode && geluGradNode.inputs[1] === n.id && geluGradNode.inputs[0] !== n.id) {
          const x = read(geluGradNode.inputs[0]!);
          if (x.source < n.id) {
            geluGrad = x;
            tail = geluGradNode;
          }
        }
        let residual: TensorRead | null = null;
        const addNode = soleUser(tail.id, 'add');
        if (addNode) {
          const other = addNode.inputs[0] === tail.id ? addNode.inputs[1]! : addNode.inputs[0]!;
          const r = other !== tail.id ? read(other) : null;
          // The residual must be computed already: kernels run in graph order.
          if (r && r.source < n.id) {
            residual = r;
            tail = addNode;
          }
        }
        const nodes = [...viewsOf([a, weight]), n.id];
        if (geluNode) nodes.push(geluNode.id);
        if (geluGrad) nodes.push(...viewsOf([geluGrad]), users[n.id]![0]!);
        if (residual) nodes.push(...viewsOf([residual]), tail.id);
        for (const id of nodes) absorbed.add(id);
        const K = node(n.inputs[1]!).shape[1]!;
        const N = node(n.inputs[1]!).shape[0]!;
        kernels.push({
          kind: 'gemm',
          nodes,
          out: tail.id,
          a,
          layerNorm,
          weight,
          bias: op.bias ? n.inputs[2]! : null,
          gelu: geluNode !== null,
          geluGrad,
          residual,
          M: size(n.shape) / N,
          N,
          K,
        });
        break;
      }
      case 'layernorm': {
        const x = read(n.inputs[0]!);
        if (prologues.has(n.id)) {
          kernels.push({ kind: 'layernorm_stats', nodes: [...viewsOf([x]), n.id], out: n.id, x, eps: op.eps, ...rowsOf(n) });
          break;
        }
        const channels = n.shape.at(-1)!;
        kernels.push({
          kind: 'layernorm',
          nodes: [...viewsOf([x]), n.id],
          out: n.id,
          x,
          gamma: n.inputs[1]!,
          beta: n.inputs[2]!,
          eps: op.eps,
          rows: size(n.shape) / channels,
          channels,
        });
        break;
      }
      case 'window_attention': {
        const qkv = read(n.inputs[0]!);
        const [windows, tokens, channels] = n.shape as [number, number, number];
        kernels.push({ kind: 'attention', nodes: [...viewsOf([qkv]), n.id], out: n.id, qkv, table: n.inputs[1]!, op, windows, tokens, channels });
        break;
      }
      case 'gelu': {
        const x = read(n.inputs[0]!);
        kernels.push({ kind: 'gelu', nodes: [...viewsOf([x]), n.id], out: n.id, x });
        break;
      }
      case 'add': {
        const a = read(n.inputs[0]!);
        const b = read(n.inputs[1]!);
        kernels.push({ kind: 'add', nodes: [...viewsOf([a, b]), n.id], out: n.id, a, b });
        break;
      }
      case 'mean': {
        const x = read(n.inputs[0]!);
        kernels.push({ kind: 'mean', nodes: [...viewsOf([x]), n.id], out: n.id, x, axes: [...op.axes] });
        break;
      }
      case 'output': {
        // A materialised value is its own output; a view of one is written out in its layout.
        const x = read(n.inputs[0]!);
        if (x.map) kernels.push({ kind: 'copy', nodes: [x.view!, n.id], out: n.id, x });
        break;
      }
      case 'constant':
        kernels.push({ kind: 'fill', nodes: [n.id], out: n.id, value: op.value });
        break;
      case 'scale': {
        const x = read(n.inputs[0]!);
        kernels.push({ kind: 'scale', nodes: [...viewsOf([x]), n.id], out: n.id, x, factor: op.factor });
        break;
      }
      case 'mul': {
        if (soleUser(n.id, 'sum')) {
          foldedIntoSum.add(n.id);
          break;
        }
        const a = read(n.inputs[0]!);
        const b = read(n.inputs[1]!);
        kernels.push({ kind: 'mul', nodes: [...viewsOf([a, b]), n.id], out: n.id, a, b });
        break;
      }
      case 'gelu_grad': {
        const x = read(n.inputs[0]!);
        const dy = read(n.inputs[1]!);
        kernels.push({ kind: 'gelu_grad', nodes: [...viewsOf([x, dy]), n.id], out: n.id, x, dy });
        break;
      }
      case 'dropout': {
        const x = read(n.inputs[0]!);
        kernels.push({ kind: 'dropout', nodes: [...viewsOf([x]), n.id], out: n.id, x, rate: op.rate, stream: op.stream, perSample: op.perSample });
        break;
      }
      case 'sum': {
        const input = node(n.inputs[0]!);
        const folded = foldedIntoSum.has(input.id);
        const factors = folded ? input.inputs.map(read) : [read(input.id)];
        const nodes = [...viewsOf(factors), ...(folded ? [input.id] : []), n.id];
        kernels.push({ kind: 'sum', nodes, out: n.id, factors, axes: [...op.axes] });
        break;
      }
      case 'layernorm_grad': {
        const x = read(n.inputs[0]!);
        const dy = read(n.inputs[2]!);
        kernels.push({ kind: 'layernorm_grad', nodes: [...viewsOf([x, dy]), n.id], out: n.id, x, gamma: n.inputs[1]!, dy, eps: op.eps, ...rowsOf(n) });
        break;
      }
      case 'layernorm_normalized': {
        const x = read(n.inputs[0]!);
        kernels.push({ kind: 'layernorm_normalized', nodes: [...viewsOf([x]), n.id], out: n.id, x, eps: op.eps, ...rowsOf(n) });
        break;
      }
      case 'attention_grad_scores':
      case 'attention_grad_qkv': {
        const qkv = read(n.inputs[0]!);
        const dout = read(n.inputs[2]!);
        const shape = attentionShape(op.attention, n.inputs[0]!);
        const table = n.inputs[1]!;
        if (op.kind === 'attention_grad_scores') {
          kernels.push({ kind: op.kind, nodes: [...viewsOf([qkv, dout]), n.id], out: n.id, qkv, table, dout, ...shape });
        } else {
          const ds = read(n.inputs[3]!);
          kernels.push({ kind: op.kind, nodes: [...viewsOf([qkv, dout, ds]), n.id], out: n.id, qkv, table, dout, ds, ...shape });
        }
        break;
      }
      case 'bias_table_grad': {
        const ds = direct(read(n.inputs[0]!), `dS of '${n.label}'`);
        const [windows, , tokens] = node(n.inputs[0]!).shape as [number, number, number, number];
        kernels.push({
          kind: 'bias_table_grad',
          nodes: [...viewsOf([ds]), n.id],
          out: n.id,
          ds,
          rows: op.rows,
          op: op.attention,
          windows,
          tokens,
          channels: 0,
        });
        break;
      }
      case 'view_grad': {
        const dy = read(n.inputs[0]!);
        kernels.push({ kind: 'view_grad', nodes: [...viewsOf([dy]), n.id], out: n.id, dy, map: op.map, what: op.what });
        break;
      }
      case 'cross_entropy':
      case 'cross_entropy_grad': {
        const logits = direct(read(n.inputs[0]!), `the logits of '${n.label}'`);
        const labels = direct(read(n.inputs[1]!), `the labels of '${n.label}'`);
        if (op.kind === 'cross_entropy') {
          kernels.push({ kind: op.kind, nodes: [...viewsOf([logits, labels]), n.id], out: n.id, logits, labels, smoothing: op.smoothing });
        } else {
          const dloss = direct(read(n.inputs[2]!), `dloss of '${n.label}'`);
          kernels.push({ kind: op.kind, nodes: [...viewsOf([logits, labels, dloss]), n.id], out: n.id, logits, labels, dloss, smoothing: op.smoothing });
        }
        break;
      }
      default: {
        const unknown: never = op;
        throw new Error(`internal: fusion has no kernel for '${(unknown as Node['op']).kind}' ('${n.label}')`);
      }
    }
  }

  const outputOf = (id: NodeId): NodeId => {
    const src = node(id).inputs[0]!;
    return node(src).op.kind === 'view' ? id : src;
  };
  const outputs = {
    features: outputOf(graph.outputs.features),
    ...(graph.outputs.logits !== undefined ? { logits: outputOf(graph.outputs.logits) } : {}),
    ...(graph.outputs.loss !== undefined ? { loss: outputOf(graph.outputs.loss) } : {}),
  };
  for (const id of Object.values(outputs)) {
    const k = node(id).op.kind;
    if (k === 'input' || k === 'param') throw new Error(`internal: a graph output is the ${k} itself`);
  }
  // A gradient is a kernel's output, or a view of one: the same memory (a reshape, e.g. the
  // patch embedding's kernel) is an alias; any other view is written out by a copy kernel.
  const grads = (graph.grads ?? []).map(({ param, node: id }) => {
    const r = read(id);
    const k = node(r.source).op.kind;
    if (k === 'input' || k === 'param') throw new Error(`internal: the gradient of '${param}' is the ${k} '${node(r.source).label}' itself`);
    if (!r.map || isRowMajorIdentity(r.map)) return { param, node: r.source };
    kernels.push({ kind: 'copy', nodes: [r.view!], out: r.view!, x: r });
    return { param, node: r.view! };
  });
  return { graph, kernels, outputs, grads };
}

/**
 * Whether every reader of `id` is a linear layer taking it as its A operand, directly or through
 * views read only that way (then a LayerNorm at `id` can be applied in those GEMMs' loads).
 */
function intoGemmLoads(graph: Graph, users: NodeId[][], id: NodeId): boolean {
  const readers = users[id]!;
  if (!readers.length) return false;
  return readers.every((u) => {
    const n = graph.nodes[u]!;
    if (n.op.kind === 'view') return keepsRows(n.op.map) && intoGemmLoads(graph, users, u);
    return n.op.kind === 'linear' && n.inputs[0] === id && n.inputs.indexOf(id, 1) < 0;
  });
}

/**
 * Whether row (…) of the view is one whole row of its source, channel c from channel c (or all
 * zeros): then each row of a GEMM reading it normalises with one row's statistics, read once per
 * row, and γ[k], β[k] (kernels/gemm.ts normalizeA). Not so for the channel shift, whose channel
 * groups come from different frames: that LayerNorm keeps its own kernel.
 */
function keepsRows(map: IndexMap): boolean {
  const channel = map.outShape.length - 1;
  const last = map.index.at(-1)!;
  if (last.k !== 'var' || last.i !== channel || map.outShape[channel] !== map.inShape.at(-1)) return false;
  return map.index.slice(0, -1).every((e) => !usesVar(e, channel)) && !(map.valid && usesVar(map.valid, channel));
}

/** A view that leaves memory order unchanged (a reshape): reading through it is reading the tensor. */
export function isRowMajorIdentity(map: IndexMap): boolean {
  const strided = stridedView(map);
  const rowMajor = rowMajorStrides(map.outShape);
  return strided !== null && strided.offset === 0 && strided.strides.every((s, k) => s === rowMajor[k] || map.outShape[k] === 1);
}
