// The host evaluation (src/train/evaluate.ts) against predictions computed plainly in the test: a
// small model's logits are read back one clip at a time (batch 1, so evaluate's batching, padding
// of the last batch and grouping of views are not what the expected figures rest on), each
// sample's views averaged in softmax, and top-1 (first index of the largest score), top-5 (the
// first five of a stable sort), order-pair accuracy and the mean cross-entropy written out here.
// The labels are planted at known ranks of each sample's scores, so the expected accuracies are
// known fractions, not whatever an untrained model happens to predict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { compileModel } from '../../backends/webgpu/runtime.js';
import type { Dataset } from '../../src/data/index.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { evaluate } from '../../src/train/evaluate.js';
import { initWeights } from '../../src/weights/index.js';
import { vfs } from '../lang/vfs.js';
import { freshSeed, randomArray, rng } from '../webgpu/util.js';

const CLASSES = 10;
const { model } = loadModel(
  'm.pst',
  undefined,
  vfs({
    'm.pst': `model m {
  input { frames = 4  size = 16 }
  embed { patch = (2, 4, 4)  dim = 8 }
  window = (1, 2, 2)
  stage 1 { depth = 1  heads = 1 }
  head { classes = ${CLASSES}  dropout = 0 }
}`,
  }),
);
const clipShape = [3, 4, 16, 16] as const;
const clipSize = clipShape.reduce((a, b) => a * b, 1);

let device: PstcDevice;
beforeAll(async () => {
  device = await openDevice();
});
afterAll(() => device?.destroy());

/** A sample's classes, highest score first, ties to the lower class. */
function ranking(scores: number[]): number[] {
  return scores.map((s, k) => ({ s, k })).sort((a, b) => b.s - a.s || a.k - b.k).map((e) => e.k);
}

describe('evaluate', () => {
  it('top-1, top-5, order-pair accuracy and loss equal those computed plainly from the logits (2 views per sample, a partial last batch)', async () => {
    const seed = freshSeed();
    const random = rng(seed);
    const weights = initWeights(model, seed % 1000);
    // The head's weights larger than at initialisation, so that the classes' scores differ clearly.
    const fc = weights.get('cls_head.fc_cls.weight')!;
    fc.data = randomArray(random, fc.data.length, -3, 3);
    const samples = 7;
    const views = 2;
    const clips = Array.from({ length: samples * views }, () => randomArray(random, clipSize));

    // Logits clip by clip, then each sample's views averaged in softmax (float64).
    const single = await compileModel(device, model, { batch: 1, frames: 4, size: 16 }, weights);
    const scores: number[][] = [];
    try {
      for (let n = 0; n < samples; n++) {
        const sum = new Array<number>(CLASSES).fill(0);
        for (let v = 0; v < views; v++) {
          const logits = Array.from((await single.forward(clips[n * views + v]!)).logits!);
          const max = Math.max(...logits);
          const z = logits.reduce((a, l) => a + Math.exp(l - max), 0);
          logits.forEach((l, k) => (sum[k] += Math.exp(l - max) / z / views));
        }
        scores.push(sum);
      }
    } finally {
      single.destroy();
    }
    // Each sample's label is the class at a planted rank of its scores: ranks 0 count for top-1,
    // ranks < 5 for top-5.
    const ranks = [0, 3, 4, 5, 9, 0, 1];
    const labels = scores.map((s, n) => ranking(s)[ranks[n]!]!);
    const partners = Array.from({ length: CLASSES }, (_, k) => k ^ 1);
    const expected = {
      top1: scores.filter((s, n) => s.indexOf(Math.max(...s)) === labels[n]).length / samples,
      top5: scores.filter((s, n) => ranking(s).slice(0, 5).includes(labels[n]!)).length / samples,
      pairAccuracy: scores.filter((s, n) => s[labels[n]!]! > s[partners[labels[n]!]!]!).length / samples,
      loss: -scores.reduce((a, s, n) => a + Math.log(s[labels[n]!]!), 0) / samples,
    };
    // The planted ranks give these, whatever the weights (unless scores tie exactly).
    expect(expected.top1).toBeCloseTo(2 / 7, 12);
    expect(expected.top5).toBeCloseTo(5 / 7, 12);

    const dataset: Dataset & { views: number } = {
      name: 'planted',
      size: samples * views,
      classes: CLASSES,
      clipShape,
      views,
      read: async (index) => ({ clip: clips[index]!, label: labels[Math.floor(index / views)]! }),
    };
    // Batch 3: batches straddle samples, and the last one (clips 12, 13) is padded.
    const got = await evaluate(device, model, weights, dataset, { batch: 3, partners });
    expect(got.samples, `seed ${seed}`).toBe(samples);
    expect(got.clips).toBe(samples * views);
    expect(got.top1, `seed ${seed}`).toBeCloseTo(expected.top1, 12);
    expect(got.top5, `seed ${seed}`).toBeCloseTo(expected.top5, 12);
    expect(got.pairAccuracy, `seed ${seed}`).toBeCloseTo(expected.pairAccuracy, 12);
    expect(Math.abs(got.loss - expected.loss) / expected.loss, `seed ${seed}`).toBeLessThan(1e-5);
  }, 120_000);
});
