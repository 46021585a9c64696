// The automatic micro-batch end to end on the device: a tiny model's SGD step under a forced
// binding limit (so the batch is split) ends with the weights of the unsplit step, to float32
// summation order, and with exactly the weights of `--accumulate` at the same micro-batch (the
// split is that arithmetic: same kernels, same order, same dropout keys). The step's own buffers
// are what the plan counts (step-buffers.ts), and SGD without momentum keeps no state.
import { describe, expect, it } from 'vitest';
import { loadModelWithSettings } from '../../src/lang/overrides.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer.js';
import { planTraining } from '../../src/train/plan.js';
import { stepBufferBytes } from '../../src/train/step-buffers.js';
import { TrainingStep, type StepSetup } from '../../src/train/step.js';
import type { WeightMap } from '../../src/weights/index.js';
import { randomWeights } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError, randomArray, rng, useDevice } from '../webgpu/util.js';

const device = useDevice();

// Dropout off: a split draws each micro-batch's masks from its own key, as --accumulate does.
const model = loadModelWithSettings('models/tiny/pst-tiny.pst', undefined, ['drop_path=0', 'head.dropout=0'], readFromDisk).model;
const BATCH = 4;
/** pst-tiny's largest binding is 96 KiB per clip (its 8×32² clip): 200 KiB fits two clips. */
const TWO_CLIPS = 200 * 1024;
/**
 * The split against the unsplit step, max-norm relative to the update (= the gradient at lr 1):
 * the gradient's sums over the batch are taken in another order (per micro-batch, then added).
 * Each step's rounding of W − g adds up to an ulp of W, left out of the measure (a bias table's
 * gradient can be 1e-5 of its weights: those ulps alone reached 1.5e-5 of its update). Measured
 * 3.7e-7 and 6.3e-7 (seeds 1246976864, 606922184).
 */
const SUMMATION_BOUND = 1e-5;
const ULP = 2 ** -23;

async function oneStep(setup: Partial<StepSetup>, weights: WeightMap, clips: Float32Array, labels: Int32Array): Promise<{ step: TrainingStep; after: WeightMap; loss: number }> {
  const optimizer = { ...DEFAULT_OPTIMIZER.sgd, lr: 1, momentum: 0, weightDecay: 0 };
  const full: StepSetup = { model, microBatch: BATCH, accumulate: 1, frames: model.input.frames, size: model.input.size, optimizer, labelSmoothing: 0.1, seed: 7, ...setup };
  const step = await TrainingStep.create(device(), full, weights);
  const per = clips.length / BATCH;
  const micro = Array.from({ length: full.accumulate }, (_, i) => ({
    clips: clips.subarray(i * full.microBatch * per, (i + 1) * full.microBatch * per),
    labels: labels.subarray(i * full.microBatch, (i + 1) * full.microBatch),
  }));
  step.submit(0, micro, optimizer.lr);
  const m = await step.readMetrics();
  return { step, after: await step.weights(), loss: m.loss / full.accumulate };
}

describe('the automatic micro-batch on the device', () => {
  it('a split step equals the unsplit one to summation order, and --accumulate at the same micro-batch bit for bit', async () => {
    const seed = freshSeed();
    const random = rng(seed);
    const weights = randomWeights(model, seed);
    const clips = randomArray(random, BATCH * 3 * model.input.frames * model.input.size ** 2);
    const labels = Int32Array.from({ length: BATCH }, () => Math.floor(random() * model.head!.classes));

    const whole = await oneStep({}, weights, clips, labels);
    const split = await oneStep({ maxBinding: TWO_CLIPS }, weights, clips, labels);
    const accumulated = await oneStep({ microBatch: 2, accumulate: 2 }, weights, clips, labels);
    try {
      expect(whole.step.microBatches).toBe(1);
      expect([split.step.microBatch, split.step.microBatches]).toEqual([2, 2]);
      expect(split.step.planned.reason).toMatch(/at most 2 clips per micro-batch/);

      let worst = { name: '', error: 0 };
      let identical = 0;
      for (const [name, before] of weights) {
        const a = whole.after.get(name)!.data;
        const b = split.after.get(name)!.data;
        const c = accumulated.after.get(name)!.data;
        if (Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(c.buffer, c.byteOffset, c.byteLength))) identical++;
        // Beyond the two roundings of W − g (an ulp of the weight each), relative to the update.
        const update = a.map((x, i) => x - before.data[i]!);
        const error = Math.max(...a.map((x, i) => Math.max(0, Math.abs(x - b[i]!) - 2 * ULP * Math.abs(x)))) / Math.max(...update.map(Math.abs));
        if (error > worst.error) worst = { name, error };
      }
      console.log(`pst-tiny, one SGD step at batch ${BATCH} (seed ${seed}): split into 2×2 against unsplit, worst ${worst.error.toExponential(2)} (${worst.name}); against --accumulate 2: ${identical}/${weights.size} tensors bit-identical; loss ${whole.loss} / ${split.loss}`);
      expect(identical, `seed ${seed}`).toBe(weights.size);
      expect(worst.error, `${worst.name}, seed ${seed}`).toBeLessThanOrEqual(SUMMATION_BOUND);
      expect(Math.abs(split.loss - whole.loss) / whole.loss).toBeLessThan(1e-6);
    } finally {
      for (const r of [whole, split, accumulated]) r.step.destroy();
    }
  }, 600_000);

  it('the step allocates what the plan counts: no SGD state without momentum, accumulators only when split', async () => {
    const seed = freshSeed();
    const weights = randomWeights(model, seed);
    for (const [optimizer, maxBinding] of [[{ ...DEFAULT_OPTIMIZER.sgd, momentum: 0 }, TWO_CLIPS], [DEFAULT_OPTIMIZER.adamw, undefined]] as const) {
      const setup: StepSetup = { model, microBatch: BATCH, accumulate: 1, frames: model.input.frames, size: model.input.size, optimizer, labelSmoothing: 0, seed: 1, ...(maxBinding ? { maxBinding } : {}) };
      const step = await TrainingStep.create(device(), setup, weights);
      try {
        const plan = planTraining(model, { batch: BATCH, frames: model.input.frames, size: model.input.size }, {
          optimizer,
          limits: { ...device().kernelLimits(), ...device().limits },
          ...(maxBinding ? { maxBinding } : {}),
        });
        expect(plan.microBatch).toBe(step.microBatch);
        expect(plan.totalBytes).toBe(step.plannedBytes());
        expect(plan.dispatchesPerStep).toBe(step.dispatchesPerStep);
        expect(step.allocatedBytes() - step.graph.allocatedBytes()).toBe(stepBufferBytes(step.buffers));
        const kinds = new Set(step.buffers.map((b) => b.kind));
        expect(kinds.has('state')).toBe(optimizer.kind === 'adamw');
        expect(kinds.has('accumulated')).toBe(step.microBatches > 1);
        expect((await step.optimizerState()).size).toBe(optimizer.kind === 'adamw' ? 2 * weights.size : 0);
      } finally {
        step.destroy();
      }
    }
  }, 600_000);
});
