// Planning a model for WebGPU, without a device: the front end's pipeline (src/passes/pipeline.ts)
// to the end, then each fused kernel emitted as WGSL with its dispatch size and bindings, the
// planned buffers, and the micro-batch split. Pure: `explain` and `compile` print a plan on a
// machine without a GPU; the runtime (runtime.ts) hands the same plan to the executor.
//   - Clips are independent at inference: when a tensor of the whole batch would exceed a storage
//     binding, the forward runs in micro-batches of clips (the runtime copies each chunk's clips in
//     and its outputs out around the same planned buffers). Every activation holds the batch as a
//     factor, so the split is found from the full batch's plan, which is then made again for the
//     micro-batch (a different program: index maps hold the batch).
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import type { InputConfig, ModelConfig } from '../../src/lang/model.js';
import { F32_BYTES, size, type Graph } from '../../src/ir/graph.js';
import type { FusedGraph, FusionOptions } from '../../src/passes/fuse.js';
import { need, runPipeline, startProgram, type Program } from '../../src/passes/pipeline.js';
import { planMemory, type MemoryPlan } from '../../src/passes/plan-memory.js';
import { EnvironmentSettingError, type DeviceLimits } from './gpu-device.js';
import { DEFAULT_LIMITS, type KernelStyle, type KernelLimits } from './kernels/common.js';
import { lowerKernels, type KernelListing, type LoweredKernel } from './lower-kernels.js';
import { tensorBytesAt, type Precision } from './precision.js';

/** The input a model is planned for: batch, frames, size (src/lang/model.ts InputConfig owns the triple). */
export type ModelInput = InputConfig;

export interface ModelPlan {
  /** The graph the kernels compute: the pipeline's, for `microBatch` clips. */
  graph: Graph;
  kernels: KernelListing[];
  /** Kernels × chunks. */
  dispatchesPerForward: number;
  plannedPeakBytes: { activations: number; weights: number; total: number };
  /** Clips per chunk so every binding fits the limits. */
  microBatch: number;
  /** The whole batch, and how many chunks of microBatch clips a forward runs. */
  batch: number;
  chunks: number;
  /** The fused kernels with their bindings and dispatch sizes, and the buffer plan (for the executor and tests). */
  steps: LoweredKernel[];
  fused: FusedGraph;
  memory: MemoryPlan;
  /** How weights and activations are stored (precision.ts): f32, or f16 with f32 arithmetic. */
  precision: Precision;
}

// WebGPU's guaranteed limits, owned by kernels/common.ts: a plan made with these runs on every adapter.
export { DEFAULT_LIMITS };

