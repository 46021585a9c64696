// Memory planning by liveness. Kernels run in list order; every tensor a kernel writes (and the
// clip input) lives from the step that writes it to the last step that reads it, graph outputs to
// the end. In a training graph that is what keeps a forward activation alive until its backward
// use (the backward kernels read it), and every parameter gradient to the end of the step.
// Tensors share buffers when their lifetimes are disjoint: greedy by size, largest first, each
// into the smallest buffer free for its whole lifetime, else a new one (deterministic). Buffer
// sizes are known before anything runs, so the peak is a number `explain` and `bench` can print.
// A kernel's output is alive at the step its inputs are read last, so no kernel reads and writes one buffer.
import { F32_BYTES, size, type NodeId } from '../ir/graph.js';
import { kernelSources, outputElements, type FusedGraph } from './fuse.js';

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


/** Bytes a tensor takes on the device: float32 unless a backend stores it otherwise (f16). */
export type TensorBytes = (id: NodeId, elements: number) => number;

export const FLOAT32_BYTES: TensorBytes = (_id, elements) => elements * F32_BYTES;

/**
 * `keep`: materialised nodes held to the end besides the outputs (tests and debugging read them).
 * `tensorBytes`: what each activation and param takes (default float32).
 */
export function planMemory(fused: FusedGraph, keep: readonly NodeId[] = [], tensorBytes: TensorBytes = FLOAT32_BYTES): MemoryPlan {
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

  // Live intervals [written, last read] (the clip input is written before step 0; a tensor
  // nobody reads dies where it is written). Two tensors may share a buffer only when their
  // intervals are disjoint: a kernel's output is written at the step its inputs are read last, so
  // it never shares a buffer with them.
  const bytes = new Map<NodeId, number>();
  const interval = new Map<NodeId, [number, number]>();
  const define = (id: NodeId, step: number, elements: number) => {
    bytes.set(id, tensorBytes(id, elements));
    interval.set(id, [step, lastRead.get(id) ?? step]);
  };
  for (const id of graph.inputs) define(id, -1, size(graph.nodes[id]!.shape));
  kernels.forEach((k, step) => define(k.out, step, outputElements(graph, k)));

  // The liveness bound: Σ bytes of the tensors alive at each step, at its largest.
  const delta = new Array<number>(end + 3).fill(0);
  for (const [id, [from, to]] of interval) {
    delta[from + 1]! += bytes.get(id)!;
    delta[to + 2]! -= bytes.get(id)!;
  }
  let live = 0;
  let livePeakBytes = 0;
  for (const d of delta) livePeakBytes = Math.max(livePeakBytes, (live += d));

  // Greedy by size: the largest tensors first, each into the smallest buffer whose tensors are all
  // dead while it lives, else a new buffer of its size. Buffers never grow (every tensor placed
  // later is no larger), so the plan follows the lifetimes rather than the order of the steps —
  // a forward activation held to its backward use does not pin a buffer others were grown into.
  const order = [...interval.keys()].sort((a, b) => bytes.get(b)! - bytes.get(a)! || interval.get(a)![0] - interval.get(b)![0] || a - b);
  const slot = new Map<NodeId, number>();
  const buffers: number[] = [];
  const occupied: [number, number][][] = [];
  for (const id of order) {
    const [from, to] = interval.get(id)!;
    let best = -1;
    for (let b = 0; b < buffers.length; b++) {
      if (best >= 0 && buffers[b]! >= buffers[best]!) continue;
      if (occupied[b]!.every(([f, t]) => t < from || to < f)) best = b;
    }
    if (best < 0) {
      best = buffers.length;
      buffers.push(bytes.get(id)!);
      occupied.push([]);
    }
    occupied[best]!.push([from, to]);
    slot.set(id, best);
  }

  let weightBytes = 0;
  for (const id of graph.params) weightBytes += tensorBytes(id, size(graph.nodes[id]!.shape));
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
