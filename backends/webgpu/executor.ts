// Execution on a device of any planned kernel list over planned buffers: it knows nothing of
// models, batches or what the kernels compute. The inference runtime (runtime.ts) gives it the
// forward's plan; training will give it a forward+backward+optimizer plan the same way.
//   - Pipelines are compiled once and cached per device by WGSL text (comments aside), so kernels
//     with the same shapes and maps share them.
//   - One buffer per planned activation buffer, one per param, uniforms and static tables
//     uploaded once; bind groups are made once, since every buffer is fixed.
//   - A device error in a submission is traced to its kernel by replaying the kernels one by one.
import { F32_BYTES, type NodeId } from '../../src/ir/graph.js';
import type { MemoryPlan } from '../../src/passes/plan-memory.js';
import { KernelError, type PstcDevice } from './gpu-device.js';
import type { LoweredKernel } from './lower-kernels.js';


/** What the executor needs: kernels in dispatch order with their bindings, and where every tensor lives. */
export interface ExecutionPlan {
  kernels: readonly LoweredKernel[];
  memory: Pick<MemoryPlan, 'slot' | 'bytes' | 'buffers'>;
  /** The data of every param node a kernel binds: float32, or half-float bits where stored as f16. */
  params: ReadonlyMap<NodeId, { name: string; data: Float32Array | Uint16Array }>;
}

/** Pipelines per device, by WGSL text without comment lines (the headers name the nodes). */
const pipelineCache = new WeakMap<PstcDevice, Map<string, Promise<GPUComputePipeline>>>();

function cacheKey(wgsl: string): string {
  return wgsl
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('//'))
    .join('\n');
}

function pipelineFor(device: PstcDevice, s: LoweredKernel): Promise<GPUComputePipeline> {
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

/** One dispatch ready to encode: a compiled pipeline, its bind group and workgroup counts. */
export interface ReadyDispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
}

export class Execution {
  private readonly owned: GPUBuffer[] = [];
  private allocated = 0;
  private slots: GPUBuffer[] = [];
  private ready: ReadyDispatch[] = [];
  private params = new Map<NodeId, GPUBuffer>();

  private constructor(
    readonly device: PstcDevice,
    private readonly plan: ExecutionPlan,
  ) {}

  /** Allocate every buffer, upload params and tables, compile (or reuse) every pipeline. */
  static async create(device: PstcDevice, plan: ExecutionPlan): Promise<Execution> {
    const e = new Execution(device, plan);
    try {
      await e.prepare();
      return e;
    } catch (err) {
      e.destroy();
      throw err;
    }
  }

  private async prepare(): Promise<void> {
    const { device, plan } = this;
    const params = (this.params = await device.withErrorScopes('allocate and upload buffers', () => {
      this.slots = plan.memory.buffers.map((bytes, i) => this.track(device.createEmptyBuffer(bytes / F32_BYTES, `activations ${i}`)));
      const params = new Map<NodeId, GPUBuffer>();
      for (const [id, p] of plan.params) params.set(id, this.track(device.createBuffer(p.data, p.name)));
      return params;
    }));
    for (const step of plan.kernels) {
      const label = step.kernel.label;
      const pipeline = await pipelineFor(device, step);
      const bindGroup = await device.withErrorScopes(label, () => {
        const entries: GPUBindGroupEntry[] = step.kernel.bindings.map((b) => {
          if (b.constant) {
            const u = this.track(device.createUniformBuffer(b.constant.byteLength, `${label}.${b.name}`));
            device.writeBuffer(u, b.constant);
            return { binding: b.binding, resource: { buffer: u } };
          }
          const bound = step.binds[b.name];
          if (!bound) throw new KernelError(label, `internal: nothing bound to ${b.name}`);
          if (bound.kind === 'tensor') return { binding: b.binding, resource: { buffer: this.buffer(bound.node), offset: 0, size: plan.memory.bytes.get(bound.node)! } };
          if (bound.kind === 'param') {
            const buffer = params.get(bound.node);
            if (!buffer) throw new KernelError(label, `internal: no data for param '${bound.name}'`);
            return { binding: b.binding, resource: { buffer } };
          }
          if (bound.kind === 'step_key') return { binding: b.binding, resource: { buffer: this.stepKeyBuffer() } };
          return { binding: b.binding, resource: { buffer: this.track(device.createBuffer(bound.data, bound.description)) } };
        });
        return device.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
      });
      this.ready.push({ label, pipeline, bindGroup, workgroups: step.kernel.dispatch });
    }
  }

