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

  // The hits computed plainly from the logits, as a reader would define them, not by the kernel's
  // rank count (metricsOf): the prediction is the first index of the largest score; the top-5 are
  // the first five classes of a stable sort by score, highest first; an order pair is a hit when
  // the true class scores strictly above its partner.
  function plainHits(logits: Float32Array, labels: Float32Array, classes: number, partners: readonly number[]) {
    let top1 = 0;
    let top5 = 0;
    let pairs = 0;
    for (let b = 0; b < labels.length; b++) {
      const row = Array.from(logits.subarray(b * classes, (b + 1) * classes));
      const y = labels[b]!;
      const argmax = row.indexOf(Math.max(...row));
      if (argmax === y) top1++;
      const ranked = row.map((score, k) => ({ score, k })).sort((u, v) => v.score - u.score || u.k - v.k);
      if (ranked.slice(0, 5).some((e) => e.k === y)) top5++;
      const p = partners[y]!;
      if (p >= 0 && row[y]! > row[p]!) pairs++;
    }
    return { top1, top5, pairs };
  }

  for (const [batch, classes] of [[40, 12], [17, 3], [9, 5]] as const) {
    it(`top-1, top-5 and order-pair hits equal those computed plainly from the logits (batch ${batch}, ${classes} classes, many ties)`, async () => {
      const seed = freshSeed();
      const random = rng(seed);
      // Scores on a coarse grid (−2 … 2 in steps of 1/2): many rows hold ties, with the true
      // class among them, which is where a rank count and an argmax can disagree.
      const logits = Float32Array.from({ length: batch * classes }, () => Math.round(random() * 8) / 2 - 2);
      const labels = Float32Array.from({ length: batch }, (_, b) => (b < classes ? b : Math.floor(random() * classes)));
      // A sure hit (row 0: class 0 alone on top) and a tie lost to a lower class (row 1: classes 0
      // and 1 share the top, the label is 1: the prediction is class 0, and the pair is no hit).
      logits[0] = 5;
      logits[classes] = 5;
      logits[classes + 1] = 5;
      // Pairs (0, 1), (2, 3), …; an odd last class has none.
      const partners = Array.from({ length: classes }, (_, k) => ((k ^ 1) < classes ? k ^ 1 : -1));
      const out = await runKernel(device, emitMetrics({ batch, classes, partners }), { logits, labels, loss: Float32Array.of(1.25), metrics: new Float32Array(METRICS.length), step: Float32Array.of(0) }, 'metrics');
      const want = plainHits(logits, labels, classes, partners);
      const got = Object.fromEntries(METRICS.map((name, i) => [name, out[i]]));
      expect(got, `seed ${seed}`).toEqual({ loss: 1.25, top1: want.top1, top5: want.top5, samples: batch, pairHits: want.pairs, nonFiniteStep: 0 });
      // The test data exercise what they should: some hits and some misses of each kind.
      if (classes > 5) expect(want.top5).toBeGreaterThan(want.top1);
      else expect(want.top5).toBe(batch);
      expect(want.top1).toBeGreaterThan(0);
      expect(want.top1).toBeLessThan(batch);
    });
  }

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
