// What a training step allocates besides the graph's own buffers (activations, parameters,
// gradients, tables): the optimizer state, the accumulated gradients, and the step's small
// buffers. One description, read by the step that allocates it (step.ts) and by the plan that
// counts it before anything runs (plan.ts), so the two cannot disagree.
import { F32_BYTES } from '../ir/graph.js';
import { METRICS } from '../../backends/webgpu/kernels/metrics.js';
import { hyperNames, stateSlots, type OptimizerConfig } from './optimizer.js';

export type StepBufferKind =
  /** Optimizer state of one parameter (AdamW's moments, SGD's momentum buffer): in checkpoints. */
  | 'state'
  /** One parameter's gradient summed over a step's micro-batches (only with more than one). */
  | 'accumulated'
  /** Data-parallel: the accumulated gradients of several parameters, read back and summed across ranks whole. */
  | 'bucket'
  | 'hyper'
  | 'scale'
  | 'metrics'
  | 'step'
  | 'labels'
  | 'norms';

export interface StepBuffer {
  kind: StepBufferKind;
  label: string;
  /** float32 values. */
  elements: number;
  /** For 'state' and 'accumulated': the parameter, and (state) the slot name. */
  param?: string;
  slot?: string;
  /** For 'bucket': each parameter's accumulator, a byte range of the bucket. */
  ranges?: { param: string; offset: number; size: number }[];
}

export interface StepBufferOptions {
  optimizer: Pick<OptimizerConfig, 'kind' | 'momentum'>;
  /** Device micro-batches per optimizer step (the user's accumulation × the automatic split). */
  microBatches: number;
  /** Clips per device micro-batch. */
  microBatch: number;
  /** Every parameter tensor the step updates, by state-dict name, with its element count. */
  params: readonly { name: string; elements: number }[];
  /** Data-parallel training: the accumulators live in buckets of about this many bytes (always, even for one micro-batch). */
  dataParallel?: { bucketBytes: number };
}

/** WebGPU's largest allowed minStorageBufferOffsetAlignment: a range bound at such an offset is valid on every device. */
const BINDING_ALIGNMENT = 256;

/** The step's buffers hold float32. */
export const STEP_BUFFER_BYTES_PER_ELEMENT = F32_BYTES;

export function stepBuffers(o: StepBufferOptions): StepBuffer[] {
  const out: StepBuffer[] = [];
  const slots = stateSlots(o.optimizer);
  for (const p of o.params) {
    for (const slot of slots) out.push({ kind: 'state', label: `${slot}.${p.name}`, elements: p.elements, param: p.name, slot });
    // One micro-batch per step updates from the graph's own gradient: nothing to accumulate into.
    if (o.microBatches > 1 && !o.dataParallel) out.push({ kind: 'accumulated', label: `accumulated ${p.name}`, elements: p.elements, param: p.name });
  }
  if (o.dataParallel) out.push(...gradientBuckets(o.params, o.dataParallel.bucketBytes));
  out.push(
    { kind: 'hyper', label: 'optimizer hyper-parameters', elements: hyperNames(o.optimizer.kind).length },
    { kind: 'scale', label: 'gradient scale, norm', elements: 2 },
    { kind: 'metrics', label: 'metrics', elements: METRICS.length },
    { kind: 'step', label: 'step', elements: 1 },
    // The graph's own labels buffer is free for reuse once the loss's gradient has read it, long
    // before the metrics kernel runs: the metrics read a copy.
    { kind: 'labels', label: 'labels for the metrics', elements: o.microBatch },
    { kind: 'norms', label: 'Σg² per tensor', elements: o.params.length },
  );
  return out;
}

/**
 * Data-parallel: every parameter's gradient accumulator laid into buckets of about `bucketBytes`
 * each (a larger tensor gets a bucket of its own), each range at an offset every device accepts
 * for a binding. The padding stays zero, so summing it is harmless.
 */
function gradientBuckets(params: StepBufferOptions['params'], bucketBytes: number): StepBuffer[] {
  const out: StepBuffer[] = [];
  let ranges: { param: string; offset: number; size: number }[] = [];
  let bytes = 0;
  const close = () => {
    if (!ranges.length) return;
    out.push({ kind: 'bucket', label: `gradient bucket ${out.length}`, elements: bytes / STEP_BUFFER_BYTES_PER_ELEMENT, ranges });
    ranges = [];
    bytes = 0;
  };
  for (const p of params) {
    const size = p.elements * STEP_BUFFER_BYTES_PER_ELEMENT;
    if (bytes > 0 && bytes + size > bucketBytes) close();
    ranges.push({ param: p.name, offset: bytes, size });
    bytes += Math.ceil(size / BINDING_ALIGNMENT) * BINDING_ALIGNMENT;
  }
  close();
  return out;
}

/** Bytes of the buffers of `kinds` (default all). */
export function stepBufferBytes(buffers: readonly StepBuffer[], kinds?: readonly StepBufferKind[]): number {
  return buffers.filter((b) => !kinds || kinds.includes(b.kind)).reduce((s, b) => s + b.elements * STEP_BUFFER_BYTES_PER_ELEMENT, 0);
}
