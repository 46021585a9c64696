// Fusion: a folded graph (no view reads a view) → the list of kernels that compute it, in graph
// order. Each kernel names the IR nodes it implements and reads its operands through the index
// maps of the views in front of them, so no data-movement view is ever materialised:
//   - linear (+ GELU when it is the linear's only reader) (+ residual add when that is the only
//     reader): one GEMM with a fused epilogue; its A operand read through a view's map;
//   - layernorm, window attention, mean: one kernel each, input read through a map;
//   - a lone gelu or add: an elementwise kernel, reading through maps;
//   - a view read by a graph output (the features' N×C×D×H×W layout): the one copy kernel.
import { consumers, size, type Graph, type Node, type NodeId, type WindowAttentionOp } from '../ir/graph.js';
import { rowMajorStrides, stridedView, type IndexMap } from '../ir/indexmap.js';

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

export type FusedKernel =
  | (KernelBase & {
      kind: 'gemm';
      a: TensorRead;
      /** The weight param (a view of one only when it is its identity in memory). */
      weight: TensorRead;
      bias: NodeId | null;
      gelu: boolean;
      residual: TensorRead | null;
      M: number;
      N: number;
      K: number;
    })
  | (KernelBase & { kind: 'layernorm'; x: TensorRead; gamma: NodeId; beta: NodeId; eps: number; rows: number; channels: number })
  | (KernelBase & { kind: 'attention'; qkv: TensorRead; table: NodeId; op: WindowAttentionOp; windows: number; tokens: number; channels: number })
  | (KernelBase & { kind: 'gelu'; x: TensorRead })
  | (KernelBase & { kind: 'add'; a: TensorRead; b: TensorRead })
  | (KernelBase & { kind: 'mean'; x: TensorRead; axes: number[] })
  /** The final output layout: the only kernel whose work is moving data. */
  | (KernelBase & { kind: 'copy'; x: TensorRead });

export interface FusedGraph {
  graph: Graph;
  kernels: FusedKernel[];
  /** The materialised node holding each graph output. */
  outputs: { features: NodeId; logits?: NodeId };
}

/** The reads of a kernel, for listings and memory planning. */
export function kernelReads(k: FusedKernel): TensorRead[] {
  switch (k.kind) {
    case 'gemm':
      return [k.a, k.weight, ...(k.residual ? [k.residual] : [])];
    case 'layernorm':
      return [k.x];
    case 'attention':
      return [k.qkv];
    case 'gelu':
    case 'mean':
    case 'copy':
      return [k.x];
    case 'add':
      return [k.a, k.b];
  }
}

/** Every materialised node a kernel reads (activations and params). */
export function kernelSources(k: FusedKernel): NodeId[] {
  const ids = kernelReads(k).map((r) => r.source);
  if (k.kind === 'gemm' && k.bias !== null) ids.push(k.bias);
  if (k.kind === 'layernorm') ids.push(k.gamma, k.beta);
  if (k.kind === 'attention') ids.push(k.table);
  return ids;
}

export function fuse(graph: Graph): FusedGraph {
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
  /** A weight: a param, or a view of one that leaves its memory order unchanged (a reshape). */
  const weightRead = (id: NodeId): TensorRead => {
    const r = read(id);
    if (node(r.source).op.kind !== 'param') throw new Error(`internal: linear '${node(id).label}' has a computed weight`);
    if (r.map) {
      const strided = stridedView(r.map);
      const rowMajor = rowMajorStrides(r.map.outShape);
      if (!strided || strided.offset !== 0 || strided.strides.some((s, k) => s !== rowMajor[k])) {
        throw new Error(`internal: the weight of '${node(id).label}' is read through a gather`);
      }
    }
    return r;
  };
  const viewsOf = (reads: TensorRead[]) => reads.flatMap((r) => (r.view !== null ? [r.view] : []));
  const soleUser = (id: NodeId, kind: Node['op']['kind']): Node | null => {
    const u = users[id]!;
    return u.length === 1 && node(u[0]!).op.kind === kind ? node(u[0]!) : null;
  };

  for (const n of graph.nodes) {
    if (absorbed.has(n.id)) continue;
    const op = n.op;
    switch (op.kind) {
      case 'input':
      case 'param':
      case 'view':
        break;
      case 'linear': {
        const a = read(n.inputs[0]!);
        const weight = weightRead(n.inputs[1]!);
        let tail = n;
        const geluNode = soleUser(n.id, 'gelu');
        if (geluNode) tail = geluNode;
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
        if (residual) nodes.push(...viewsOf([residual]), tail.id);
        for (const id of nodes) absorbed.add(id);
        const K = node(n.inputs[1]!).shape[1]!;
        const N = node(n.inputs[1]!).shape[0]!;
        kernels.push({
          kind: 'gemm',
          nodes,
          out: tail.id,
          a,
          weight,
          bias: op.bias ? n.inputs[2]! : null,
          gelu: geluNode !== null,
          residual,
          M: size(n.shape) / N,
          N,
          K,
        });
        break;
      }
      case 'layernorm': {
        const x = read(n.inputs[0]!);
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
      default:
        throw new Error(`internal: fusion has no kernel for '${op.kind}' ('${n.label}')`);
    }
  }

  const outputOf = (id: NodeId): NodeId => {
    const src = node(id).inputs[0]!;
    return node(src).op.kind === 'view' ? id : src;
  };
  const outputs = {
    features: outputOf(graph.outputs.features),
    ...(graph.outputs.logits !== undefined ? { logits: outputOf(graph.outputs.logits) } : {}),
  };
  for (const id of Object.values(outputs)) {
    const k = node(id).op.kind;
    if (k === 'input' || k === 'param') throw new Error(`internal: a graph output is the ${k} itself`);
  }
  return { graph, kernels, outputs };
}
