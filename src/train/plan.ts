// The training step's plan, before anything runs (what `pstc explain --train` prints): the
// training program through the pipeline and the kernel emitters, plus what the optimizer adds.
// Pure: no device; the limits are WebGPU's guaranteed ones unless given.
import { planGraph } from '../../backends/webgpu/graph-executor.js';
import { MIN_LIMITS, type KernelLimits } from '../../backends/webgpu/kernels/common.js';
import type { InputSize } from '../ir/lower.js';
import type { ModelConfig } from '../lang/model.js';
import { DiagnosticError } from '../lang/diagnostics.js';
import { compileProgram } from '../passes/pipeline.js';
import { RECOMPUTE_SUFFIX } from '../passes/recompute.js';
import type { OptimizerKind } from './optimizer.js';

export interface TrainingPlan {
  batch: number;
  /** Activation recomputation per block (the `recompute` pass). */
  recompute: boolean;
  /** Of the backward kernels, those that compute a block's forward again (recompute). */
  recomputeKernels: number;
  /** Kernels of the forward + backward graph (one dispatch each). */
  graphKernels: number;
  /** Of those, kernels that compute gradients (after the loss). */
  backwardKernels: number;
  /** Metrics, gradient norm, clip factor and one update per parameter tensor. */
  optimizerDispatches: number;
  dispatchesPerStep: number;
  parameterTensors: number;
  parameters: number;
  /** Bytes: activations of forward and backward (liveness-planned), their live peak, params + tables, optimizer state. */
  activationBytes: number;
  livePeakBytes: number;
  weightBytes: number;
  optimizerStateBytes: number;
  totalBytes: number;
}

export interface PlanOptions {
  optimizer?: OptimizerKind;
  limits?: KernelLimits;
  recompute?: boolean;
}

export function planTraining(model: ModelConfig, input: InputSize, options: PlanOptions = {}): TrainingPlan {
  const { optimizer = 'adamw', limits = MIN_LIMITS, recompute = false } = options;
  const program = planGraph(compileProgram(model, input, { training: { labelSmoothing: 0, recompute }, until: 'autodiff' }), { limits });
  const loss = program.fused.outputs.loss;
  const backwardKernels = loss === undefined ? 0 : program.fused.kernels.filter((k) => k.out > loss).length;
  const recomputeKernels = program.fused.kernels.filter((k) => program.graph.nodes[k.out]!.label.endsWith(RECOMPUTE_SUFFIX)).length;
  const tensors = program.fused.grads.length;
  const parameters = program.fused.grads.reduce((s, g) => s + program.graph.nodes[g.node]!.shape.reduce((a, b) => a * b, 1), 0);
  const stateSlots = optimizer === 'adamw' ? 2 : 1;
  const optimizerDispatches = 1 + tensors + 1 + tensors;
  const m = program.memory;
  const optimizerStateBytes = stateSlots * parameters * 4;
  return {
    batch: input.batch,
    recompute,
    recomputeKernels,
    graphKernels: program.dispatches,
    backwardKernels,
    optimizerDispatches,
    dispatchesPerStep: program.dispatches + optimizerDispatches,
    parameterTensors: tensors,
    parameters,
    activationBytes: m.activationBytes,
    livePeakBytes: m.livePeakBytes,
    weightBytes: m.weightBytes,
    optimizerStateBytes,
    // …and the step's small buffers: hyper-parameters (8), scale and norm (2), metrics (6), step (1),
    // Σg² per tensor, the metrics' copy of the labels.
    totalBytes: m.activationBytes + m.weightBytes + optimizerStateBytes + (8 + 2 + 6 + 1 + tensors + input.batch) * 4,
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
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const over = (p: TrainingPlan) => `the planned ${mib(p.totalBytes)} per step (micro-batch ${p.batch}) exceeds --memory-budget ${mib(budgetBytes)}`;
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
