// Fused kernels → WGSL kernels with their buffer wiring. Each FusedKernel of src/passes/fuse.ts
// becomes one emitted Kernel (gemm, layernorm, window attention, elementwise, mean, or the final
// layout copy); every operand read through a view gets a generated load function (codegen.ts),
// and each binding says which tensor, param or static table the runtime binds to it.
import { size, type Graph, type Node, type NodeId } from '../../src/ir/graph.js';
import { c as constant, div as idiv, mod as imod, v, type IExpr, type IndexMap } from '../../src/ir/indexmap.js';
import { kernelReads, type FusedGraph, type FusedKernel, type TensorRead } from '../../src/passes/fuse.js';
import { emitElementwise, emitMean, mappedLoad } from './codegen.js';
import { emitWindowAttention } from './kernels/attention.js';
import { MIN_LIMITS, type Kernel, type KernelLimits } from './kernels/common.js';
import { emitGemm } from './kernels/gemm.js';
import { emitLayerNorm } from './kernels/layernorm.js';

/** One kernel as `pstc compile --emit wgsl` and `explain` list it. */
export interface KernelListing {
  label: string;
  wgsl: string;
  /** The IR nodes it implements, e.g. 'linear layers.0.blocks.0.mlp.fc1'. */
  fuses: string[];
  /** The views it reads through, e.g. '%12 pad+roll+window_partition+tps @ layers.0.blocks.1: [..] <- [..]'. */
  reads: string[];
  /** True only for the final output layout copy. */
  copyOnly: boolean;
}

/** What the runtime binds to a kernel binding. */
export type Bound =
  | { kind: 'tensor'; node: NodeId }
  | { kind: 'param'; node: NodeId; name: string }
  | { kind: 'table'; data: Int32Array | Float32Array; description: string };

export interface LoweredKernel {
  fused: FusedKernel;
  kernel: Kernel;
  listing: KernelListing;
  /** By binding name; constant bindings (uniforms) are not listed: the compiled kernel holds them. */
  binds: Record<string, Bound>;
}

export function lowerKernels(fused: FusedGraph, limits: KernelLimits = MIN_LIMITS): LoweredKernel[] {
  return fused.kernels.map((k, i) => lowerKernel(fused.graph, k, i, limits));
}

