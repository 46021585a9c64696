// Activation recomputation on the device: a training step of pst-tiny with drop_path 0.5 on every
// block (so the masks drop samples) under a fixed step key, planned with and without the
// `recompute` pass, gives the same loss and gradients — the copies' kernels draw the forward's
// dropout masks — within 1e-6 (bit-identical on lavapipe; the bound allows for the forward's
// kernels fusing a little differently once the intermediates have fewer readers), and less
// planned activation memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { compileGraph, planGraph } from '../../backends/webgpu/graph-executor.js';
import { stepKey } from '../../src/ir/rng.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { compileProgram } from '../../src/passes/pipeline.js';
import { randomClip, randomWeights, tinyModel } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError } from './util.js';

let device: PstcDevice;
beforeAll(async () => {
  device = await openDevice();
});
afterAll(() => {
  device?.destroy();
});

describe('recompute on the device', () => {
  it('pst-tiny, drop_path 0.5: the same loss and gradients with and without (≤ 1e-6), less memory', async () => {
    const seed = freshSeed();
    const base = tinyModel('pst-tiny');
    const model: ModelConfig = { ...base, stages: base.stages.map((s) => ({ ...s, blocks: s.blocks.map((b) => ({ ...b, dropPath: 0.5 })) })) };
    const input = { batch: 4, frames: model.input.frames, size: model.input.size };
    const weights = randomWeights(model, seed);
    const key = stepKey(seed, 2);
    const results: { loss: number; grads: Map<string, Float32Array>; activations: number }[] = [];
    let clip: Float32Array | undefined;
    for (const recompute of [false, true]) {
      const differentiated = compileProgram(model, input, { training: { labelSmoothing: 0.1, recompute }, until: 'autodiff' });
      clip ??= Float32Array.from(randomClip(differentiated.graph!, seed));
      const program = planGraph(differentiated, { limits: device.kernelLimits() });
      const compiled = await compileGraph(device, program, weights);
      try {
        await compiled.run({ clip, labels: Float32Array.from([0, 3, 5, 9]) }, key);
        const grads = new Map<string, Float32Array>();
        for (const g of program.fused.grads) grads.set(g.param, await compiled.grad(g.param));
        results.push({ loss: (await compiled.output('loss'))[0]!, grads, activations: program.memory.activationBytes });
      } finally {
        compiled.destroy();
      }
    }
    const [plain, re] = results as [(typeof results)[0], (typeof results)[0]];
    let worst = 0;
    let identical = 0;
    for (const [param, g] of plain.grads) {
      const got = re.grads.get(param)!;
      const error = maxNormRelativeError(got, Float64Array.from(g));
      worst = Math.max(worst, error);
      if (Buffer.from(got.buffer).equals(Buffer.from(g.buffer))) identical++;
      expect(error, `${param} (seed ${seed})`).toBeLessThanOrEqual(1e-6);
    }
    console.log(`recompute on the device (seed ${seed}): loss ${plain.loss} vs ${re.loss}; ${identical}/${plain.grads.size} gradients bit-identical, worst ${worst.toExponential(2)}; activations ${plain.activations} → ${re.activations} B`);
    expect(Math.abs(re.loss - plain.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(plain.loss));
    expect(re.activations).toBeLessThan(plain.activations);
  }, 600_000);
});
