// The optimizer's kernels: one dispatch per parameter tensor, elementwise and deterministic, so a
// training step replays bit for bit. A step runs, after the backward kernels:
//   1. sum_squares per gradient → one slot of `norms` (a fixed-order reduction, no atomics);
//   2. grad_scale: one thread sums the slots in order and writes the factor every update applies
//      (1/accumulated micro-steps × the global-norm clip factor) and the norm itself, for logs;
//   3. adamw or sgd per parameter, reading the per-step hyper-parameters the host wrote.
// `accumulate` adds a micro-batch's gradient into a persistent accumulator (gradient accumulation).
// The arithmetic follows PyTorch's torch.optim.AdamW / SGD (single-tensor, non-foreach) exactly in
// the order of its operations; src/train/optimizer.ts is the float32 host reference the tests use.
import {
  elementwiseKernel,
  MIN_LIMITS,
  headerComment,
  storageDecl,
  wgslFloat,
  wgslInt,
  workgroupSumWgsl,
  type Kernel,
  type KernelBinding,
  type KernelLimits,
} from './common.js';
import { METRICS } from './metrics.js';

const THREADS = 256;
const NON_FINITE = METRICS.indexOf('nonFiniteStep');

/**
 * The per-step hyper-parameters of AdamW and of SGD, in the order of the `hyper` buffer: the one
 * list the host fills the buffer from (src/train/optimizer.ts hyperParameters), the kernels read
 * their indices from (hyperLets) and the host reference reads by name (hyperValues).
 */
export const ADAMW_HYPER = ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'biasCorrection1', 'biasCorrection2Sqrt'] as const;
export const SGD_HYPER = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'firstStep'] as const;
export type HyperNames = typeof ADAMW_HYPER | typeof SGD_HYPER;

/** The optimizer state each parameter keeps, by slot (the kernels' binding names, the checkpoint's prefixes). */
export const ADAMW_STATE = ['exp_avg', 'exp_avg_sq'] as const;
export const SGD_MOMENTUM_STATE = ['momentum_buffer'] as const;

/** One WGSL `let` per hyper-parameter, named as in the list, read from its index in `hyper`. */
function hyperLets(names: HyperNames): string {
  return names.map((name, i) => `  let ${name} = hyper[${i}];`).join('\n');
}

/** A `hyper` buffer's values by name (the host reference's view of what the kernels read). */
export function hyperValues<N extends HyperNames>(names: N, hyper: Float32Array): Record<N[number], number> {
  if (hyper.length !== names.length) throw new Error(`internal: ${hyper.length} hyper-parameters, expected ${names.length} (${names.join(', ')})`);
  return Object.fromEntries(names.map((name, i) => [name, hyper[i]!])) as Record<N[number], number>;
}

interface ElementwiseOptions {
  elements: number;
  label?: string;
  limits?: KernelLimits;
}

function checkElements(label: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`internal error: ${label}: ${n} elements`);
}

const binding = (i: number, name: string, kind: KernelBinding['kind'], elements: number, description: string): KernelBinding => ({
  binding: i,
  name,
  kind,
  type: 'f32',
  elements,
  description,
});

/** One thread per value, on the skeleton codegen's elementwise kernels use too. */
function elementwise(label: string, lines: string[], bindings: KernelBinding[], n: number, body: string, limits: KernelLimits): Kernel {
  return elementwiseKernel({ label, header: lines, elements: n, count: 'N', index: 'i', threads: THREADS, bindings, body, limits });
}

/**
 * AdamW (decoupled weight decay), as torch.optim.AdamW: p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g;
 * v ← β2·v + (1−β2)·g²; p ← p − (lr/bc1)·m/(√v/√bc2 + eps), with g = grad·scale[0].
 * `decay: false` compiles the decay out (norms, biases, bias tables: the official recipes).
 */
