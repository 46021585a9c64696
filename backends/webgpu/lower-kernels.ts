// Fused kernels → WGSL kernels with their buffer wiring. Each FusedKernel of src/passes/fuse.ts
// becomes one emitted Kernel (gemm, layernorm, window attention, elementwise, mean, the final
// layout copy, and the training kernels: reductions, LayerNorm and attention backward, gather-sums,
// dropout, cross-entropy); every operand read through a view gets a generated load function
// (codegen.ts), and each binding says which tensor, param, static table or per-step value (the
// RNG key) the runtime binds to it.
import { size, type Graph, type Node, type NodeId } from '../../src/ir/graph.js';
import { c as constant, div as idiv, mod as imod, v, type IExpr, type IndexMap } from '../../src/ir/indexmap.js';
import { isRowMajorIdentity, kernelReads, type FusedGraph, type FusedKernel, type TensorRead } from '../../src/passes/fuse.js';
import { biasTableGradTable, viewGradTable } from './adjoint-tables.js';
import { emitElementwise, emitMean, mappedLoad, rowBaseLoad } from './codegen.js';
import { emitWindowAttention } from './kernels/attention.js';
import { emitAttentionGradQkv, emitAttentionGradScores } from './kernels/attention-grad.js';
import { ERF_WGSL, GELU_GRAD_WGSL, MIN_LIMITS, wgslFloat, type Kernel, type KernelLimits } from './kernels/common.js';
import { emitCrossEntropy, emitCrossEntropyGrad } from './kernels/cross-entropy.js';
import { emitBiasTableGrad, emitGatherSum } from './kernels/gather-sum.js';
import { emitGemm } from './kernels/gemm.js';
import { emitLayerNorm } from './kernels/layernorm.js';
import { emitLayerNormGrad } from './kernels/layernorm-grad.js';
import { emitSum } from './kernels/reduce.js';
import { storageOf, withF16Storage, type Precision } from './precision.js';
import { RNG_WGSL, keepThreshold } from './kernels/rng.js';

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
  | { kind: 'table'; data: Int32Array | Float32Array; description: string }
  /** The training step's RNG key, two u32 words (src/ir/rng.ts stepKey), written before each step. */
  | { kind: 'step_key' };

export interface LoweredKernel {
  fused: FusedKernel;
  kernel: Kernel;
  listing: KernelListing;
  /** By binding name; constant bindings (uniforms) are not listed: the compiled kernel holds them. */
  binds: Record<string, Bound>;
}

export function lowerKernels(fused: FusedGraph, limits: KernelLimits = MIN_LIMITS, precision: Precision = 'f32'): LoweredKernel[] {
  const lowered = fused.kernels.map((k, i) => lowerKernel(fused.graph, k, i, limits));
  if (precision === 'f32') return lowered;
  const storage = storageOf(fused, precision);
  return lowered.map((l) => storedAsF16(l, (b) => (b.kind === 'param' || b.kind === 'tensor') && storage(b.node) === 'f16'));
}

