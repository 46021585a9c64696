// LayerNorm over the last dimension: y[r, c] = (x[r, c] − mean_r)/√(var_r + eps)·gamma[c] + beta[c]
// for `rows` rows of C channels, in two passes — first the mean, then Σ(x − mean)² — which is more
// accurate than one pass of Σx and Σx² when the mean is large against the spread. Two variants
// (chooseLayerNormVariant): one workgroup per row, each thread holding its strided share of the row
// in registers and the workgroup reducing through workgroup memory; or one thread per row, which
// loops over the row itself with no workgroup memory or barriers (CPU adapters, where a barrier
// costs more than a row of work, and narrow rows, where a workgroup per row leaves threads idle).
// Without the affine part (`affine: false`) it writes x̂ = (x − mean)/√(var + eps), which training
// needs for dγ. With `statsOnly` it writes each row's (mean, 1/√(var + eps)) and nothing else: a
// GEMM that reads the LayerNorm's output normalises its operand as it loads it (fuse.ts
// LayerNormPrologue), from statistics computed here exactly as the full kernel computes them.
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
  type Triple,
  type WgslFunction,
  workgroupSumWgsl,
} from './common.js';
import { F32_BYTES } from '../../../src/ir/graph.js';
import { LAYERNORM_EPS } from '../../../src/lang/facts.js';

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
  /** Write only y[2·row] = mean, y[2·row + 1] = 1/√(var + eps) (no gamma, beta, storeY). */
  statsOnly?: boolean;
  /** Force the variant (tests); default chooseLayerNormVariant's. */
  variant?: LayerNormVariant['kind'];
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

/**
 * How a LayerNorm kernel (forward and backward) spreads rows over threads: 'workgroup' (one
 * workgroup of `threads` per row, tree sums between barriers) or 'thread' (one thread per row,
 * `threads` rows per workgroup, sequential sums, no barriers).
 */
export type LayerNormVariant = { kind: 'workgroup' | 'thread'; threads: number };

/** Rows this narrow or narrower run one per thread on every adapter: a workgroup would idle. */
export const ROW_PER_THREAD_MAX_CHANNELS = 32;
/** Rows per workgroup in the row-per-thread variant. */
const ROWS_PER_WORKGROUP = 64;
/** Up to this width a row-per-thread kernel keeps its row in a private array (read once). */
export const ROW_CACHE_MAX_CHANNELS = 128;

/**
 * One thread per row on 'direct' adapters (llvmpipe: a workgroup of 32 threads per 16-channel row
 * spent ~70 ms per pst-tiny batch-16 backward on barriers) and for narrow rows; otherwise one
 * workgroup per row. `forced` overrides (tests).
 */
export function chooseLayerNormVariant(channels: number, limits: KernelLimits, forced?: LayerNormVariant['kind']): LayerNormVariant {
  const kind = forced ?? (limits.style === 'direct' || channels <= ROW_PER_THREAD_MAX_CHANNELS ? 'thread' : 'workgroup');
  if (kind === 'thread') {
    return { kind, threads: Math.min(ROWS_PER_WORKGROUP, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX) };
  }
  return { kind, threads: threadsFor(channels, limits) };
}

