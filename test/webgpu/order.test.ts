// The premise of the motion task, on the device: a clip and its exact time reversal (classes 2k
// and 2k+1 of synthetic:motion) get the same logits from the tiny Swin 2D — no temporal
// interaction, mean pool over time — whatever its weights, so no training can tell that pair
// apart; the tiny PST (channel and patch shift) scores them differently from its first step.
// Whether training then *uses* that difference is the opt-in learning check
// (test/train/learning.test.ts).
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../backends/webgpu/runtime.js';
import { dataInputOf, renderMotion, resolveMotionOptions } from '../../src/data/index.js';
import { randomWeights, tinyModel } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError, useDevice } from './util.js';

const device = useDevice();

/** Logits of clip `index` of the val split rendered forward (class 2·pair) and reversed (2·pair+1). */
async function forwardAndReversed(file: string, pair: number, index: number, seed: number): Promise<{ forward: Float32Array; reversed: Float32Array }> {
  const model = tinyModel(file);
  const options = resolveMotionOptions({ noise: 0.05 }, dataInputOf(model));
  const forward = renderMotion(options, 'val', index, 2 * pair);
  const reversed = renderMotion(options, 'val', index, 2 * pair + 1);
  const clip = new Float32Array(forward.length * 2);
  clip.set(forward, 0);
  clip.set(reversed, forward.length);
  const compiled = await compileModel(device(), model, { batch: 2, frames: model.input.frames, size: model.input.size }, randomWeights(model, seed));
  try {
    const { logits } = await compiled.forward(clip);
    const classes = logits!.length / 2;
    return { forward: logits!.slice(0, classes), reversed: logits!.slice(classes) };
  } finally {
    compiled.destroy();
  }
}

describe('order-only pairs on the device', () => {
  for (const pair of [0, 4]) {
    it(`pair ${pair}: swin2d-tiny scores a clip and its reversal alike, pst-tiny does not`, async () => {
      const seed = freshSeed();
      const swin = await forwardAndReversed('swin2d-tiny', pair, 3, seed);
      const pst = await forwardAndReversed('pst-tiny', pair, 3, seed);
      const swinGap = maxNormRelativeError(swin.reversed, swin.forward);
      const pstGap = maxNormRelativeError(pst.reversed, pst.forward);
      console.log(`pair ${pair}, seed ${seed}: logits of forward vs reversed clip differ by ${swinGap.toExponential(2)} (swin2d-tiny), ${pstGap.toExponential(2)} (pst-tiny)`);
      // float32 sums in another order only
      expect(swinGap).toBeLessThan(1e-5);
      expect(pstGap).toBeGreaterThan(1e-3);
    }, 300_000);
  }
});