  private stepKey: GPUBuffer | null = null;

  /** The two u32 words of the step's RNG key that dropout kernels read (training graphs). */
  private stepKeyBuffer(): GPUBuffer {
    return (this.stepKey ??= this.track(this.device.createEmptyBuffer(2, 'step key')));
  }

  /** Set the RNG key the next submission's dropout kernels draw from. */
  setStepKey(key: readonly [number, number]): void {
    this.device.writeBuffer(this.stepKeyBuffer(), Uint32Array.of(key[0] >>> 0, key[1] >>> 0));
  }

  private track(b: GPUBuffer): GPUBuffer {
    this.owned.push(b);
    this.allocated += b.size;
    return b;
  }

  /** The planned buffer holding a tensor (a kernel's output or a graph input). */
  buffer(node: NodeId): GPUBuffer {
    const slot = this.plan.memory.slot.get(node);
    if (slot === undefined) throw new Error(`internal: tensor %${node} has no planned buffer`);
    return this.slots[slot]!;
  }

  /** The device copy of a param node (training updates it in place; checkpoints read it). */
  paramBuffer(node: NodeId): GPUBuffer {
    const b = this.params.get(node);
    if (!b) throw new Error(`internal: %${node} is not a param of this execution`);
    return b;
  }

  /** Bytes of `node` as planned. */
  bytes(node: NodeId): number {
    return this.plan.memory.bytes.get(node)!;
  }

  /** A buffer the caller needs beside the plan (e.g. a whole batch's input), owned and counted here. */
  allocate(elements: number, label: string): GPUBuffer {
    return this.track(this.device.createEmptyBuffer(elements, label));
  }

  get kernelCount(): number {
    return this.ready.length;
  }

  /** The planned kernels, ready to encode, in dispatch order (a profile times them one by one). */
  get dispatches(): readonly ReadyDispatch[] {
    return this.ready;
  }

  /** Bytes of every device buffer this execution allocated. */
  allocatedBytes(): number {
    return this.allocated;
  }

  /** One compute pass dispatching every kernel in order (or only kernel `only`). */
  encodeKernels(encoder: GPUCommandEncoder, label: string, only?: number): void {
    const pass = encoder.beginComputePass({ label });
    this.ready.forEach((k, i) => {
      if (only !== undefined && only !== i) return;
      pass.setPipeline(k.pipeline);
      pass.setBindGroup(0, k.bindGroup);
      pass.dispatchWorkgroups(...k.workgroups);
    });
    pass.end();
  }

  /**
   * Submit the command buffer `build()` makes and wait. On a device error, replay with
   * `build(i)` (kernel i alone) for each kernel, so the error names the kernel that raised it.
   */
  async submit(label: string, build: (only?: number) => GPUCommandBuffer): Promise<void> {
    const queue = this.device.device.queue;
    try {
      await this.device.withErrorScopes(label, async () => {
        queue.submit([build()]);
        await queue.onSubmittedWorkDone();
      });
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      for (let i = 0; i < this.ready.length; i++) {
        await this.device.withErrorScopes(this.ready[i]!.label, async () => {
          queue.submit([build(i)]);
          await queue.onSubmittedWorkDone();
        });
      }
      throw e;
    }
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}
