// The adapter's peak, measured: a FLOP-bound kernel (independent chains of vec4 FMAs, no memory
// traffic to speak of) and a bandwidth-bound one (a vec4 copy of a buffer larger than caches).
// A profile states each kernel's achieved GFLOP/s and GB/s as a fraction of these. Each kernel's
// work grows until one run takes at least TARGET_MS, and the best of BEST_OF runs counts, so a
// fast GPU and lavapipe both get a stable figure (on a CPU shared with other work, the best run
// is the one least disturbed: five rather than three). The trip count is a uniform (llvmpipe would
// unroll a constant loop and compile for long).
import type { ReadyDispatch } from './executor.js';
import type { PstcDevice } from './gpu-device.js';
import { timeDispatches, timingMethodOf, type TimingMethod } from './profile.js';

export interface Peak {
  flopsPerSecond: number;
  bytesPerSecond: number;
  method: TimingMethod;
}

/** Bumped whenever the kernels below change, so cached peaks of older ones are measured again. */
export const PEAK_BENCHMARK_VERSION = 2;

const TARGET_MS = 40;
const BEST_OF = 5;
const THREADS_PER_GROUP = 256;
const FMA_GROUPS = 1024;
/** vec4 FMA chains per thread, and FMAs of each chain per loop iteration. */
const CHAINS = 4;
const UNROLL = 8;
const FLOPS_PER_ITERATION = CHAINS * UNROLL * 4 * 2;
const COPY_BYTES = 64 * 2 ** 20;

const FMA_WGSL = `
struct Trips { n: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> trips: Trips;
@compute @workgroup_size(${THREADS_PER_GROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m = vec4<f32>(0.999999);
  let k = vec4<f32>(1e-6);
${Array.from({ length: CHAINS }, (_, c) => `  var a${c} = vec4<f32>(f32(gid.x) * 1e-9 + ${c}.0);`).join('\n')}
  for (var i = 0u; i < trips.n; i++) {
${Array.from({ length: UNROLL }, () => Array.from({ length: CHAINS }, (_, c) => `    a${c} = fma(a${c}, m, k);`).join('\n')).join('\n')}
  }
  out[gid.x] = ${Array.from({ length: CHAINS }, (_, c) => `a${c}`).join(' + ')};
}
`;

const COPY_WGSL = `
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(${THREADS_PER_GROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ${THREADS_PER_GROUP}u;
  if (i < arrayLength(&src)) { dst[i] = src[i]; }
}
`;

export async function measurePeak(device: PstcDevice): Promise<Peak> {
  const method = timingMethodOf(device);
  const owned: GPUBuffer[] = [];
  try {
    const flopsPerSecond = await measureFlops(device, method, owned);
    const bytesPerSecond = await measureBandwidth(device, method, owned);
    return { flopsPerSecond, bytesPerSecond, method };
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** Best of BEST_OF runs of `dispatches` (their times summed), in milliseconds. */
async function bestOf(device: PstcDevice, dispatches: readonly ReadyDispatch[], method: TimingMethod): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < BEST_OF; i++) best = Math.min(best, (await timeDispatches(device, dispatches, method)).reduce((a, b) => a + b, 0));
  return best;
}

async function measureFlops(device: PstcDevice, method: TimingMethod, owned: GPUBuffer[]): Promise<number> {
  const pipeline = await device.createPipeline('peak FLOP/s', FMA_WGSL, 'main');
  const out = device.createEmptyBuffer(FMA_GROUPS * THREADS_PER_GROUP * 4, 'peak FLOP/s out');
  const trips = device.createUniformBuffer(4, 'peak FLOP/s trips');
  owned.push(out, trips);
  const bindGroup = device.device.createBindGroup({
    label: 'peak FLOP/s',
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: out } },
      { binding: 1, resource: { buffer: trips } },
    ],
  });
  const dispatch: ReadyDispatch = { label: 'peak FLOP/s', pipeline, bindGroup, workgroups: [FMA_GROUPS, 1, 1] };
  let n = 4;
  for (;;) {
    device.writeBuffer(trips, Uint32Array.of(n));
    const ms = await bestOf(device, [dispatch], method);
    if (ms >= TARGET_MS || n >= 2 ** 22) return (FMA_GROUPS * THREADS_PER_GROUP * n * FLOPS_PER_ITERATION) / (ms / 1000);
    n *= Math.min(16, Math.max(2, Math.ceil(TARGET_MS / Math.max(ms, 1e-3))));
  }
}

async function measureBandwidth(device: PstcDevice, method: TimingMethod, owned: GPUBuffer[]): Promise<number> {
  const bytes = Math.min(COPY_BYTES, device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const vec4s = Math.floor(bytes / 16);
  const src = device.createEmptyBuffer(vec4s * 4, 'peak bandwidth source');
  const dst = device.createEmptyBuffer(vec4s * 4, 'peak bandwidth destination');
  owned.push(src, dst);
  const pipeline = await device.createPipeline('peak bandwidth', COPY_WGSL, 'main');
  const bindGroup = device.device.createBindGroup({
    label: 'peak bandwidth',
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: src } },
      { binding: 1, resource: { buffer: dst } },
    ],
  });
  const groups = Math.ceil(vec4s / THREADS_PER_GROUP);
  const x = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
  const dispatch: ReadyDispatch = { label: 'peak bandwidth', pipeline, bindGroup, workgroups: [x, Math.ceil(groups / x), 1] };
  let repeats = 1;
  for (;;) {
    const ms = await bestOf(device, Array.from({ length: repeats }, () => dispatch), method);
    if (ms >= TARGET_MS || repeats >= 256) return (2 * vec4s * 16 * repeats) / (ms / 1000);
    repeats *= Math.min(16, Math.max(2, Math.ceil(TARGET_MS / Math.max(ms, 1e-3))));
  }
}
