// One training step on the device. The model's training program (lower in train mode → autodiff →
// fold → commute → fuse → plan memory: the declared pipeline) runs on the executor, and after it,
// in the same command buffer: the metrics kernel, the gradient norm, and the optimizer's update
// of every parameter. So a step with one micro-batch is one queue submission; with gradient
// accumulation each micro-batch is one (its gradient added to an accumulator), the last one also
// updating. The host writes the batch, the RNG key and the step's hyper-parameters, and reads
// back only when asked (metrics every N steps, weights for a checkpoint).
// The micro-batches are the user's (`--accumulate`), each split again when one would bind more
// than the device allows (plan.ts, micro-batch.ts): the device runs `microBatch` clips at a time,
// `microBatches` times per step, with the arithmetic of `--accumulate microBatches`. What the step
// allocates besides the graph is described once (step-buffers.ts), as the plan counts it.
import { compileGraph, type CompiledGraph, type ExtraDispatch, type GraphProgram } from '../../backends/webgpu/graph-executor.js';
import type { PstcDevice } from '../../backends/webgpu/gpu-device.js';
import type { Kernel } from '../../backends/webgpu/kernels/common.js';
import { METRICS, emitMetrics } from '../../backends/webgpu/kernels/metrics.js';
import { SGD_MOMENTUM_STATE, emitAccumulate, emitAdamW, emitGradScale, emitSgd, emitSumSquares } from '../../backends/webgpu/kernels/optimizer.js';
import type { ProfiledDispatch } from '../../backends/webgpu/profile.js';
import { blockOf } from '../ir/analysis.js';
import { size, type Node } from '../ir/graph.js';
import { kernelCost, type KernelCost, type KernelFamily } from '../passes/kernel-cost.js';
import { stepKey } from '../ir/rng.js';
import type { ModelConfig } from '../lang/model.js';
import type { WeightMap } from '../weights/tensor.js';
import { decays, hyperParameters, type OptimizerConfig } from './optimizer.js';
import { planStepProgram, type StepPlanOptions, type StepProgram } from './plan.js';
import { stepBufferBytes, stepBuffers, type StepBuffer } from './step-buffers.js';

export interface StepSetup {
  model: ModelConfig;
  /** Clips per micro-batch as submitted (batch / accumulate); the device may run it in smaller ones. */
  microBatch: number;
  /** Micro-batches submitted per optimizer step (gradient accumulation, `--accumulate`); 1 = none. */
  accumulate: number;
  frames: number;
  size: number;
  optimizer: OptimizerConfig;
  labelSmoothing: number;
  /** The run's seed: dropout masks are drawn from (seed, step). */
  seed: number;
  /** For the metrics: each class's order-reversed partner (synthetic:motion), or none. */
  partners?: readonly number[];
  /** Activation recomputation per block (the `recompute` pass): less memory, one more block forward each. */
  recompute?: boolean;
  /** Data-parallel training (train/distributed-reduce.ts): the number of ranks whose gradients
   *  are summed between backward and update, and the bytes per gradient bucket. With it, every
   *  gradient goes to an accumulator inside a bucket buffer, `submit` stops after the backward
   *  and `submitUpdate` applies the optimizer to the summed gradients. */
  dataParallel?: { ranks: number; bucketBytes: number; /** This rank: its micro-batches' dropout streams follow the lower ranks' (independent masks). */ rank?: number };
  /**
   * A storage-binding limit tighter than the device's, in bytes (tests force the automatic
   * micro-batch with it; PSTC_MAX_BINDING does the same from the environment).
   */
  maxBinding?: number;
}

/** One buffer of gradients that is read back, summed across ranks and written back whole. */
export interface GradientBucket {
  buffer: GPUBuffer;
  /** Float32 elements in the buffer (the parameters' ranges with the alignment padding between). */
  elements: number;
}

/** Running sums since the last reset, as the metrics kernel keeps them. */
export interface StepMetrics {
  /** Σ over submitted micro-batches of their mean loss. */
  loss: number;
  top1: number;
  top5: number;
  samples: number;
  pairHits: number;
  /** 0, or 1 + the first optimizer step whose loss or gradient norm was NaN or infinite. */
  nonFiniteStep: number;
  /** ‖g‖ of the last optimizer step (after averaging over micro-batches, before clipping). */
  gradNorm: number;
}