function lowerKernel(graph: Graph, k: FusedKernel, index: number, limits: KernelLimits): LoweredKernel {
  const node = (id: NodeId): Node => graph.nodes[id]!;
  const outNode = node(k.out);
  const label = `k${index}_${k.kind}_${outNode.label}`;
  const fuses = k.nodes.map((id) => describeNode(node(id)));
  const bound = (r: TensorRead): Bound => {
    const src = node(r.source);
    return src.op.kind === 'param' ? { kind: 'param', node: src.id, name: src.op.name } : { kind: 'tensor', node: src.id };
  };
  const param = (id: NodeId): Bound => {
    const n = node(id);
    if (n.op.kind !== 'param') throw new Error(`internal: ${label}: node ${id} is not a param`);
    return { kind: 'param', node: id, name: n.op.name };
  };
  const operandShape = (r: TensorRead) => (r.map ? r.map.outShape : node(r.source).shape);
  const sourceElements = (r: TensorRead) => size(node(r.source).shape);
  const load = (fn: string, binding: string, params: string[], grid: number[], r: TensorRead, onGrid?: IndexMap) =>
    mappedLoad({ fn, binding, params, grid, shape: operandShape(r), map: r.map, describes: r.describes, ...(onGrid ? { onGrid } : {}) });

  let kernel: Kernel;
  let binds: Record<string, Bound>;
  switch (k.kind) {
    case 'gemm': {
      const { M, N, K } = k;
      kernel = emitGemm({
        M,
        N,
        K,
        label,
        limits,
        fuses,
        ...(k.a.map ? { loadA: load('load_a', 'a', ['m', 'k'], [M, K], k.a), aElements: sourceElements(k.a) } : {}),
        bias: k.bias !== null,
        gelu: k.gelu,
        ...(k.residual
          ? k.residual.map
            ? { residual: load('load_residual', 'residual', ['m', 'n'], [M, N], k.residual), residualElements: sourceElements(k.residual) }
            : { residual: true }
          : {}),
      });
      binds = { a: bound(k.a), b: bound(k.weight), c: { kind: 'tensor', node: k.out } };
      if (k.bias !== null) binds.bias = param(k.bias);
      if (k.residual) binds.residual = bound(k.residual);
      break;
    }
    case 'layernorm': {
      kernel = emitLayerNorm({
        rows: k.rows,
        channels: k.channels,
        eps: k.eps,
        label,
        limits,
        fuses,
        ...(k.x.map ? { loadX: load('load_x', 'x', ['row', 'ch'], [k.rows, k.channels], k.x), xElements: sourceElements(k.x) } : {}),
      });
      binds = { x: bound(k.x), gamma: param(k.gamma), beta: param(k.beta), y: { kind: 'tensor', node: k.out } };
      break;
    }
    case 'attention': {
      const { op, windows, tokens, channels } = k;
      const table = node(k.table);
      kernel = emitWindowAttention({
        windows,
        tokens,
        channels,
        heads: op.heads,
        scale: op.scale,
        bias: { tableRows: table.shape[0]!, groups: op.biasGroups, windowsPerGroup: op.windowsPerGroup },
        ...(op.mask ? { mask: { masks: op.maskWindows } } : {}),
        label,
        limits,
        fuses,
        ...(k.qkv.map
          ? { loadQkv: load('load_qkv', 'qkv', ['w', 'i', 'ch'], [windows, tokens, 3 * channels], k.qkv), qkvElements: sourceElements(k.qkv) }
          : {}),
      });
      binds = {
        qkv: bound(k.qkv),
        out: { kind: 'tensor', node: k.out },
        bias_table: param(k.table),
        bias_index: { kind: 'table', data: op.biasIndex, description: `${label} bias index` },
      };
      if (op.mask) binds.mask = { kind: 'table', data: op.mask, description: `${label} mask` };
      break;
    }
    case 'gelu':
    case 'add':
    case 'copy': {
      const reads = k.kind === 'add' ? [k.a, k.b] : [k.x];
      const elements = size(outNode.shape);
      kernel = emitElementwise({
        label,
        elements,
        loads: reads.map((r, i) => ({ fn: load(`load_${i}`, `x${i}`, ['e'], [elements], r), elements: sourceElements(r) })),
        expression: k.kind === 'add' ? 'x0 + x1' : k.kind === 'gelu' ? 'gelu(x0)' : 'x0',
        fuses,
        copyOnly: k.kind === 'copy',
        limits,
      });
      binds = { out: { kind: 'tensor', node: k.out } };
      reads.forEach((r, i) => (binds[`x${i}`] = bound(r)));
      break;
    }
    case 'mean': {
      const shape = operandShape(k.x);
      const onGrid = reductionMap(shape, k.axes);
      const [outputs, reduced] = onGrid.outShape as [number, number];
      kernel = emitMean({
        label,
        outputs,
        reduced,
        load: load('load_x', 'x', ['o', 'r'], [outputs, reduced], k.x, onGrid),
        xElements: sourceElements(k.x),
        fuses,
        limits,
      });
      binds = { x: bound(k.x), out: { kind: 'tensor', node: k.out } };
      break;
    }
  }

  const reads = kernelReads(k)
    .filter((r) => r.view !== null)
    .map((r) => `%${r.view} ${r.describes}: [${r.map!.outShape.join(', ')}] <- [${r.map!.inShape.join(', ')}]`);
  return { fused: k, kernel, binds, listing: { label, wgsl: kernel.wgsl, fuses, reads, copyOnly: k.kind === 'copy' } };
}

function describeNode(n: Node): string {
  return n.op.kind === 'view' ? `%${n.id} view ${n.op.what} @ ${n.label}` : `%${n.id} ${n.op.kind} ${n.label}`;
}

/** [outputs, reduced] → x: output o is the kept dims (row-major), r the reduced ones. */
function reductionMap(shape: number[], axes: number[]): IndexMap {
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const reducedDims = shape.map((_, d) => d).filter((d) => axes.includes(d));
  const digits = (flat: IExpr, dims: number[]): Map<number, IExpr> => {
    const out = new Map<number, IExpr>();
    let stride = 1;
    for (let i = dims.length - 1; i >= 0; i--) {
      const n = shape[dims[i]!]!;
      out.set(dims[i]!, i === 0 ? idiv(flat, stride) : imod(idiv(flat, stride), n));
      stride *= n;
    }
    return out;
  };
  const o = digits(v(0), kept);
  const r = digits(v(1), reducedDims);
  const outputs = kept.reduce((p, d) => p * shape[d]!, 1);
  const reduced = reducedDims.reduce((p, d) => p * shape[d]!, 1);
  return {
    outShape: [outputs, reduced],
    inShape: [...shape],
    index: shape.map((_, d) => o.get(d) ?? r.get(d) ?? constant(0)),
  };
}