function kernelLimitsOf(l: DeviceLimits, style: KernelStyle | undefined, subgroupSize: number | undefined): KernelLimits {
  return {
    ...(style ? { style } : {}),
    ...(subgroupSize ? { subgroupSize } : {}),
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

interface Planned {
  graph: Graph;
  fused: FusedGraph;
  steps: LoweredKernel[];
  memory: MemoryPlan;
}

/**
 * The pipeline to its end from wherever `program` stands, then the kernels emitted. With f16, the
 * buffers are planned again at f16 sizes (the same liveness, smaller tensors).
 */
function planned(program: Program, limits: KernelLimits, precision: Precision): Planned {
  const done = runPipeline(program.passes.includes('fuse') ? program : { ...program, fusion: fusionFor(limits) });
  const fused = need(done, 'fused', 'webgpu plan');
  const memory = precision === 'f32' ? need(done, 'memory', 'webgpu plan') : planMemory(fused, [], tensorBytesAt(fused, precision));
  return { graph: fused.graph, fused, steps: lowerKernels(fused, limits, precision), memory };
}

/**
 * The fusions the adapter's kernels favour. The LayerNorm prologue costs the barrier-free GEMM
 * (CPU adapters) three more operations per A value and row in its inner loop, more than the LayerNorm kernel
 * it saves: PST-T 8×112² on llvmpipe, its 12 fc1 GEMMs with the prologue against without (CPU ms,
 * min of 15 interleaved runs) 761 against 679, the LayerNorm kernels 1–2 ms less each. Tiled
 * GEMMs (GPUs) apply it while staging A, once per element and workgroup, and save the normalised
 * activation's round trip through memory (not yet timed on a GPU).
 */
export function fusionFor(limits: KernelLimits, forced: string | undefined = globalThis.process?.env?.PSTC_LAYERNORM_PROLOGUE): FusionOptions {
  // PSTC_LAYERNORM_PROLOGUE=on|off overrides, to time both on an adapter (bench/gpu.sh does).
  if (forced !== undefined && forced !== '') {
    if (forced !== 'on' && forced !== 'off') throw new EnvironmentSettingError(`PSTC_LAYERNORM_PROLOGUE=${forced} is not a setting; use on or off (or unset it)`);
    return { layerNormPrologue: forced === 'on' };
  }
  return { layerNormPrologue: limits.style !== 'direct' };
}

/** The largest activation a kernel binds, and that kernel. */
function largestBinding(l: Planned): { bytes: number; kernel: string; tensor: string } {
  let best = { bytes: 0, kernel: '', tensor: '' };
  for (const s of l.steps) {
    for (const b of Object.values(s.binds)) {
      if (b.kind !== 'tensor') continue;
      const bytes = l.memory.bytes.get(b.node)!;
      if (bytes > best.bytes) {
        const n = l.graph.nodes[b.node]!;
        best = { bytes, kernel: s.kernel.label, tensor: `${n.op.kind} '${n.label}' [${n.shape.join(', ')}]` };
      }
    }
  }
  return best;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Uniform buffers of constant bindings: 16-byte multiples. */
function uniformBytes(steps: LoweredKernel[]): number {
  let total = 0;
  for (const s of steps) for (const b of s.kernel.bindings) if (b.constant) total += Math.max(16, Math.ceil(b.constant.byteLength / 16) * 16);
  return total;
}

/**
 * The adapter's limits, the kernel variants chosen for it (PstcDevice.kernelStyle), its fixed
 * subgroup size if any (PstcDevice.subgroupSize), and the storage precision (default f32).
 */
export type PlanLimits = Partial<DeviceLimits> & Pick<KernelLimits, 'style' | 'subgroupSize'> & { precision?: Precision };

export function planModel(model: ModelConfig, input: ModelInput, limits?: PlanLimits): ModelPlan {
  return planProgram(startProgram(model, input), limits);
}

/**
 * Plan a program the pipeline has begun (e.g. lowered, for `explain`, whose analyses read the
 * lowered graph): the rest of the pipeline runs from where it stands.
 */
export function planProgram(program: Program, limits?: PlanLimits): ModelPlan {
  const { precision = 'f32', subgroupSize, ...deviceLimits } = limits ?? {};
  const full: DeviceLimits = { ...DEFAULT_LIMITS, ...deviceLimits };
  const kernelLimits = kernelLimitsOf(full, limits?.style, subgroupSize);
  const bindingLimit = Math.min(full.maxStorageBufferBindingSize, full.maxBufferSize);
  const input = program.input;

  let lowered = planned(program, kernelLimits, precision);
  let microBatch = input.batch;
  const largest = largestBinding(lowered);
  if (largest.bytes > bindingLimit) {
    const perClip = largest.bytes / input.batch;
    microBatch = Math.floor(bindingLimit / perClip);
    if (microBatch < 1) {
      throw new DiagnosticError([
        {
          code: 'PST307',
          severity: 'error',
          message:
            `kernel ${largest.kernel} binds ${largest.tensor} of ${mib(perClip)} for one clip, ` +
            `more than the device allows in one storage binding (${mib(bindingLimit)})`,
          flag: '--size',
          hint: 'use a smaller --size or --frames, or a device with a larger maxStorageBufferBindingSize',
        },
      ]);
    }
    lowered = planned(startProgram(program.model, { ...input, batch: microBatch }), kernelLimits, precision);
  }
  for (const id of lowered.graph.params) {
    const n = lowered.graph.nodes[id]!;
    if (size(n.shape) * F32_BYTES > bindingLimit) {
      throw new DiagnosticError([
        { code: 'PST307', severity: 'error', message: `weight '${n.label}' [${n.shape.join(', ')}] exceeds the device's storage binding limit (${mib(bindingLimit)})` },
      ]);
    }
  }

  const chunks = Math.ceil(input.batch / microBatch);
  const { graph, fused, steps, memory } = lowered;
  if (chunks > 1) {
    // The whole batch's clip is one copy source: it must fit one buffer.
    const clipBytes = (memory.bytes.get(graph.inputs[0]!)! / microBatch) * input.batch;
    if (clipBytes > full.maxBufferSize) {
      throw new DiagnosticError([
        {
          code: 'PST307',
          severity: 'error',
          message: `a batch of ${input.batch} clips takes ${mib(clipBytes)}, more than the device allows in one buffer (${mib(full.maxBufferSize)})`,
          flag: '--batch',
          hint: 'run the clips in smaller batches',
        },
      ]);
    }
  }
  // With chunks, the whole batch's clip and outputs live in buffers of their own.
  const io = chunks > 1 ? ioBytes(lowered, input.batch, microBatch) : 0;
  const activations = memory.activationBytes + io;
  const weights = memory.weightBytes + uniformBytes(steps);
  return {
    graph,
    kernels: steps.map((s) => s.listing),
    dispatchesPerForward: steps.length * chunks,
    plannedPeakBytes: { activations, weights, total: activations + weights },
    microBatch,
    batch: input.batch,
    chunks,
    steps,
    fused,
    memory,
    precision,
  };
}

function ioBytes(l: Planned, batch: number, microBatch: number): number {
  let bytes = 0;
  for (const id of [...l.graph.inputs, ...Object.values(l.fused.outputs)]) bytes += (l.memory.bytes.get(id)! / microBatch) * batch;
  return bytes;
}