interface ParamSlot {
  name: string;
  shape: number[];
  elements: number;
  /** Optimizer state by slot name (exp_avg, exp_avg_sq, momentum_buffer). */
  state: Map<string, GPUBuffer>;
  /** The accumulated gradient (accumulate > 1). */
  acc: GPUBuffer | null;
  /** Data-parallel: the accumulator's range within a gradient bucket (then `acc` is that bucket's buffer). */
  accRange?: { offset: number; size: number };
}

export class TrainingStep {
  private readonly owned: GPUBuffer[] = [];
  private readonly params: ParamSlot[] = [];
  /** The step's own buffers by kind (step-buffers.ts); the parameters' ones are in `params`. */
  private readonly single = new Map<StepBuffer['kind'], GPUBuffer>();
  /** What the step allocates besides the graph, as described for the plan. */
  readonly buffers: StepBuffer[];
  /** Clips per device micro-batch, and device micro-batches per optimizer step. */
  readonly microBatch: number;
  readonly microBatches: number;
  /** Dispatches after the graph: per micro-batch (not last), and for the last one of a step. */
  private middle: ExtraDispatch[] = [];
  private first: ExtraDispatch[] = [];
  private last: ExtraDispatch[] = [];
  private readonly extraCosts = new Map<ExtraDispatch, KernelCost>();
  /** Data-parallel: the optimizer's dispatches, submitted after the gradients are summed. */
  private update: ExtraDispatch[] = [];
  /** Data-parallel: the buffers the accumulated gradients live in. */
  readonly gradientBuckets: GradientBucket[] = [];

  private constructor(
    readonly device: PstcDevice,
    readonly setup: StepSetup,
    readonly planned: StepProgram,
    readonly graph: CompiledGraph,
  ) {
    this.microBatch = planned.microBatch;
    this.microBatches = setup.accumulate * planned.split;
    this.buffers = stepBuffers({
      optimizer: setup.optimizer,
      microBatches: this.microBatches,
      microBatch: this.microBatch,
      params: planned.program.fused.grads.map((g) => ({ name: g.param, elements: size(paramNode(planned.program, g.param).shape) })),
      ...(setup.dataParallel ? { dataParallel: { bucketBytes: setup.dataParallel.bucketBytes } } : {}),
    });
  }

  /** The graph program the device runs, for `microBatch` clips. */
  get program(): GraphProgram {
    return this.planned.program;
  }

  /**
   * Plan (at the micro-batch this device's binding limits allow), compile and upload: `weights`
   * are the starting parameters, `state` a checkpoint's optimizer state.
   */
  static async create(device: PstcDevice, setup: StepSetup, weights: WeightMap, state?: WeightMap): Promise<TrainingStep> {
    const planned = planStepProgram(setup.model, { batch: setup.microBatch, frames: setup.frames, size: setup.size }, stepPlanOptions(device, setup));
    const graph = await compileGraph(device, planned.program, weights);
    const step = new TrainingStep(device, setup, planned, graph);
    try {
      await step.prepare(state);
      return step;
    } catch (e) {
      step.destroy();
      throw e;
    }
  }

  /** Dispatches per optimizer step (graph kernels × micro-batches + metrics + optimizer). */
  get dispatchesPerStep(): number {
    const a = this.microBatches;
    if (a === 1) return this.program.dispatches + this.last.length + this.update.length;
    return this.program.dispatches * a + this.first.length + this.middle.length * (a - 2) + this.last.length + this.update.length;
  }

  /** Bytes of device buffers allocated: the graph's and the optimizer's. */
  allocatedBytes(): number {
    return this.graph.allocatedBytes() + this.owned.reduce((s, b) => s + b.size, 0);
  }

  /** Planned device bytes: the graph's activations, params and tables, and the step's own buffers (as plan.ts counts them). */
  plannedBytes(): number {
    const m = this.program.memory;
    return m.activationBytes + m.weightBytes + stepBufferBytes(this.buffers);
  }

  private buffer(elements: number, label: string, data?: Float32Array): GPUBuffer {
    const b = data ? this.device.createBuffer(data, label) : this.device.createEmptyBuffer(elements, label);
    this.owned.push(b);
    return b;
  }

