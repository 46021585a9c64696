import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { METRICS, emitMetrics, metricsOf } from '../../backends/webgpu/kernels/metrics.js';
import { freshSeed, randomArray, rng, runKernel } from './util.js';

let device: PstcDevice;
beforeAll(async () => {
  device = await openDevice();
});
afterAll(() => device?.destroy());

describe('metrics kernel', () => {
  it('top-1, top-5 and pair hits match the host twin, and sums accumulate', async () => {
    const seed = freshSeed();
    const random = rng(seed);
    const batch = 33;
    const classes = 10;
    const partners = Array.from({ length: classes }, (_, k) => k ^ 1);
    const logits = randomArray(random, batch * classes);
    const labels = Float32Array.from({ length: batch }, () => Math.floor(random() * classes));
    // A tie: the true class shares the top score with a lower class index → not a top-1 hit.
    logits[0 * classes + 3] = 5;
    logits[0 * classes + 2] = 5;
    labels[0] = 3;
    const start = Float32Array.of(1, 2, 3, 4, 5, 0);
    const out = await runKernel(device, emitMetrics({ batch, classes, partners }), { logits, labels, loss: Float32Array.of(0.5), metrics: start, step: Float32Array.of(3) }, 'metrics');
    const host = metricsOf(logits, labels, classes, partners);
    expect(METRICS.length).toBe(6);
    expect(Array.from(out)).toEqual([1.5, 2 + host.top1, 3 + host.top5, 4 + batch, 5 + host.pairHits, 0]);
    expect(host.top5).toBeGreaterThanOrEqual(host.top1);
  });

  it('records the first step whose loss is not finite', async () => {
    for (const loss of [NaN, Infinity]) {
      const kernel = emitMetrics({ batch: 1, classes: 2 });
      const inputs = { logits: Float32Array.of(0, 1), labels: Float32Array.of(1), loss: Float32Array.of(loss), step: Float32Array.of(41) };
      expect((await runKernel(device, kernel, { ...inputs, metrics: new Float32Array(6) }, 'metrics'))[5]).toBe(42);
      // An earlier step already recorded stays.
      expect((await runKernel(device, kernel, { ...inputs, metrics: Float32Array.of(0, 0, 0, 0, 0, 7) }, 'metrics'))[5]).toBe(7);
    }
  });
});
