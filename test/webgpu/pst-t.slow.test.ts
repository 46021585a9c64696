// PST-T at the paper's size (1×3×32×224²) on the WebGPU device against the float64 interpreter:
// the backbone features (N×C×D×H×W after the final norm) and the logits within 1e-4. Minutes on
// lavapipe (the interpreter alone takes several), so opt-in: PSTC_SLOW=1 npx vitest run test/webgpu/pst-t.slow.test.ts
import { describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { compileModel } from '../../backends/webgpu/runtime.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { graphFor, randomClip, randomWeights } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError, useDevice } from './util.js';
import { readFromDisk } from '../../src/lang/read-disk.js';

describe.skipIf(!process.env.PSTC_SLOW)('PST-T at 1×3×32×224² on WebGPU (PSTC_SLOW=1)', () => {
  const device = useDevice();

  it('gives the interpreter\'s features and logits within 1e-4', async () => {
    const seed = freshSeed();
    const model = loadModel('models/pst-t.pst', 'pst_t', readFromDisk).model;
    const input = { batch: 1, frames: 32, size: 224 };
    const weights = randomWeights(model, seed);
    const graph = graphFor(model, input, 'fold');
    const clip = randomClip(graph, seed);
    const compiled = await compileModel(device(), model, input, weights);
    let got;
    try {
      got = await compiled.forward(Float32Array.from(clip));
    } finally {
      compiled.destroy();
    }
    const want = interpret(graph, { clip }, weights);
    const features = maxNormRelativeError(got.features, want.features);
    const logits = maxNormRelativeError(got.logits!, want.logits!);
    console.log(`PST-T 1×3×32×224²: features error ${features.toExponential(2)}, logits ${logits.toExponential(2)} (seed ${seed})`);
    expect(got.featuresShape).toEqual([1, 768, 16, 7, 7]);
    expect(features, `seed ${seed}`).toBeLessThanOrEqual(1e-4);
    expect(logits, `seed ${seed}`).toBeLessThanOrEqual(1e-4);
  }, 3_600_000);
});
