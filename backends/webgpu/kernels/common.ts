// What every kernel emitter shares: the shape of an emitted kernel, the device limits tiles are
// sized from, WGSL literal formatting, the workgroup grid (dispatches larger than one grid axis
// allows are folded over x and y), and float32-accurate erf/GELU (WGSL has no erf).
// Emitters are pure functions of static shapes and options: no device, so that a compiler can
// list kernels (`pstc compile --emit wgsl`) on a machine without a GPU.
import type { DeviceLimits } from '../gpu-device.js';

/** The limits an emitter sizes its tiles from. Read them from the adapter (PstcDevice.limits). */
export interface KernelLimits {
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  /**
   * Not a limit but an adapter fact emitters choose by: which style of GEMM and attention kernel
   * runs faster on it (PstcDevice picks it from the adapter; PSTC_KERNELS forces one). Default
   * 'tiled'.
   */
  style?: KernelStyle;
  /**
   * Not a limit either: the adapter's subgroup size where it offers the 'subgroups' feature with
   * one fixed size (llvmpipe: 8); absent otherwise. The barrier-free GEMM shares A loads across a
   * subgroup with it.
   */
  subgroupSize?: number;
}

/**
 * 'tiled': operands staged through workgroup memory between barriers (what GPUs reward);
 * 'direct': no workgroup memory or barriers, each thread reads its operands from storage
 * (CPU adapters such as llvmpipe, where a barrier is expensive and caches do the staging).
 */
export type KernelStyle = 'tiled' | 'direct';
export const KERNEL_STYLES: readonly KernelStyle[] = ['tiled', 'direct'];

/**
 * WebGPU's guaranteed limits (the specification's defaults, which every adapter offers), for the
 * limits pstc reads: the one copy of these numbers. A plan made with them (plan.ts re-exports this
 * as the planner's default) runs on every adapter.
 */
export const DEFAULT_LIMITS: Readonly<DeviceLimits> = {
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
};

/** The kernel limits of DEFAULT_LIMITS: a kernel sized from these runs on every adapter. */
export const MIN_LIMITS: KernelLimits = {
  maxComputeInvocationsPerWorkgroup: DEFAULT_LIMITS.maxComputeInvocationsPerWorkgroup,
  maxComputeWorkgroupStorageSize: DEFAULT_LIMITS.maxComputeWorkgroupStorageSize,
  maxComputeWorkgroupSizeX: DEFAULT_LIMITS.maxComputeWorkgroupSizeX,
  maxComputeWorkgroupsPerDimension: DEFAULT_LIMITS.maxComputeWorkgroupsPerDimension,
  maxStorageBuffersPerShaderStage: DEFAULT_LIMITS.maxStorageBuffersPerShaderStage,
};

export type BindingKind = 'read-only-storage' | 'storage' | 'uniform';

/** One buffer a kernel binds (all in group 0), described for the runtime and for listings. */
export interface KernelBinding {
  binding: number;
  /** The WGSL variable name, and the key the runtime binds a buffer by. */
  name: string;
  kind: BindingKind;
  /** 'f16': stored as half floats (precision.ts withF16Storage retypes a kernel's f32 arrays). */
  type: 'f32' | 'i32' | 'u32' | 'f16';
  /** Elements the kernel may touch; undefined where a caller-supplied mapping decides. */
  elements: number | undefined;
  description: string;
  /**
   * Contents fixed at emit time (a uniform of loop trip counts): the runtime uploads them once
   * per compiled kernel and binds them itself; the caller supplies no buffer for this binding.
   */
  constant?: Int32Array;
}

export type Triple = [number, number, number];

export interface Kernel {
  label: string;
  wgsl: string;
  entryPoint: string;
  workgroupSize: Triple;
  /** Workgroup counts for dispatchWorkgroups: shapes are static, so this is fixed at emit time. */
  dispatch: Triple;
  bindings: KernelBinding[];
}

/**
 * A WGSL function a caller supplies to fold an index map into a kernel's load or store, e.g.
 * `fn load_a(m: i32, k: i32) -> f32 { ... }`. `describes` names the index maps it reads
 * through (window partition ∘ roll, patch shift, ...) for the kernel's header comment.
 */
export interface WgslFunction {
  source: string;
  describes: string;
}

/**
 * What a row-base function (codegen.ts rowBaseLoad) returns for a run of elements that read as
 * zeros; declared by the kernels that call one. No real base is this low.
 */
export const NO_ROW_WGSL = 'const NO_ROW: i32 = -2147483647;';

/** An i32 constant in WGSL; shapes are baked into the kernel. */
export function wgslInt(n: number): string {
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
    throw new Error(`internal error: ${n} is not an i32 constant`);
  }
  return String(n);
}

