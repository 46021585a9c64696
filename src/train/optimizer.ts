// The optimizer on the host side: its settings, which parameters decay, the learning-rate
// schedule, the per-step hyper-parameter vectors the device kernels read
// (backends/webgpu/kernels/optimizer.ts), and a float32 reference of the updates in exactly the
// kernels' order of operations (tests compare the two; torch.optim.AdamW/SGD define both).
import { ADAMW_HYPER, ADAMW_STATE, SGD_HYPER, SGD_MOMENTUM_STATE, hyperValues, type HyperNames } from '../../backends/webgpu/kernels/optimizer.js';

export type OptimizerKind = 'adamw' | 'sgd';

export interface OptimizerConfig {
  kind: OptimizerKind;
  /** Peak learning rate (after warm-up). */
  lr: number;
  weightDecay: number;
  /** AdamW. */
  beta1: number;
  beta2: number;
  eps: number;
  /** SGD. */
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** Global-norm clipping; 0 = none. */
  clipGrad: number;
}

export const DEFAULT_OPTIMIZER: Record<OptimizerKind, OptimizerConfig> = {
  // The official PST/Swin video recipe: AdamW, lr 1e-3 × batch/64 there, betas (0.9, 0.999), wd 0.05.
  adamw: { kind: 'adamw', lr: 1e-3, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0, dampening: 0, nesterov: false, clipGrad: 0 },
  sgd: { kind: 'sgd', lr: 0.01, weightDecay: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0.9, dampening: 0, nesterov: false, clipGrad: 0 },
};

/**
 * Whether weight decay applies to a parameter: not to LayerNorm weights and biases, linear biases
 * (every 1-D tensor) nor relative-position bias tables — the official Swin/PST recipes.
 */
export function decays(name: string, shape: readonly number[]): boolean {
  return shape.length > 1 && !name.endsWith('.bias') && !name.endsWith('relative_position_bias_table');
}

export interface Schedule {
  /** Optimizer steps in the whole run. */
  totalSteps: number;
  /** Linear warm-up steps from lr/warmupSteps to lr. */
  warmupSteps: number;
  /** The floor of the cosine. */
  minLr: number;
}

/**
 * The learning rate of optimizer step `step` (0-based): linear warm-up over `warmupSteps`
 * (lr·(step+1)/warmup), then cosine annealing from lr to minLr at the last step.
 */
export function learningRate(step: number, lr: number, s: Schedule): number {
  if (step < s.warmupSteps) return (lr * (step + 1)) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const t = Math.min(1, (step - s.warmupSteps) / span);
  return s.minLr + (lr - s.minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** The names of the `hyper` buffer's values, in its order (the kernels read the same list). */
export function hyperNames(kind: OptimizerKind): HyperNames {
  return kind === 'adamw' ? ADAMW_HYPER : SGD_HYPER;
}

/**
 * The state slots each parameter keeps: AdamW's two moments, SGD's momentum buffer only with
 * momentum (torch.optim.SGD keeps none without).
 */
export function stateSlots(o: Pick<OptimizerConfig, 'kind' | 'momentum'>): readonly string[] {
  if (o.kind === 'adamw') return ADAMW_STATE;
  return o.momentum > 0 ? SGD_MOMENTUM_STATE : [];
}

/** The `hyper` buffer of step `step` (0-based), in the order of ADAMW_HYPER / SGD_HYPER. */
export function hyperParameters(o: OptimizerConfig, step: number, lr: number): Float32Array {
  if (o.kind === 'adamw') {
    const t = step + 1;
    const values: Record<(typeof ADAMW_HYPER)[number], number> = {
      lr,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weightDecay: o.weightDecay,
      biasCorrection1: 1 - o.beta1 ** t,
      biasCorrection2Sqrt: Math.sqrt(1 - o.beta2 ** t),
    };
    return Float32Array.from(ADAMW_HYPER.map((k) => values[k]));
  }
  const values: Record<(typeof SGD_HYPER)[number], number> = {
    lr,
    momentum: o.momentum,
    dampening: o.dampening,
    weightDecay: o.weightDecay,
    nesterov: o.nesterov ? 1 : 0,
    firstStep: step === 0 ? 1 : 0,
  };
  return Float32Array.from(SGD_HYPER.map((k) => values[k]));
}

const f = Math.fround;

/** float32 AdamW on the host, in the kernel's order of operations (for tests). */
export function adamwReference(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  hyper: Float32Array,
  scale: number,
  decay: boolean,
): void {
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, biasCorrection1: bc1, biasCorrection2Sqrt: bc2s } = hyperValues(ADAMW_HYPER, hyper);
  for (let i = 0; i < p.length; i++) {
    const gi = f(g[i]! * scale);
    let pi = p[i]!;
    if (decay) pi = f(pi * f(1 - f(lr * wd)));
    const mi = f(f(m[i]! * b1) + f(f(1 - b1) * gi));
    const vi = f(f(v[i]! * b2) + f(f(f(1 - b2) * gi) * gi));
    m[i] = mi;
    v[i] = vi;
    const denom = f(f(Math.sqrt(vi) / bc2s) + eps);
    p[i] = f(pi - f(f(lr / bc1) * f(mi / denom)));
  }
}

/** float32 SGD on the host, in the kernel's order of operations (for tests). */
export function sgdReference(p: Float32Array, g: Float32Array, buf: Float32Array | null, hyper: Float32Array, scale: number, decay: boolean): void {
  const { lr, momentum, dampening, weightDecay: wd, nesterov, firstStep: first } = hyperValues(SGD_HYPER, hyper);
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]!;
    let d = f(g[i]! * scale);
    if (decay) d = f(d + f(wd * pi));
    if (buf) {
      const b = first ? d : f(f(buf[i]! * momentum) + f(f(1 - dampening) * d));
      buf[i] = b;
      d = nesterov ? f(d + f(momentum * b)) : b;
    }
    p[i] = f(pi - f(lr * d));
  }
}