export function emitLayerNorm(o: LayerNormOptions): Kernel {
  const { rows, channels } = o;
  const eps = o.eps ?? LAYERNORM_EPS;
  const setup = layerNormSetup(o, o.label ?? `layernorm_${rows}x${channels}`);
  const { label, variant, threads } = setup;

  const statsOnly = o.statsOnly ?? false;
  const affine = !statsOnly && (o.affine ?? true);
  const bindings: KernelBinding[] = [
    setup.x,
    ...(affine
      ? ([
          { binding: 1, name: 'gamma', kind: 'read-only-storage', type: 'f32', elements: channels, description: `weight [${channels}]` },
          { binding: 2, name: 'beta', kind: 'read-only-storage', type: 'f32', elements: channels, description: `bias [${channels}]` },
        ] satisfies KernelBinding[])
      : []),
  ];
  if (statsOnly && o.storeY) throw new Error(`internal error: ${label}: statistics are written row-major, not through store_y`);
  bindings.push(
    statsOnly
      ? { binding: bindings.length, name: 'y', kind: 'storage', type: 'f32', elements: rows * 2, description: `(mean, 1/σ) [${rows}, 2]` }
      : { binding: bindings.length, name: 'y', kind: 'storage', type: 'f32', elements: o.storeY ? o.yElements : rows * channels, description: o.storeY ? `y via ${o.storeY.describes}` : `y [${rows}, ${channels}]` },
  );
  const storeY = statsOnly
    ? ''
    : o.storeY
    ? requireFunction(o.storeY, 'store_y', label)
    : `fn store_y(row: i32, ch: i32, value: f32) {\n  y[row * C + ch] = value;\n}`;

  const header = headerComment([
    `${label}: LayerNorm over the last dim${statsOnly ? ' (row statistics only: mean and 1/σ, applied by the GEMMs that read it)' : affine ? '' : ' (normalized x̂ only, no affine)'}, ${rows} rows × ${channels} channels, eps ${eps}`,
    `fuses: ${o.fuses?.length ? o.fuses.join(', ') : '(a single LayerNorm)'}`,
    `x read through: ${o.loadX ? o.loadX.describes : 'row-major [rows, C]'}`,
    `y written through: ${statsOnly ? 'row-major [rows, 2]' : o.storeY ? o.storeY.describes : 'row-major [rows, C]'}`,
    describeVariant(variant, channels) + ', two-pass mean/variance',
  ]);
  const out = (v: string) => (affine ? `(${v} - mean) * inv_std * gamma[ch] + beta[ch]` : `(${v} - mean) * inv_std`);
  const body =
    variant.kind === 'workgroup'
      ? `${workgroupStatistics(threads)}
${
  statsOnly
    ? `  if (t == 0) {
    y[2 * row] = mean;
    y[2 * row + 1] = inv_std;
  }`
    : `  for (var i = 0; i < PER_THREAD; i++) {
    let ch = t + i * THREADS;
    if (ch < C) {
      store_y(row, ch, ${out('xs[i]')});
    }
  }`
}
}`
      : rowPerThreadBody(threads, channels, (x) => `${rowStatistics(x)}${
    statsOnly
      ? `
  y[2 * row] = mean;
  y[2 * row + 1] = inv_std;`
      : `
  for (var ch = 0; ch < C; ch++) {
    store_y(row, ch, ${out(x.at('ch'))});
  }`
  }`);

  return layerNormKernel(setup, rows, channels, eps, header, bindings, [storeY], body);
}

/**
 * One thread's row statistics, `mean` and `inv_std` = 1/√(var + eps), for the forward and the
 * gradient alike (the gradient recomputes them: the same arithmetic, so the same numbers). The first
 * loop also runs `alsoCache` (the gradient caches gamma·dy there).
 */
export function rowStatistics(x: RowValue, alsoCache = ''): string {
  return `
  // Summed relative to the row's first value: one thread adds the whole row in sequence, and a
  // mean large against the spread (a residual stream) would otherwise cost digits of the sum.
  let shift = load_x(row, 0);
  var sum = 0.0;
  for (var ch = 0; ch < C; ch++) {
    ${x.cache('ch')}${alsoCache ? `\n    ${alsoCache}` : ''}
    sum += ${x.at('ch')} - shift;
  }
  let mean = shift + sum / f32(C);
  var squares = 0.0;
  for (var ch = 0; ch < C; ch++) {
    let d = ${x.at('ch')} - mean;
    squares += d * d;
  }
  let inv_std = 1.0 / sqrt(squares / f32(C) + EPS);`;
}

/** What both LayerNorm kernels (forward and gradient) start from: the checked shape, the variant and x. */
export interface LayerNormSetup {
  label: string;
  limits: KernelLimits;
  variant: LayerNormVariant;
  threads: number;
  /** Binding 0, x (row-major, or through the caller's load_x). */
  x: KernelBinding;
  /** `fn load_x(row, ch)`: the caller's, or row-major. */
  loadX: string;
}

/**
 * The preamble both LayerNorm kernels share: the shape checked, the variant chosen (the gradient
 * must spread rows over threads exactly as the forward does, to recompute the same statistics),
 * its workgroup memory checked, and x's binding and load.
 */
export function layerNormSetup(
  o: Pick<LayerNormOptions, 'rows' | 'channels' | 'limits' | 'loadX' | 'xElements' | 'variant'>,
  label: string,
): LayerNormSetup {
  const { rows, channels } = o;
  const limits = o.limits ?? MIN_LIMITS;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(channels) || channels < 1) {
    throw new Error(`internal error: ${label}: rows = ${rows}, channels = ${channels}`);
  }
  const variant = chooseLayerNormVariant(channels, limits, o.variant);
  const { threads } = variant;
  // workgroup_sum's array: one float per thread.
  if (variant.kind === 'workgroup') checkFits(label, 'bytes of workgroup memory', threads * F32_BYTES, limits.maxComputeWorkgroupStorageSize);
  const x: KernelBinding = { binding: 0, name: 'x', kind: 'read-only-storage', type: 'f32', elements: o.loadX ? o.xElements : rows * channels, description: o.loadX ? `x via ${o.loadX.describes}` : `x [${rows}, ${channels}]` };
  const loadX = o.loadX ? requireFunction(o.loadX, 'load_x', label) : `fn load_x(row: i32, ch: i32) -> f32 {\n  return x[row * C + ch];\n}`;
  return { label, limits, variant, threads, x, loadX };
}

