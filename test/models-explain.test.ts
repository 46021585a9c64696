// `pstc explain` works on every model and sweep variant under models/: lowering, the analyses and
// the WebGPU plan (under WebGPU's guaranteed limits) all succeed. A small input keeps it fast;
// 16 frames still give Video Swin its whole 8×7×7 window (392 tokens, more than one workgroup).
// The shipped Video Swin-T is also explained at its own input, where it once crashed.
import { readdirSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { explainModel } from '../src/cli/commands/explain.js';
import { checkFiles, loadModel } from '../src/lang/elaborate.js';
import { readFromDisk } from '../src/lang/read-disk.js';

const modelFiles = (readdirSync('models', { recursive: true }) as string[])
  .filter((f) => f.endsWith('.pst'))
  .map((f) => `models/${f.split('\\').join('/')}`)
  .sort();

describe('explain every shipped model', () => {
  test.each(modelFiles)('%s: every model and variant explains at 16 frames of 32×32', (file) => {
    const { models } = checkFiles([file], readFromDisk);
    for (const model of models) {
      const report = explainModel(model, { batch: 1, frames: 16, size: 32 });
      expect(report.cost.total.macs, model.name).toBeGreaterThan(0);
      expect(report.devicePlan.kernels, model.name).toBeGreaterThan(0);
    }
  });

  test('models/video-swin-t.pst explains at its own input (32 frames of 224²: windows of 392 tokens)', () => {
    const { model } = loadModel('models/video-swin-t.pst', undefined, readFromDisk);
    const report = explainModel(model, model.input);
    expect(report.input.shape).toEqual([1, 3, 32, 224, 224]);
    // Video Swin-T is 88 G "FLOPs" (multiply-adds) at 32×224² in its paper.
    expect(report.cost.total.macs / 1e9).toBeCloseTo(87.8, 0);
  }, 60_000);
});
