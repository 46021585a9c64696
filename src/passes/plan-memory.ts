// Memory planning by liveness. Kernels run in list order; every tensor a kernel writes (and the
// clip input) lives from the step that writes it to the last step that reads it, graph outputs to
// the end. In a training graph that is what keeps a forward activation alive until its backward
// use (the backward kernels read it), and every parameter gradient to the end of the step. Tensors share buffers: each gets the smallest free buffer that holds it, else the
// largest free one grown to fit, else a new one (greedy, deterministic). Buffer sizes are known
// before anything runs, so the peak is a number `explain` and `bench` can print.
// A kernel's output is placed before its inputs are freed, so no kernel reads and writes one buffer.
import { size, type NodeId } from '../ir/graph.js';
import { kernelSources, type FusedGraph } from './fuse.js';

export interface MemoryPlan {
  /** Buffer index of every materialised activation (kernel outputs and the clip input). */
  slot: Map<NodeId, number>;
  /** Bytes of each planned activation buffer. */
  buffers: number[];
  /** Bytes of each activation tensor. */
  bytes: Map<NodeId, number>;
  /** Σ buffers: the activation memory the plan allocates. */
  activationBytes: number;
  /** Params and the static attention tables (bias index, mask), uploaded once. */
  weightBytes: number;
  /** max over steps of Σ live tensor bytes: no plan can use less. */
  livePeakBytes: number;
}

const F32 = 4;

/** `keep`: materialised nodes held to the end besides the outputs (tests and debugging read them). */
export function planMemory(fused: FusedGraph, keep: readonly NodeId[] = []): MemoryPlan {
  const { graph, kernels } = fused;
  const isParam = (id: NodeId) => graph.nodes[id]!.op.kind === 'param';

  // Liveness: the step of each tensor's last read (outputs: past the last step).
  const lastRead = new Map<NodeId, number>();
  kernels.forEach((k, step) => {
    for (const id of kernelSources(k)) if (!isParam(id)) lastRead.set(id, step);
  });
  const end = kernels.length;
  for (const id of Object.values(fused.outputs)) lastRead.set(id, end);
  for (const g of fused.grads) lastRead.set(g.node, end);
  for (const id of keep) lastRead.set(id, end);

  const bytes = new Map<NodeId, number>();
  const slot = new Map<NodeId, number>();
  const buffers: number[] = [];
  const free: number[] = [];
  let live = 0;
  let livePeakBytes = 0;

  const place = (id: NodeId) => {
    const need = size(graph.nodes[id]!.shape) * F32;
    bytes.set(id, need);
    let best = -1;
    for (const b of free) if (buffers[b]! >= need && (best < 0 || buffers[b]! < buffers[best]!)) best = b;
    if (best < 0 && free.length) {
      best = free.reduce((x, y) => (buffers[y]! > buffers[x]! ? y : x));
      buffers[best] = need;
    }
    if (best < 0) {
      best = buffers.length;
      buffers.push(need);
    } else {
      free.splice(free.indexOf(best), 1);
    }
    slot.set(id, best);
    live += need;
    livePeakBytes = Math.max(livePeakBytes, live);
  };
  const release = (id: NodeId) => {
    free.push(slot.get(id)!);
    live -= bytes.get(id)!;
  };

  for (const id of graph.inputs) place(id);
  kernels.forEach((k, step) => {
    place(k.out);
    // Free what this step read last (each tensor once, even when read twice).
    for (const id of new Set(kernelSources(k))) if (!isParam(id) && lastRead.get(id) === step) release(id);
    // A tensor nobody reads (not an output) is dead at once.
    if (!lastRead.has(k.out)) release(k.out);
  });

  let weightBytes = 0;
  for (const id of graph.params) weightBytes += size(graph.nodes[id]!.shape) * F32;
  for (const k of kernels) weightBytes += staticTableBytes(k);
  return {
    slot,
    buffers,
    bytes,
    activationBytes: buffers.reduce((a, b) => a + b, 0),
    weightBytes,
    livePeakBytes,
  };
}

/**
 * Bytes of the static tables a kernel binds (uploaded once). The view_grad inverse-gather table is
 * counted at its bound, one entry per dy element (entries for dy elements that land nowhere — a
 * crop's discarded border — are not stored, so the real table may be smaller).
 */
function staticTableBytes(k: FusedGraph['kernels'][number]): number {
  const I32 = 4;
  switch (k.kind) {
    case 'attention':
    case 'attention_grad_scores':
    case 'attention_grad_qkv':
      return k.op.biasIndex.byteLength + (k.op.mask?.byteLength ?? 0);
    case 'bias_table_grad':
      return (k.op.biasGroups * k.rows + 1 + k.op.biasIndex.length) * I32;
    case 'view_grad':
      return (size(k.map.inShape) + 1 + size(k.map.outShape)) * I32;
    case 'dropout':
      return 2 * I32;
    default:
      return 0;
  }
}