  private async prepare(state: WeightMap | undefined): Promise<void> {
    const { setup, graph, device } = this;
    const o = setup.optimizer;
    const bySlot = new Map<string, ParamSlot>();
    for (const g of this.program.fused.grads) {
      const node = paramNode(this.program, g.param);
      const slot: ParamSlot = { name: g.param, shape: node.shape, elements: size(node.shape), state: new Map(), acc: null };
      bySlot.set(g.param, slot);
      this.params.push(slot);
    }
    // Every buffer as described (step-buffers.ts), and nothing besides.
    for (const b of this.buffers) {
      if (b.kind === 'state') {
        const saved = state?.get(b.label);
        if (state && (!saved || saved.data.length !== b.elements)) throw new Error(`internal: optimizer state ${b.label} is missing or misshapen`);
        bySlot.get(b.param!)!.state.set(b.slot!, this.buffer(b.elements, b.label, saved?.data));
      } else if (b.kind === 'accumulated') {
        bySlot.get(b.param!)!.acc = this.buffer(b.elements, b.label);
      } else if (b.kind === 'bucket') {
        const buffer = this.buffer(b.elements, b.label);
        for (const r of b.ranges!) Object.assign(bySlot.get(r.param)!, { acc: buffer, accRange: { offset: r.offset, size: r.size } });
        this.gradientBuckets.push({ buffer, elements: b.elements });
      } else {
        this.single.set(b.kind, this.buffer(b.elements, b.label));
      }
    }
    const own = (kind: StepBuffer['kind']): GPUBufferBinding => ({ buffer: this.single.get(kind)! });

    const limits = device.kernelLimits();
    const classes = setup.model.head!.classes;
    const metrics = await this.dispatch(emitMetrics({ batch: this.microBatch, classes, ...(setup.partners ? { partners: setup.partners } : {}) }), 'loss', 'head', {
      logits: graph.binding({ output: 'logits' }),
      labels: own('labels'),
      loss: graph.binding({ output: 'loss' }),
      metrics: own('metrics'),
      step: own('step'),
    });
    const accumulate = async (first: boolean) =>
      Promise.all(
        this.params.map((p) =>
          this.dispatch(emitAccumulate({ elements: p.elements, first, limits, label: `accumulate ${p.name}` }), 'optimizer', blockOf(p.name), {
            grad: graph.binding({ grad: p.name }),
            acc: accOf(p),
          }),
        ),
      );
    const accOf = (p: ParamSlot): GPUBufferBinding => ({ buffer: p.acc!, ...p.accRange });
    const gradOf = (p: ParamSlot): GPUBufferBinding => (p.acc ? accOf(p) : graph.binding({ grad: p.name }));
    const norm = await Promise.all(
      this.params.map((p, slot) =>
        this.dispatch(emitSumSquares({ elements: p.elements, slot, slots: this.params.length, label: `Σg² ${p.name}` }), 'optimizer', blockOf(p.name), { grad: gradOf(p), norms: own('norms') }),
      ),
    );
    // The loss is a mean per micro-batch: the step's gradient is the sum over micro-batches and
    // ranks over their count (the micro-batches are equal: the user's accumulation and the
    // automatic split alike), the mean over the step's clips.
    const scale = await this.dispatch(emitGradScale({ slots: this.params.length, maxNorm: o.clipGrad, accumScale: 1 / (this.microBatches * (setup.dataParallel?.ranks ?? 1)) }), 'optimizer', 'optimizer', {
      norms: own('norms'),
      scale: own('scale'),
      metrics: own('metrics'),
      step: own('step'),
    });
    const updates = await Promise.all(
      this.params.map((p) => {
        const decay = o.weightDecay > 0 && decays(p.name, p.shape);
        const common = { param: graph.binding({ param: p.name }), grad: gradOf(p), hyper: own('hyper'), scale: own('scale') };
        // The state binds by slot: the kernels' binding names are the slot names.
        const stateBindings = Object.fromEntries([...p.state].map(([slot, buffer]) => [slot, { buffer }]));
        if (o.kind === 'adamw') {
          return this.dispatch(emitAdamW({ elements: p.elements, decay, limits, label: `adamw ${p.name}` }), 'optimizer', blockOf(p.name), { ...common, ...stateBindings });
        }
        const momentum = p.state.has(SGD_MOMENTUM_STATE[0]);
        return this.dispatch(emitSgd({ elements: p.elements, decay, momentum, limits, label: `sgd ${p.name}` }), 'optimizer', blockOf(p.name), { ...common, ...stateBindings });
      }),
    );
    const optimizerTail = [...norm, scale, ...updates];
    if (setup.dataParallel) {
      // Backward into the bucketed accumulators; the update waits for the ranks' sum.
      const firstAcc = await accumulate(true);
      const laterAcc = this.microBatches > 1 ? await accumulate(false) : firstAcc;
      this.first = [...firstAcc, metrics];
      this.middle = [...laterAcc, metrics];
      this.last = this.microBatches > 1 ? [...laterAcc, metrics] : this.first;
      this.update = optimizerTail;
    } else if (this.microBatches > 1) {
      const firstAcc = await accumulate(true);
      const laterAcc = await accumulate(false);
      this.first = [...firstAcc, metrics];
      this.middle = [...laterAcc, metrics];
      this.last = [...laterAcc, metrics, ...optimizerTail];
    } else {
      this.first = [metrics, ...optimizerTail];
      this.last = this.first;
    }
  }

