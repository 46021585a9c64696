// The library API: compile() + forward() on the tiny model give the float64 reference's numbers,
// weights from a map are checked against the model, and compile() opens and releases a device
// of its own when given none.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { PstcDevice } from '../backends/webgpu/device.js';
import { compile, DiagnosticError, forward, initWeights, interpret, loadModel, loadWeights, lowerModel, writeSafetensors } from '../src/index.js';
import { freshSeed, maxNormRelativeError, randomArray, rng, useDevice } from './webgpu/util.js';
import { readFromDisk } from '../src/lang/read-disk.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const device = useDevice();

describe('compile + forward', () => {
  it('equal the reference interpreter on the tiny model (weights by map)', async () => {
    const seed = freshSeed();
    const { model } = loadModel(MODEL, undefined, readFromDisk);
    const weights = initWeights(model, seed);
    const input = { batch: 2, frames: 4, size: 32 };
    const clip = randomArray(rng(seed), 2 * 3 * 4 * 32 * 32);
    const compiled = await compile(MODEL, { input: { batch: 2, frames: 4 }, weights, device: device() });
    expect(compiled.batch).toBe(2);
    try {
      const result = await forward(compiled, clip);
      const expected = interpret(lowerModel(model, input), { clip: Float64Array.from(clip) }, weights);
      expect(result.featuresShape).toEqual([2, 32, 2, 4, 4]);
      expect(result.logitsShape).toEqual([2, 10]);
      expect(maxNormRelativeError(result.features, expected.features), `seed ${seed}`).toBeLessThan(1e-4);
      expect(maxNormRelativeError(result.logits!, expected.logits!), `seed ${seed}`).toBeLessThan(1e-4);
    } finally {
      compiled.destroy();
    }
  });

  it('loads a checkpoint by path, and a seed gives the same weights as initWeights', async () => {
    const { model } = loadModel(MODEL, undefined, readFromDisk);
    const dir = mkdtempSync(join(tmpdir(), 'pstc-api-'));
    const path = join(dir, 'w.safetensors');
    writeFileSync(path, writeSafetensors(initWeights(model, 5)));
    expect([...loadWeights(path, model).keys()]).toEqual([...initWeights(model, 5).keys()]);
    const clip = randomArray(rng(3), 3 * 8 * 32 * 32);
    const fromFile = await compile(model, { weights: path, device: device() });
    const fromSeed = await compile(model, { seed: 5, device: device() });
    try {
      const a = await fromFile.forward(clip);
      const b = await fromSeed.forward(clip);
      expect(Array.from(a.logits!)).toEqual(Array.from(b.logits!));
    } finally {
      fromFile.destroy();
      fromSeed.destroy();
    }
  });

  it('reports every mismatch of a weight map at once', async () => {
    const { model } = loadModel(MODEL, undefined, readFromDisk);
    const weights = initWeights(model, 1);
    weights.delete('norm.weight');
    weights.set('norm.wieght', { shape: [32], data: new Float32Array(32) });
    const error = await compile(model, { weights, device: device() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiagnosticError);
    const codes = (error as DiagnosticError).diagnostics.map((d) => d.code).sort();
    expect(codes).toEqual(['PST401', 'PST402']);
  });

  it('rejects weights and seed together', async () => {
    await expect(compile(MODEL, { seed: 1, weights: new Map(), device: device() })).rejects.toThrow(/either `weights` or `seed`/);
  });
});

describe('compile without a device', () => {
  it('opens one, and destroy() releases it', async () => {
    const destroyDevice = vi.spyOn(PstcDevice.prototype, 'destroy');
    try {
      const compiled = await compile(MODEL, { seed: 2, input: { frames: 2, size: 16 } });
      const result = await compiled.forward(randomArray(rng(1), 3 * 2 * 16 * 16));
      expect(result.logitsShape).toEqual([1, 10]);
      expect(destroyDevice).not.toHaveBeenCalled();
      compiled.destroy();
      expect(destroyDevice).toHaveBeenCalledTimes(1);
      expect(destroyDevice.mock.contexts[0]).not.toBe(device());
      await expect(compiled.forward(new Float32Array(3 * 2 * 16 * 16))).rejects.toThrow();
    } finally {
      destroyDevice.mockRestore();
    }
  });
});
