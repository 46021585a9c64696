// The WebGPU runtime: a model and an input size → a plan (pure: graph, fused kernels with their
// WGSL, dispatches, planned memory, micro-batch), and on a device a compiled model whose forward
// is one command buffer.
//   - Pipelines are compiled once and cached per device by WGSL text (comments aside), so blocks
//     with the same shapes and maps share them; weights and static tables are uploaded once.
//   - Activation buffers come from the liveness plan (src/passes/plan-memory.ts); bind groups are
//     made once, since every buffer is fixed.
//   - Clips are independent at inference: when a tensor of the whole batch would exceed a storage
//     binding, the forward runs in micro-batches of clips, all encoded in the same command buffer,
//     copying each chunk's clips in and its outputs out around the same planned buffers.
//   - A device error in a forward is traced to its kernel by replaying the kernels one by one.
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { foldViews } from '../../src/ir/fold.js';
import { size, type Graph, type NodeId } from '../../src/ir/graph.js';
import { lowerModel } from '../../src/ir/lower.js';
import { checkWeights } from '../../src/ir/params.js';
import { commuteRowViews } from '../../src/passes/commute.js';
import { fuse, type FusedGraph } from '../../src/passes/fuse.js';
import { planMemory, type MemoryPlan } from '../../src/passes/plan-memory.js';
import type { DeviceLimits, PstcDevice } from './device.js';
import { KernelError } from './device.js';
import type { KernelLimits } from './kernels/common.js';
import { lowerKernels, type KernelListing, type LoweredKernel } from './lower-kernels.js';

export type { KernelListing } from './lower-kernels.js';

export interface ModelInput {
  batch: number;
  frames: number;
  size: number;
}

export interface ModelPlan {
  /** The graph the kernels compute: lowered for `microBatch` clips, views commuted and folded. */
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
  /** The fused kernels with their bindings, and the memory plan (for the runtime and tests). */
  steps: LoweredKernel[];
  fused: FusedGraph;
  memory: MemoryPlan;
}

export interface ForwardResult {
  features: Float32Array;
  featuresShape: number[];
  logits?: Float32Array;
  logitsShape?: number[];
}

export interface CompiledModel extends ModelPlan {
  /** clip N×Cin×T×H×W float32, checked against the input shape. */
  forward(clip: Float32Array): Promise<ForwardResult>;
  /** Time one forward on the device (submit → onSubmittedWorkDone), in milliseconds, for bench. */
  timeForward(clip: Float32Array): Promise<number>;
  /** Bytes of device buffers this model allocated. */
  measuredPeakBytes(): number;
  destroy(): void;
}

/** WebGPU's guaranteed limits: a plan made with these runs on every adapter. */
export const DEFAULT_LIMITS: DeviceLimits = {
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
};

const F32 = 4;