  /** Data-parallel: apply the optimizer to the gradients now in the buckets (summed across ranks). */
  submitUpdate(): void {
    if (!this.setup.dataParallel) throw new Error('internal: submitUpdate is for data-parallel steps; submit updates on its own');
    const encoder = this.device.device.createCommandEncoder({ label: 'optimizer update' });
    const pass = encoder.beginComputePass({ label: 'optimizer update' });
    for (const x of this.update) {
      pass.setPipeline(x.pipeline);
      pass.setBindGroup(0, x.bindGroup);
      pass.dispatchWorkgroups(...x.workgroups);
    }
    pass.end();
    this.device.device.queue.submit([encoder.finish()]);
  }

  /**
   * A kernel compiled and bound once: its pipeline and bind group for every step. Its cost for a
   * profile: no matrix products; every buffer it binds moved once (kernel-cost.ts's convention).
   */
  private async dispatch(kernel: Kernel, family: KernelFamily, block: string, bound: Record<string, GPUBufferBinding>): Promise<ExtraDispatch> {
    const pipeline = await this.device.createPipeline(kernel.label, kernel.wgsl, kernel.entryPoint, kernel.bindings);
    const missing = kernel.bindings.filter((b) => !bound[b.name]).map((b) => b.name);
    if (missing.length) throw new Error(`internal: ${kernel.label}: nothing bound to ${missing.join(', ')}`);
    const bindGroup = this.device.device.createBindGroup({
      label: kernel.label,
      layout: pipeline.getBindGroupLayout(0),
      entries: kernel.bindings.map((b) => ({ binding: b.binding, resource: bound[b.name]! })),
    });
    const extra: ExtraDispatch = { label: kernel.label, pipeline, bindGroup, workgroups: kernel.dispatch };
    const bytes = kernel.bindings
      .filter((b) => b.kind !== 'uniform')
      .reduce((sum, b) => sum + (bound[b.name]!.size ?? bound[b.name]!.buffer.size - (bound[b.name]!.offset ?? 0)), 0);
    this.extraCosts.set(extra, { family, block, flops: 0, bytes });
    return extra;
  }

  /**
   * Every dispatch of one step with one micro-batch (the graph's kernels, then the metrics and
   * the optimizer), in order, with what each costs: what `bench --train --profile` times one by one.
   */
  profiledDispatches(): ProfiledDispatch[] {
    const graphKernels = this.graph.execution.dispatches.map((dispatch, i) => ({ dispatch, cost: kernelCost(this.program.graph, this.program.steps[i]!.fused) }));
    const extra = (list: readonly ExtraDispatch[]) => list.map((dispatch) => ({ dispatch, cost: this.extraCosts.get(dispatch)! }));
    // Per device micro-batch the graph and what follows it; the update after the last (data-parallel: its own submission).
    const a = this.microBatches;
    const micro = Array.from({ length: a }, (_, i) => [...graphKernels, ...extra(i === a - 1 ? this.last : i === 0 ? this.first : this.middle)]);
    return [...micro.flat(), ...extra(this.update)];
  }