export function emitAdamW(o: ElementwiseOptions & { decay: boolean }): Kernel {
  const label = o.label ?? `adamw_${o.elements}`;
  checkElements(label, o.elements);
  const n = o.elements;
  const bindings = [
    binding(0, 'param', 'storage', n, `parameter [${n}], updated in place`),
    binding(1, 'grad', 'read-only-storage', n, `gradient [${n}]`),
    binding(2, ADAMW_STATE[0], 'storage', n, `first moment [${n}]`),
    binding(3, ADAMW_STATE[1], 'storage', n, `second moment [${n}]`),
    binding(4, 'hyper', 'read-only-storage', ADAMW_HYPER.length, `step hyper-parameters: ${ADAMW_HYPER.join(', ')}`),
    binding(5, 'scale', 'read-only-storage', 2, 'gradient factor (accumulation × clip), global norm'),
  ];
  const body = `${hyperLets(ADAMW_HYPER)}
  let g = grad[i] * scale[0];
  var p = param[i];
${o.decay ? '  p = p * (1.0 - lr * weightDecay);\n' : ''}  let m = exp_avg[i] * beta1 + (1.0 - beta1) * g;
  let v = exp_avg_sq[i] * beta2 + (1.0 - beta2) * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  let denom = sqrt(v) / biasCorrection2Sqrt + eps;
  param[i] = p - (lr / biasCorrection1) * (m / denom);`;
  const lines = [
    `${label}: AdamW update of ${n} values${o.decay ? ' with decoupled weight decay' : ' (no weight decay: a norm, bias or bias table)'}`,
    'g = grad·scale[0]; m, v moments as torch.optim.AdamW; elementwise, one thread per value',
  ];
  return elementwise(label, lines, bindings, n, body, o.limits ?? MIN_LIMITS);
}

/**
 * SGD with momentum as torch.optim.SGD: d = g + wd·p; buf ← d on the first step, else
 * momentum·buf + (1 − dampening)·d; d ← d + momentum·buf (nesterov) or buf; p ← p − lr·d.
 * With momentum 0 the buffer is not used: p ← p − lr·(g + wd·p).
 */
export function emitSgd(o: ElementwiseOptions & { decay: boolean; momentum: boolean }): Kernel {
  const label = o.label ?? `sgd_${o.elements}`;
  checkElements(label, o.elements);
  const n = o.elements;
  // Without momentum there is no buffer to keep (torch.optim.SGD keeps none either).
  const bindings = [
    binding(0, 'param', 'storage', n, `parameter [${n}], updated in place`),
    binding(1, 'grad', 'read-only-storage', n, `gradient [${n}]`),
    binding(2, 'hyper', 'read-only-storage', SGD_HYPER.length, `step hyper-parameters: ${SGD_HYPER.join(', ')}`),
    binding(3, 'scale', 'read-only-storage', 2, 'gradient factor (accumulation × clip), global norm'),
    ...(o.momentum ? [binding(4, SGD_MOMENTUM_STATE[0], 'storage', n, `momentum buffer [${n}]`)] : []),
  ];
  const decay = o.decay ? '  d = d + weightDecay * p;\n' : '';
  const momentum = o.momentum
    ? `  var b = d;
  if (firstStep == 0.0) {
    b = momentum_buffer[i] * momentum + (1.0 - dampening) * d;
  }
  momentum_buffer[i] = b;
  if (nesterov != 0.0) {
    d = d + momentum * b;
  } else {
    d = b;
  }
`
    : '';
  const body = `${hyperLets(SGD_HYPER)}
  let p = param[i];
  var d = grad[i] * scale[0];
${decay}${momentum}  param[i] = p - lr * d;`;
  const lines = [`${label}: SGD update of ${n} values${o.momentum ? ' with momentum' : ''}${o.decay ? ', weight decay' : ''}`, 'elementwise, one thread per value'];
  return elementwise(label, lines, bindings, n, body, o.limits ?? MIN_LIMITS);
}

/** acc ← grad (the first micro-batch of a step) or acc + grad (the others). */
export function emitAccumulate(o: ElementwiseOptions & { first: boolean }): Kernel {
  const label = o.label ?? `accumulate_${o.elements}${o.first ? '_first' : ''}`;
  checkElements(label, o.elements);
  const n = o.elements;
  const bindings = [binding(0, 'grad', 'read-only-storage', n, `micro-batch gradient [${n}]`), binding(1, 'acc', 'storage', n, `accumulated gradient [${n}]`)];
  const body = o.first ? '  acc[i] = grad[i];' : '  acc[i] = acc[i] + grad[i];';
  return elementwise(label, [`${label}: gradient accumulation over micro-batches`], bindings, n, body, o.limits ?? MIN_LIMITS);
}