function kernelLimitsOf(l: DeviceLimits): KernelLimits {
  return {
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

interface Lowered {
  graph: Graph;
  fused: FusedGraph;
  steps: LoweredKernel[];
  memory: MemoryPlan;
}

function lowerFor(model: ModelConfig, input: ModelInput, limits: KernelLimits): Lowered {
  const graph = commuteRowViews(foldViews(lowerModel(model, input)));
  const fused = fuse(graph);
  return { graph, fused, steps: lowerKernels(fused, limits), memory: planMemory(fused) };
}

/** The largest activation a kernel binds, and that kernel. */
function largestBinding(l: Lowered): { bytes: number; kernel: string; tensor: string } {
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

export function planModel(model: ModelConfig, input: ModelInput, limits?: Partial<DeviceLimits>): ModelPlan {
  const full: DeviceLimits = { ...DEFAULT_LIMITS, ...limits };
  const kernelLimits = kernelLimitsOf(full);
  const bindingLimit = Math.min(full.maxStorageBufferBindingSize, full.maxBufferSize);

  // Every activation holds the batch as a factor, so the largest binding scales with the clips.
  let lowered = lowerFor(model, input, kernelLimits);
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
    lowered = lowerFor(model, { ...input, batch: microBatch }, kernelLimits);
  }
  for (const id of lowered.graph.params) {
    const n = lowered.graph.nodes[id]!;
    if (size(n.shape) * F32 > bindingLimit) {
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
  };
}

function ioBytes(l: Lowered, batch: number, microBatch: number): number {
  let bytes = 0;
  for (const id of [...l.graph.inputs, ...Object.values(l.fused.outputs)]) bytes += (l.memory.bytes.get(id)! / microBatch) * batch;
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Compilation on a device

/** Pipelines per device, by WGSL text without comment lines (the headers name the nodes). */
const pipelineCache = new WeakMap<PstcDevice, Map<string, Promise<GPUComputePipeline>>>();

function cacheKey(wgsl: string): string {
  return wgsl
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('//'))
    .join('\n');
}

async function pipelineFor(device: PstcDevice, s: LoweredKernel): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, (cache = new Map()));
  const key = cacheKey(s.kernel.wgsl);
  let p = cache.get(key);
  if (!p) {
    p = device.createPipeline(s.kernel.label, s.kernel.wgsl, s.kernel.entryPoint, s.kernel.bindings);
    cache.set(key, p);
    // A failed compile must not stay cached.
    p.catch(() => cache.delete(key));
  }
  return p;
}

export interface CompileOptions {
  /** Tighter limits than the device's (tests force micro-batching with a small binding size). */
  limits?: Partial<DeviceLimits>;
}

export async function compileModel(
  device: PstcDevice,
  model: ModelConfig,
  input: ModelInput,
  weights: ReadonlyMap<string, { shape: number[]; data: Float32Array }>,
  options: CompileOptions = {},
): Promise<CompiledModel> {
  const limits: DeviceLimits = { ...device.limits };
  for (const [k, v] of Object.entries(options.limits ?? {}) as [keyof DeviceLimits, number][]) limits[k] = Math.min(limits[k], v);
  const plan = planModel(model, input, limits);
  const { graph, steps, memory, fused } = plan;
  checkWeights(graph, weights);

  const owned: GPUBuffer[] = [];
  let allocated = 0;
  const track = (b: GPUBuffer): GPUBuffer => {
    owned.push(b);
    allocated += b.size;
    return b;
  };
  const destroyAll = () => {
    for (const b of owned) b.destroy();
    owned.length = 0;
  };

  try {
    const buffers = await device.withErrorScopes('allocate and upload buffers', () => {
      const slots = memory.buffers.map((bytes, i) => track(device.createEmptyBuffer(bytes / F32, `activations ${i}`)));
      const params = new Map<NodeId, GPUBuffer>();
      for (const id of graph.params) {
        const n = graph.nodes[id]!;
        const name = n.op.kind === 'param' ? n.op.name : n.label;
        params.set(id, track(device.createBuffer(weights.get(name)!.data, name)));
      }
      return { slots, params };
    });

    const binding = (n: NodeId): GPUBufferBinding => ({ buffer: buffers.slots[memory.slot.get(n)!]!, offset: 0, size: memory.bytes.get(n)! });
    const compiled: { step: LoweredKernel; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup }[] = [];
    for (const step of steps) {
      const pipeline = await pipelineFor(device, step);
      const bindGroup = await device.withErrorScopes(step.kernel.label, () => {
        const entries: GPUBindGroupEntry[] = step.kernel.bindings.map((b) => {
          if (b.constant) {
            const u = track(device.createUniformBuffer(b.constant.byteLength, `${step.kernel.label}.${b.name}`));
            device.writeBuffer(u, b.constant);
            return { binding: b.binding, resource: { buffer: u } };
          }
          const bound = step.binds[b.name];
          if (!bound) throw new KernelError(step.kernel.label, `internal: nothing bound to ${b.name}`);
          if (bound.kind === 'tensor') return { binding: b.binding, resource: binding(bound.node) };
          if (bound.kind === 'param') return { binding: b.binding, resource: { buffer: buffers.params.get(bound.node)! } };
          return { binding: b.binding, resource: { buffer: track(device.createBuffer(bound.data, bound.description)) } };
        });
        return device.device.createBindGroup({ label: step.kernel.label, layout: pipeline.getBindGroupLayout(0), entries });
      });
      compiled.push({ step, pipeline, bindGroup });
    }

    const inputNode = graph.inputs[0]!;
    const featuresNode = fused.outputs.features;
    const logitsNode = fused.outputs.logits;
    const perClip = (n: NodeId) => memory.bytes.get(n)! / plan.microBatch;
    const io =
      plan.chunks > 1
        ? await device.withErrorScopes('allocate batch input/output buffers', () => ({
            clip: track(device.createEmptyBuffer((perClip(inputNode) * plan.batch) / F32, 'clip (whole batch)')),
            features: track(device.createEmptyBuffer((perClip(featuresNode) * plan.batch) / F32, 'features (whole batch)')),
            logits:
              logitsNode !== undefined
                ? track(device.createEmptyBuffer((perClip(logitsNode) * plan.batch) / F32, 'logits (whole batch)'))
                : undefined,
          }))
        : null;
    const slotOf = (n: NodeId) => buffers.slots[memory.slot.get(n)!]!;

    const clipElements = size(graph.inputShape) / plan.microBatch * plan.batch;
    const upload = (clip: Float32Array) => {
      if (clip.length !== clipElements) {
        const shape = [plan.batch, ...graph.inputShape.slice(1)];
        throw new DiagnosticError([
          {
            code: 'PST305',
            severity: 'error',
            message: `the clip holds ${clip.length} values but the model was compiled for [${shape.join(', ')}] (${clipElements} values)`,
            flag: '--input',
            hint: "give --batch, --frames and --size matching the clip, and the model's input channels",
          },
        ]);
      }
      device.writeBuffer(io ? io.clip : slotOf(inputNode), clip);
    };

    /** One command buffer: for each chunk, copy its clips in, every dispatch, copy its outputs out. */
    const encodeForward = (only?: number): GPUCommandBuffer => {
      const encoder = device.device.createCommandEncoder({ label: 'forward' });
      for (let chunk = 0; chunk < plan.chunks; chunk++) {
        const clips = Math.min(plan.microBatch, plan.batch - chunk * plan.microBatch);
        const copy = (from: GPUBuffer, fromOffset: number, to: GPUBuffer, toOffset: number, n: NodeId) =>
          encoder.copyBufferToBuffer(from, fromOffset, to, toOffset, perClip(n) * clips);
        if (io) copy(io.clip, chunk * plan.microBatch * perClip(inputNode), slotOf(inputNode), 0, inputNode);
        const pass = encoder.beginComputePass({ label: `forward chunk ${chunk}` });
        compiled.forEach((k, i) => {
          if (only !== undefined && only !== i) return;
          pass.setPipeline(k.pipeline);
          pass.setBindGroup(0, k.bindGroup);
          pass.dispatchWorkgroups(...k.step.kernel.dispatch);
        });
        pass.end();
        if (io) {
          copy(slotOf(featuresNode), 0, io.features, chunk * plan.microBatch * perClip(featuresNode), featuresNode);
          if (logitsNode !== undefined) copy(slotOf(logitsNode), 0, io.logits!, chunk * plan.microBatch * perClip(logitsNode), logitsNode);
        }
      }
      return encoder.finish();
    };

    /** Submit a forward and wait; a device error is traced to the kernel that raised it. */
    const run = async (): Promise<void> => {
      try {
        await device.withErrorScopes('forward', async () => {
          device.device.queue.submit([encodeForward()]);
          await device.device.queue.onSubmittedWorkDone();
        });
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        for (let i = 0; i < compiled.length; i++) {
          await device.withErrorScopes(compiled[i]!.step.kernel.label, async () => {
            device.device.queue.submit([encodeForward(i)]);
            await device.device.queue.onSubmittedWorkDone();
          });
        }
        throw e;
      }
    };

    const featuresShape = [plan.batch, ...graph.nodes[featuresNode]!.shape.slice(1)];
    const logitsShape = logitsNode !== undefined ? [plan.batch, ...graph.nodes[logitsNode]!.shape.slice(1)] : undefined;
    const readOut = (n: NodeId, whole: GPUBuffer | undefined) =>
      device.readFloat32(whole ?? slotOf(n), (perClip(n) * plan.batch) / F32);

    // Forwards share the planned buffers: one at a time, in call order.
    let queue: Promise<unknown> = Promise.resolve();
    const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
      const next = queue.then(() => {
        if (destroyed) throw new Error('this compiled model was destroyed');
        return fn();
      });
      queue = next.catch(() => undefined);
      return next;
    };
    let destroyed = false;
    return {
      ...plan,
      forward: (clip) =>
        exclusive(async () => {
          upload(clip);
          await run();
          const features = await readOut(featuresNode, io?.features);
          const result: ForwardResult = { features, featuresShape };
          if (logitsNode !== undefined) {
            result.logits = await readOut(logitsNode, io?.logits);
            result.logitsShape = logitsShape!;
          }
          return result;
        }),
      timeForward: (clip) =>
        exclusive(async () => {
          upload(clip);
          await device.device.queue.onSubmittedWorkDone();
          const start = performance.now();
          await run();
          return performance.now() - start;
        }),
      measuredPeakBytes: () => allocated,
      destroy() {
        destroyed = true;
        destroyAll();
      },
    };
  } catch (e) {
    destroyAll();
    throw e;
  }
}