/** A lowered kernel with the f32 arrays bound to f16 tensors (params, activations) stored as f16. */
function storedAsF16(l: LoweredKernel, isF16: (b: Bound) => boolean): LoweredKernel {
  const names = new Set(l.kernel.bindings.filter((b) => b.type === 'f32' && l.binds[b.name] !== undefined && isF16(l.binds[b.name]!)).map((b) => b.name));
  const kernel = withF16Storage(l.kernel, names);
  return { ...l, kernel, listing: { ...l.listing, wgsl: kernel.wgsl } };
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
  const load = (fn: string, binding: string, params: string[], grid: number[], r: TensorRead, onGrid?: IndexMap, transform?: string) =>
    mappedLoad({ fn, binding, params, grid, shape: operandShape(r), map: r.map, describes: r.describes, ...(onGrid ? { onGrid } : {}), ...(transform ? { transform } : {}) });
  const tensor = (id: NodeId): Bound => ({ kind: 'tensor', node: id });
  const rowBase = (r: TensorRead, rows: number, cols: number) => {
    const base = rowBaseLoad({ fn: 'a_base', binding: 'a', params: ['m', 'k'], grid: [rows, cols], shape: operandShape(r), map: r.map, describes: r.describes });
    return base ? { aBase: { fn: base, run: base.run } } : {};
  };
  /** A read the emitter indexes row-major itself (fusion checked it is one). */
  const plain = (r: TensorRead): TensorRead => {
    if (r.map && !isRowMajorIdentity(r.map)) throw new Error(`internal: ${label}: ${r.describes} must be read row-major`);
    return r;
  };
  const elementwise = (reads: TensorRead[], expression: string, extra: Partial<Parameters<typeof emitElementwise>[0]> = {}) => {
    const elements = size(outNode.shape);
    kernel = emitElementwise({
      label,
      elements,
      loads: reads.map((r, i) => ({ fn: load(`load_${i}`, `x${i}`, ['e'], [elements], r), elements: sourceElements(r) })),
      expression,
      fuses,
      copyOnly: k.kind === 'copy',
      limits,
      ...extra,
    });
    binds = { out: tensor(k.out) };
    reads.forEach((r, i) => (binds[`x${i}`] = bound(r)));
  };

  let kernel!: Kernel;
  let binds!: Record<string, Bound>;
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
        // A LayerNorm prologue always reads A through load_a (even row-major), which normalises.
        ...(k.a.map || k.layerNorm
          ? { loadA: load('load_a', 'a', ['m', 'k'], [M, K], k.a, undefined, k.layerNorm ? 'normalize_a' : undefined), aElements: sourceElements(k.a), ...rowBase(k.a, M, K) }
          : {}),
        ...(k.layerNorm ? { normalizeA: { channels: k.layerNorm.channels, rows: k.layerNorm.rows } } : {}),
        // A weight read through a reshape is read as stored; a transpose or an activation is not.
        ...(k.weight.map && !isRowMajorIdentity(k.weight.map)
          ? { loadB: load('load_b', 'b', ['n', 'k'], [N, K], k.weight), bElements: sourceElements(k.weight) }
          : {}),
        ...(k.geluGrad ? { geluGrad: load('load_gelu_x', 'gelu_x', ['m', 'n'], [M, N], k.geluGrad), geluGradElements: sourceElements(k.geluGrad) } : {}),
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
      if (k.layerNorm) {
        binds.a_stats = tensor(k.layerNorm.stats);
        binds.a_gamma = param(k.layerNorm.gamma);
        binds.a_beta = param(k.layerNorm.beta);
      }
      if (k.geluGrad) binds.gelu_x = bound(k.geluGrad);
      if (k.residual) binds.residual = bound(k.residual);
      break;
    }
    case 'layernorm':
    case 'layernorm_stats': {
      // The same kernel; for a LayerNorm folded into its GEMMs' loads, only the row statistics.
      const statsOnly = k.kind === 'layernorm_stats';
      kernel = emitLayerNorm({
        rows: k.rows,
        channels: k.channels,
        eps: k.eps,
        label,
        limits,
        fuses,
        statsOnly,
        ...(k.x.map ? { loadX: load('load_x', 'x', ['row', 'ch'], [k.rows, k.channels], k.x), xElements: sourceElements(k.x) } : {}),
      });
      binds = { x: bound(k.x), y: tensor(k.out) };
      if (k.kind === 'layernorm') Object.assign(binds, { gamma: param(k.gamma), beta: param(k.beta) });
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
    case 'copy':
      elementwise([k.x], k.kind === 'gelu' ? 'gelu(x0)' : 'x0');
      break;
    case 'add':
    case 'mul':
      elementwise([k.a, k.b], k.kind === 'add' ? 'x0 + x1' : 'x0 * x1');
      break;
    case 'scale':
      elementwise([k.x], `x0 * ${wgslFloat(k.factor)}`);
      break;
    case 'fill':
      elementwise([], wgslFloat(k.value));
      break;
    case 'gelu_grad':
      elementwise([k.x, k.dy], 'x1 * gelu_derivative(x0)', { prelude: `${ERF_WGSL}\n\n${GELU_GRAD_WGSL}` });
      break;
    case 'dropout': {
      // The draw's counter: the element's flat index, or its sample's index (drop_path).
      const sampleElements = k.perSample ? size(outNode.shape) / outNode.shape[0]! : 1;
      const prelude = `${RNG_WGSL}

fn dropout_value(x: f32, e: i32) -> f32 {
  let counter = u32(e / ${sampleElements});
  let draw = hash_u32(step_key[0], step_key[1], ${k.stream >>> 0}u, counter) >> 8u;
  return select(0.0, x * ${wgslFloat(1 / (1 - k.rate))}, draw >= ${keepThreshold(k.rate)}u);
}`;
      elementwise([k.x], 'dropout_value(x0, e)', {
        prelude,
        extraBindings: [{ name: 'step_key', kind: 'read-only-storage', type: 'u32', elements: 2, description: 'the step RNG key (2 × u32)' }],
        notes: [`dropout rate ${k.rate}, RNG stream ${k.stream}, one draw per ${k.perSample ? `sample (${sampleElements} elements)` : 'element'}`],
      });
      binds.step_key = { kind: 'step_key' };
      break;
    }
    case 'sum': {
      const shape = operandShape(k.factors[0]!);
      const onGrid = reductionMap(shape, k.axes);
      const [outputs, reduced] = onGrid.outShape as [number, number];
      kernel = emitSum({
        label,
        outputs,
        reduced,
        loads: k.factors.map((r, i) => ({ fn: load(`load_${i}`, `x${i}`, ['o', 'r'], [outputs, reduced], r, onGrid), elements: sourceElements(r) })),
        fuses,
        limits,
      });
      binds = { out: tensor(k.out) };
      k.factors.forEach((r, i) => (binds[`x${i}`] = bound(r)));
      break;
    }
    case 'layernorm_normalized':
      kernel = emitLayerNorm({
        rows: k.rows,
        channels: k.channels,
        eps: k.eps,
        affine: false,
        label,
        limits,
        fuses,
        ...(k.x.map ? { loadX: load('load_x', 'x', ['row', 'ch'], [k.rows, k.channels], k.x), xElements: sourceElements(k.x) } : {}),
      });
      binds = { x: bound(k.x), y: tensor(k.out) };
      break;
    case 'layernorm_grad':
      kernel = emitLayerNormGrad({
        rows: k.rows,
        channels: k.channels,
        eps: k.eps,
        label,
        limits,
        fuses,
        ...(k.x.map ? { loadX: load('load_x', 'x', ['row', 'ch'], [k.rows, k.channels], k.x), xElements: sourceElements(k.x) } : {}),
        ...(k.dy.map ? { loadDy: load('load_dy', 'dy', ['row', 'ch'], [k.rows, k.channels], k.dy), dyElements: sourceElements(k.dy) } : {}),
      });
      binds = { x: bound(k.x), gamma: param(k.gamma), dy: bound(k.dy), dx: tensor(k.out) };
      break;
    case 'attention_grad_scores':
    case 'attention_grad_qkv': {
      const { op, windows, tokens, channels } = k;
      const options = {
        windows,
        tokens,
        channels,
        heads: op.heads,
        scale: op.scale,
        bias: { tableRows: node(k.table).shape[0]!, groups: op.biasGroups, windowsPerGroup: op.windowsPerGroup },
        ...(op.mask ? { mask: { masks: op.maskWindows } } : {}),
        label,
        limits,
        fuses,
        ...(k.qkv.map
          ? { loadQkv: load('load_qkv', 'qkv', ['w', 'i', 'ch'], [windows, tokens, 3 * channels], k.qkv), qkvElements: sourceElements(k.qkv) }
          : {}),
        ...(k.dout.map
          ? { loadDout: load('load_dout', 'dout', ['w', 'i', 'ch'], [windows, tokens, channels], k.dout), doutElements: sourceElements(k.dout) }
          : {}),
      };
      binds = {
        qkv: bound(k.qkv),
        dout: bound(k.dout),
        bias_table: param(k.table),
        bias_index: { kind: 'table', data: op.biasIndex, description: `${label} bias index` },
      };
      if (op.mask) binds.mask = { kind: 'table', data: op.mask, description: `${label} mask` };
      if (k.kind === 'attention_grad_scores') {
        kernel = emitAttentionGradScores(options);
        binds.ds = tensor(k.out);
      } else {
        kernel = emitAttentionGradQkv({
          ...options,
          ...(k.ds.map
            ? { loadDs: load('load_ds', 'ds', ['w', 'h', 'i', 'j'], [windows, op.heads, tokens, tokens], k.ds), dsElements: sourceElements(k.ds) }
            : {}),
        });
        binds.ds = bound(k.ds);
        binds.dqkv = tensor(k.out);
      }
      break;
    }
    case 'bias_table_grad': {
      const { op, windows, tokens } = k;
      const table = biasTableGradTable(op, k.rows);
      kernel = emitBiasTableGrad({
        label,
        windows,
        heads: op.heads,
        tokens,
        tableRows: k.rows,
        groups: op.biasGroups,
        windowsPerGroup: op.windowsPerGroup,
        entries: table.entries.length,
        fuses,
        limits,
      });
      binds = {
        ds: bound(plain(k.ds)),
        offsets: { kind: 'table', data: table.offsets, description: `${label} (group, row) offsets` },
        pairs: { kind: 'table', data: table.entries, description: `${label} (group, row) pairs` },
        out: tensor(k.out),
      };
      break;
    }
    case 'view_grad': {
      const table = viewGradTable(k.map, k.dy.map);
      kernel = emitGatherSum({
        label,
        outputs: size(outNode.shape),
        srcElements: sourceElements(k.dy),
        entries: table.entries.length,
        describes: `view_grad of ${k.what} @ ${outNode.label}${k.dy.map ? `, dy read through ${k.dy.describes}` : ''}`,
        fuses,
        limits,
      });
      binds = {
        src: bound(k.dy),
        offsets: { kind: 'table', data: table.offsets, description: `${label} inverse-gather offsets` },
        entries: { kind: 'table', data: table.entries, description: `${label} inverse-gather sources` },
        out: tensor(k.out),
      };
      break;
    }
    case 'cross_entropy':
    case 'cross_entropy_grad': {
      const [batch, classes] = node(k.logits.source).shape as [number, number];
      const options = { label, batch, classes, smoothing: k.smoothing, fuses, limits };
      binds = { logits: bound(plain(k.logits)), labels: bound(plain(k.labels)) };
      if (k.kind === 'cross_entropy') {
        kernel = emitCrossEntropy(options);
        binds.loss = tensor(k.out);
      } else {
        kernel = emitCrossEntropyGrad(options);
        binds.dloss = bound(plain(k.dloss));
        binds.dlogits = tensor(k.out);
      }
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
