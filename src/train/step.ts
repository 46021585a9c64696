// One training step on the device. The model's training program (lower in train mode → autodiff →
// fold → commute → fuse → plan memory: the declared pipeline) runs on the executor, and after it,
// in the same command buffer: the metrics kernel, the gradient norm, and the optimizer's update
// of every parameter. So a step with one micro-batch is one queue submission; with gradient
// accumulation each micro-batch is one (its gradient added to an accumulator), the last one also
// updating. The host writes the batch, the RNG key and the step's hyper-parameters, and reads
// back only when asked (metrics every N steps, weights for a checkpoint).
import { compileGraph, planGraph, type CompiledGraph, type ExtraDispatch, type GraphProgram } from '../../backends/webgpu/graph-executor.js';
import type { PstcDevice } from '../../backends/webgpu/gpu-device.js';
import type { Kernel } from '../../backends/webgpu/kernels/common.js';
import { METRICS, emitMetrics } from '../../backends/webgpu/kernels/metrics.js';
import { emitAccumulate, emitAdamW, emitGradScale, emitSgd, emitSumSquares } from '../../backends/webgpu/kernels/optimizer.js';
import type { ProfiledDispatch } from '../../backends/webgpu/profile.js';
import { blockOf } from '../ir/analysis.js';
import { size } from '../ir/graph.js';
import { kernelCost, type KernelCost, type KernelFamily } from '../passes/kernel-cost.js';
import { stepKey } from '../ir/rng.js';
import type { ModelConfig } from '../lang/model.js';
import { compileProgram } from '../passes/pipeline.js';
import type { WeightMap } from '../weights/tensor.js';
import { decays, hyperParameters, type OptimizerConfig } from './optimizer.js';

export interface StepSetup {
  model: ModelConfig;
  /** Clips per micro-batch (one forward/backward). */
  microBatch: number;
  /** Micro-batches per optimizer step (gradient accumulation); 1 = none. */
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
}

/** Running sums since the last reset, as the metrics kernel keeps them. */
export interface StepMetrics {
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
}

export class TrainingStep {
  private readonly owned: GPUBuffer[] = [];
  private readonly params: ParamSlot[] = [];
  private hyper!: GPUBuffer;
  private scale!: GPUBuffer;
  private metrics!: GPUBuffer;
  private stepInfo!: GPUBuffer;
  /** The labels of the micro-batch for the metrics kernel: the graph's own labels buffer is
   *  free for reuse once the loss's gradient has read it, long before the metrics run. */
  private labels!: GPUBuffer;
  /** Dispatches after the graph: per micro-batch (not last), and for the last one of a step. */
  private middle: ExtraDispatch[] = [];
  private first: ExtraDispatch[] = [];
  private last: ExtraDispatch[] = [];
  private readonly extraCosts = new Map<ExtraDispatch, KernelCost>();

  private constructor(
    readonly device: PstcDevice,
    readonly setup: StepSetup,
    readonly program: GraphProgram,
    readonly graph: CompiledGraph,
  ) {}

  /** Plan, compile and upload: `weights` are the starting parameters, `state` a checkpoint's optimizer state. */
  static async create(device: PstcDevice, setup: StepSetup, weights: WeightMap, state?: WeightMap): Promise<TrainingStep> {
    const input = { batch: setup.microBatch, frames: setup.frames, size: setup.size };
    const differentiated = compileProgram(setup.model, input, { training: { labelSmoothing: setup.labelSmoothing, recompute: setup.recompute ?? false }, until: 'autodiff' });
    const program = planGraph(differentiated, { limits: device.kernelLimits() });
    const graph = await compileGraph(device, program, weights);
    const step = new TrainingStep(device, setup, program, graph);
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
    const a = this.setup.accumulate;
    if (a === 1) return this.program.dispatches + this.last.length;
    return this.program.dispatches * a + this.first.length + this.middle.length * (a - 2) + this.last.length;
  }

  /** Bytes of device buffers allocated: the graph's and the optimizer's. */
  allocatedBytes(): number {
    return this.graph.allocatedBytes() + this.owned.reduce((s, b) => s + b.size, 0);
  }

  /** Planned device bytes: the graph's activations and params, optimizer state, accumulators. */
  plannedBytes(): number {
    const m = this.program.memory;
    return m.activationBytes + m.weightBytes + this.owned.reduce((s, b) => s + b.size, 0);
  }

  private buffer(elements: number, label: string, data?: Float32Array): GPUBuffer {
    const b = data ? this.device.createBuffer(data, label) : this.device.createEmptyBuffer(elements, label);
    this.owned.push(b);
    return b;
  }

