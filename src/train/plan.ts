// The training step's plan, before anything runs (what `pstc explain --train` prints): the
// training program through the pipeline and the kernel emitters, plus what the optimizer adds.
// Pure: no device; the limits are WebGPU's guaranteed ones unless given.
import { planGraph } from '../../backends/webgpu/graph-executor.js';
import { MIN_LIMITS, type KernelLimits } from '../../backends/webgpu/kernels/common.js';
import type { InputSize } from '../ir/lower.js';
import type { ModelConfig } from '../lang/model.js';
import { compileProgram } from '../passes/pipeline.js';
import type { OptimizerKind } from './optimizer.js';

export interface TrainingPlan {
  batch: number;
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

export function planTraining(model: ModelConfig, input: InputSize, optimizer: OptimizerKind = 'adamw', limits: KernelLimits = MIN_LIMITS): TrainingPlan {
  const program = planGraph(compileProgram(model, input, { training: { labelSmoothing: 0 }, until: 'autodiff' }), { limits });
  const loss = program.fused.outputs.loss;
  const backwardKernels = loss === undefined ? 0 : program.fused.kernels.filter((k) => k.out > loss).length;
  const tensors = program.fused.grads.length;
  const parameters = program.fused.grads.reduce((s, g) => s + program.graph.nodes[g.node]!.shape.reduce((a, b) => a * b, 1), 0);
  const stateSlots = optimizer === 'adamw' ? 2 : 1;
  const optimizerDispatches = 1 + tensors + 1 + tensors;
  const m = program.memory;
  const optimizerStateBytes = stateSlots * parameters * 4;
  return {
    batch: input.batch,
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
