// The training step's plan, before anything runs (what `pstc explain --train` prints, what the
// step runs): the training program through the pipeline and the kernel emitters at the micro-batch
// the device's binding limits allow (micro-batch.ts), plus what the step allocates besides the
// graph, counted from the step's own description of its buffers (step-buffers.ts).
// Pure: no device; the limits are WebGPU's guaranteed ones unless given.
import { planGraph, type GraphProgram } from '../../backends/webgpu/graph-executor.js';
import { MIN_LIMITS, type KernelLimits } from '../../backends/webgpu/kernels/common.js';
import type { InputSize } from '../passes/lower.js';
import type { ModelConfig } from '../lang/model.js';
import { DiagnosticError } from '../lang/diagnostics.js';
import { runPipeline, startProgram, type BindingLimits } from '../passes/pipeline.js';
import { RECOMPUTE_SUFFIX } from '../passes/recompute.js';
import { limitProblems } from '../passes/verify.js';
import { bindingLimit, bindingsOf, chooseMicroBatch, largestOf, mib, type Binding, type BindingLimit } from './micro-batch.js';
import { DEFAULT_OPTIMIZER, type OptimizerConfig, type OptimizerKind } from './optimizer.js';
import { stepBufferBytes, stepBuffers } from './step-buffers.js';

/** How a step is planned: the program's training options and the device's limits. */
export interface StepPlanOptions {
  labelSmoothing?: number;
  recompute?: boolean;
  /** The limits kernels size their tiles from (default WebGPU's guaranteed ones). */
  kernelLimits?: KernelLimits;
  /** The device's binding limits (default WebGPU's guaranteed ones). */
  bindingLimits?: BindingLimits;
  /** A tighter storage-binding limit in bytes (tests; else PSTC_MAX_BINDING). */
  maxBinding?: number;
}

/** The program a step runs, at the micro-batch its limits allow. */
export interface StepProgram {
  program: GraphProgram;
  /** Clips per micro-batch asked for (as submitted). */
  batch: number;
  /** Clips per micro-batch the device runs, and how many of those make one asked for. */
  microBatch: number;
  split: number;
  /** Why the micro-batch is smaller than asked (absent when it is not). */
  reason?: string;
  limit: BindingLimit;
  /** The largest binding of the program. */
  largest: Binding;
}

/**
 * Plans of one model's training step at one frame count and size, by clips per micro-batch,
 * kept: the one-clip probe the micro-batch is chosen from, and each micro-batch planned.
 */
export class StepPlanner {
  private readonly plans = new Map<number, GraphProgram>();

  constructor(
    readonly model: ModelConfig,
    readonly shape: Omit<InputSize, 'batch'>,
    readonly options: Omit<StepPlanOptions, 'bindingLimits' | 'maxBinding'> = {},
  ) {}

  /** The program for `clips` per micro-batch, whatever its bindings (verified against `limits` when given). */
  graph(clips: number, limits?: BindingLimits): GraphProgram {
    const known = this.plans.get(clips);
    if (known) {
      if (limits) checkLimits(known, limits);
      return known;
    }
    const training = { labelSmoothing: this.options.labelSmoothing ?? 0, recompute: this.options.recompute ?? false };
    const start = { ...startProgram(this.model, { ...this.shape, batch: clips }, training), ...(limits ? { bindingLimits: limits } : {}) };
    const planned = planGraph(runPipeline(start, { until: 'autodiff' }), { limits: this.options.kernelLimits ?? MIN_LIMITS });
    this.plans.set(clips, planned);
    return planned;
  }

  /** The step for `batch` clips per micro-batch under `limit`: split further when a binding would exceed it, or PST307. */
  plan(batch: number, limit: BindingLimit): StepProgram {
    const choice = chooseMicroBatch(this.graph(1), batch, limit);
    // The pipeline's verifier checks the chosen plan's buffers against the limits it is planned for.
    const program = this.graph(choice.microBatch, limit.limits);
    // Tables are bound too but live outside the memory plan: checked here.
    const largest = largestOf(bindingsOf(program))!;
    if (largest.bytes > limit.bytes) throw new Error(`internal: the training plan at micro-batch ${choice.microBatch} binds ${largest.what} of ${mib(largest.bytes)} in ${largest.kernel}, over ${mib(limit.bytes)}`);
    return { program, batch, microBatch: choice.microBatch, split: choice.split, ...(choice.reason ? { reason: choice.reason } : {}), limit, largest };
  }
}

