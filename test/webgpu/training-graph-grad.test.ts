// The decisive test of the training kernels: a whole tiny model's training graph (forward with
// drop_path and head dropout under a fixed RNG key, smoothed cross-entropy, autodiff's backward)
// through fold → fuse → memory plan → WGSL on the device, every parameter gradient and the loss
// against the float64 interpreter on the same graph (max-norm relative error ≤ 1e-4), and a
// second run giving the same bits (no atomics: a step replays exactly, so resume is bit-exact).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { compileGraph, planGraph } from '../../backends/webgpu/graph-executor.js';
import { foldViews } from '../../src/passes/fold.js';
import { stepKey } from '../../src/ir/rng.js';
import { compileProgram } from '../../src/passes/pipeline.js';
import { randomClip, randomWeights, regularisedTinyModel } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError as maxNormError } from './util.js';

let device: PstcDevice;
beforeAll(async () => {
  device = await openDevice();
});
afterAll(() => {
  device?.destroy();
});

const TOLERANCE = 1e-4;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

describe('a whole training step on the device against the interpreter', () => {
  for (const family of ['pst-tiny', 'swin2d-tiny']) {
    it(`${family}: loss and every gradient within 1e-4, the same bits twice`, async () => {
      const seed = freshSeed();
      const model = regularisedTinyModel(family); // drop_path and head dropout on
      const input = { batch: 2, frames: model.input.frames, size: model.input.size };
      // The declared pipeline up to autodiff; planGraph runs the rest of it (fold, commute, fuse, plan).
      const differentiated = compileProgram(model, input, { training: { labelSmoothing: 0.1 }, until: 'autodiff' });
      const graph = differentiated.graph!;
      const weights = randomWeights(model, seed);
      const clip = randomClip(graph, seed);
      const classes = model.head!.classes;
      const labels = [seed % classes, (seed >> 8) % classes];
      const key = stepKey(seed, 3);
      const want = interpret(foldViews(graph), { clip, labels }, weights, { rngKey: key });

      const program = planGraph(differentiated, { limits: device.kernelLimits() });
      const compiled = await compileGraph(device, program, weights);
      try {
        const inputs = { clip: Float32Array.from(clip), labels: Float32Array.from(labels) };
        await compiled.run(inputs, key);
        const loss = (await compiled.output('loss'))[0]!;
        const lossError = Math.abs(loss - want.loss!) / Math.abs(want.loss!);
        let worst = { param: '', error: 0 };
        const grads = new Map<string, Float32Array>();
        for (const [param, expected] of want.grads!) {
          const got = await compiled.grad(param);
          grads.set(param, got);
          const error = maxNormError(got, expected);
          if (error > worst.error) worst = { param, error };
          expect(error, `${param} (seed ${seed})`).toBeLessThanOrEqual(TOLERANCE);
        }
        const counts = new Map<string, number>();
        for (const k of program.fused.kernels) counts.set(k.kind, (counts.get(k.kind) ?? 0) + 1);
        const m = program.memory;
        console.log(
          `${family} train step (batch 2, key from seed ${seed}): loss ${loss.toFixed(6)} (error ${lossError.toExponential(2)}), ` +
            `${want.grads!.size} gradients, worst ${worst.error.toExponential(2)} (${worst.param}); ` +
            `${program.dispatches} dispatches [${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}]; ` +
            `planned activations ${mib(m.activationBytes)} (live peak ${mib(m.livePeakBytes)}), weights+tables ${mib(m.weightBytes)}, ` +
            `allocated ${mib(compiled.allocatedBytes())}`,
        );
        expect(lossError).toBeLessThanOrEqual(TOLERANCE);

        const start = performance.now();
        await compiled.run(inputs, key);
        console.log(`${family}: second run ${(performance.now() - start).toFixed(0)} ms (one submission)`);
        for (const [param, first] of grads) {
          const again = await compiled.grad(param);
          expect(Buffer.from(again.buffer).equals(Buffer.from(first.buffer)), `${param} replays bit for bit`).toBe(true);
        }
      } finally {
        compiled.destroy();
      }
    }, 600_000);
  }
});
