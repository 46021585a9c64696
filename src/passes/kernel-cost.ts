// What one fused kernel costs, from its static shapes: the floating-point operations of its matrix
// products and the bytes it must move at least, and the family it belongs to. `pstc bench
// --profile` divides these by measured times (achieved GFLOP/s and GB/s); they are facts of the
// plan, known with no device.
//   - FLOPs: 2 × the MACs of the IR nodes the kernel implements (analysis.ts `macsOf`, the one
//     owner of the MAC convention: matrix products only; elementwise work, norms and softmax
//     count nothing), so a GEMM kernel's FLOPs are 2·M·N·K.
//   - Bytes: every tensor the kernel reads counted once (a read through a view counts at most
//     the source's bytes, at most what the view covers), every param and bias read, and the
//     output written: the traffic of a perfect cache, a lower bound of what the kernel moves.
//     Each tensor's bytes are the memory plan's (4 per element in f32, 2 where --precision f16
//     stores it as f16).
import { size, type Graph, type NodeId } from '../ir/graph.js';
import { blockOf, macsOf } from '../ir/analysis.js';
import { kernelReads, kernelSources, outputElements, type FusedKernel } from './fuse.js';
import { FLOAT32_BYTES, type TensorBytes } from './plan-memory.js';

/** The families a profile groups kernels by. */
export type KernelFamily = 'GEMM' | 'attention' | 'LayerNorm' | 'elementwise' | 'reduce' | 'gather/copy' | 'loss' | 'optimizer';

export interface KernelCost {
  family: KernelFamily;
  /** 'stage 2 block 1', 'stage 1 merge', 'embed', 'head' (analysis.ts blockOf, from the output's label). */
  block: string;
  flops: number;
  bytes: number;
}

export function kernelFamily(kind: FusedKernel['kind']): KernelFamily {
  switch (kind) {
    case 'gemm':
      return 'GEMM';
    case 'attention':
    case 'attention_grad_scores':
    case 'attention_grad_qkv':
      return 'attention';
    case 'layernorm':
    case 'layernorm_stats':
    case 'layernorm_grad':
    case 'layernorm_normalized':
      return 'LayerNorm';
    case 'gelu':
    case 'add':
    case 'scale':
    case 'mul':
    case 'gelu_grad':
    case 'dropout':
    case 'fill':
      return 'elementwise';
    case 'mean':
    case 'sum':
      return 'reduce';
    case 'copy':
    case 'view_grad':
    case 'bias_table_grad':
      return 'gather/copy';
    case 'cross_entropy':
    case 'cross_entropy_grad':
      return 'loss';
  }
}

export function kernelCost(graph: Graph, k: FusedKernel, tensorBytes: TensorBytes = FLOAT32_BYTES): KernelCost {
  const node = (id: NodeId) => graph.nodes[id]!;
  const flops = 2 * k.nodes.reduce((sum, id) => sum + macsOf(graph, node(id)), 0);
  // Per source: the most any one read of it covers, never more than the source holds.
  const covered = new Map<NodeId, number>();
  for (const r of kernelReads(k)) {
    const whole = size(node(r.source).shape);
    const seen = r.map ? Math.min(whole, size(r.map.outShape)) : whole;
    covered.set(r.source, Math.max(covered.get(r.source) ?? 0, seen));
  }
  // A LayerNorm prologue reads the row statistics (two per row), not the LayerNorm's output.
  if (k.kind === 'gemm' && k.layerNorm) covered.set(k.layerNorm.stats, 2 * k.layerNorm.rows);
  for (const id of kernelSources(k)) if (!covered.has(id)) covered.set(id, size(node(id).shape));
  let bytes = tensorBytes(k.out, outputElements(graph, k));
  for (const [id, n] of covered) bytes += tensorBytes(id, n);
  return { family: kernelFamily(k.kind), block: blockOf(node(k.out).label), flops, bytes };
}