function checkLimits(p: GraphProgram, limits: BindingLimits): void {
  const problems = limitProblems(p.fused, p.memory, limits);
  if (problems.length) throw new Error(`internal: the program is invalid after pass 'plan-memory':\n${problems.slice(0, 5).map((x) => `  - ${x}`).join('\n')}`);
}

/** The step's program for `input.batch` clips per micro-batch, at the micro-batch the limits allow. */
export function planStepProgram(model: ModelConfig, input: InputSize, options: StepPlanOptions = {}): StepProgram {
  const { bindingLimits, maxBinding, ...rest } = options;
  return new StepPlanner(model, { frames: input.frames, size: input.size }, rest).plan(input.batch, bindingLimit(bindingLimits, maxBinding));
}

export interface TrainingPlan {
  /** Clips per optimizer step. */
  batch: number;
  /** Micro-batches asked for (`--accumulate`). */
  accumulate: number;
  /** Clips per micro-batch the device runs, and micro-batches per optimizer step. */
  microBatch: number;
  microBatches: number;
  /** Why the device runs smaller micro-batches than asked (absent when it does not). */
  split?: string;
  /** The storage-binding limit planned for, what it is, and the largest binding of the plan. */
  bindingLimit: { bytes: number; source: string };
  largestBinding: { kernel: string; what: string; bytes: number };
  /** Activation recomputation per block (the `recompute` pass). */
  recompute: boolean;
  /** Of the backward kernels, those that compute a block's forward again (recompute). */
  recomputeKernels: number;
  /** Kernels of the forward + backward graph (one dispatch each per micro-batch). */
  graphKernels: number;
  /** Of those, kernels that compute gradients (after the loss). */
  backwardKernels: number;
  /** Accumulation, metrics, gradient norm, clip factor and one update per parameter tensor, per step. */
  optimizerDispatches: number;
  dispatchesPerStep: number;
  /** Queue submissions per step: one per micro-batch. */
  submissionsPerStep: number;
  parameterTensors: number;
  parameters: number;
  /** Bytes: activations of forward and backward (liveness-planned), their live peak, params + tables. */
  activationBytes: number;
  livePeakBytes: number;
  weightBytes: number;
  /** Bytes of the step's own buffers (step-buffers.ts): optimizer state, accumulated gradients, the rest. */
  optimizerStateBytes: number;
  accumulatorBytes: number;
  stepBufferBytes: number;
  totalBytes: number;
}

export interface PlanOptions {
  /** The optimizer (its state slots); a kind means its defaults. */
  optimizer?: OptimizerKind | Pick<OptimizerConfig, 'kind' | 'momentum'>;
  /** The limits kernels size their tiles from; their binding limits (default the guaranteed ones) may come along. */
  limits?: KernelLimits & Partial<BindingLimits>;
  recompute?: boolean;
  /** Micro-batches asked for per step (`--accumulate`); `input.batch` clips each. */
  accumulate?: number;
  /** A tighter storage-binding limit (tests; else PSTC_MAX_BINDING). */
  maxBinding?: number;
}

/** Dispatches after the graph per step: per micro-batch an accumulation (when several) and the metrics; then norms, scale, updates. */
export function stepExtraDispatches(tensors: number, microBatches: number): number {
  return microBatches * ((microBatches > 1 ? tensors : 0) + 1) + tensors + 1 + tensors;
}

