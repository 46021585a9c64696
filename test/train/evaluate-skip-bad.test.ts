// `--skip-bad` in an evaluation: a bad sample is read as the next one so that the batch stays full,
// but the substitute is not scored — the evaluation counts and scores the good samples only, and
// names the skipped one. Its figures equal those of the same evaluation over a list of the good
// samples alone. Every sample bad is PST618 (nothing to evaluate), not the last sample's error.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { closeData, evaluationSet, evaluationSpec, MOTION_MEAN, MOTION_STD, MotionDataset, openData, resolveMotionOptions, type DataInput } from '../../src/data/index.js';
import { writeRawframeFolders } from '../../src/data/fixtures.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { evaluate, type Evaluation } from '../../src/train/evaluate.js';
import { initWeights } from '../../src/weights/index.js';
import { vfs } from '../lang/vfs.js';

const { model } = loadModel(
  'm.pst',
  undefined,
  vfs({
    'm.pst': `model m {
  input { frames = 8  size = 32 }
  embed { patch = (2, 8, 8)  dim = 8 }
  window = (1, 2, 2)
  stage 1 { depth = 1  heads = 1 }
  head { classes = 10  dropout = 0 }
}`,
  }),
);
const input: DataInput = { frames: 8, size: 32, channels: 3, classes: 10, temporalPatch: 2 };
const weights = initWeights(model, 11);
// Larger head weights than at initialisation: the classes' scores differ clearly.
const fc = weights.get('cls_head.fc_cls.weight')!;
fc.data = fc.data.map((_, i) => Math.sin(i * 12.9898) * 3);

const dir = mkdtempSync(join(tmpdir(), 'pstc-eval-skip-'));
const frames = join(dir, 'frames');
let device: PstcDevice;
beforeAll(async () => {
  device = await openDevice();
  const motion = new MotionDataset(resolveMotionOptions({ train: 6, val: 2 }, input), 'train');
  await writeRawframeFolders(motion, frames, join(dir, 'all.txt'), { mean: MOTION_MEAN, std: MOTION_STD, tmpl: 'img_{:05d}.png' });
  // Sample 2 (line 3 of the list) loses a frame.
  unlinkSync(join(frames, 'clip_00002', 'img_00004.png'));
  const lines = readFileSync(join(dir, 'all.txt'), 'utf8').trim().split('\n');
  writeFileSync(join(dir, 'good.txt'), `${lines.filter((_, i) => i !== 2).join('\n')}\n`);
  writeFileSync(join(dir, 'bad.txt'), `${lines[2]}\n${lines[2]}\n`);
}, 120_000);
afterAll(() => {
  device?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** The evaluation of a list through the test pipeline, batch 4 (the bad row shares a batch with good ones). */
async function evaluateList(list: string, options: { skipBad?: boolean; workers?: number; log?: string[] } = {}): Promise<Evaluation> {
  const spec = evaluationSpec(`rawframes:${join(dir, list)},root=${frames},tmpl=img_{:05d}.png,clips=2`);
  const data = await openData(spec, input, { skipBad: options.skipBad ?? false, log: (m) => options.log?.push(m) });
  try {
    return await evaluate(device, model, weights, evaluationSet(data), { batch: 4, workers: options.workers ?? 0, log: (m) => options.log?.push(m) });
  } finally {
    await closeData(data);
  }
}

describe('evaluate with --skip-bad', () => {
  it('counts and scores the good samples only, and names the skipped one', async () => {
    const good = await evaluateList('good.txt');
    expect(good.samples).toBe(5);
    expect(good.skipped).toBeUndefined();
    for (const workers of [0, 1]) {
      const log: string[] = [];
      const r = await evaluateList('all.txt', { skipBad: true, workers, log });
      expect(r.samples, `workers ${workers}`).toBe(5);
      expect(r.clips).toBe(10); // 2 clips per sample
      expect(r.skipped).toHaveLength(1);
      expect(r.skipped![0]!.where).toBe(`${join(dir, 'all.txt')}:3`);
      expect(r.skipped![0]!.reason).toContain('img_00004.png');
      // The same figures as over the good samples alone (the same clips through the same kernels).
      expect(r.top1).toBe(good.top1);
      expect(r.top5).toBe(good.top5);
      expect(r.loss).toBeCloseTo(good.loss, 12);
      expect(log.some((m) => m.includes('1 bad sample not evaluated') && m.includes('all.txt:3'))).toBe(true);
    }
  }, 120_000);

  it('without --skip-bad the bad sample stops the evaluation (PST613); every sample bad is PST618', async () => {
    const stop = (await evaluateList('all.txt').catch((e: unknown) => e)) as DiagnosticError;
    expect(stop).toBeInstanceOf(DiagnosticError);
    expect(stop.diagnostics[0]!.code).toBe('PST613');
    const none = (await evaluateList('bad.txt', { skipBad: true }).catch((e: unknown) => e)) as DiagnosticError;
    expect(none).toBeInstanceOf(DiagnosticError);
    expect(none.diagnostics[0]!.code).toBe('PST618');
    expect(none.diagnostics[0]!.message).toContain('every one of its 2 samples is bad');
  }, 120_000);
});
