// Training goldens: the interpreter's loss and every parameter's gradient (autodiff pass, float64)
// against PyTorch autograd on the independent rendering of the spec (tools/golden), for every
// golden case with a head: mean cross-entropy with the case's label smoothing, given labels,
// drop_path 0 and dropout 0. Max-norm relative error ≤ 1e-6 per parameter.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { foldViews } from '../../src/passes/fold.js';
import { lowerModel } from '../../src/passes/lower.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { differentiate } from '../../src/passes/autodiff.js';
import { readNpy, readSafetensors } from '../../src/weights/index.js';
import { maxNormRelativeError as maxNormError } from '../webgpu/util.js';

const root = join(import.meta.dirname, '..', 'golden');
const cases = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'train.json'))).sort() : [];
const figures: string[] = [];
afterAll(() => console.log(`gradients vs PyTorch autograd (max-norm relative error):\n${figures.join('\n')}`));

interface TrainGolden {
  labels: number[];
  labelSmoothing: number;
  loss: number;
}

describe('training goldens (PyTorch autograd)', () => {
  it('has training goldens for the cases with a head', () => {
    expect(cases.length).toBeGreaterThanOrEqual(4);
  });

  for (const name of cases) {
    it(`${name}: loss and every parameter's gradient within 1e-6`, () => {
      const dir = join(root, name);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ModelConfig;
      // The PyTorch rendering has no dropout: train with every rate 0.
      const model: ModelConfig = { ...config, head: { ...config.head!, dropout: 0 }, stages: config.stages.map((s) => ({ ...s, blocks: s.blocks.map((b) => ({ ...b, dropPath: 0 })) })) };
      const train = JSON.parse(readFileSync(join(dir, 'train.json'), 'utf8')) as TrainGolden;
      const clip = readNpy(readFileSync(join(dir, 'input.npy')));
      const [batch, , frames, size] = clip.shape as [number, number, number, number];
      const weights = readSafetensors(readFileSync(join(dir, 'weights.safetensors')));
      const want = readSafetensors(readFileSync(join(dir, 'grads.safetensors')));

      const forward = lowerModel(model, { batch, frames, size }, { mode: 'train', labelSmoothing: train.labelSmoothing });
      const graph = foldViews(differentiate(forward).graph);
      const result = interpret(graph, { clip: Float64Array.from(clip.data), labels: train.labels }, weights);

      expect(Math.abs(result.loss! - train.loss) / Math.abs(train.loss), 'loss').toBeLessThanOrEqual(1e-6);
      expect([...result.grads!.keys()].sort()).toEqual([...want.keys()].sort());
      const errors = [...want].map(([param, g]) => ({ param, error: maxNormError(result.grads!.get(param)!, g.data) }));
      const worst = errors.reduce((a, b) => (b.error > a.error ? b : a));
      figures.push(`  ${name}: loss ${result.loss!.toFixed(6)} (torch ${train.loss.toFixed(6)}), ${errors.length} grads, max ${worst.error.toExponential(1)} (${worst.param})`);
      expect(errors.filter((e) => !(e.error <= 1e-6)), errors.map((e) => `${e.param} ${e.error.toExponential(1)}`).join('\n')).toEqual([]);
    });
  }
});
