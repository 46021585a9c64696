// Summing a step's gradients across ranks. WebGPU has no peer-to-peer transfers, so the
// gradients go through the host: each bucket buffer is copied to a mappable staging buffer, read
// into host memory, summed across ranks with MPI_Allreduce (distributed.ts) and written back.
//
// The overlap the API allows: every bucket's copy is in one submission after the backward, and
// the buckets are mapped in order; while bucket k's all-reduce runs on a worker thread, the main
// thread maps bucket k+1 and copies it out, and writes bucket k−1's sum back to the device. With
// `overlap` off the three phases run one after the other over all buckets (for measuring what
// the overlap buys: docs/training.md, "Data-parallel training").
import type { PstcDevice } from '../../backends/webgpu/gpu-device.js';
import type { Communicator } from './distributed.js';
import type { GradientBucket, StepMetrics } from './step.js';

/** Default bucket size: PyTorch DDP's 25 MiB. */
export const DEFAULT_BUCKET_BYTES = 25 * 2 ** 20;

/** Milliseconds spent in one step's reduction, for the log and the measurements. */
export interface ReduceTiming {
  /** From the submission of the copies to the first bucket mapped: the backward finishing on the device. */
  waitMs: number;
  /** Sum over buckets of each MPI_Allreduce call's duration (seen from the main thread). */
  allreduceMs: number;
  /** From the first bucket mapped to the last sum written: what the reduction adds to a step. */
  reduceMs: number;
}

export class GradientReducer {
  private readonly staging: GPUBuffer[];
  private readonly host: Float32Array[];

  constructor(
    private readonly device: PstcDevice,
    private readonly comm: Communicator,
    private readonly buckets: readonly GradientBucket[],
    private readonly overlap = true,
  ) {
    this.staging = buckets.map((b, k) =>
      device.device.createBuffer({ label: `gradient bucket ${k} read-back`, size: b.elements * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
    );
    this.host = buckets.map((b) => new Float32Array(b.elements));
  }

  /** Bytes summed per step (all buckets, alignment padding included). */
  get bytes(): number {
    return this.buckets.reduce((s, b) => s + b.elements * 4, 0);
  }

  /**
   * After the step's backward is submitted: sum every bucket across ranks, in place on the
   * device. Collective: every rank calls it once per step. The update submitted after it sees
   * the sums (queue order).
   */
  async reduce(): Promise<ReduceTiming> {
    const { device, comm } = this;
    const encoder = device.device.createCommandEncoder({ label: 'gradient read-back' });
    this.buckets.forEach((b, k) => encoder.copyBufferToBuffer(b.buffer, 0, this.staging[k]!, 0, b.elements * 4));
    const submitted = performance.now();
    device.device.queue.submit([encoder.finish()]);
    const maps = this.staging.map((s) => s.mapAsync(GPUMapMode.READ));
    // Should one map fail, the others must not leave unhandled rejections behind.
    for (const m of maps) m.catch(() => undefined);

    let allreduceMs = 0;
    const timedSum = async (k: number) => {
      const t = performance.now();
      await comm.allreduceSum(this.host[k]!);
      allreduceMs += performance.now() - t;
    };
    const readBack = async (k: number) => {
      await maps[k];
      // Copy out before unmapping: unmap() detaches the mapped range.
      this.host[k]!.set(new Float32Array(this.staging[k]!.getMappedRange()));
      this.staging[k]!.unmap();
    };
    const writeBack = (k: number) => device.writeBuffer(this.buckets[k]!.buffer, this.host[k]!);

    await maps[0];
    const mapped = performance.now();
    if (this.overlap) {
      // One all-reduce at a time, bucket k's after k−1's (timed from its own start); meanwhile
      // this thread reads the next buckets back and writes the finished sums.
      let chain: Promise<void> = Promise.resolve();
      for (let k = 0; k < this.buckets.length; k++) {
        await readBack(k);
        chain = chain.then(() => timedSum(k)).then(() => writeBack(k));
      }
      await chain;
    } else {
      for (let k = 0; k < this.buckets.length; k++) await readBack(k);
      for (let k = 0; k < this.buckets.length; k++) await timedSum(k);
      for (let k = 0; k < this.buckets.length; k++) writeBack(k);
    }
    const done = performance.now();
    return { waitMs: mapped - submitted, allreduceMs, reduceMs: done - mapped };
  }

  destroy(): void {
    for (const s of this.staging) s.destroy();
  }
}

/**
 * The metrics of every rank's shard together: the running sums (loss, hits, clips) added, the
 * first non-finite step the largest recorded. The gradient norm is already the same on every
 * rank (taken of the summed gradient). Collective.
 */
export async function sumMetrics(comm: Communicator, m: StepMetrics): Promise<StepMetrics> {
  const sums = Float32Array.of(m.loss, m.top1, m.top5, m.samples, m.pairHits);
  const worst = Float32Array.of(m.nonFiniteStep);
  await comm.allreduceSum(sums);
  await comm.allreduceMax(worst);
  return { loss: sums[0]!, top1: sums[1]!, top5: sums[2]!, samples: sums[3]!, pairHits: sums[4]!, nonFiniteStep: worst[0]!, gradNorm: m.gradNorm };
}