  /**
   * Submit optimizer step `step` (0-based) for its micro-batches: clips N×C×T×H×W and labels per
   * micro-batch, `lr` the step's learning rate. Does not wait for the device.
   */
  submit(step: number, micro: readonly { clips: Float32Array; labels: Int32Array }[], lr: number): void {
    if (micro.length !== this.setup.accumulate) throw new Error(`internal: step ${step} got ${micro.length} micro-batches, expected ${this.setup.accumulate}`);
    const a = this.microBatches;
    const split = this.planned.split;
    this.device.writeBuffer(this.single.get('hyper')!, hyperParameters(this.setup.optimizer, step, lr));
    this.device.writeBuffer(this.single.get('step')!, Float32Array.of(step));
    const key = stepKey(this.setup.seed, step);
    micro.forEach((m, u) => {
      if (m.labels.length !== this.setup.microBatch) throw new Error(`internal: step ${step}: a micro-batch of ${m.labels.length} clips, expected ${this.setup.microBatch}`);
      const perClip = m.clips.length / m.labels.length;
      for (let j = 0; j < split; j++) {
        // Device micro-batch i of the step: the index, key and order `--accumulate a` would give it.
        const i = u * split + j;
        const extra = i === a - 1 ? this.last : i === 0 ? this.first : this.middle;
        // Each micro-batch its own dropout masks: the key of (seed, step), the stream offset by i
        // (data-parallel: by rank × a + i, so no two ranks draw the same masks).
        const stream = i + (this.setup.dataParallel?.rank ?? 0) * a;
        const microKey: [number, number] = stream === 0 ? key : [key[0], (key[1] ^ Math.imul(stream, 0x9e3779b9)) >>> 0];
        const from = j * this.microBatch;
        const clips = split === 1 ? m.clips : m.clips.subarray(from * perClip, (from + this.microBatch) * perClip);
        const labels = Float32Array.from(split === 1 ? m.labels : m.labels.subarray(from, from + this.microBatch));
        this.device.writeBuffer(this.single.get('labels')!, labels);
        this.graph.submit({ clip: clips, labels }, microKey, extra);
      }
    });
  }

  /** The running metric sums since the last reset (waits for the device). */
  async readMetrics(): Promise<StepMetrics> {
    const m = await this.device.readFloat32(this.single.get('metrics')!, METRICS.length);
    const s = await this.device.readFloat32(this.single.get('scale')!, 2);
    const at = (name: (typeof METRICS)[number]) => m[METRICS.indexOf(name)]!;
    // The kernel adds one mean per device micro-batch; a submitted micro-batch's mean is the mean
    // of its `split` equal parts.
    return { loss: at('loss') / this.planned.split, top1: at('top1'), top5: at('top5'), samples: at('samples'), pairHits: at('pairHits'), nonFiniteStep: at('nonFiniteStep'), gradNorm: s[1]! };
  }

  resetMetrics(): void {
    this.device.writeBuffer(this.single.get('metrics')!, new Float32Array(METRICS.length));
  }

  /** The parameters as they stand on the device, by state-dict name (official names). */
  async weights(): Promise<WeightMap> {
    const out: WeightMap = new Map();
    for (const p of this.params) out.set(p.name, { shape: p.shape, data: await this.graph.param(p.name) });
    return out;
  }

  /** The optimizer state by `<slot>.<param name>`, for a checkpoint. */
  async optimizerState(): Promise<WeightMap> {
    const out: WeightMap = new Map();
    for (const p of this.params) {
      for (const [slot, buffer] of p.state) out.set(`${slot}.${p.name}`, { shape: p.shape, data: await this.device.readFloat32(buffer, p.elements) });
    }
    return out;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
    this.graph.destroy();
  }
}

function paramNode(program: GraphProgram, name: string): Node {
  const node = program.graph.nodes.find((n) => n.op.kind === 'param' && n.op.name === name);
  if (!node) throw new Error(`internal: no param '${name}' in the training graph`);
  return node;
}

/** How a step is planned on `device`: its kernel and binding limits, and a forced tighter binding limit. */
export function stepPlanOptions(device: PstcDevice, setup: Pick<StepSetup, 'labelSmoothing' | 'recompute' | 'maxBinding'>): StepPlanOptions {
  return {
    labelSmoothing: setup.labelSmoothing,
    recompute: setup.recompute ?? false,
    kernelLimits: device.kernelLimits(),
    bindingLimits: { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize },
    ...(setup.maxBinding !== undefined ? { maxBinding: setup.maxBinding } : {}),
  };
}
