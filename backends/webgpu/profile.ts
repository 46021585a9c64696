// Timing dispatches one by one, for `pstc bench --profile`. Two methods, the better one the
// adapter allows:
//   - 'timestamp-query': every dispatch in its own compute pass with timestamps written at the
//     pass's beginning and end, all in one submission; a kernel's time is the device's own.
//   - 'submission': one submission per dispatch, timed on the host from submit to
//     onSubmittedWorkDone; each time includes a submission's overhead (and the queue emptying),
//     so the sum over kernels exceeds a whole forward's time.
// The buffers hold a real pass's data (the caller runs one first), and the dispatches run in
// their planned order, so each kernel reads what the one before it wrote.
import type { KernelCost } from '../../src/passes/kernel-cost.js';
import type { ReadyDispatch } from './executor.js';
import type { PstcDevice } from './gpu-device.js';

export type TimingMethod = 'timestamp-query' | 'submission';

/** A dispatch with what it costs (its FLOPs and bytes, its family and block). */
export interface ProfiledDispatch {
  dispatch: ReadyDispatch;
  cost: KernelCost;
}

/** WebGPU's limit on the queries of one query set. */
const MAX_QUERIES = 4096;

export function timingMethodOf(device: PstcDevice): TimingMethod {
  return device.features.has('timestamp-query') ? 'timestamp-query' : 'submission';
}

/** Milliseconds each dispatch took, in order, for one run of them all. */
export async function timeDispatches(device: PstcDevice, dispatches: readonly ReadyDispatch[], method: TimingMethod): Promise<number[]> {
  return method === 'timestamp-query' ? timeWithTimestamps(device, dispatches) : timeWithSubmissions(device, dispatches);
}

async function timeWithSubmissions(device: PstcDevice, dispatches: readonly ReadyDispatch[]): Promise<number[]> {
  const queue = device.device.queue;
  await queue.onSubmittedWorkDone();
  const times: number[] = [];
  for (const d of dispatches) {
    await device.withErrorScopes(d.label, async () => {
      const encoder = device.device.createCommandEncoder({ label: `profile ${d.label}` });
      encodeOne(encoder, d);
      const commands = encoder.finish();
      const start = performance.now();
      queue.submit([commands]);
      await queue.onSubmittedWorkDone();
      times.push(performance.now() - start);
    });
  }
  return times;
}

async function timeWithTimestamps(device: PstcDevice, dispatches: readonly ReadyDispatch[]): Promise<number[]> {
  const gpu = device.device;
  const perSet = MAX_QUERIES / 2;
  const sets: GPUQuerySet[] = [];
  const buffers: GPUBuffer[] = [];
  try {
    return await device.withErrorScopes('profile (timestamp queries)', async () => {
      const encoder = gpu.createCommandEncoder({ label: 'profile' });
      for (let first = 0; first < dispatches.length; first += perSet) {
        const chunk = dispatches.slice(first, first + perSet);
        const set = gpu.createQuerySet({ label: 'profile timestamps', type: 'timestamp', count: 2 * chunk.length });
        sets.push(set);
        chunk.forEach((d, i) => encodeOne(encoder, d, { querySet: set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 }));
        const resolved = gpu.createBuffer({ label: 'profile timestamps', size: 16 * chunk.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
        buffers.push(resolved);
        encoder.resolveQuerySet(set, 0, 2 * chunk.length, resolved, 0);
      }
      gpu.queue.submit([encoder.finish()]);
      const times: number[] = [];
      for (const b of buffers) {
        const ticks = new BigUint64Array(await device.readBytes(b, b.size));
        // A timestamp pair the device could not order (it may reset its clock) reads as 0.
        for (let i = 0; i < ticks.length; i += 2) times.push(ticks[i + 1]! > ticks[i]! ? Number(ticks[i + 1]! - ticks[i]!) / 1e6 : 0);
      }
      return times;
    });
  } finally {
    for (const s of sets) s.destroy();
    for (const b of buffers) b.destroy();
  }
}

function encodeOne(encoder: GPUCommandEncoder, d: ReadyDispatch, timestampWrites?: GPUComputePassTimestampWrites): void {
  const pass = encoder.beginComputePass({ label: d.label, ...(timestampWrites ? { timestampWrites } : {}) });
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(...d.workgroups);
  pass.end();
}