/** The training step for `accumulate` micro-batches of `input.batch` clips, counted before anything runs. */
export function planTraining(model: ModelConfig, input: InputSize, options: PlanOptions = {}): TrainingPlan {
  const { recompute = false, accumulate = 1 } = options;
  const limits: KernelLimits & Partial<BindingLimits> = options.limits ?? MIN_LIMITS;
  const optimizer = typeof options.optimizer === 'object' ? options.optimizer : DEFAULT_OPTIMIZER[options.optimizer ?? 'adamw'];
  const { maxStorageBufferBindingSize: binding, maxBufferSize: buffer } = limits;
  const device = binding !== undefined && buffer !== undefined ? { maxStorageBufferBindingSize: binding, maxBufferSize: buffer } : undefined;
  const step = planStepProgram(model, input, { recompute, kernelLimits: limits, ...(device ? { bindingLimits: device } : {}), ...(options.maxBinding !== undefined ? { maxBinding: options.maxBinding } : {}) });
  const program = step.program;
  const loss = program.fused.outputs.loss;
  const backwardKernels = loss === undefined ? 0 : program.fused.kernels.filter((k) => k.out > loss).length;
  const recomputeKernels = program.fused.kernels.filter((k) => program.graph.nodes[k.out]!.label.endsWith(RECOMPUTE_SUFFIX)).length;
  const params = program.fused.grads.map((g) => ({ name: g.param, elements: program.graph.nodes[g.node]!.shape.reduce((a, b) => a * b, 1) }));
  const parameters = params.reduce((s, p) => s + p.elements, 0);
  const microBatches = accumulate * step.split;
  const buffers = stepBuffers({ optimizer, microBatches, microBatch: step.microBatch, params });
  const optimizerDispatches = stepExtraDispatches(params.length, microBatches);
  const m = program.memory;
  const own = stepBufferBytes(buffers);
  return {
    batch: input.batch * accumulate,
    accumulate,
    microBatch: step.microBatch,
    microBatches,
    ...(step.reason ? { split: step.reason } : {}),
    bindingLimit: { bytes: step.limit.bytes, source: step.limit.source },
    largestBinding: { kernel: step.largest.kernel, what: step.largest.what, bytes: step.largest.bytes },
    recompute,
    recomputeKernels,
    graphKernels: program.dispatches,
    backwardKernels,
    optimizerDispatches,
    dispatchesPerStep: program.dispatches * microBatches + optimizerDispatches,
    submissionsPerStep: microBatches,
    parameterTensors: params.length,
    parameters,
    activationBytes: m.activationBytes,
    livePeakBytes: m.livePeakBytes,
    weightBytes: m.weightBytes,
    optimizerStateBytes: stepBufferBytes(buffers, ['state']),
    accumulatorBytes: stepBufferBytes(buffers, ['accumulated']),
    stepBufferBytes: own,
    totalBytes: m.activationBytes + m.weightBytes + own,
  };
}

/** The plan a run uses, and why: `recompute` as asked, or turned on to fit a memory budget. */
export interface FittedPlan {
  plan: TrainingPlan;
  /** Set when recomputation was turned on because the plan without it exceeds the budget. */
  note?: string;
}

/**
 * The training plan for a memory budget (bytes; `--memory-budget`). WebGPU does not report a
 * device's memory, so the budget is the user's; without one the plan is taken as it is. A plan
 * over budget without recomputation is planned again with it (said in `note`); still over budget
 * is PST708, naming both figures and what to change.
 */
export function fitTrainingPlan(model: ModelConfig, input: InputSize, options: PlanOptions & { budgetBytes?: number }): FittedPlan {
  const { budgetBytes, ...rest } = options;
  const plan = planTraining(model, input, rest);
  if (budgetBytes === undefined || plan.totalBytes <= budgetBytes) return { plan };
  const over = (p: TrainingPlan) => `the planned ${mib(p.totalBytes)} per step (micro-batch ${p.microBatch}) exceeds --memory-budget ${mib(budgetBytes)}`;
  if (!plan.recompute) {
    const recomputed = planTraining(model, input, { ...rest, recompute: true });
    if (recomputed.totalBytes <= budgetBytes) {
      return { plan: recomputed, note: `${over(plan)}: recomputing activations per block (--recompute), planned ${mib(recomputed.totalBytes)}` };
    }
    throw memoryError(`${over(recomputed)} even with activation recomputation per block (${mib(plan.totalBytes)} without)`);
  }
  throw memoryError(`${over(plan)} with activation recomputation per block`);
}

function memoryError(message: string): DiagnosticError {
  return new DiagnosticError([
    { code: 'PST708', severity: 'error', message, flag: '--memory-budget', hint: 'split the batch into micro-batches (--accumulate K), use a smaller --batch or input, or raise --memory-budget' },
  ]);
}