/** An f32 literal in WGSL (always with a point or an exponent, so it is never an integer). */
export function wgslFloat(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal error: ${x} has no WGSL literal`);
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** A `//` comment block: what the kernel computes, what it fuses, which index maps it reads. */
export function headerComment(lines: readonly string[]): string {
  return lines.flatMap((l) => l.split('\n')).map((l) => (l ? `// ${l}` : '//')).join('\n');
}

/** Check that a caller's WGSL function declares the expected name, before the compiler sees it. */
export function requireFunction(fn: WgslFunction, name: string, kernel: string): string {
  if (!new RegExp(`\\bfn\\s+${name}\\s*\\(`).test(fn.source)) {
    throw new Error(`internal error: ${kernel}: the mapping for ${name} must declare \`fn ${name}(...)\``);
  }
  return fn.source.trim();
}

/**
 * Workgroup counts for `count` independent workgroups. One axis holds at most
 * maxComputeWorkgroupsPerDimension, so a larger count folds into x·y; the kernel recovers its
 * index with `linear_workgroup` and returns when it is past the end (uniformly: the whole
 * workgroup takes the same branch).
 */
export function workgroupGrid(count: number, limits: KernelLimits): Triple {
  const max = limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [Math.max(1, count), 1, 1];
  const y = Math.ceil(count / max);
  if (y > max) throw new Error(`internal error: ${count} workgroups exceed ${max}² in one dispatch`);
  return [Math.ceil(count / y), y, 1];
}

const LINEAR_WORKGROUP_WGSL = `fn linear_workgroup(wid: vec3<u32>, groups: vec3<u32>) -> i32 {
  return i32(wid.x + wid.y * groups.x);
}`;

export interface EntryOptions {
  /** Invocations per workgroup (1-D). */
  threads: number;
  /** The WGSL name of the work item index the body uses, e.g. 'e', 'row', 'tile'. */
  index: string;
  /** A WGSL expression: the number of work items; workgroups past it return at once. */
  count: string;
  /** 'workgroup': one item per workgroup (threads cooperate); 'thread': one per invocation. */
  per: 'workgroup' | 'thread';
  /** Also take `sg_lane`, the invocation's index in its subgroup (needs `enable subgroups;`). */
  subgroupLane?: boolean;
}

/**
 * Every kernel's entry point up to its body: the linear workgroup index over the (x, y) grid
 * workgroupGrid folds large dispatches into, the item index, and the early return past the last
 * item (the grid is rounded up). The caller writes the body and the closing brace.
 */
export function entryPrologue(o: EntryOptions): string {
  const item = o.per === 'thread' ? `linear_workgroup(wid, groups) * ${o.threads} + i32(lid)` : 'linear_workgroup(wid, groups)';
  return `${LINEAR_WORKGROUP_WGSL}

@compute @workgroup_size(${o.threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32${o.subgroupLane ? ',\n        @builtin(subgroup_invocation_id) sg_lane: u32' : ''}) {
  let ${o.index} = ${item};
  if (${o.index} >= ${o.count}) {
    return;
  }`;
}

export interface ElementwiseKernelOptions {
  label: string;
  /** The header comment's lines. */
  header: readonly string[];
  /** Work items, one thread each. */
  elements: number;
  /** The WGSL names the body sees: the constant holding `elements`, and the item index. */
  count: string;
  index: string;
  threads: number;
  bindings: KernelBinding[];
  /** WGSL declared between the bindings and the entry point (loads, helpers); ends with a blank line. */
  functions?: string;
  /** The entry point's body after the prologue, without the closing brace. */
  body: string;
  limits: KernelLimits;
}

/**
 * The one skeleton of a one-thread-per-element kernel: header, the element count, the bindings,
 * the caller's functions, the entry prologue and the caller's body. codegen.ts's fused
 * elementwise kernels and the optimizer's updates (optimizer.ts) are both written with it, so the
 * dispatch arithmetic and the bounds check live in one place.
 */
export function elementwiseKernel(o: ElementwiseKernelOptions): Kernel {
  const wgsl = `${headerComment(o.header)}

const ${o.count}: i32 = ${wgslInt(o.elements)};

${o.bindings.map(storageDecl).join('\n')}

${o.functions ?? ''}${entryPrologue({ threads: o.threads, index: o.index, count: o.count, per: 'thread' })}
${o.body}
}
`;
  return {
    label: o.label,
    wgsl,
    entryPoint: 'main',
    workgroupSize: [o.threads, 1, 1],
    dispatch: workgroupGrid(Math.ceil(o.elements / o.threads), o.limits),
    bindings: o.bindings,
  };
}

/**
 * `workgroup_sum(t, value)`: the sum of one value per thread (a tree in fixed order, so the same
 * bits every run); every thread gets the total. THREADS must be a power of two; call from uniform
 * control flow. Declares the workgroup array `partial`.
 */
export function workgroupSumWgsl(threads: number): string {
  if (threads & (threads - 1)) throw new Error(`internal error: workgroup_sum needs a power of two, got ${threads}`);
  return `var<workgroup> partial: array<f32, ${threads}>;

fn workgroup_sum(t: i32, value: f32) -> f32 {
  partial[t] = value;
  workgroupBarrier();
  for (var stride = ${threads} / 2; stride > 0; stride /= 2) {
    if (t < stride) {
      partial[t] += partial[t + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  // The next call overwrites partial: wait until everybody has read the total.
  workgroupBarrier();
  return total;
}`;
}

/** The smallest power of two ≥ n. */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

// erf near 0 by its Taylor series, 2/√π·Σ (−1)^n x^(2n+1)/(n!(2n+1)); for |x| < 0.5 the
// terms after n = 7 are below 1e-9 of the sum, so erf keeps its relative accuracy near 0.
const ERF_TAYLOR: number[] = Array.from({ length: 8 }, (_, n) => {
  let factorial = 1;
  for (let i = 2; i <= n; i++) factorial *= i;
  return ((2 / Math.sqrt(Math.PI)) * (n % 2 ? -1 : 1)) / (factorial * (2 * n + 1));
});

function horner(coefficients: number[], variable: string): string {
  return coefficients.reduceRight(
    (inner, c, i) => (i === coefficients.length - 1 ? wgslFloat(c) : `${wgslFloat(c)} + ${variable} * (${inner})`),
    '',
  );
}

/**
 * erf, erfc and the exact GELU in float32. erfc for z ≥ 0 is the Chebyshev fit of Numerical
 * Recipes (erfcc): its fractional error is < 1.1e-7 over all z ≥ 0 (checked against a float64
 * erf), so erfc stays accurate in the tail where 1 − erf(z) would cancel. GELU is written with
 * erfc only — x ≥ 0: 0.5x(2 − erfc(x/√2)), x < 0: 0.5x·erfc(−x/√2) — which keeps its relative
 * error near 1e-6 everywhere, also for large negative x (Abramowitz–Stegun 7.1.26 has an
 * absolute error of 1.5e-7, i.e. large relative errors in the GELU tail).
 */
export const ERF_WGSL = `// erfc(z) for z >= 0 (Numerical Recipes erfcc, fractional error < 1.1e-7).
fn erfc_nonnegative(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + p);
}

fn erf_f32(x: f32) -> f32 {
  let z = abs(x);
  if (z < 0.5) {
    let s = x * x;
    return x * (${horner(ERF_TAYLOR, 's')});
  }
  return sign(x) * (1.0 - erfc_nonnegative(z));
}

// Exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)), written with erfc to avoid cancellation.
fn gelu(x: f32) -> f32 {
  let z = abs(x) * 0.7071067811865476;
  if (x >= 0.0) {
    return 0.5 * x * (2.0 - erfc_nonnegative(z));
  }
  return 0.5 * x * erfc_nonnegative(z);
}`;

/**
 * GELU'(x) = Φ(x) + x·φ(x) for the exact GELU (needs ERF_WGSL's erfc_nonnegative): Φ written
 * with erfc on the side where 1 − erfc would cancel, as `gelu` is.
 */
export const GELU_GRAD_WGSL = `fn gelu_derivative(x: f32) -> f32 {
  let z = abs(x) * 0.7071067811865476;
  var cdf = 0.5 * erfc_nonnegative(z);
  if (x >= 0.0) {
    cdf = 1.0 - cdf;
  }
  return cdf + x * 0.3989422804014327 * exp(-0.5 * x * x);
}`;

/** Declare a storage binding in group 0. */
export function storageDecl(b: KernelBinding): string {
  const access = b.kind === 'storage' ? 'read_write' : 'read';
  if (b.kind === 'uniform') throw new Error('internal error: uniform bindings are declared by their emitter');
  return `@group(0) @binding(${b.binding}) var<storage, ${access}> ${b.name}: array<${b.type}>;`;
}

/** Fail at emit time, with the numbers, when a kernel needs more than the device allows. */
export function checkFits(label: string, what: string, needed: number, allowed: number): void {
  if (needed > allowed) {
    throw new Error(`${label}: needs ${needed} ${what}, the device allows ${allowed}`);
  }
}