/**
 * A LayerNorm kernel (forward or gradient) from its parts: the header, the constants both are
 * written against, the bindings, load_x and the caller's other functions, and the entry point.
 */
export function layerNormKernel(
  setup: LayerNormSetup,
  rows: number,
  channels: number,
  eps: number,
  header: string,
  bindings: KernelBinding[],
  functions: string[],
  body: string,
): Kernel {
  const { threads, variant } = setup;
  const wgsl = `${header}

const ROWS: i32 = ${wgslInt(rows)};
const C: i32 = ${wgslInt(channels)};
const EPS: f32 = ${wgslFloat(eps)};
const THREADS: i32 = ${threads};
const PER_THREAD: i32 = ${Math.ceil(channels / threads)};

${bindings.map(storageDecl).join('\n')}

${[setup.loadX, ...functions].join('\n\n')}

${body}
`;
  return { label: setup.label, wgsl, entryPoint: 'main', workgroupSize: [threads, 1, 1], dispatch: layerNormGrid(variant, rows, setup.limits), bindings };
}

/**
 * The workgroup variant's start, shared by the forward and the gradient: the workgroup sum, the
 * entry point, this thread's strided share of the row in `xs` (read once), and the row's two-pass
 * statistics `mean` and `inv_std` = 1/√(var + eps). `also` declares one more per-thread array and
 * fills it in the same pass (the gradient's gs = gamma·dy), given the WGSL of its value at `ch`.
 */
export function workgroupStatistics(threads: number, also?: { name: string; value: string }): string {
  return `${workgroupSumWgsl(threads)}

${entryPrologue({ threads, index: 'row', count: 'ROWS', per: 'workgroup' })}
  let t = i32(lid);
  // Channels t, t + THREADS, t + 2·THREADS, … belong to this thread.
  var xs: array<f32, PER_THREAD>;
${also ? `  var ${also.name}: array<f32, PER_THREAD>;\n` : ''}  var sum = 0.0;
  for (var i = 0; i < PER_THREAD; i++) {
    let ch = t + i * THREADS;
    if (ch < C) {
      xs[i] = load_x(row, ch);
${also ? `      ${also.name}[i] = ${also.value};\n` : ''}      sum += xs[i];
    }
  }
  let mean = workgroup_sum(t, sum) / f32(C);
  var squares = 0.0;
  for (var i = 0; i < PER_THREAD; i++) {
    if (t + i * THREADS < C) {
      let d = xs[i] - mean;
      squares += d * d;
    }
  }
  let variance = workgroup_sum(t, squares) / f32(C);
  let inv_std = 1.0 / sqrt(variance + EPS);`;
}

/** The kernel header's line for the variant. */
export function describeVariant(variant: LayerNormVariant, channels: number): string {
  return variant.kind === 'workgroup'
    ? `one workgroup of ${variant.threads} threads per row, ${Math.ceil(channels / variant.threads)} value(s) per thread`
    : `one thread per row, ${variant.threads} rows per workgroup, no workgroup memory or barriers, the row ${channels <= ROW_CACHE_MAX_CHANNELS ? 'held in private arrays' : 'read again in each pass'}`;
}

/** The dispatch for `rows` rows in the variant. */
export function layerNormGrid(variant: LayerNormVariant, rows: number, limits: KernelLimits): Triple {
  return workgroupGrid(variant.kind === 'workgroup' ? rows : Math.ceil(rows / variant.threads), limits);
}

/**
 * A per-row value the row-per-thread body reads in several passes: `cache(ch)` (in the first
 * pass) stores it in a private array when the row is narrow enough, `at(ch)` reads it back — or,
 * for a wide row, `cache` emits nothing and `at` evaluates its expression again.
 */
export interface RowValue {
  cache(ch: string): string;
  at(ch: string): string;
}

/** A value of the row a row-per-thread body reads: its private array's name and its expression. */
export interface RowSource {
  name: string;
  expr: (ch: string) => string;
}

/**
 * The entry point of a row-per-thread kernel: `row` is the thread's row (threads past ROWS
 * return); `body` gets one RowValue per source (default: x through load_x).
 */
export function rowPerThreadBody(
  threads: number,
  channels: number,
  body: (...values: RowValue[]) => string,
  sources: readonly RowSource[] = [{ name: 'xs', expr: (ch) => `load_x(row, ${ch})` }],
): string {
  const keep = channels <= ROW_CACHE_MAX_CHANNELS;
  const values: RowValue[] = sources.map(({ name, expr }) => ({
    cache: (ch) => (keep ? `${name}[${ch}] = ${expr(ch)};` : ''),
    at: (ch) => (keep ? `${name}[${ch}]` : expr(ch)),
  }));
  const decls = keep ? sources.map(({ name }) => `\n  var ${name}: array<f32, C>;`).join('') : '';
  return `${entryPrologue({ threads, index: 'row', count: 'ROWS', per: 'thread' })}${decls}${body(...values)}
}`;
}