  private async prepare(state: WeightMap | undefined): Promise<void> {
    const { setup, graph, device } = this;
    const o = setup.optimizer;
    const slots = o.kind === 'adamw' ? ['exp_avg', 'exp_avg_sq'] : o.momentum > 0 ? ['momentum_buffer'] : [];
    for (const g of this.program.fused.grads) {
      const node = this.program.graph.nodes.find((n) => n.op.kind === 'param' && n.op.name === g.param)!;
      const elements = size(node.shape);
      const slot: ParamSlot = { name: g.param, shape: node.shape, elements, state: new Map(), acc: null };
      for (const s of slots) {
        const saved = state?.get(`${s}.${g.param}`);
        if (state && (!saved || saved.data.length !== elements)) throw new Error(`internal: optimizer state ${s}.${g.param} is missing or misshapen`);
        slot.state.set(s, this.buffer(elements, `${s}.${g.param}`, saved?.data));
      }
      if (setup.accumulate > 1) slot.acc = this.buffer(elements, `accumulated ${g.param}`);
      this.params.push(slot);
    }
    this.hyper = this.buffer(8, 'optimizer hyper-parameters');
    this.scale = this.buffer(2, 'gradient scale, norm');
    this.metrics = this.buffer(METRICS.length, 'metrics');
    this.stepInfo = this.buffer(1, 'step');
    this.labels = this.buffer(setup.microBatch, 'labels for the metrics');
    const norms = this.buffer(this.params.length, 'Σg² per tensor');

    const limits = device.kernelLimits();
    const classes = setup.model.head!.classes;
    const metrics = await this.dispatch(emitMetrics({ batch: setup.microBatch, classes, ...(setup.partners ? { partners: setup.partners } : {}) }), 'loss', 'head', {
      logits: graph.binding({ output: 'logits' }),
      labels: { buffer: this.labels },
      loss: graph.binding({ output: 'loss' }),
      metrics: { buffer: this.metrics },
      step: { buffer: this.stepInfo },
    });
    const accumulate = async (first: boolean) =>
      Promise.all(
        this.params.map((p) =>
          this.dispatch(emitAccumulate({ elements: p.elements, first, limits, label: `accumulate ${p.name}` }), 'optimizer', blockOf(p.name), {
            grad: graph.binding({ grad: p.name }),
            acc: { buffer: p.acc! },
          }),
        ),
      );
    const gradOf = (p: ParamSlot): GPUBufferBinding => (p.acc ? { buffer: p.acc } : graph.binding({ grad: p.name }));
    const norm = await Promise.all(
      this.params.map((p, slot) =>
        this.dispatch(emitSumSquares({ elements: p.elements, slot, slots: this.params.length, label: `Σg² ${p.name}` }), 'optimizer', blockOf(p.name), { grad: gradOf(p), norms: { buffer: norms } }),
      ),
    );
    const scale = await this.dispatch(emitGradScale({ slots: this.params.length, maxNorm: o.clipGrad, accumScale: 1 / setup.accumulate }), 'optimizer', 'optimizer', {
      norms: { buffer: norms },
      scale: { buffer: this.scale },
      metrics: { buffer: this.metrics },
      step: { buffer: this.stepInfo },
    });
    const updates = await Promise.all(
      this.params.map((p) => {
        const decay = o.weightDecay > 0 && decays(p.name, p.shape);
        const common = { param: graph.binding({ param: p.name }), grad: gradOf(p), hyper: { buffer: this.hyper }, scale: { buffer: this.scale } };
        if (o.kind === 'adamw') {
          return this.dispatch(emitAdamW({ elements: p.elements, decay, limits, label: `adamw ${p.name}` }), 'optimizer', blockOf(p.name), {
            ...common,
            exp_avg: { buffer: p.state.get('exp_avg')! },
            exp_avg_sq: { buffer: p.state.get('exp_avg_sq')! },
          });
        }
        const momentum = p.state.get('momentum_buffer');
        return this.dispatch(emitSgd({ elements: p.elements, decay, momentum: momentum !== undefined, limits, label: `sgd ${p.name}` }), 'optimizer', blockOf(p.name), {
          ...common,
          ...(momentum ? { momentum_buffer: { buffer: momentum } } : {}),
        });
      }),
    );
    const optimizerTail = [...norm, scale, ...updates];
    if (setup.accumulate > 1) {
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
    if (this.setup.accumulate !== 1) throw new Error('internal: a profile times steps of one micro-batch');
    const graphKernels = this.graph.execution.dispatches.map((dispatch, i) => ({ dispatch, cost: kernelCost(this.program.graph, this.program.steps[i]!.fused) }));
    return [...graphKernels, ...this.last.map((dispatch) => ({ dispatch, cost: this.extraCosts.get(dispatch)! }))];
  }

  /**
   * Submit optimizer step `step` (0-based) for its micro-batches: clips N×C×T×H×W and labels per
   * micro-batch, `lr` the step's learning rate. Does not wait for the device.
   */
  submit(step: number, micro: readonly { clips: Float32Array; labels: Int32Array }[], lr: number): void {
    const a = this.setup.accumulate;
    if (micro.length !== a) throw new Error(`internal: step ${step} got ${micro.length} micro-batches, expected ${a}`);
    this.device.writeBuffer(this.hyper, hyperParameters(this.setup.optimizer, step, lr));
    this.device.writeBuffer(this.stepInfo, Float32Array.of(step));
    const key = stepKey(this.setup.seed, step);
    micro.forEach((m, i) => {
      const extra = i === a - 1 ? this.last : i === 0 ? this.first : this.middle;
      // Each micro-batch its own dropout masks: the key of (seed, step), the stream offset by i.
      const microKey: [number, number] = i === 0 ? key : [key[0], (key[1] ^ Math.imul(i, 0x9e3779b9)) >>> 0];
      const labels = Float32Array.from(m.labels);
      this.device.writeBuffer(this.labels, labels);
      this.graph.submit({ clip: m.clips, labels }, microKey, extra);
    });
  }

  /** The running metric sums since the last reset (waits for the device). */
  async readMetrics(): Promise<StepMetrics> {
    const m = await this.device.readFloat32(this.metrics, METRICS.length);
    const s = await this.device.readFloat32(this.scale, 2);
    return { loss: m[0]!, top1: m[1]!, top5: m[2]!, samples: m[3]!, pairHits: m[4]!, nonFiniteStep: m[5]!, gradNorm: s[1]! };
  }

  resetMetrics(): void {
    this.device.writeBuffer(this.metrics, new Float32Array(METRICS.length));
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
