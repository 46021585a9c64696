// LayerNorm over the last dimension: y[r, c] = (x[r, c] − mean_r)/√(var_r + eps)·gamma[c] + beta[c]
// for `rows` rows of C channels. One workgroup per row: each thread holds its strided share of the
// row in registers (read once, through an optional index map), and the workgroup reduces in two
// passes through workgroup memory — first the mean, then Σ(x − mean)² — which is more accurate than
// one pass of Σx and Σx² when the mean is large against the spread. Without the affine part
// (`affine: false`) it writes x̂ = (x − mean)/√(var + eps), which training needs for dγ.
import {
  entryPrologue,
  MIN_LIMITS,
  checkFits,
  headerComment,
  nextPowerOfTwo,
  requireFunction,
  storageDecl,
  wgslFloat,
  wgslInt,
  workgroupGrid,
  type Kernel,
  type KernelBinding,
  type KernelLimits,
  type WgslFunction,
  workgroupSumWgsl,
} from './common.js';

export interface LayerNormOptions {
  rows: number;
  channels: number;
  eps?: number;
  label?: string;
  limits?: KernelLimits;
  /** `fn load_x(row: i32, ch: i32) -> f32` reading binding `x`. Default: `x[row*C + ch]`. */
  loadX?: WgslFunction;
  xElements?: number;
  /** `fn store_y(row: i32, ch: i32, value: f32)` writing binding `y`. Default: `y[row*C + ch] = value`. */
  storeY?: WgslFunction;
  yElements?: number;
  fuses?: readonly string[];
  /** false: write x̂ only (no gamma, beta bindings). Default true. */
  affine?: boolean;
}

/** Threads per row: enough that each holds a few values, a power of two for the tree reduction. */
export function threadsFor(channels: number, limits: KernelLimits): number {
  const cap = Math.min(256, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  let threads = Math.min(nextPowerOfTwo(Math.ceil(channels / 4)), cap);
  threads = Math.max(threads, Math.min(32, cap));
  // The cap need not be a power of two; the tree reduction needs one.
  while (threads & (threads - 1)) threads &= threads - 1;
  return threads;
}

export function emitLayerNorm(o: LayerNormOptions): Kernel {
  const { rows, channels } = o;
  const eps = o.eps ?? 1e-5;
  const limits = o.limits ?? MIN_LIMITS;
  const label = o.label ?? `layernorm_${rows}x${channels}`;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(channels) || channels < 1) {
    throw new Error(`internal error: ${label}: rows = ${rows}, channels = ${channels}`);
  }
  const threads = threadsFor(channels, limits);
  const perThread = Math.ceil(channels / threads);
  checkFits(label, 'bytes of workgroup memory', threads * 4, limits.maxComputeWorkgroupStorageSize);

  const affine = o.affine ?? true;
  const bindings: KernelBinding[] = [
    { binding: 0, name: 'x', kind: 'read-only-storage', type: 'f32', elements: o.loadX ? o.xElements : rows * channels, description: o.loadX ? `x via ${o.loadX.describes}` : `x [${rows}, ${channels}]` },
    ...(affine
      ? ([
          { binding: 1, name: 'gamma', kind: 'read-only-storage', type: 'f32', elements: channels, description: `weight [${channels}]` },
          { binding: 2, name: 'beta', kind: 'read-only-storage', type: 'f32', elements: channels, description: `bias [${channels}]` },
        ] satisfies KernelBinding[])
      : []),
  ];
  bindings.push({ binding: bindings.length, name: 'y', kind: 'storage', type: 'f32', elements: o.storeY ? o.yElements : rows * channels, description: o.storeY ? `y via ${o.storeY.describes}` : `y [${rows}, ${channels}]` });
  const loadX = o.loadX
    ? requireFunction(o.loadX, 'load_x', label)
    : `fn load_x(row: i32, ch: i32) -> f32 {\n  return x[row * C + ch];\n}`;
  const storeY = o.storeY
    ? requireFunction(o.storeY, 'store_y', label)
    : `fn store_y(row: i32, ch: i32, value: f32) {\n  y[row * C + ch] = value;\n}`;

  const header = headerComment([
    `${label}: LayerNorm over the last dim${affine ? '' : ' (normalized x̂ only, no affine)'}, ${rows} rows × ${channels} channels, eps ${eps}`,
    `fuses: ${o.fuses?.length ? o.fuses.join(', ') : '(a single LayerNorm)'}`,
    `x read through: ${o.loadX ? o.loadX.describes : 'row-major [rows, C]'}`,
    `y written through: ${o.storeY ? o.storeY.describes : 'row-major [rows, C]'}`,
    `one workgroup of ${threads} threads per row, ${perThread} value(s) per thread, two-pass mean/variance`,
  ]);

  const wgsl = `${header}

const ROWS: i32 = ${wgslInt(rows)};
const C: i32 = ${wgslInt(channels)};
const EPS: f32 = ${wgslFloat(eps)};
const THREADS: i32 = ${threads};
const PER_THREAD: i32 = ${perThread};

${bindings.map(storageDecl).join('\n')}

${loadX}

${storeY}

${workgroupSumWgsl(threads)}

${entryPrologue({ threads, index: 'row', count: 'ROWS', per: 'workgroup' })}
  let t = i32(lid);
  // Channels t, t + THREADS, t + 2·THREADS, … belong to this thread.
  var values: array<f32, PER_THREAD>;
  var sum = 0.0;
  for (var i = 0; i < PER_THREAD; i++) {
    let ch = t + i * THREADS;
    if (ch < C) {
      values[i] = load_x(row, ch);
      sum += values[i];
    }
  }
  let mean = workgroup_sum(t, sum) / f32(C);
  var squares = 0.0;
  for (var i = 0; i < PER_THREAD; i++) {
    if (t + i * THREADS < C) {
      let d = values[i] - mean;
      squares += d * d;
    }
  }
  let variance = workgroup_sum(t, squares) / f32(C);
  let inv_std = 1.0 / sqrt(variance + EPS);
  for (var i = 0; i < PER_THREAD; i++) {
    let ch = t + i * THREADS;
    if (ch < C) {
      store_y(row, ch, ${affine ? '(values[i] - mean) * inv_std * gamma[ch] + beta[ch]' : '(values[i] - mean) * inv_std'});
    }
  }
}
`;
  return {
    label,
    wgsl,
    entryPoint: 'main',
    workgroupSize: [threads, 1, 1],
    dispatch: workgroupGrid(rows, limits),
    bindings,
  };
}