/**
 * Σ grad² of one tensor into norms[slot]: one workgroup, each thread a strided partial sum, then a
 * tree in workgroup memory — a fixed order, so the sum is the same bits every step.
 */
export function emitSumSquares(o: { elements: number; slot: number; slots: number; label?: string }): Kernel {
  const label = o.label ?? `sum_squares_${o.elements}`;
  checkElements(label, o.elements);
  const n = o.elements;
  const bindings = [binding(0, 'grad', 'read-only-storage', n, `gradient [${n}]`), binding(1, 'norms', 'storage', o.slots, `Σg² per tensor [${o.slots}]`)];
  const wgsl = `${headerComment([`${label}: Σ grad² of ${n} values into norms[${o.slot}] (global-norm clipping)`, `one workgroup of ${THREADS} threads, fixed-order tree reduction`])}

const N: i32 = ${wgslInt(n)};
const SLOT: i32 = ${wgslInt(o.slot)};

${bindings.map(storageDecl).join('\n')}

${workgroupSumWgsl(THREADS)}

@compute @workgroup_size(${THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let t = i32(lid);
  var s = 0.0;
  for (var i = t; i < N; i += ${THREADS}) {
    let g = grad[i];
    s += g * g;
  }
  let total = workgroup_sum(t, s);
  if (t == 0) {
    norms[SLOT] = total;
  }
}
`;
  return { label, wgsl, entryPoint: 'main', workgroupSize: [THREADS, 1, 1], dispatch: [1, 1, 1], bindings };
}

/**
 * scale[0] = accumScale · min(1, maxNorm/(‖g‖ + 1e-6)) (no clipping when maxNorm = 0), scale[1] =
 * ‖g‖ = √Σ norms, summed in slot order by one thread (as torch.nn.utils.clip_grad_norm_); a
 * non-finite ‖g‖ is recorded in metrics' nonFiniteStep as the step + 1, as the metrics kernel records a loss.
 */
export function emitGradScale(o: { slots: number; maxNorm: number; accumScale: number; label?: string }): Kernel {
  const label = o.label ?? 'grad_scale';
  const bindings = [
    binding(0, 'norms', 'read-only-storage', o.slots, `Σg² per tensor [${o.slots}]`),
    binding(1, 'scale', 'storage', 2, 'gradient factor, global norm'),
    binding(2, 'metrics', 'storage', METRICS.length, `the training metrics: [${NON_FINITE}] records the first step with a non-finite gradient`),
    binding(3, 'step', 'read-only-storage', 1, 'the optimizer step (0-based)'),
  ];
  const clip = o.maxNorm > 0 ? `min(1.0, ${wgslFloat(Math.fround(o.maxNorm))} / (norm + 1e-6))` : '1.0';
  const wgsl = `${headerComment([`${label}: the global gradient norm over ${o.slots} tensors and the factor every update applies`, o.maxNorm > 0 ? `clip to norm ${o.maxNorm}` : 'no clipping'])}

const SLOTS: i32 = ${wgslInt(o.slots)};

${bindings.map(storageDecl).join('\n')}

@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  for (var i = 0; i < SLOTS; i++) {
    total += norms[i];
  }
  // The gradient the norm is taken of is the accumulated one, averaged over micro-batches.
  let norm = sqrt(total) * ${wgslFloat(Math.fround(o.accumScale))};
  scale[0] = ${wgslFloat(Math.fround(o.accumScale))} * ${clip};
  scale[1] = norm;
  // A NaN or infinite gradient would poison every parameter: record the step, the host stops.
  if (!(norm <= 3.4e38) && metrics[${NON_FINITE}] == 0.0) {
    metrics[${NON_FINITE}] = step[0] + 1.0;
  }
}
`;
  return { label, wgsl, entryPoint: 'main', workgroupSize: [1, 1, 1], dispatch: [1, 1, 1], bindings };
}
